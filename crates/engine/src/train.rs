//! Training and prediction for language models: d2l's `train_epoch_ch8` and `predict_ch8`.
//!
//! A training step records forward, backward, clipping and the SGD update and submits them
//! once. Per-epoch metrics (the summed batch losses and pre-clip gradient norms) accumulate in a
//! small device buffer and are read back once per epoch.

use crate::backend::{Backend, Kernel};
use crate::clip::GradClipper;
use crate::error::{EngineError, Result};
use crate::nn::ScratchModel;
use crate::optim::Sgd;
use crate::param::zero_grads;
use crate::tape::Tape;
use crate::tensor::Tensor;
use rnnplay_data::{BatchIter, Sampling};
use std::rc::Rc;

/// What one epoch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMetrics {
    /// exp(mean cross-entropy per token).
    pub perplexity: f32,
    /// Mean pre-clip global gradient norm over the epoch's batches.
    pub grad_norm: f32,
    pub tokens: usize,
    pub batches: usize,
}

/// Trains a model epoch by epoch with SGD and global-norm clipping.
pub struct Trainer {
    backend: Rc<dyn Backend>,
    sgd: Sgd,
    clipper: GradClipper,
    /// [Σ batch mean losses, Σ pre-clip norms] of the current epoch.
    metrics: Tensor,
    step: u32,
}

impl Trainer {
    /// `lr` and `clip` as d2l's `train_ch8(net, train_iter, vocab, lr, num_epochs)` with θ = `clip`.
    pub fn new(backend: &Rc<dyn Backend>, lr: f32, clip: f32) -> Result<Self> {
        Ok(Self {
            backend: Rc::clone(backend),
            // The loss is a mean over tokens, so SGD divides by 1 (d2l's `updater(batch_size=1)`).
            sgd: Sgd::new(lr, 1.0)?,
            clipper: GradClipper::new(backend, clip)?,
            metrics: Tensor::zeros(backend, &[2])?,
            step: 0,
        })
    }

    /// One pass over `batches`. Sequential sampling carries the state from batch to batch
    /// (detached: truncated BPTT); random sampling starts each batch from zeros.
    pub async fn train_epoch(&mut self, model: &ScratchModel, batches: &mut BatchIter) -> Result<EpochMetrics> {
        let backend = Rc::clone(&self.backend);
        backend.run(Kernel::Fill { out: self.metrics.id(), len: 2, value: 0.0 })?;
        let epoch = batches.epoch();
        let mut state: Option<Vec<Tensor>> = None;
        let mut tokens = 0;
        for batch in &epoch {
            let (batch_size, num_steps) = (batch.batch_size, batch.num_steps);
            let initial = match (&state, batches.sampling()) {
                (Some(carried), Sampling::Sequential) => carried.clone(),
                _ => model.begin_state(&backend, batch_size)?,
            };
            let inputs: Vec<Tensor> = (0..num_steps)
                .map(|t| Tensor::from_u32(&backend, &[batch_size], &batch.step_inputs(t)))
                .collect::<Result<_>>()?;
            let labels = Tensor::from_u32(&backend, &[num_steps * batch_size], &batch.labels_time_major())?;
            zero_grads(model.params())?;
            self.step = self.step.wrapping_add(1);
            let mut tape = Tape::new(&backend, self.step);
            let (logits, new_state) = model.forward(&mut tape, &inputs, &initial)?;
            let loss = tape.softmax_cross_entropy(logits, &labels)?;
            tape.backward(loss)?;
            self.clipper.clip(model.params())?;
            self.sgd.step(model.params())?;
            let loss_value = tape.value(loss).id();
            backend.run(Kernel::Copy2d {
                src: loss_value,
                dst: self.metrics.id(),
                rows: 1,
                cols: 1,
                src_stride: 1,
                src_offset: 0,
                dst_stride: 2,
                dst_offset: 0,
                accumulate: true,
            })?;
            backend.run(Kernel::Copy2d {
                src: self.clipper.norm().id(),
                dst: self.metrics.id(),
                rows: 1,
                cols: 1,
                src_stride: 1,
                src_offset: 0,
                dst_stride: 2,
                dst_offset: 1,
                accumulate: true,
            })?;
            state = Some(new_state.iter().map(|v| tape.detach(*v)).collect());
            backend.flush()?;
            tokens += batch_size * num_steps;
        }
        let sums = self.metrics.to_vec().await?;
        let batches_run = epoch.len().max(1) as f32;
        let mean_loss = sums[0] / batches_run;
        if !mean_loss.is_finite() {
            return Err(EngineError::InvalidArgument(format!(
                "training diverged (mean loss {mean_loss}); lower the learning rate or the clipping threshold θ"
            )));
        }
        Ok(EpochMetrics { perplexity: mean_loss.exp(), grad_norm: sums[1] / batches_run, tokens, batches: epoch.len() })
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// d2l's `predict_ch8`: warm the state up on `prefix` (its tokens are fed, not predicted), then
/// generate `num_preds` tokens greedily, each fed back as the next input (free-running).
/// Returns the prefix followed by the generated tokens.
pub async fn predict(model: &ScratchModel, prefix: &[u32], num_preds: usize) -> Result<Vec<u32>> {
    if prefix.is_empty() {
        return Err(EngineError::InvalidArgument("the prefix is empty; give at least one token".into()));
    }
    let backend = Rc::clone(model.params()[0].value().backend());
    let vocab = model.vocab_size();
    let mut output = prefix.to_vec();
    let mut state = model.begin_state(&backend, 1)?;
    // Warm-up: all prefix tokens in one forward; the last step's logits predict the next token.
    let mut feed: Vec<u32> = prefix.to_vec();
    for _ in 0..num_preds {
        let mut tape = Tape::new(&backend, 0);
        tape.set_training(false);
        let inputs: Vec<Tensor> =
            feed.iter().map(|&t| Tensor::from_u32(&backend, &[1], &[t])).collect::<Result<_>>()?;
        let (logits, new_state) = model.forward(&mut tape, &inputs, &state)?;
        state = new_state.iter().map(|v| tape.detach(*v)).collect();
        let last = tape.slice(logits, 0, feed.len() - 1, 1)?;
        let values = tape.value(last).to_vec().await?;
        let next = argmax(&values[..vocab]) as u32;
        output.push(next);
        feed = vec![next];
    }
    Ok(output)
}
