//! How far back one prediction's gradient reaches: for a batch of windows, the gradient of the
//! loss of each window's *last* prediction with respect to the top layer's hidden state k steps
//! earlier, ‖∂ℓ_T/∂h_{T−k}‖, averaged over the rows, for k = 0 … T − 1.
//!
//! This is the picture of vanishing gradients (d2l 9.7): backpropagation multiplies the
//! gradient by the recurrence's Jacobian once per step, so in a plain RNN it falls (or grows)
//! geometrically with k, while a gated cell's additive path keeps it. The measure differentiates
//! *one* step's loss — the whole window's loss would mix in every later step's own gradient and
//! grow toward the window's start for that reason alone. It is the inspection's connectivity
//! (one passage, one position) taken over a batch, measured by the same `state_grads.rs`.
//!
//! One forward and one backward pass in evaluation mode (no dropout) from a zero state, one
//! read-back; the backward pass adds into the model's parameter gradients, which every training
//! step zeroes before it starts.

use crate::error::{EngineError, Result};
use crate::nn::LanguageModel;
use crate::state_grads::{measure, watch_top_layer};
use crate::tape::Tape;
use crate::tensor::Tensor;
use rnnplay_data::Batch;

/// The batch-mean ‖∂ℓ_T/∂h_{T−k}‖ of `batch`'s windows for k = 0 … T − 1 (index k), ℓ_T the
/// cross-entropy of a row's last prediction against its label and h the top layer's state.
pub async fn gradient_reach(model: &LanguageModel, batch: &Batch) -> Result<Vec<f32>> {
    let (steps, rows) = (batch.num_steps, batch.batch_size);
    if steps == 0 || rows == 0 || batch.inputs.len() != steps * rows || batch.labels.len() != steps * rows {
        return Err(EngineError::InvalidArgument(format!(
            "the gradient's reach needs a batch of whole windows; this one has {} inputs and {} labels for {rows} rows of {steps} steps",
            batch.inputs.len(),
            batch.labels.len()
        )));
    }
    let backend = model.backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    tape.enable_probes();
    let inputs = Tensor::from_u32(&backend, &[steps, rows], &batch.inputs_time_major())?;
    let state = model.begin_state(&backend, rows)?;
    let (logits, _) = model.forward(&mut tape, &inputs, &state)?;
    // Logits are time-major: the last step's rows come last.
    let last = tape.slice(logits, 0, (steps - 1) * rows, rows)?;
    let labels = Tensor::from_u32(&backend, &[rows], &batch.labels_time_major()[(steps - 1) * rows..])?;
    let loss = tape.softmax_cross_entropy(last, &labels)?;
    let watches = watch_top_layer(&mut tape, rows, model.config().output_width());
    tape.backward(loss)?;
    let norms = Tensor::zeros(&backend, &[steps])?;
    measure(&tape, &watches, &norms)?;
    // The loss is the rows' mean, so each row's gradient came scaled by 1/rows.
    let by_step = norms.to_vec().await?;
    Ok(by_step.iter().rev().map(|v| v * rows as f32).collect())
}

/// Each value of a reach as a share of `reach[0]` (the gradient at the prediction's own
/// state): what the charts draw and the lessons' claims read. Empty when `reach[0]` is not a
/// positive number.
pub fn reach_shares(reach: &[f32]) -> Vec<f32> {
    match reach.first() {
        Some(&start) if start.is_finite() && start > 0.0 => reach.iter().map(|v| v / start).collect(),
        _ => Vec::new(),
    }
}
