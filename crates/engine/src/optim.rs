//! Optimizers and learning-rate schedules. Updates are kernels recorded into the current step;
//! nothing is read back.

use crate::backend::{adam_bias_corrections, Kernel};
use crate::error::{EngineError, Result};
use crate::param::Param;
use crate::tensor::Tensor;

fn check_lr(lr: f32) -> Result<()> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(EngineError::InvalidArgument(format!(
            "learning rate {lr} must be a positive finite number, e.g. 1 for SGD or 0.005 for Adam"
        )))
    }
}

/// d2l's minibatch SGD: `p -= lr · g / batch_size`. d2l's scratch models sum the loss over
/// the batch and divide here; with a mean loss pass `batch_size = 1`.
#[derive(Debug, Clone)]
pub struct Sgd {
    pub lr: f32,
    pub batch_size: f32,
}

impl Sgd {
    pub fn new(lr: f32, batch_size: f32) -> Result<Self> {
        check_lr(lr)?;
        if !(batch_size.is_finite() && batch_size > 0.0) {
            return Err(EngineError::InvalidArgument(format!("SGD batch size {batch_size} must be positive")));
        }
        Ok(Self { lr, batch_size })
    }

    /// Records one update of every parameter.
    pub fn step(&self, params: &[Param]) -> Result<()> {
        for param in params {
            param.value().backend().run(Kernel::SgdUpdate {
                param: param.value().id(),
                grad: param.grad().id(),
                len: param.len(),
                lr: self.lr,
                batch_size: self.batch_size,
            })?;
        }
        Ok(())
    }
}

/// Adam with PyTorch's equations and defaults (β1 0.9, β2 0.999, ε 1e-8, no weight decay).
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    step: u32,
    /// First and second moments per parameter, created on the first step.
    moments: Vec<(Tensor, Tensor)>,
    /// [1-β1^t, 1-β2^t] of the current step on the device, created on the first step.
    corrections: Option<Tensor>,
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
            step: 0,
            moments: Vec::new(),
            corrections: None,
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
        self.record(params)
    }

    /// Counts a step and writes its bias corrections to the device: the part of a step that
    /// changes from one step to the next, done before the step is recorded (or replayed).
    /// The first step also creates the moments, so that the steps recorded after it are alike.
    pub(crate) fn advance(&mut self, params: &[Param]) -> Result<()> {
        let Some(first) = params.first() else { return Ok(()) };
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
        match &self.corrections {
            Some(corrections) => corrections.write_f32(&[bias1, bias2]),
            None => {
                self.corrections = Some(Tensor::from_f32(first.value().backend(), &[2], &[bias1, bias2])?);
                Ok(())
            }
        }
    }

    /// Records the update kernels of the step counted by the last `advance`.
    pub(crate) fn record(&mut self, params: &[Param]) -> Result<()> {
        let Some(corrections) = self.corrections.as_ref().map(Tensor::id) else { return Ok(()) };
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
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                corrections,
            })?;
        }
        Ok(())
    }
}

/// PyTorch's StepLR: the learning rate is multiplied by `gamma` every `step_size` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLr {
    pub step_size: u32,
    pub gamma: f32,
}

impl StepLr {
    /// The learning rate for `epoch` (counting from 0) given the initial rate.
    pub fn lr_at(&self, base_lr: f32, epoch: u32) -> f32 {
        let decays = epoch.checked_div(self.step_size).unwrap_or(0);
        base_lr * self.gamma.powi(i32::try_from(decays).unwrap_or(i32::MAX))
    }
}
