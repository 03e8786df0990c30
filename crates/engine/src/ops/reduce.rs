//! Sums to a scalar: forward and backward (shaders/reduce.wgsl).

use crate::backend::Kernel;
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::Tensor;

impl Tape {
    fn reduce(&mut self, x: Var, scale: f32, squares: bool) -> Result<Var> {
        let out = self.alloc(&[1])?;
        let value = self.value(x);
        self.run(Kernel::Sum {
            x: value.id(),
            out: out.id(),
            out_index: 0,
            len: value.len(),
            scale,
            squares,
            accumulate: false,
        })?;
        Ok(self.record(out, Op::Sum { x, scale, squares }, &[x]))
    }

    /// s = Σ x; dx = ds (broadcast).
    pub fn sum(&mut self, x: Var) -> Result<Var> {
        self.reduce(x, 1.0, false)
    }

    /// s = (1/n) Σ x; dx = ds / n.
    pub fn mean(&mut self, x: Var) -> Result<Var> {
        let n = self.value(x).len() as f32;
        self.reduce(x, 1.0 / n, false)
    }

    /// s = Σ x²; dx = 2 x ds.
    pub fn sum_squares(&mut self, x: Var) -> Result<Var> {
        self.reduce(x, 1.0, true)
    }
}

pub(super) fn sum_backward(tape: &mut Tape, x: Var, scale: f32, squares: bool, ds: &Tensor) -> Result<()> {
    let xv = tape.value(x).clone();
    if let Some((dx, acc)) = tape.grad_target(x)? {
        let (source, alpha) = if squares { (Some(xv.id()), 2.0 * scale) } else { (None, scale) };
        tape.run(Kernel::ScaleByScalar { x: source, s: ds.id(), out: dx.id(), len: xv.len(), alpha, accumulate: acc })?;
    }
    Ok(())
}
