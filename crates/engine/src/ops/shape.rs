//! Concatenation, slicing, transposition and reshaping: forward and backward (shaders/shape.wgsl,
//! shaders/join.wgsl).
//!
//! A tensor seen along dimension `dim` is `outer × size(dim) × inner` with `outer` the product
//! of the dimensions before and `inner` of those after; a slice or a concatenation part is then
//! a strided 2-D block copy of `outer` rows of `part × inner` elements. A concatenation moves up
//! to [`JOIN_PARTS`] parts in one dispatch each way ([`Kernel::Join`]).

use super::ensure;
use crate::backend::{JoinPart, Kernel, JOIN_PARTS};
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::Tensor;

fn outer_inner(shape: &[usize], dim: usize) -> (usize, usize) {
    (shape[..dim].iter().product(), shape[dim + 1..].iter().product())
}

/// Copies `part` indices of `dim` between a tensor of `size` along dim (at `offset`) and a
/// tensor of `part` along dim. `into_part` picks the direction.
#[allow(clippy::too_many_arguments)]
fn copy_block(
    tape: &Tape,
    whole: &Tensor,
    part_tensor: &Tensor,
    dim: usize,
    offset: usize,
    part: usize,
    into_part: bool,
    accumulate: bool,
) -> Result<()> {
    let (outer, inner) = outer_inner(whole.shape(), dim);
    let size = whole.shape()[dim];
    let (whole_stride, part_stride) = (size * inner, part * inner);
    let (src, dst, src_stride, src_offset, dst_stride, dst_offset) = if into_part {
        (whole, part_tensor, whole_stride, offset * inner, part_stride, 0)
    } else {
        (part_tensor, whole, part_stride, 0, whole_stride, offset * inner)
    };
    tape.run(Kernel::Copy2d {
        src: src.id(),
        dst: dst.id(),
        rows: outer,
        cols: part * inner,
        src_stride,
        src_offset,
        dst_stride,
        dst_offset,
        accumulate,
    })
}

/// One part of a concatenation: its tensor, where it starts along the joined dimension, and
/// (its gradient) whether it accumulates.
struct Block {
    part: Tensor,
    offset: usize,
    accumulate: bool,
}

/// Moves `blocks` into `whole` (a concatenation) or, `split`, out of it (its gradient), along
/// `dim`: [`Kernel::Join`]s of up to [`JOIN_PARTS`] parts, a new one wherever a buffer would be
/// there twice (two writes of one element in one dispatch); a lone part is a copy.
fn join_blocks(tape: &Tape, whole: &Tensor, dim: usize, blocks: &[Block], split: bool) -> Result<()> {
    let (outer, inner) = outer_inner(whole.shape(), dim);
    let mut runs: Vec<Vec<&Block>> = Vec::new();
    for block in blocks {
        match runs.last_mut() {
            Some(run) if run.len() < JOIN_PARTS && run.iter().all(|b| b.part.id() != block.part.id()) => {
                run.push(block)
            }
            _ => runs.push(vec![block]),
        }
    }
    for run in runs {
        if let [one] = run[..] {
            let part = one.part.shape()[dim];
            copy_block(tape, whole, &one.part, dim, one.offset, part, split, one.accumulate)?;
            continue;
        }
        let parts = std::array::from_fn(|k| {
            run.get(k).map(|b| JoinPart {
                buf: b.part.id(),
                cols: b.part.shape()[dim] * inner,
                offset: b.offset * inner,
                accumulate: b.accumulate,
            })
        });
        let whole_stride = whole.shape()[dim] * inner;
        tape.run(Kernel::Join { whole: whole.id(), rows: outer, whole_stride, parts, split })?;
    }
    Ok(())
}

impl Tape {
    /// Joins values along `dim`; all other dimensions must agree. The gradient of each input
    /// is its block of the output's gradient.
    pub fn concat(&mut self, inputs: &[Var], dim: usize) -> Result<Var> {
        ensure(!inputs.is_empty(), "concat", || "nothing to concatenate".into())?;
        let first = self.shape(inputs[0]).to_vec();
        ensure(dim < first.len(), "concat", || format!("dimension {dim} of a {}-D value", first.len()))?;
        if let [one] = inputs {
            // Nothing to join: the same buffer under a new var, no copy either way.
            return self.reshape(*one, &first);
        }
        let mut shape = first.clone();
        shape[dim] = 0;
        for &input in inputs {
            let s = self.shape(input);
            let fits = s.len() == first.len() && s.iter().zip(&first).enumerate().all(|(d, (a, b))| d == dim || a == b);
            ensure(fits, "concat", || format!("{s:?} does not fit {first:?} along dimension {dim}"))?;
            shape[dim] += s[dim];
        }
        let out = self.alloc(&shape)?;
        let mut offset = 0;
        let mut blocks = Vec::with_capacity(inputs.len());
        for &input in inputs {
            let part = self.value(input).clone();
            let size = part.shape()[dim];
            blocks.push(Block { part, offset, accumulate: false });
            offset += size;
        }
        join_blocks(self, &out, dim, &blocks, false)?;
        Ok(self.record(out, Op::Concat { inputs: inputs.to_vec(), dim }, inputs))
    }

    /// Indices `start..start + len` of `dim`. The gradient is zero outside the slice.
    pub fn slice(&mut self, x: Var, dim: usize, start: usize, len: usize) -> Result<Var> {
        let shape = self.shape(x).to_vec();
        ensure(dim < shape.len() && len > 0 && start + len <= shape[dim], "slice", || {
            format!("{start}..{} of dimension {dim} of {shape:?}", start + len)
        })?;
        if len == shape[dim] {
            // The whole of it (a one-layer stack's state): the same buffer, no copy either way.
            return self.reshape(x, &shape);
        }
        let mut out_shape = shape.clone();
        out_shape[dim] = len;
        let out = self.alloc(&out_shape)?;
        copy_block(self, &self.value(x).clone(), &out, dim, start, len, true, false)?;
        Ok(self.record(out, Op::Slice { x, dim, start }, &[x]))
    }

    /// The transpose of a 2-D value; the gradient is the transpose of the output's gradient.
    pub fn transpose(&mut self, x: Var) -> Result<Var> {
        let shape = self.shape(x).to_vec();
        ensure(shape.len() == 2, "transpose", || format!("the value must be 2-D, got {shape:?}"))?;
        let (rows, cols) = (shape[0], shape[1]);
        let out = self.alloc(&[cols, rows])?;
        self.run(Kernel::Transpose { x: self.value(x).id(), out: out.id(), rows, cols, accumulate: false })?;
        Ok(self.record(out, Op::Transpose { x }, &[x]))
    }

    /// The same values with another shape of equal element count.
    pub fn reshape(&mut self, x: Var, shape: &[usize]) -> Result<Var> {
        let out = self.value(x).reshape(shape)?;
        Ok(self.record(out, Op::Reshape { x }, &[x]))
    }
}

pub(super) fn concat_backward(tape: &mut Tape, inputs: &[Var], dim: usize, dy: &Tensor) -> Result<()> {
    let mut offset = 0;
    let mut blocks = Vec::with_capacity(inputs.len());
    for &input in inputs {
        let size = tape.shape(input)[dim];
        if let Some((part, accumulate)) = tape.grad_target(input)? {
            blocks.push(Block { part, offset, accumulate });
        }
        offset += size;
    }
    join_blocks(tape, dy, dim, &blocks, true)
}

pub(super) fn slice_backward(tape: &mut Tape, x: Var, dim: usize, start: usize, dy: &Tensor) -> Result<()> {
    if let Some(grad) = tape.grad_target_zeroed(x)? {
        copy_block(tape, &grad, dy, dim, start, dy.shape()[dim], false, true)?;
    }
    Ok(())
}

pub(super) fn transpose_backward(tape: &mut Tape, x: Var, dy: &Tensor) -> Result<()> {
    if let Some((grad, acc)) = tape.grad_target(x)? {
        let (rows, cols) = (dy.shape()[0], dy.shape()[1]);
        tape.run(Kernel::Transpose { x: dy.id(), out: grad.id(), rows, cols, accumulate: acc })?;
    }
    Ok(())
}

pub(super) fn reshape_backward(tape: &mut Tape, out: Var, x: Var, dy: &Tensor) -> Result<()> {
    tape.pass_grad(out, x, dy)
}
