//! Ops: each family's forward rules (methods on [`Tape`]) and backward rules, side by side.
//! The file names mirror `shaders/` (`ops/matmul.rs` ↔ `shaders/matmul.wgsl`).

mod attention;
mod elementwise;
mod embedding;
mod loss;
mod matmul;
mod recurrent;
mod reduce;
mod shape;

use crate::error::{EngineError, Result};
use crate::tape::{Op, Tape, Var};
use crate::tensor::Tensor;

pub(crate) use attention::AttentionNode;
pub use attention::Scores;
pub(crate) use recurrent::RecurrentNode;

/// Records the gradient kernels of the node `out` (produced by `op`), given its gradient.
pub(crate) fn backward(tape: &mut Tape, out: Var, op: &Op, grad: &Tensor) -> Result<()> {
    match op {
        Op::Leaf => Ok(()),
        Op::Matmul { a, b, trans_a, trans_b } => matmul::backward(tape, *a, *b, *trans_a, *trans_b, grad),
        Op::AddBias { x, bias } => elementwise::add_bias_backward(tape, out, *x, *bias, grad),
        Op::Binary { op, a, b } => elementwise::binary_backward(tape, *op, *a, *b, grad),
        Op::Unary { op, x } => elementwise::unary_backward(tape, *op, *x, out, grad),
        Op::Dropout { x, p, salt } => elementwise::dropout_backward(tape, *x, *p, *salt, grad),
        Op::Concat { inputs, dim } => shape::concat_backward(tape, inputs, *dim, grad),
        Op::Slice { x, dim, start } => shape::slice_backward(tape, *x, *dim, *start, grad),
        Op::Reshape { x } => shape::reshape_backward(tape, out, *x, grad),
        Op::Transpose { x } => shape::transpose_backward(tape, *x, grad),
        Op::Gather { table, indices, transposed } => {
            embedding::gather_backward(tape, *table, indices, *transposed, grad)
        }
        Op::SoftmaxCrossEntropy { logits, dlogits } => {
            loss::softmax_cross_entropy_backward(tape, *logits, dlogits, grad)
        }
        Op::Sum { x, scale, squares } => reduce::sum_backward(tape, *x, *scale, *squares, grad),
        Op::Attention(node) => attention::backward(tape, node, grad),
        Op::Recurrent(node) => {
            let states = tape.value(out).clone();
            recurrent::backward(tape, node, grad, &states)
        }
    }
}

/// A shape error unless `ok`.
pub(crate) fn ensure(ok: bool, op: &'static str, detail: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(EngineError::ShapeMismatch { op, detail: detail() })
    }
}
