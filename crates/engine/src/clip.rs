//! Global-norm gradient clipping, as d2l's `grad_clipping(net, θ)`:
//! `‖g‖ = sqrt(Σ_params Σ g²)`, then `g ← g · min(1, θ / ‖g‖)` for every parameter.
//!
//! Everything happens on the device: one kernel sums the squares of up to six parameters'
//! gradients ([`Kernel::GradNorm`]; a model with more takes one per six, adding up), and the
//! last takes the square root and the factor min(1, θ / ‖g‖). Then the scale — one kernel per
//! parameter ([`clip`]), or folded into the optimizer's update kernels, which is how the
//! trainer clips ([`measure`], then the update with [`GradClipper::by`]). The pre-clip norm
//! stays in a device buffer for the gradient-norm chart; nothing is read back inside a step.
//! θ too is on the device, so a recorded step (plan replay) follows a change of θ.
//!
//! [`clip`]: GradClipper::clip
//! [`measure`]: GradClipper::measure

use crate::backend::{groups_of, Backend, ClipBy, Kernel, NORM_GROUP};
use crate::error::{EngineError, Result};
use crate::param::Param;
use crate::tensor::Tensor;
use std::rc::Rc;

pub struct GradClipper {
    max_norm: f32,
    /// [θ, Σ g², factor] on the device ([`ClipBy`]): θ written here, the rest by the norm kernels.
    state: Tensor,
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
            state: Tensor::from_f32(backend, &[ClipBy::LEN], &Self::state_of(max_norm))?,
            norm: Tensor::zeros(backend, &[1])?,
        })
    }

    /// The state before any norm was measured: θ, no sum, a factor of 1.
    fn state_of(max_norm: f32) -> [f32; ClipBy::LEN] {
        [max_norm, 0.0, 1.0]
    }

    pub fn max_norm(&self) -> f32 {
        self.max_norm
    }

    /// Changes θ for the following steps (recorded or replayed).
    pub fn set_max_norm(&mut self, max_norm: f32) -> Result<()> {
        if let Some(problem) = clip_problem(max_norm) {
            return Err(EngineError::InvalidArgument(problem));
        }
        self.state.write_f32(&Self::state_of(max_norm))?;
        self.max_norm = max_norm;
        Ok(())
    }

    /// Records the clipping of all `params`' gradients, in place.
    pub fn clip(&self, params: &[Param]) -> Result<()> {
        self.measure(params)?;
        let backend = self.norm.backend();
        for param in params {
            backend.run(Kernel::ClipScale { grad: param.grad().id(), len: param.len(), clip: self.by() })?;
        }
        Ok(())
    }

    /// Records the global norm of `params`' gradients, for an update that clips with
    /// [`GradClipper::by`].
    pub fn measure(&self, params: &[Param]) -> Result<()> {
        let backend = self.norm.backend();
        let grads: Vec<_> = params.iter().map(|p| (p.grad().id(), p.len())).collect();
        let count = grads.len().div_ceil(NORM_GROUP);
        for (index, grads) in groups_of(&grads).enumerate() {
            backend.run(Kernel::GradNorm {
                grads,
                clip: self.by(),
                norm: self.norm.id(),
                first: index == 0,
                last: index + 1 == count,
            })?;
        }
        Ok(())
    }

    /// What an update reads to clip the gradients [`GradClipper::measure`] measured.
    pub fn by(&self) -> ClipBy {
        ClipBy { state: self.state.id() }
    }

    /// The pre-clip global norm of the last `clip`, as a one-element device tensor.
    pub fn norm(&self) -> &Tensor {
        &self.norm
    }
}
