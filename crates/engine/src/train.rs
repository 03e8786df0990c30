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
use crate::optim::Optimizer;
use crate::param::{zero_grads, Param};
use crate::replay::{inputs_for, StepPlans};
use crate::tape::{Tape, Var};
use crate::tensor::{DType, Tensor};
use crate::through_time::{measure, watch_top_layer, GradWatch};
use rnnplay_data::{Batch, BatchIter, Sampling};
use std::rc::Rc;

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// exp(mean cross-entropy per token).
    pub perplexity: f32,
    /// Mean pre-clip global gradient norm over the epoch's batches.
    pub grad_norm: f32,
    /// Gradient through time: for each time step s of the window, the mean over the epoch's
    /// batches of the batch-mean ‖∂L/∂h_s‖ of the top layer, before clipping
    /// (`through_time.rs`).
    pub through_time: Vec<f32>,
    pub tokens: usize,
    pub batches: usize,
}

/// What a model's part of a training step hands back to [`StepCore::step`].
pub(crate) struct StepLoss {
    /// The one-element loss to differentiate.
    pub(crate) loss: Var,
    /// `metrics[0] += loss_scale · loss`.
    pub(crate) loss_scale: f32,
    /// Values copied into tensors that outlive the step once its backward pass is recorded:
    /// the final recurrent state into the state the next batch starts from (truncated BPTT).
    pub(crate) carry: Vec<(Var, Tensor)>,
    /// State gradients measured into `metrics` after backward (the gradient through time).
    pub(crate) watches: Vec<GradWatch>,
}

/// What every trainer does around its model's loss: the optimizer, global-norm clipping, the
/// step counter that seeds each tape, and device-side sums per epoch (`metrics`: [Σ loss,
/// Σ pre-clip norms, then for a language model Σ ‖∂L/∂h_s‖ per time step s]) read back once at
/// the epoch's end. [`Trainer`] and
/// [`Seq2SeqTrainer`](crate::translate::Seq2SeqTrainer) differ only in how they get the loss.
///
/// A step depends on the host only through buffers written before it is recorded — the batch,
/// the dropout seed, Adam's bias corrections — so the same step records the same kernels.
pub(crate) struct StepCore {
    pub(crate) backend: Rc<dyn Backend>,
    optimizer: Optimizer,
    clipper: GradClipper,
    pub(crate) metrics: Tensor,
    /// Epochs begun (the one in progress counts), for the divergence message.
    pub(crate) epoch: usize,
    step: u32,
    /// The step's dropout seed (one u32), written before each step.
    seed: Tensor,
    /// Replay steady steps (`EngineOptions::plan_replay`).
    replay: bool,
    /// The first finished epoch's mean loss, and the loss of a uniform guess over the model's
    /// vocabulary (ln V, set with each batch): an epoch past [`BLOW_UP`] times either diverged.
    first_loss: Option<f32>,
    pub(crate) uniform_loss: f32,
    /// Data parallelism: this worker's share of a step's sums, laid out as `metrics`
    /// ([loss, 0, ‖∂L/∂h_s‖ …]); made by the first shared step.
    share: Option<Tensor>,
}

/// How many times the first epoch's mean loss a later epoch's may reach before the run counts
/// as diverged (a finite but exploding loss: per-token CE 1e31 trains nothing).
pub(crate) const BLOW_UP: f32 = 1e4;

impl StepCore {
    pub(crate) fn new(backend: &Rc<dyn Backend>, optimizer: Optimizer, clip: f32) -> Result<Self> {
        Ok(Self {
            backend: Rc::clone(backend),
            optimizer,
            clipper: GradClipper::new(backend, clip)?,
            metrics: Tensor::zeros(backend, &[2])?,
            epoch: 0,
            step: 0,
            seed: Tensor::from_u32(backend, &[1], &[0])?,
            replay: true,
            first_loss: None,
            uniform_loss: f32::INFINITY,
            share: None,
        })
    }

    /// Turns plan replay on (the default) or off: off, every step is recorded from scratch —
    /// the oracle replayed training is compared with, and the benchmark's baseline.
    pub(crate) fn set_plan_replay(&mut self, on: bool) {
        self.replay = on;
    }

    /// The learning rate the next steps use.
    pub(crate) fn lr(&self) -> f32 {
        self.optimizer.lr()
    }

    /// The update rule (its state is saved with a resumable run).
    pub(crate) fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// (steps taken, epochs begun): the step count seeds dropout, so a resumed run sets both.
    pub(crate) fn position(&self) -> (u32, usize) {
        (self.step, self.epoch)
    }

    /// Continues a saved run: its optimizer state for `params` and its position.
    pub(crate) fn restore(
        &mut self,
        params: &[Param],
        optimizer: &crate::optim::OptimizerState,
        (step, epoch): (u32, usize),
    ) -> Result<()> {
        self.optimizer.restore(params, optimizer)?;
        (self.step, self.epoch) = (step, epoch);
        Ok(())
    }

    /// Sets the learning rate of the following steps, recorded or replayed (a schedule calls
    /// this between epochs).
    pub(crate) fn set_lr(&mut self, lr: f32) -> Result<()> {
        self.optimizer.set_lr(lr)
    }

    /// Checks an epoch's mean loss: not finite, or past [`BLOW_UP`] times the first epoch's or
    /// a uniform guess's (a first epoch that already exploded), is [`EngineError::Diverged`]
    /// naming the epoch.
    pub(crate) fn check_loss(&mut self, mean_loss: f32) -> Result<()> {
        let first = *self.first_loss.get_or_insert(mean_loss);
        let grown = first > 0.0 && mean_loss > BLOW_UP * first;
        if !mean_loss.is_finite() || grown || mean_loss > BLOW_UP * self.uniform_loss.max(1.0) {
            return Err(EngineError::Diverged { mean_loss, epoch: self.epoch });
        }
        Ok(())
    }

    /// Counts a new epoch and zeroes its device-side sums.
    pub(crate) fn begin_epoch(&mut self) -> Result<()> {
        self.epoch += 1;
        self.zero_metrics()
    }

    /// Zeroes the device-side sums (an epoch's, or an evaluation's).
    pub(crate) fn zero_metrics(&self) -> Result<()> {
        self.backend.run(Kernel::Fill { out: self.metrics.id(), len: self.metrics.len(), value: 0.0 })
    }

    /// Makes room in the metrics for `steps` gradient-through-time sums; before the first step
    /// (recorded steps name the metrics buffer).
    pub(crate) fn track_through_time(&mut self, steps: usize) -> Result<()> {
        self.metrics = Tensor::zeros(&self.backend, &[2 + steps])?;
        Ok(())
    }

    /// One training step: zeroed gradients, the forward pass that `forward` records on a tape
    /// seeded by the step count (dropout), backward from its loss, clipping, the update,
    /// `metrics += [loss_scale · loss, norm]`, the carried values; then the step's one submit.
    ///
    /// With plan replay on, a step of the inputs that `plans` belongs to, of `variant` and with
    /// the layers run `fused` or not, is recorded under capture until the backend finds it
    /// steady; from then on the plan is replayed and `forward` is not called.
    pub(crate) fn step(
        &mut self,
        plans: &mut StepPlans,
        (variant, fused): (u8, bool),
        params: &[Param],
        forward: impl FnOnce(&mut Tape) -> Result<StepLoss>,
    ) -> Result<()> {
        self.step = self.step.wrapping_add(1);
        self.seed.write_u32(&[self.step])?;
        self.optimizer.advance(params)?;
        if !self.replay {
            self.record(params, forward)?;
        } else if let Some(plan) = plans.get(variant, fused) {
            self.backend.replay(plan)?;
        } else {
            self.backend.begin_capture();
            let recorded = self.record(params, forward);
            let plan = self.backend.end_capture()?;
            match (recorded, plan) {
                (Err(err), plan) => {
                    // A step that failed to record twice alike is no plan to keep.
                    if let Some(plan) = plan {
                        self.backend.release_plan(plan);
                    }
                    return Err(err);
                }
                (Ok(()), Some(plan)) => plans.insert(variant, fused, plan),
                (Ok(()), None) => {}
            }
        }
        self.backend.flush()
    }

    /// Data parallelism, the first half of a step (`run/data_parallel.rs`): zeroed gradients, the
    /// forward pass on this worker's rows, backward, the carried values; the loss (times
    /// `loss_scale`) and the watched state gradients go to the share, not the epoch's sums.
    /// Nothing is updated. `seed` is this worker's dropout seed for the step, so that two
    /// workers draw different masks. Recorded every time (no plan replay) and submitted once.
    pub(crate) fn backward_share(
        &mut self,
        params: &[Param],
        seed: impl FnOnce(u32) -> u32,
        forward: impl FnOnce(&mut Tape) -> Result<StepLoss>,
    ) -> Result<()> {
        self.step = self.step.wrapping_add(1);
        self.seed.write_u32(&[seed(self.step)])?;
        let share = self.share_tensor()?;
        self.backend.run(Kernel::Fill { out: share.id(), len: share.len(), value: 0.0 })?;
        self.record_into(params, forward, &share, false)?;
        self.backend.flush()
    }

    /// A worker without rows in this step: no gradient, no loss, only the step counted.
    pub(crate) fn empty_share(&mut self, params: &[Param]) -> Result<()> {
        self.step = self.step.wrapping_add(1);
        let share = self.share_tensor()?;
        self.backend.run(Kernel::Fill { out: share.id(), len: share.len(), value: 0.0 })?;
        zero_grads(params)
    }

    /// The share tensor, made on first use in the metrics' layout.
    fn share_tensor(&mut self) -> Result<Tensor> {
        match &self.share {
            Some(share) if share.len() == self.metrics.len() => Ok(share.clone()),
            _ => {
                let share = Tensor::zeros(&self.backend, &[self.metrics.len()])?;
                self.share = Some(share.clone());
                Ok(share)
            }
        }
    }

    /// What [`StepCore::backward_share`] left, read back as one vector whose plain sum over
    /// the workers is the whole batch's: every gradient times `weight`, then the share's
    /// loss times `weight` and its state-gradient norms times `weight²` (a row's ∂L/∂h scales
    /// with the weight, and their mean is over the worker's rows, a `weight` of the batch's).
    pub(crate) async fn read_share(&mut self, params: &[Param], weight: f32) -> Result<Vec<f32>> {
        let share = self.share_tensor()?;
        let mut values = Vec::with_capacity(share_len(params, &share));
        for param in params {
            values.extend(param.grad().to_vec().await?.into_iter().map(|g| g * weight));
        }
        let sums = share.to_vec().await?;
        values.extend(sums.iter().enumerate().map(|(slot, v)| if slot < 2 { v * weight } else { v * weight * weight }));
        Ok(values)
    }

    /// The length of a share: every parameter, then the metrics' slots.
    pub(crate) fn share_len(&mut self, params: &[Param]) -> Result<usize> {
        let share = self.share_tensor()?;
        Ok(share_len(params, &share))
    }

    /// Data parallelism, the second half of a step: `sum` (every worker's share added in
    /// worker order) becomes the gradients, which are clipped and applied; its sums go to the
    /// epoch's. Every worker applies the same sum to the same weights, so they stay equal.
    pub(crate) fn apply_sum(&mut self, params: &[Param], sum: &[f32]) -> Result<()> {
        let share = self.share_tensor()?;
        let expected = share_len(params, &share);
        if sum.len() != expected {
            return Err(EngineError::InvalidArgument(format!(
                "a summed share has {} values where this model's has {expected}; every worker must train the same run",
                sum.len()
            )));
        }
        self.optimizer.advance(params)?;
        let mut offset = 0;
        for param in params {
            param.grad().write_f32(&sum[offset..offset + param.len()])?;
            offset += param.len();
        }
        share.write_f32(&sum[offset..])?;
        self.clipper.clip(params)?;
        self.optimizer.record(params)?;
        self.backend.run(Kernel::Scale {
            x: share.id(),
            out: self.metrics.id(),
            len: share.len(),
            alpha: 1.0,
            accumulate: true,
        })?;
        accumulate_into(&self.backend, self.clipper.norm().id(), &self.metrics, 1)?;
        self.backend.flush()
    }

    /// Records the step; its tape (and with it every temporary buffer) is gone before the
    /// submit, so the next step gets the same buffers back from the pool in the same roles.
    fn record(&mut self, params: &[Param], forward: impl FnOnce(&mut Tape) -> Result<StepLoss>) -> Result<()> {
        let metrics = self.metrics.clone();
        self.record_into(params, forward, &metrics, true)
    }

    /// What a step records, its sums going to `sums` (laid out as `metrics`): zeroed
    /// gradients, the forward pass, backward, the watched state gradients; with `update`,
    /// clipping and the update; `sums[0] += loss_scale · loss`; with `update`, the pre-clip
    /// norm into `sums[1]`; the carried values. Without `update` it is a data-parallel
    /// worker's half step ([`StepCore::backward_share`]).
    fn record_into(
        &mut self,
        params: &[Param],
        forward: impl FnOnce(&mut Tape) -> Result<StepLoss>,
        sums: &Tensor,
        update: bool,
    ) -> Result<()> {
        zero_grads(params)?;
        let mut tape = Tape::with_seed_buffer(&self.backend, self.seed.clone());
        let StepLoss { loss, loss_scale, carry, watches } = forward(&mut tape)?;
        tape.backward(loss)?;
        measure(&tape, &watches, sums)?;
        if update {
            self.clipper.clip(params)?;
            self.optimizer.record(params)?;
        }
        self.backend.run(Kernel::Scale {
            x: tape.value(loss).id(),
            out: sums.id(),
            len: 1,
            alpha: loss_scale,
            accumulate: true,
        })?;
        if update {
            accumulate_into(&self.backend, self.clipper.norm().id(), sums, 1)?;
        }
        for (value, into) in carry {
            into.copy_from(tape.value(value))?;
        }
        Ok(())
    }
}

/// Values in a share of `params` with sums laid out as `share`.
fn share_len(params: &[Param], share: &Tensor) -> usize {
    params.iter().map(Param::len).sum::<usize>() + share.len()
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

/// The parameter values a trainer's inputs (and the steps recorded on them) were made for;
/// holding them keeps their buffers from being reused by another model.
pub(crate) fn param_values(params: &[Param]) -> Vec<Tensor> {
    params.iter().map(|p| p.value().clone()).collect()
}

/// Whether `values` (from [`param_values`]) are the buffers of `params`.
pub(crate) fn made_for(values: &[Tensor], params: &[Param]) -> bool {
    values.len() == params.len() && values.iter().zip(params).all(|(v, p)| v.same_buffer(p.value()))
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
        Ok(Self { core: StepCore::new(backend, optimizer, clip)?, inputs: Vec::new(), carrying: false })
    }

    /// Also measures the gradient through time over windows of `steps` time steps
    /// ([`EpochMetrics::through_time`]); call before the first batch.
    pub fn with_through_time(mut self, steps: usize) -> Result<Self> {
        self.core.track_through_time(steps)?;
        Ok(self)
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
    pub(crate) fn backward_share(
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
        let measures_through_time = self.core.metrics.len() > 2;
        self.core.uniform_loss = (model.config().vocab_size as f32).ln();
        let (batch_size, hidden) = (batch.batch_size, model.config().hidden_size);
        let forward = |tape: &mut Tape| {
            if measures_through_time {
                tape.enable_probes();
            }
            let (logits, final_state) = model.forward(tape, tokens, state)?;
            let loss = tape.softmax_cross_entropy(logits, labels)?;
            let watches = watch_top_layer(tape, batch_size, hidden, 2);
            let carry = final_state.into_iter().zip(state.iter().cloned()).collect();
            Ok(StepLoss { loss, loss_scale: 1.0, carry, watches })
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
        let through_time = sums[2..].iter().map(|s| s / batches_run).collect();
        Ok(EpochMetrics {
            perplexity: mean_loss.exp(),
            grad_norm: sums[1] / batches_run,
            through_time,
            tokens,
            batches,
        })
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
