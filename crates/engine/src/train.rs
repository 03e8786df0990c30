//! Training and evaluation of language models: d2l's `train_epoch_ch8`, with a validation pass
//! d2l does not have.
//!
//! A training step records forward, backward, clipping and the update and submits them once.
//! Per-epoch metrics (the summed batch losses and pre-clip gradient norms) accumulate in a
//! small device buffer and are read back once per epoch.

use crate::backend::{Backend, BufId, Kernel};
use crate::clip::GradClipper;
use crate::error::{EngineError, Result};
use crate::nn::LanguageModel;
use crate::optim::{Adam, Sgd};
use crate::param::{zero_grads, Param};
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;
use rnnplay_data::{Batch, BatchIter, Sampling};
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

/// The update rule.
pub enum Optimizer {
    Sgd(Sgd),
    Adam(Adam),
}

impl Optimizer {
    /// `sgd` (d2l's, on a mean loss) or `adam` (PyTorch's defaults) with learning rate `lr`.
    pub fn by_name(name: &str, lr: f32) -> Result<Self> {
        match name {
            // The loss is a mean over tokens, so SGD divides by 1 (d2l's `updater(batch_size=1)`).
            "sgd" => Ok(Self::Sgd(Sgd::new(lr, 1.0)?)),
            "adam" => Ok(Self::Adam(Adam::new(lr)?)),
            other => Err(EngineError::InvalidArgument(format!("unknown optimizer '{other}'; use sgd or adam"))),
        }
    }

    pub(crate) fn step(&mut self, params: &[crate::param::Param]) -> Result<()> {
        match self {
            Self::Sgd(sgd) => sgd.step(params),
            Self::Adam(adam) => adam.step(params),
        }
    }
}

/// What every trainer does around its model's loss: the optimizer, global-norm clipping, the
/// step counter that seeds each tape, and two device-side sums per epoch (`metrics`: [Σ loss,
/// Σ pre-clip norms]) read back once at the epoch's end. [`Trainer`] and
/// [`Seq2SeqTrainer`](crate::translate::Seq2SeqTrainer) differ only in how they get the loss.
pub(crate) struct StepCore {
    pub(crate) backend: Rc<dyn Backend>,
    optimizer: Optimizer,
    clipper: GradClipper,
    pub(crate) metrics: Tensor,
    step: u32,
}

impl StepCore {
    pub(crate) fn new(backend: &Rc<dyn Backend>, optimizer: Optimizer, clip: f32) -> Result<Self> {
        Ok(Self {
            backend: Rc::clone(backend),
            optimizer,
            clipper: GradClipper::new(backend, clip)?,
            metrics: Tensor::zeros(backend, &[2])?,
            step: 0,
        })
    }

    /// Zeroes the epoch's device-side sums.
    pub(crate) fn begin_epoch(&self) -> Result<()> {
        self.backend.run(Kernel::Fill { out: self.metrics.id(), len: 2, value: 0.0 })
    }

    /// Zeroes the gradients and opens the step's tape, seeded by the step count (dropout).
    pub(crate) fn begin_step(&mut self, params: &[Param]) -> Result<Tape> {
        zero_grads(params)?;
        self.step = self.step.wrapping_add(1);
        Ok(Tape::new(&self.backend, self.step))
    }

    /// Backward from `loss`, clipping, the update, and `metrics += [loss_scale · loss, norm]`;
    /// then the one submit of the step.
    pub(crate) fn finish_step(&mut self, tape: &mut Tape, loss: Var, loss_scale: f32, params: &[Param]) -> Result<()> {
        tape.backward(loss)?;
        self.clipper.clip(params)?;
        self.optimizer.step(params)?;
        self.backend.run(Kernel::Scale {
            x: tape.value(loss).id(),
            out: self.metrics.id(),
            len: 1,
            alpha: loss_scale,
            accumulate: true,
        })?;
        accumulate_into(&self.backend, self.clipper.norm().id(), &self.metrics, 1)?;
        self.backend.flush()
    }
}

/// Trains a model epoch by epoch with global-norm clipping.
pub struct Trainer {
    /// `metrics` holds [Σ batch mean losses, Σ pre-clip norms] of the current epoch.
    core: StepCore,
}

/// Uploads a batch: inputs (steps, batch) and time-major labels (steps·batch).
fn upload(backend: &Rc<dyn Backend>, batch: &Batch) -> Result<(Tensor, Tensor)> {
    let (batch_size, num_steps) = (batch.batch_size, batch.num_steps);
    let inputs = Tensor::from_u32(backend, &[num_steps, batch_size], &batch.inputs_time_major())?;
    let labels = Tensor::from_u32(backend, &[num_steps * batch_size], &batch.labels_time_major())?;
    Ok((inputs, labels))
}

/// metrics[slot] += value[0], on the device.
pub(crate) fn accumulate_into(backend: &Rc<dyn Backend>, value: BufId, metrics: &Tensor, slot: usize) -> Result<()> {
    backend.run(Kernel::Copy2d {
        src: value,
        dst: metrics.id(),
        rows: 1,
        cols: 1,
        src_stride: 1,
        src_offset: 0,
        dst_stride: 2,
        dst_offset: slot,
        accumulate: true,
    })
}

impl Trainer {
    /// d2l's `train_ch8(net, train_iter, vocab, lr, num_epochs)` uses SGD with θ = 1: pass
    /// `Optimizer::by_name("sgd", lr)` and `clip = 1`.
    pub fn new(backend: &Rc<dyn Backend>, optimizer: Optimizer, clip: f32) -> Result<Self> {
        Ok(Self { core: StepCore::new(backend, optimizer, clip)? })
    }

    /// d2l's setting: SGD with `lr` on the mean loss, clipping at `clip`.
    pub fn sgd(backend: &Rc<dyn Backend>, lr: f32, clip: f32) -> Result<Self> {
        Self::new(backend, Optimizer::by_name("sgd", lr)?, clip)
    }

    /// One pass over `batches`. Sequential sampling carries the state from batch to batch
    /// (detached: truncated BPTT); random sampling starts each batch from zeros. A mean loss
    /// whose perplexity is not finite is [`EngineError::Diverged`].
    pub async fn train_epoch(&mut self, model: &LanguageModel, batches: &mut BatchIter) -> Result<EpochMetrics> {
        self.begin_epoch()?;
        let epoch = batches.epoch();
        let mut state: Option<Vec<Tensor>> = None;
        let mut tokens = 0;
        for batch in &epoch {
            state = Some(self.train_batch(model, batch, state.as_deref(), batches.sampling())?);
            tokens += batch.batch_size * batch.num_steps;
        }
        self.finish_epoch(epoch.len(), tokens).await
    }

    /// Zeroes the epoch's device-side sums of losses and gradient norms.
    pub fn begin_epoch(&mut self) -> Result<()> {
        self.core.begin_epoch()
    }

    /// One training step on `batch` — forward, mean cross-entropy, backward, clipping, update —
    /// recorded and submitted once, with no read-back. Starts from `carried` under sequential
    /// sampling (truncated BPTT) and from zeros otherwise; returns the detached final state.
    pub fn train_batch(
        &mut self,
        model: &LanguageModel,
        batch: &Batch,
        carried: Option<&[Tensor]>,
        sampling: Sampling,
    ) -> Result<Vec<Tensor>> {
        let backend = Rc::clone(&self.core.backend);
        let initial = match (carried, sampling) {
            (Some(carried), Sampling::Sequential) => carried.to_vec(),
            _ => model.begin_state(&backend, batch.batch_size)?,
        };
        let (inputs, labels) = upload(&backend, batch)?;
        let mut tape = self.core.begin_step(model.params())?;
        let (logits, new_state) = model.forward(&mut tape, &inputs, &initial)?;
        let loss = tape.softmax_cross_entropy(logits, &labels)?;
        self.core.finish_step(&mut tape, loss, 1.0, model.params())?;
        Ok(new_state.iter().map(|v| tape.detach(*v)).collect())
    }

    /// Reads the epoch's sums back (the one read-back of an epoch) and turns them into means
    /// over the `batches` trained since [`Trainer::begin_epoch`].
    pub async fn finish_epoch(&mut self, batches: usize, tokens: usize) -> Result<EpochMetrics> {
        let sums = self.core.metrics.to_vec().await?;
        let batches_run = batches.max(1) as f32;
        let mean_loss = sums[0] / batches_run;
        // A loss past ~88.7 nats overflows the perplexity: no trained model is there.
        if !mean_loss.exp().is_finite() {
            return Err(EngineError::Diverged { mean_loss });
        }
        Ok(EpochMetrics { perplexity: mean_loss.exp(), grad_norm: sums[1] / batches_run, tokens, batches })
    }

    /// Perplexity of `model` on `batches` in evaluation mode (no dropout, no updates), with
    /// the state carried or reset as in training.
    pub async fn evaluate(&mut self, model: &LanguageModel, batches: &mut BatchIter) -> Result<f32> {
        let backend = Rc::clone(&self.core.backend);
        self.core.begin_epoch()?;
        let epoch = batches.epoch();
        let mut state: Option<Vec<Tensor>> = None;
        for batch in &epoch {
            let initial = match (&state, batches.sampling()) {
                (Some(carried), Sampling::Sequential) => carried.clone(),
                _ => model.begin_state(&backend, batch.batch_size)?,
            };
            let (inputs, labels) = upload(&backend, batch)?;
            let mut tape = Tape::new(&backend, 0);
            tape.set_training(false);
            let (logits, new_state) = model.forward(&mut tape, &inputs, &initial)?;
            let loss = tape.softmax_cross_entropy(logits, &labels)?;
            accumulate_into(&backend, tape.value(loss).id(), &self.core.metrics, 0)?;
            state = Some(new_state.iter().map(|v| tape.detach(*v)).collect());
            backend.flush()?;
        }
        let sums = self.core.metrics.to_vec().await?;
        Ok((sums[0] / epoch.len().max(1) as f32).exp())
    }
}
