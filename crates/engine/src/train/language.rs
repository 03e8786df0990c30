//! Training and evaluation of language models: d2l's `train_epoch_ch8`, with a validation pass
//! d2l does not have, around the shared [`StepCore`].

use super::step_core::{accumulate_into, made_for, param_values, StepCore, StepLoss};
use crate::backend::{Backend, Kernel};
use crate::error::{EngineError, Result};
use crate::nn::LanguageModel;
use crate::optim::Optimizer;
use crate::replay::{inputs_for, StepPlans};
use crate::tape::Tape;
use crate::tensor::{DType, Tensor};
use rnnplay_data::{Batch, BatchIter, Sampling};
use std::rc::Rc;

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// exp(mean cross-entropy per token).
    pub perplexity: f32,
    /// Mean pre-clip global gradient norm over the epoch's batches.
    pub grad_norm: f32,
    pub tokens: usize,
    pub batches: usize,
}

/// A language model's inputs for one batch shape, on the device: written before every step,
/// read by the recorded kernels.
struct BatchInputs {
    /// The parameters these inputs were made for (the state's shapes depend on the model).
    model: Vec<Tensor>,
    /// (steps, batch) token ids, time-major.
    tokens: Tensor,
    /// (steps·batch) next-token labels, time-major.
    labels: Tensor,
    /// The state the next batch starts from: zeros, or the last batch's final state.
    state: Vec<Tensor>,
    /// Recorded steps that read these inputs.
    plans: StepPlans,
}

impl BatchInputs {
    fn fits(&self, batch: &Batch) -> bool {
        self.tokens.shape() == [batch.num_steps, batch.batch_size]
    }
}

/// Trains a model epoch by epoch with global-norm clipping.
pub struct Trainer {
    /// `metrics` holds [Σ batch mean losses, Σ pre-clip norms] of the current epoch.
    pub(crate) core: StepCore,
    /// By batch shape, the most recent last.
    inputs: Vec<BatchInputs>,
    /// True when the most recent inputs' `state` holds the final state of the previous batch
    /// of this epoch.
    carrying: bool,
}

/// Uploads a batch: inputs (steps, batch) and time-major labels (steps·batch).
fn upload(backend: &Rc<dyn Backend>, batch: &Batch) -> Result<(Tensor, Tensor)> {
    let (batch_size, num_steps) = (batch.batch_size, batch.num_steps);
    let inputs = Tensor::from_u32(backend, &[num_steps, batch_size], &batch.inputs_time_major())?;
    let labels = Tensor::from_u32(backend, &[num_steps * batch_size], &batch.labels_time_major())?;
    Ok((inputs, labels))
}

impl Trainer {
    /// The shared step core: its optimizer state and step position (to save and resume a run)
    /// and a minibatch's gradient as shares (to split it over workers).
    pub fn core(&self) -> &StepCore {
        &self.core
    }

    pub fn core_mut(&mut self) -> &mut StepCore {
        &mut self.core
    }

    /// d2l's `train_ch8(net, train_iter, vocab, lr, num_epochs)` uses SGD with θ = 1: pass
    /// `Optimizer::by_name("sgd", lr)` and `clip = 1`.
    pub fn new(backend: &Rc<dyn Backend>, optimizer: Optimizer, clip: f32) -> Result<Self> {
        Ok(Self { core: StepCore::new(backend, optimizer, clip)?, inputs: Vec::new(), carrying: false })
    }

    /// d2l's setting: SGD with `lr` on the mean loss, clipping at `clip`.
    pub fn sgd(backend: &Rc<dyn Backend>, lr: f32, clip: f32) -> Result<Self> {
        Self::new(backend, Optimizer::by_name("sgd", lr)?, clip)
    }

    /// The learning rate the next steps use.
    pub fn lr(&self) -> f32 {
        self.core.lr()
    }

    /// Turns plan replay on (the default) or off (`EngineOptions::plan_replay`).
    pub fn set_plan_replay(&mut self, on: bool) {
        self.core.set_plan_replay(on);
    }

    /// Sets the learning rate of the following steps; a replayed plan follows it (the update
    /// kernels read it from the device).
    pub fn set_lr(&mut self, lr: f32) -> Result<()> {
        self.core.set_lr(lr)
    }

    /// One pass over `batches`. Sequential sampling carries the state from batch to batch
    /// (detached: truncated BPTT); random sampling starts each batch from zeros. A mean loss
    /// whose perplexity is not finite is [`EngineError::Diverged`].
    pub async fn train_epoch(&mut self, model: &LanguageModel, batches: &mut BatchIter) -> Result<EpochMetrics> {
        self.begin_epoch()?;
        let epoch = batches.epoch();
        let mut tokens = 0;
        for batch in &epoch {
            self.train_batch(model, batch, batches.sampling())?;
            tokens += batch.batch_size * batch.num_steps;
        }
        self.finish_epoch(epoch.len(), tokens).await
    }

    /// Zeroes the epoch's device-side sums of losses and gradient norms; the epoch's first
    /// batch starts from a zero state.
    pub fn begin_epoch(&mut self) -> Result<()> {
        self.carrying = false;
        self.core.begin_epoch()
    }

    /// One training step on `batch` — forward, mean cross-entropy, backward, clipping, update —
    /// recorded (or replayed) and submitted once, with no read-back. Under sequential sampling
    /// it starts from the final state of the previous batch since [`Trainer::begin_epoch`]
    /// (detached: truncated BPTT) when that batch had the same shape and model; otherwise, and
    /// under random sampling, from zeros.
    pub fn train_batch(&mut self, model: &LanguageModel, batch: &Batch, sampling: Sampling) -> Result<()> {
        self.run_batch(model, batch, sampling, None)
    }

    /// Data parallelism: the first half of a step on this worker's rows of a batch (`rows`,
    /// from [`Batch::rows`]) — forward and backward, the state carried as in
    /// [`Trainer::train_batch`], nothing updated; `seed` turns the step count into this
    /// worker's dropout seed. Then `read_share` and, with every worker's shares summed,
    /// `apply_sum`.
    pub fn backward_share(
        &mut self,
        model: &LanguageModel,
        rows: &Batch,
        sampling: Sampling,
        seed: &dyn Fn(u32) -> u32,
    ) -> Result<()> {
        if rows.batch_size == 0 {
            return self.core.empty_share(model.params());
        }
        self.run_batch(model, rows, sampling, Some(seed))
    }

    fn run_batch(
        &mut self,
        model: &LanguageModel,
        batch: &Batch,
        sampling: Sampling,
        share_seed: Option<&dyn Fn(u32) -> u32>,
    ) -> Result<()> {
        let backend = Rc::clone(&self.core.backend);
        let (inputs, used_last) = inputs_for(
            &mut self.inputs,
            |inputs| made_for(&inputs.model, model.params()),
            |inputs| inputs.fits(batch),
            || {
                Ok(BatchInputs {
                    model: param_values(model.params()),
                    tokens: Tensor::uninit(&backend, &[batch.num_steps, batch.batch_size], DType::U32)?,
                    labels: Tensor::uninit(&backend, &[batch.num_steps * batch.batch_size], DType::U32)?,
                    state: model.begin_state(&backend, batch.batch_size)?,
                    plans: StepPlans::new(&backend),
                })
            },
        )?;
        inputs.tokens.write_u32(&batch.inputs_time_major())?;
        inputs.labels.write_u32(&batch.labels_time_major())?;
        if !(self.carrying && used_last && sampling == Sampling::Sequential) {
            for state in &inputs.state {
                backend.run(Kernel::Fill { out: state.id(), len: state.len(), value: 0.0 })?;
            }
        }
        let BatchInputs { tokens, labels, state, plans, .. } = inputs;
        self.core.uniform_loss = (model.config().vocab_size as f32).ln();
        let forward = |tape: &mut Tape| {
            let (logits, final_state) = model.forward(tape, tokens, state)?;
            let loss = tape.softmax_cross_entropy(logits, labels)?;
            let carry = final_state.into_iter().zip(state.iter().cloned()).collect();
            Ok(StepLoss { loss, loss_scale: 1.0, carry })
        };
        match share_seed {
            None => self.core.step(plans, (0, model.fused_layers()), model.params(), forward)?,
            Some(seed) => self.core.backward_share(model.params(), seed, forward)?,
        }
        self.carrying = true;
        Ok(())
    }

    /// Reads the epoch's sums back (the one read-back of an epoch) and turns them into means
    /// over the `batches` trained since [`Trainer::begin_epoch`].
    pub async fn finish_epoch(&mut self, batches: usize, tokens: usize) -> Result<EpochMetrics> {
        let sums = self.core.metrics.to_vec().await?;
        let batches_run = batches.max(1) as f32;
        let mean_loss = sums[0] / batches_run;
        // A loss past ~88.7 nats overflows the perplexity: no trained model is there.
        if !mean_loss.exp().is_finite() {
            return Err(EngineError::Diverged { mean_loss, epoch: self.core.epoch });
        }
        self.core.check_loss(mean_loss)?;
        Ok(EpochMetrics { perplexity: mean_loss.exp(), grad_norm: sums[1] / batches_run, tokens, batches })
    }

    /// Perplexity of `model` on `batches` in evaluation mode (no dropout, no updates), with
    /// the state carried or reset as in training.
    pub async fn evaluate(&mut self, model: &LanguageModel, batches: &mut BatchIter) -> Result<f32> {
        let backend = Rc::clone(&self.core.backend);
        self.core.zero_metrics()?;
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
