//! Plan replay for training steps (DESIGN.md, "Plan replay"). For a fixed configuration every
//! minibatch records the same kernels; the backend notices when two captured steps in a row
//! were identical and hands back a plan (`Backend::end_capture`), and from then on the trainer
//! replays it instead of building the tape again. Only the inputs written before the step
//! change: the batch, the carried state, the dropout seed and Adam's bias corrections.
//!
//! A plan belongs to the inputs it reads: each trainer keeps one [`StepPlans`] beside the
//! input buffers of a batch shape and the model they were made for ([`inputs_for`]), so a new
//! shape, a new model or a new trainer starts afresh, and dropping the inputs releases their
//! plans. Within them, the plan is chosen by what else decides the kernels: fused or unfused
//! layers, and the trainer's own variant (teacher forcing or scheduled sampling).

use crate::backend::{Backend, PlanId};
use std::rc::Rc;

/// What, besides the inputs, decides which kernels a step records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StepMode {
    fused: bool,
    variant: u8,
}

/// The plans made for one set of step inputs, released when it is dropped.
pub(crate) struct StepPlans {
    backend: Rc<dyn Backend>,
    plans: Vec<(StepMode, PlanId)>,
}

impl StepPlans {
    pub(crate) fn new(backend: &Rc<dyn Backend>) -> Self {
        Self { backend: Rc::clone(backend), plans: Vec::new() }
    }

    /// The plan for a step of `variant` with the layers run `fused` or not, if one was made.
    pub(crate) fn get(&self, variant: u8, fused: bool) -> Option<PlanId> {
        let mode = StepMode { fused, variant };
        self.plans.iter().find(|(m, _)| *m == mode).map(|(_, plan)| *plan)
    }

    pub(crate) fn insert(&mut self, variant: u8, fused: bool, plan: PlanId) {
        let mode = StepMode { fused, variant };
        if let Some(old) = self.plans.iter().position(|(m, _)| *m == mode) {
            let (_, old) = self.plans.swap_remove(old);
            self.backend.release_plan(old);
        }
        self.plans.push((mode, plan));
    }
}

impl Drop for StepPlans {
    fn drop(&mut self) {
        for (_, plan) in self.plans.drain(..) {
            self.backend.release_plan(plan);
        }
    }
}

/// Batch shapes whose inputs (and plans) a trainer keeps at once: d2l's fra-eng epochs end with
/// a shorter batch, so an epoch alternates between two shapes.
const KEPT_SHAPES: usize = 4;

/// The inputs in `kept` for the batch shape that `fits`, or new ones from `make`, moved last
/// (the most recent). Inputs not `for_model` (made for a model the trainer is no longer given)
/// are dropped first: they hold that model's parameters and their plans' buffers. Past
/// [`KEPT_SHAPES`] the least recently used are dropped with their plans. The flag tells whether
/// the inputs were already the most recent ones (the previous step used them).
pub(crate) fn inputs_for<I>(
    kept: &mut Vec<I>,
    for_model: impl Fn(&I) -> bool,
    fits: impl Fn(&I) -> bool,
    make: impl FnOnce() -> crate::error::Result<I>,
) -> crate::error::Result<(&mut I, bool)> {
    kept.retain(for_model);
    let found = kept.iter().position(fits);
    let was_last = found.is_some_and(|index| index + 1 == kept.len());
    let inputs = match found {
        Some(index) => kept.remove(index),
        None => make()?,
    };
    if kept.len() >= KEPT_SHAPES {
        kept.remove(0);
    }
    kept.push(inputs);
    Ok((kept.last_mut().expect("invariant: the inputs were just pushed"), was_last))
}
