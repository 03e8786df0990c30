//! The step core every trainer shares: one training step records forward, backward,
//! clipping and the update and submits them once; per-epoch metrics (the summed batch losses
//! and pre-clip gradient norms) accumulate in a small device buffer read back once per epoch;
//! a step's gradient can also be taken as a share of a minibatch split over several workers.

use crate::backend::{Backend, BufId, Kernel};
use crate::clip::GradClipper;
use crate::error::{EngineError, Result};
use crate::optim::Optimizer;
use crate::param::{forget_grads, settle_grads, zero_grads, Param};
use crate::replay::StepPlans;
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;
use std::rc::Rc;

/// What a model's part of a training step hands back to [`StepCore::step`].
pub(crate) struct StepLoss {
    /// The one-element loss to differentiate.
    pub(crate) loss: Var,
    /// `metrics[0] += loss_scale · loss`.
    pub(crate) loss_scale: f32,
    /// Values copied into tensors that outlive the step once its backward pass is recorded:
    /// the final recurrent state into the state the next batch starts from (truncated BPTT).
    pub(crate) carry: Vec<(Var, Tensor)>,
}

/// What every trainer does around its model's loss: the optimizer, global-norm clipping, the
/// step counter that seeds each tape, and device-side sums per epoch (`metrics`: [Σ loss,
/// Σ pre-clip norms]) read back once at the epoch's end. [`Trainer`] and
/// [`Seq2SeqTrainer`](crate::translate::Seq2SeqTrainer) differ only in how they get the loss.
///
/// A step depends on the host only through buffers written before it is recorded — the batch,
/// the dropout seed, Adam's bias corrections — so the same step records the same kernels.
pub struct StepCore {
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
    /// ([loss, 0]); made by the first shared step.
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
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// (steps taken, epochs begun): the step count seeds dropout, so a resumed run sets both.
    pub fn position(&self) -> (u32, usize) {
        (self.step, self.epoch)
    }

    /// Continues a saved run: its optimizer state for `params` and its position.
    pub fn restore(
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
    /// `loss_scale`) goes to the share, not the epoch's sums.
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
        if let Some(share) = &self.share {
            return Ok(share.clone());
        }
        let share = Tensor::zeros(&self.backend, &[self.metrics.len()])?;
        self.share = Some(share.clone());
        Ok(share)
    }

    /// What [`StepCore::backward_share`] left, read back as one vector whose plain sum over
    /// the workers is the whole batch's: every gradient and the share's loss, times `weight`.
    pub async fn read_share(&mut self, params: &[Param], weight: f32) -> Result<Vec<f32>> {
        let share = self.share_tensor()?;
        let mut values = Vec::with_capacity(share_len(params, &share));
        for param in params {
            values.extend(param.grad().to_vec().await?.into_iter().map(|g| g * weight));
        }
        values.extend(share.to_vec().await?.into_iter().map(|v| v * weight));
        Ok(values)
    }

    /// The length of a share: every parameter, then the metrics' slots.
    pub fn share_len(&mut self, params: &[Param]) -> Result<usize> {
        let share = self.share_tensor()?;
        Ok(share_len(params, &share))
    }

    /// Data parallelism, the second half of a step: `sum` (every worker's share added in
    /// worker order) becomes the gradients, which are clipped and applied; its sums go to the
    /// epoch's. Every worker applies the same sum to the same weights, so they stay equal.
    pub fn apply_sum(&mut self, params: &[Param], sum: &[f32]) -> Result<()> {
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
        self.clipper.measure(params)?;
        self.optimizer.record(params, Some(self.clipper.by()))?;
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
    /// gradients, the forward pass, backward; with `update`,
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
        // The backward pass's first write of each gradient replaces the last step's; only the
        // gradients it does not reach are zeroed, after it.
        forget_grads(params);
        let mut tape = Tape::with_seed_buffer(&self.backend, self.seed.clone());
        let StepLoss { loss, loss_scale, carry } = forward(&mut tape)?;
        tape.backward(loss)?;
        settle_grads(params)?;
        if update {
            // The updates clip the gradients as they read them.
            self.clipper.measure(params)?;
            self.optimizer.record(params, Some(self.clipper.by()))?;
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

/// The parameter values a trainer's inputs (and the steps recorded on them) were made for;
/// holding them keeps their buffers from being reused by another model.
pub(crate) fn param_values(params: &[Param]) -> Vec<Tensor> {
    params.iter().map(|p| p.value().clone()).collect()
}

/// Whether `values` (from [`param_values`]) are the buffers of `params`.
pub(crate) fn made_for(values: &[Tensor], params: &[Param]) -> bool {
    values.len() == params.len() && values.iter().zip(params).all(|(v, p)| v.same_buffer(p.value()))
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
