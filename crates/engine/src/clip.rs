//! Global-norm gradient clipping, as d2l's `grad_clipping(net, θ)`:
//! `‖g‖ = sqrt(Σ_params Σ g²)`, then `g ← g · min(1, θ / ‖g‖)` for every parameter.
//!
//! Everything happens on the device: one sum-of-squares kernel per parameter accumulating
//! into one scalar, one square root, then the scale — one kernel per parameter ([`clip`]), or
//! folded into the optimizer's update kernels, which is how the trainer clips ([`measure`],
//! then the update with [`GradClipper::by`]). The pre-clip norm stays in a device buffer for the
//! gradient-norm chart; nothing is read back inside a step. θ too is a device buffer, so a
//! recorded step (plan replay) follows a change of θ.
//!
//! [`clip`]: GradClipper::clip
//! [`measure`]: GradClipper::measure

use crate::backend::{Backend, ClipBy, Kernel};
use crate::error::{EngineError, Result};
use crate::param::Param;
use crate::tensor::Tensor;
use std::rc::Rc;

pub struct GradClipper {
    max_norm: f32,
    /// [θ] on the device, read by the scale kernels.
    threshold: Tensor,
    sum_squares: Tensor,
    norm: Tensor,
}

/// The message for a bad clipping threshold.
pub fn clip_problem(max_norm: f32) -> Option<String> {
    (!(max_norm.is_finite() && max_norm > 0.0))
        .then(|| format!("the clipping threshold θ must be a positive finite number (got {max_norm}); d2l uses 1"))
}

impl GradClipper {
    pub fn new(backend: &Rc<dyn Backend>, max_norm: f32) -> Result<Self> {
        if let Some(problem) = clip_problem(max_norm) {
            return Err(EngineError::InvalidArgument(problem));
        }
        Ok(Self {
            max_norm,
            threshold: Tensor::from_f32(backend, &[1], &[max_norm])?,
            sum_squares: Tensor::zeros(backend, &[1])?,
            norm: Tensor::zeros(backend, &[1])?,
        })
    }

    pub fn max_norm(&self) -> f32 {
        self.max_norm
    }

    /// Changes θ for the following steps (recorded or replayed).
    pub fn set_max_norm(&mut self, max_norm: f32) -> Result<()> {
        if let Some(problem) = clip_problem(max_norm) {
            return Err(EngineError::InvalidArgument(problem));
        }
        self.threshold.write_f32(&[max_norm])?;
        self.max_norm = max_norm;
        Ok(())
    }

    /// Records the clipping of all `params`' gradients, in place.
    pub fn clip(&self, params: &[Param]) -> Result<()> {
        self.measure(params)?;
        let backend = self.norm.backend();
        for param in params {
            backend.run(Kernel::ClipScale {
                grad: param.grad().id(),
                norm: self.norm.id(),
                len: param.len(),
                threshold: self.threshold.id(),
            })?;
        }
        Ok(())
    }

    /// Records the global norm of `params`' gradients, for an update that clips with
    /// [`GradClipper::by`].
    pub fn measure(&self, params: &[Param]) -> Result<()> {
        let backend = self.norm.backend();
        for (index, param) in params.iter().enumerate() {
            backend.run(Kernel::Sum {
                x: param.grad().id(),
                out: self.sum_squares.id(),
                out_index: 0,
                len: param.len(),
                scale: 1.0,
                squares: true,
                accumulate: index > 0,
            })?;
        }
        backend.run(Kernel::Sqrt { x: self.sum_squares.id(), out: self.norm.id() })
    }

    /// What an update reads to clip the gradients [`GradClipper::measure`] measured.
    pub fn by(&self) -> ClipBy {
        ClipBy { norm: self.norm.id(), threshold: self.threshold.id() }
    }

    /// The pre-clip global norm of the last `clip`, as a one-element device tensor.
    pub fn norm(&self) -> &Tensor {
        &self.norm
    }
}
