//! Matrix multiply: forward and backward (shaders/matmul.wgsl).

use super::ensure;
use crate::backend::Kernel;
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::Tensor;

/// (rows, cols) of a 2-D value stored as `shape`, as op(x) sees it.
fn dims(shape: &[usize], transposed: bool) -> (usize, usize) {
    if transposed {
        (shape[1], shape[0])
    } else {
        (shape[0], shape[1])
    }
}

/// Records c (+)= op(a)·op(b) for stored tensors, returning nothing; shared by forward and backward.
#[allow(clippy::too_many_arguments)]
fn gemm(
    tape: &Tape,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    acc: bool,
) -> Result<()> {
    tape.run(Kernel::Matmul {
        a: a.id(),
        b: b.id(),
        c: c.id(),
        m,
        k,
        n,
        trans_a: ta,
        trans_b: tb,
        accumulate: acc,
        offsets: [0; 3],
        variant: None,
    })
}

impl Tape {
    /// c = a·b for 2-D a (m×k) and b (k×n).
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.matmul_t(a, b, false, false)
    }

    /// c = op(a)·op(b), where op transposes when its flag is set:
    /// `d(op(a)) = dc·op(b)ᵀ`, `d(op(b)) = op(a)ᵀ·dc`, transposed back where the operand was.
    pub fn matmul_t(&mut self, a: Var, b: Var, trans_a: bool, trans_b: bool) -> Result<Var> {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        ensure(sa.len() == 2 && sb.len() == 2, "matmul", || format!("operands must be 2-D, got {sa:?} and {sb:?}"))?;
        let (m, k) = dims(&sa, trans_a);
        let (k2, n) = dims(&sb, trans_b);
        ensure(k == k2, "matmul", || {
            format!(
                "{sa:?}{} · {sb:?}{}: inner dimensions {k} and {k2} differ",
                if trans_a { "ᵀ" } else { "" },
                if trans_b { "ᵀ" } else { "" }
            )
        })?;
        let out = self.alloc(&[m, n])?;
        gemm(self, self.value(a), self.value(b), &out, m, k, n, trans_a, trans_b, false)?;
        Ok(self.record(out, Op::Matmul { a, b, trans_a, trans_b }, &[a, b]))
    }
}

pub(super) fn backward(tape: &mut Tape, a: Var, b: Var, trans_a: bool, trans_b: bool, dc: &Tensor) -> Result<()> {
    let (av, bv) = (tape.value(a).clone(), tape.value(b).clone());
    let (m, k) = dims(av.shape(), trans_a);
    let n = dc.shape()[1];
    if let Some((da, acc)) = tape.grad_target(a)? {
        if trans_a {
            // a is stored k×m: da = op(b)·dcᵀ
            gemm(tape, &bv, dc, &da, k, n, m, trans_b, true, acc)?;
        } else {
            // da = dc·op(b)ᵀ
            gemm(tape, dc, &bv, &da, m, n, k, false, !trans_b, acc)?;
        }
    }
    if let Some((db, acc)) = tape.grad_target(b)? {
        if trans_b {
            // b is stored n×k: db = dcᵀ·op(a)
            gemm(tape, dc, &av, &db, n, m, k, true, trans_a, acc)?;
        } else {
            // db = op(a)ᵀ·dc
            gemm(tape, &av, dc, &db, k, m, n, !trans_a, false, acc)?;
        }
    }
    Ok(())
}
