//! Softmax cross-entropy: forward and backward computed together (shaders/loss.wgsl).

use super::ensure;
use crate::backend::Kernel;
use crate::error::{EngineError, Result};
use crate::tape::{Op, Tape, Var};
use crate::tensor::{DType, Tensor};

impl Tape {
    /// Mean cross-entropy of `logits` (rows × classes) against u32 `labels` (rows):
    /// `(1/rows) Σ_r (logsumexp(logits[r]) - logits[r, label_r])`, a one-element value.
    /// d(logits) = (softmax - onehot) / rows, computed in the same kernel and saved.
    pub fn softmax_cross_entropy(&mut self, logits: Var, labels: &Tensor) -> Result<Var> {
        let rows = self.value(logits).matrix_dims().0;
        self.masked_softmax_cross_entropy(logits, labels, None, rows as f32)
    }

    /// Cross-entropy with a per-row weight (0 for padding, 1 for a real token) divided by
    /// `normalizer` (the number of real tokens for a per-token mean): padded rows contribute
    /// nothing to the loss or the gradient.
    pub fn masked_softmax_cross_entropy(
        &mut self,
        logits: Var,
        labels: &Tensor,
        weights: Option<&Tensor>,
        normalizer: f32,
    ) -> Result<Var> {
        let (rows, classes) = self.value(logits).matrix_dims();
        ensure(labels.dtype() == DType::U32 && labels.len() == rows, "softmax_cross_entropy", || {
            format!("{} labels ({:?}) for {rows} rows of logits {:?}", labels.len(), labels.dtype(), self.shape(logits))
        })?;
        if let Some(weights) = weights {
            ensure(weights.len() == rows, "softmax_cross_entropy", || {
                format!("{} weights for {rows} rows of logits", weights.len())
            })?;
        }
        if !(normalizer.is_finite() && normalizer > 0.0) {
            return Err(EngineError::InvalidArgument(format!(
                "softmax_cross_entropy: normalizer {normalizer} must be positive (no real tokens in the batch?)"
            )));
        }
        let row_loss = self.alloc(&[rows])?;
        let dlogits = self.alloc(&[rows, classes])?;
        let loss = self.alloc(&[1])?;
        self.run(Kernel::SoftmaxCrossEntropy {
            logits: self.value(logits).id(),
            labels: labels.id(),
            weights: weights.map(Tensor::id),
            row_loss: row_loss.id(),
            dlogits: dlogits.id(),
            rows,
            classes,
            grad_scale: 1.0 / normalizer,
        })?;
        self.run(Kernel::Sum {
            x: row_loss.id(),
            out: loss.id(),
            out_index: 0,
            len: rows,
            scale: 1.0 / normalizer,
            squares: false,
            accumulate: false,
        })?;
        let dlogits = dlogits.reshape(self.shape(logits))?;
        Ok(self.record(loss, Op::SoftmaxCrossEntropy { logits, dlogits }, &[logits]))
    }
}

pub(super) fn softmax_cross_entropy_backward(
    tape: &mut Tape,
    logits: Var,
    dlogits: &Tensor,
    dloss: &Tensor,
) -> Result<()> {
    if let Some((grad, acc)) = tape.grad_target(logits)? {
        tape.run(Kernel::ScaleByScalar {
            x: Some(dlogits.id()),
            s: dloss.id(),
            out: grad.id(),
            len: dlogits.len(),
            alpha: 1.0,
            accumulate: acc,
        })?;
    }
    Ok(())
}
