//! Optimizers and learning-rate schedules. Updates are kernels recorded into the current step;
//! nothing is read back.
//!
//! What changes from step to step — the learning rate a schedule sets, Adam's bias corrections —
//! is written into a small device buffer before the step (`advance`) and read there by the
//! update kernels, never baked into a recorded kernel: so a replayed plan follows the schedule.

use crate::backend::{adam_bias_corrections, groups_of, ClipBy, Kernel, UpdateSlot};
use crate::error::{EngineError, Result};
use crate::param::Param;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The message for a bad learning rate.
pub fn lr_problem(lr: f32) -> Option<String> {
    (!(lr.is_finite() && lr > 0.0)).then(|| {
        format!(
            "the learning rate must be a positive finite number (got {lr}); d2l uses 1 with SGD and 0.005 with Adam"
        )
    })
}

fn check_lr(lr: f32) -> Result<()> {
    lr_problem(lr).map_or(Ok(()), |problem| Err(EngineError::InvalidArgument(problem)))
}

/// Writes `values` into `buffer`, creating it (on the backend of `params`) the first time.
fn write_scalars(buffer: &mut Option<Tensor>, params: &[Param], values: &[f32]) -> Result<()> {
    match buffer {
        Some(buffer) => buffer.write_f32(values),
        None => {
            let Some(first) = params.first() else { return Ok(()) };
            *buffer = Some(Tensor::from_f32(first.value().backend(), &[values.len()], values)?);
            Ok(())
        }
    }
}

/// d2l's minibatch SGD: `p -= lr · g / batch_size`. d2l's scratch models sum the loss over
/// the batch and divide here; with a mean loss pass `batch_size = 1`. With `weight_decay` λ,
/// PyTorch's `SGD(weight_decay=λ)`: `p -= lr · (g / batch_size + λ · p)`.
#[derive(Debug, Clone)]
pub struct Sgd {
    lr: f32,
    pub batch_size: f32,
    pub weight_decay: f32,
    /// [lr] on the device, written by `advance` when the rate changed.
    rate: Option<Tensor>,
    /// The rate last written to `rate`.
    written: Option<f32>,
}

impl Sgd {
    pub fn new(lr: f32, batch_size: f32) -> Result<Self> {
        check_lr(lr)?;
        if !(batch_size.is_finite() && batch_size > 0.0) {
            return Err(EngineError::InvalidArgument(format!("SGD batch size {batch_size} must be positive")));
        }
        Ok(Self { lr, batch_size, weight_decay: 0.0, rate: None, written: None })
    }

    /// Writes the learning rate and records one update of every parameter.
    pub fn step(&mut self, params: &[Param]) -> Result<()> {
        self.advance(params)?;
        self.record(params, None)
    }

    /// Writes the current learning rate to the device, before the step is recorded or
    /// replayed — only when it changed, so a steady SGD step uploads nothing but its batch.
    pub(crate) fn advance(&mut self, params: &[Param]) -> Result<()> {
        if self.written == Some(self.lr) && self.rate.is_some() {
            return Ok(());
        }
        write_scalars(&mut self.rate, params, &[self.lr])?;
        self.written = self.rate.as_ref().map(|_| self.lr);
        Ok(())
    }

    /// Records the update kernels, clipping the gradients on the way in with `clip`; they read
    /// the rate written by the last `advance`.
    pub(crate) fn record(&self, params: &[Param], clip: Option<ClipBy>) -> Result<()> {
        let (Some(rate), Some(first)) = (self.rate.as_ref(), params.first()) else { return Ok(()) };
        let slots: Vec<UpdateSlot> =
            params.iter().map(|p| UpdateSlot { param: p.value().id(), grad: p.grad().id(), len: p.len() }).collect();
        // A few parameters per dispatch (`SGD_GROUP`): the update is launch-bound, not arithmetic.
        for group in groups_of(&slots) {
            first.value().backend().run(Kernel::SgdUpdate {
                params: group,
                lr: rate.id(),
                batch_size: self.batch_size,
                weight_decay: self.weight_decay,
                clip,
            })?;
        }
        Ok(())
    }
}

/// Adam with PyTorch's equations and defaults (β1 0.9, β2 0.999, ε 1e-8, no weight decay).
/// `weight_decay` λ is added to the gradient as PyTorch's `Adam(weight_decay=λ)` does, or with
/// `decoupled` applied to the weights apart from it as `AdamW`: `p ·= 1 - lr · λ`.
pub struct Adam {
    lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub decoupled: bool,
    step: u32,
    /// First and second moments per parameter, created on the first step.
    moments: Vec<(Tensor, Tensor)>,
    /// [lr, 1-β1^t, 1-β2^t] of the current step on the device, created on the first step.
    scalars: Option<Tensor>,
}

impl Adam {
    pub fn new(lr: f32) -> Result<Self> {
        check_lr(lr)?;
        Ok(Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            step: 0,
            moments: Vec::new(),
            scalars: None,
        })
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u32 {
        self.step
    }

    /// Records one update of every parameter. The same `params`, in the same order, must be
    /// passed at every step.
    pub fn step(&mut self, params: &[Param]) -> Result<()> {
        self.advance(params)?;
        self.record(params, None)
    }

    /// Counts a step and writes its learning rate and bias corrections to the device: the part
    /// of a step that changes from one step to the next, done before the step is recorded (or
    /// replayed). The first step also creates the moments, so that the steps recorded after it
    /// are alike.
    pub(crate) fn advance(&mut self, params: &[Param]) -> Result<()> {
        if params.is_empty() {
            return Ok(());
        }
        if self.moments.is_empty() {
            for param in params {
                let backend = param.value().backend();
                self.moments.push((
                    Tensor::zeros(backend, param.value().shape())?,
                    Tensor::zeros(backend, param.value().shape())?,
                ));
            }
        }
        self.step += 1;
        let (bias1, bias2) = adam_bias_corrections(self.beta1, self.beta2, self.step);
        write_scalars(&mut self.scalars, params, &[self.lr, bias1, bias2])
    }

    /// Records the update kernels of the step counted by the last `advance`, clipping the
    /// gradients on the way in with `clip`.
    pub(crate) fn record(&self, params: &[Param], clip: Option<ClipBy>) -> Result<()> {
        let Some(scalars) = self.scalars.as_ref().map(Tensor::id) else { return Ok(()) };
        if self.moments.len() != params.len() {
            return Err(EngineError::InvalidArgument(format!(
                "Adam was set up for {} parameters and got {}",
                self.moments.len(),
                params.len()
            )));
        }
        for (param, (m, v)) in params.iter().zip(&self.moments) {
            param.value().backend().run(Kernel::AdamUpdate {
                param: param.value().id(),
                grad: param.grad().id(),
                m: m.id(),
                v: v.id(),
                len: param.len(),
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                decoupled: self.decoupled,
                scalars,
                clip,
            })?;
        }
        Ok(())
    }
}

/// An optimizer's state between steps, on the host: what a resumed run needs to update exactly
/// as an uninterrupted one. SGD keeps nothing (its rate comes from the schedule).
#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerState {
    Sgd,
    /// Adam's step count and, per parameter in order, its first and second moments (none
    /// before the first step).
    Adam {
        step: u32,
        moments: Vec<(Vec<f32>, Vec<f32>)>,
    },
}

impl OptimizerState {
    /// The optimizer's name, as [`Optimizer::by_name`] reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Adam { .. } => "adam",
        }
    }
}

/// The update rule of a training run.
pub enum Optimizer {
    Sgd(Sgd),
    Adam(Adam),
}

impl Optimizer {
    /// The names [`Optimizer::by_name`] accepts.
    pub const NAMES: [&'static str; 3] = ["sgd", "adam", "adamw"];

    /// Whether the optimizer called `name` keeps moments between steps (a resumable run's state
    /// holds them).
    pub fn keeps_moments(name: &str) -> bool {
        name.starts_with("adam")
    }

    /// `sgd` (d2l's, on a mean loss), `adam` (PyTorch's defaults) or `adamw` (Adam with
    /// decoupled weight decay) with learning rate `lr`.
    pub fn by_name(name: &str, lr: f32) -> Result<Self> {
        match name {
            // The loss is a mean over tokens, so SGD divides by 1 (d2l's `updater(batch_size=1)`).
            "sgd" => Ok(Self::Sgd(Sgd::new(lr, 1.0)?)),
            "adam" => Ok(Self::Adam(Adam::new(lr)?)),
            "adamw" => Ok(Self::Adam(Adam { decoupled: true, ..Adam::new(lr)? })),
            other => Err(EngineError::InvalidArgument(format!("unknown optimizer '{other}'; use sgd, adam or adamw"))),
        }
    }

    /// The same optimizer with weight decay λ (≥ 0): SGD's and Adam's added to the gradient,
    /// AdamW's decoupled.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Result<Self> {
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(EngineError::InvalidArgument(format!("weight decay {weight_decay} must be ≥ 0")));
        }
        match &mut self {
            Self::Sgd(sgd) => sgd.weight_decay = weight_decay,
            Self::Adam(adam) => adam.weight_decay = weight_decay,
        }
        Ok(self)
    }

    /// The learning rate the next steps use.
    pub fn lr(&self) -> f32 {
        match self {
            Self::Sgd(sgd) => sgd.lr,
            Self::Adam(adam) => adam.lr,
        }
    }

    /// Sets the learning rate of the following steps (a schedule calls this between epochs).
    /// It reaches the device with the next step's `advance`, so replayed steps use it too.
    pub fn set_lr(&mut self, lr: f32) -> Result<()> {
        check_lr(lr)?;
        match self {
            Self::Sgd(sgd) => sgd.lr = lr,
            Self::Adam(adam) => adam.lr = lr,
        }
        Ok(())
    }

    /// Writes the step's scalars and records one update of every parameter.
    pub fn step(&mut self, params: &[Param]) -> Result<()> {
        self.advance(params)?;
        self.record(params, None)
    }

    /// Reads the state back from the device (Adam's moments: two read-backs per parameter).
    pub async fn state(&self) -> Result<OptimizerState> {
        match self {
            Self::Sgd(_) => Ok(OptimizerState::Sgd),
            Self::Adam(adam) => {
                let mut moments = Vec::with_capacity(adam.moments.len());
                for (m, v) in &adam.moments {
                    moments.push((m.to_vec().await?, v.to_vec().await?));
                }
                Ok(OptimizerState::Adam { step: adam.step, moments })
            }
        }
    }

    /// Puts a state [`Optimizer::state`] returned back, for `params` (the same parameters, in
    /// the same order). A state read from a file is checked: the same optimizer, one pair of
    /// moments of the right length per parameter, finite values and no negative second moment.
    pub fn restore(&mut self, params: &[Param], state: &OptimizerState) -> Result<()> {
        let mismatch = |what: String| EngineError::InvalidArgument(format!("the saved optimizer state {what}"));
        match (self, state) {
            (Self::Sgd(_), OptimizerState::Sgd) => Ok(()),
            (Self::Adam(adam), OptimizerState::Adam { step, moments }) => {
                if moments.is_empty() {
                    if *step != 0 {
                        return Err(mismatch(format!("has no moments after {step} steps")));
                    }
                    adam.step = 0;
                    adam.moments.clear();
                    return Ok(());
                }
                if moments.len() != params.len() {
                    return Err(mismatch(format!(
                        "has moments for {} parameters; the model has {}",
                        moments.len(),
                        params.len()
                    )));
                }
                let mut restored = Vec::with_capacity(params.len());
                for (param, (m, v)) in params.iter().zip(moments) {
                    if m.len() != param.len() || v.len() != param.len() {
                        return Err(mismatch(format!("does not fit parameter '{}'", param.name())));
                    }
                    if !m.iter().chain(v).all(|x| x.is_finite()) || v.iter().any(|&x| x < 0.0) {
                        return Err(mismatch(format!("of '{}' holds values Adam cannot have", param.name())));
                    }
                    let backend = param.value().backend();
                    let shape = param.value().shape();
                    restored.push((Tensor::from_f32(backend, shape, m)?, Tensor::from_f32(backend, shape, v)?));
                }
                adam.step = *step;
                adam.moments = restored;
                Ok(())
            }
            (optimizer, state) => Err(mismatch(format!(
                "is {}'s; the run uses {}",
                state.name(),
                match optimizer {
                    Self::Sgd(_) => "sgd",
                    Self::Adam(_) => "adam",
                }
            ))),
        }
    }

    /// What changes from one step to the next (the learning rate, Adam's step count), written
    /// to the device before the step is recorded.
    pub(crate) fn advance(&mut self, params: &[Param]) -> Result<()> {
        match self {
            Self::Sgd(sgd) => sgd.advance(params),
            Self::Adam(adam) => adam.advance(params),
        }
    }

    /// Records the update of every parameter, clipping its gradient on the way in with `clip`.
    pub(crate) fn record(&self, params: &[Param], clip: Option<ClipBy>) -> Result<()> {
        match self {
            Self::Sgd(sgd) => sgd.record(params, clip),
            Self::Adam(adam) => adam.record(params, clip),
        }
    }
}

/// How the learning rate changes from epoch to epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate every epoch (d2l's `train_ch8`).
    Constant,
    /// PyTorch's `StepLR`: the rate is multiplied by `gamma` every `step_size` epochs.
    Step { step_size: u32, gamma: f32 },
    /// A linear warm-up over `warmup` epochs, then cosine annealing to 0 over the rest
    /// (PyTorch's `CosineAnnealingLR` with `T_max` = the epochs after the warm-up).
    Cosine { warmup: u32 },
}

impl LrSchedule {
    /// The forms [`LrSchedule::parse`] reads, for messages.
    pub const FORMS: &'static str = "none, step:STEP_SIZE:GAMMA (e.g. step:2:0.5) or cosine[:WARMUP] (e.g. cosine:5)";

    /// `none` (or `constant`), `step:STEP_SIZE:GAMMA` or `cosine[:WARMUP]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not a learning-rate schedule; use {}", Self::FORMS);
        let parts: Vec<&str> = text.trim().split(':').collect();
        let schedule = match parts.as_slice() {
            ["none" | "constant" | ""] => Self::Constant,
            ["step", step_size, gamma] => Self::Step {
                step_size: step_size.trim().parse().map_err(|_| bad())?,
                gamma: gamma.trim().parse().map_err(|_| bad())?,
            },
            ["cosine"] => Self::Cosine { warmup: 0 },
            ["cosine", warmup] => Self::Cosine { warmup: warmup.trim().parse().map_err(|_| bad())? },
            _ => return Err(bad()),
        };
        schedule.problem().map_or(Ok(schedule), Err)
    }

    /// Why the schedule cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match *self {
            Self::Step { step_size: 0, .. } => Some("a step schedule's step size must be at least 1 epoch".into()),
            Self::Step { gamma, .. } if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) => Some(format!(
                "a step schedule's gamma must be in (0, 1] (got {gamma}); d2l-style decay uses 0.1 to 0.9"
            )),
            _ => None,
        }
    }

    /// The text form [`LrSchedule::parse`] reads back.
    pub fn name(&self) -> String {
        match self {
            Self::Constant => "none".into(),
            Self::Step { step_size, gamma } => format!("step:{step_size}:{gamma}"),
            Self::Cosine { warmup: 0 } => "cosine".into(),
            Self::Cosine { warmup } => format!("cosine:{warmup}"),
        }
    }

    /// The learning rate of `epoch` (counting from 0) of a run of `epochs`, from `base_lr`.
    /// Never 0: the cosine schedule's last epoch keeps a small positive rate, as PyTorch's does
    /// until its final step.
    pub fn lr_at(&self, base_lr: f32, epoch: usize, epochs: usize) -> f32 {
        match *self {
            Self::Constant => base_lr,
            Self::Step { step_size, gamma } => {
                let decays = u32::try_from(epoch).unwrap_or(u32::MAX) / step_size.max(1);
                base_lr * gamma.powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
            Self::Cosine { warmup } => {
                let warmup = warmup as usize;
                if epoch < warmup {
                    return base_lr * (epoch + 1) as f32 / warmup as f32;
                }
                let span = epochs.saturating_sub(warmup).max(1) as f64;
                let t = (epoch - warmup) as f64;
                (base_lr as f64 * 0.5 * (1.0 + (std::f64::consts::PI * t / span).cos())) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_schedule_is_pytorchs_step_lr() {
        let schedule = LrSchedule::parse("step:2:0.5").unwrap();
        let rates: Vec<f32> = (0..6).map(|e| schedule.lr_at(1.0, e, 6)).collect();
        assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
        assert_eq!(LrSchedule::parse(&schedule.name()).unwrap(), schedule);
    }

    #[test]
    fn cosine_schedule_warms_up_then_anneals() {
        let schedule = LrSchedule::parse("cosine:2").unwrap();
        let rates: Vec<f32> = (0..6).map(|e| schedule.lr_at(1.0, e, 6)).collect();
        assert_eq!(&rates[..3], &[0.5, 1.0, 1.0]);
        assert!(rates[3] < 1.0 && rates[4] < rates[3] && rates[5] < rates[4] && rates[5] > 0.0, "{rates:?}");
        assert_eq!(LrSchedule::parse("cosine").unwrap(), LrSchedule::Cosine { warmup: 0 });
        assert_eq!(LrSchedule::parse("none").unwrap().lr_at(0.3, 9, 10), 0.3);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert!(LrSchedule::parse("step:0:0.5").unwrap_err().contains("step size"));
        assert!(LrSchedule::parse("step:2:1.5").unwrap_err().contains("gamma"));
        assert!(LrSchedule::parse("linear").unwrap_err().contains("step:STEP_SIZE:GAMMA"));
        assert!(lr_problem(0.0).unwrap().contains("positive finite"));
        assert!(lr_problem(0.1).is_none());
    }
}
