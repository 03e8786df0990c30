//! Trainable parameters: a value and a persistent gradient buffer of the same shape.

use crate::backend::{Backend, Kernel};
use crate::error::Result;
use crate::init::{Init, InitRng};
use crate::tensor::Tensor;
use std::cell::Cell;
use std::rc::Rc;

struct ParamInner {
    name: String,
    value: Tensor,
    grad: Tensor,
    /// The gradient buffer holds an earlier step's values, which the first gradient written
    /// replaces instead of adding to ([`Param::forget_grad`]).
    stale: Cell<bool>,
}

/// A parameter. Cloning shares it: optimizers update `value` in place, backward passes
/// accumulate into `grad`, and `zero_grad` clears it.
#[derive(Clone)]
pub struct Param(Rc<ParamInner>);

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({}, {:?})", self.0.name, self.0.value.shape())
    }
}

impl Param {
    /// A parameter holding `value`, with a zeroed gradient.
    pub fn from_tensor(name: impl Into<String>, value: Tensor) -> Result<Self> {
        let grad = Tensor::zeros(value.backend(), value.shape())?;
        Ok(Self(Rc::new(ParamInner { name: name.into(), value, grad, stale: Cell::new(false) })))
    }

    /// A parameter of `shape` drawn from `init`.
    pub fn new(
        backend: &Rc<dyn Backend>,
        name: impl Into<String>,
        shape: &[usize],
        init: Init,
        rng: &mut InitRng,
    ) -> Result<Self> {
        let values = rng.values(shape, init);
        Self::from_tensor(name, Tensor::from_f32(backend, shape, &values)?)
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    pub fn grad(&self) -> &Tensor {
        &self.0.grad
    }

    pub fn len(&self) -> usize {
        self.0.value.len()
    }

    /// Always false: parameters have at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Clears the gradient (one kernel).
    pub fn zero_grad(&self) -> Result<()> {
        self.0.stale.set(false);
        self.0.value.backend().run(Kernel::Fill { out: self.0.grad.id(), len: self.len(), value: 0.0 })
    }

    /// Clears the gradient without a kernel: the first gradient a backward pass writes replaces
    /// the old values (`Tape::grad_target` says so to the rule that writes it), and
    /// [`settle_grads`] zeroes what no rule wrote.
    pub(crate) fn forget_grad(&self) {
        self.0.stale.set(true);
    }

    /// Whether the gradient still holds forgotten values; the caller is about to write all of
    /// it, so afterwards it does not.
    pub(crate) fn take_stale(&self) -> bool {
        self.0.stale.replace(false)
    }
}

/// Clears the gradients of all `params`.
pub fn zero_grads(params: &[Param]) -> Result<()> {
    params.iter().try_for_each(Param::zero_grad)
}

/// [`Param::forget_grad`] for all `params`: a step's zeroing that costs no dispatch for the
/// gradients its backward pass writes.
pub(crate) fn forget_grads(params: &[Param]) {
    params.iter().for_each(Param::forget_grad);
}

/// Zeroes the gradients no rule wrote since [`forget_grads`].
pub(crate) fn settle_grads(params: &[Param]) -> Result<()> {
    params.iter().filter(|p| p.take_stale()).try_for_each(Param::zero_grad)
}
