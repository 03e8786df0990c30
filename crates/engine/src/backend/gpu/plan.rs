//! Plan replay on the GPU (DESIGN.md's "idea of CUDA graphs"): a training step of a fixed
//! configuration records the same dispatches every time, so once two captured steps in a row
//! recorded exactly the same list, that list becomes a plan — its pipelines, a uniform arena of
//! its own written once, and one bind group per dispatch built once — and later steps push the
//! plan's commands instead of building a tape, encoding kernels, writing parameters and looking
//! up bind groups.
//!
//! What makes this sound:
//! - A capture holds every dispatch with its parameter words and bound buffers; equal captures
//!   mean equal commands. Anything the host writes or reads inside a captured step (an upload,
//!   a read-back) spoils it: a plan depends on the host only through buffers written before
//!   the step (the batch, the dropout seed, Adam's bias corrections), which the kernels read
//!   when they run.
//! - A plan pins its buffers. A pinned buffer that is freed goes into custody instead of the
//!   pool, so neither a temporary of the step nor a tensor it reads can be handed to someone
//!   else while the plan may still write it. Releasing the plan returns them to the pool.

// `wgpu::Buffer` hashes and compares by its id, which never changes; its interior mutability (in
// the browser, the mapping state) does not touch either.
#![allow(clippy::mutable_key_type)]

use super::{Command, GpuBackend, Pipeline, Slot, State, PARAMS_SLOT};
use crate::backend::{Counters, PlanId};
use crate::error::{EngineError, Result};
use std::collections::HashSet;
use std::num::NonZeroU64;
use std::rc::Rc;

/// One dispatch as it was recorded.
pub(super) struct CapturedDispatch {
    pub(super) pipeline: Rc<Pipeline>,
    pub(super) params: Vec<u32>,
    pub(super) bindings: Vec<(u32, wgpu::Buffer)>,
    pub(super) grid: [u32; 3],
}

impl PartialEq for CapturedDispatch {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.pipeline, &other.pipeline)
            && self.params == other.params
            && self.bindings == other.bindings
            && self.grid == other.grid
    }
}

/// What was recorded between `begin_capture` and `end_capture`.
#[derive(Default, PartialEq)]
pub(super) struct Capture {
    pub(super) dispatches: Vec<CapturedDispatch>,
    pub(super) matmul_flops: u64,
    /// The host uploaded or read back inside the step (or replayed a plan): not a plan.
    pub(super) spoiled: bool,
}

/// A steady step, ready to be recorded again in one call.
pub(super) struct Plan {
    commands: Vec<(Rc<Pipeline>, wgpu::BindGroup, [u32; 3])>,
    /// Every buffer the plan binds, once each (the pins it holds). Shared with the replays
    /// recorded and not yet submitted, which need it even if the plan is released meanwhile.
    buffers: Rc<HashSet<wgpu::Buffer>>,
    matmul_flops: u64,
    /// Keeps the plan's parameter arena alive (its bind groups refer to it).
    _params: wgpu::Buffer,
}

impl GpuBackend {
    pub(super) fn begin_capture_impl(&self) {
        let mut state = self.state.borrow_mut();
        state.capture = Some(Capture::default());
        // Roles count from the capture's start: allocations made before it (a new shape's
        // inputs) must not shift which pooled buffer each of the step's allocations gets.
        state.alloc_sequence = 0;
    }

    pub(super) fn end_capture_impl(&self) -> Result<Option<PlanId>> {
        let mut state = self.state.borrow_mut();
        let Some(capture) = state.capture.take() else { return Ok(None) };
        if capture.spoiled || capture.dispatches.is_empty() {
            state.last_capture = None;
            return Ok(None);
        }
        if state.last_capture.as_ref() != Some(&capture) {
            state.last_capture = Some(capture);
            return Ok(None);
        }
        state.last_capture = None;
        let (plan, bind_groups) = self.adopt(&mut state, capture);
        let id = state.next_plan;
        state.next_plan += 1;
        state.plans.insert(id, plan);
        drop(state);
        self.count(|c| c.bind_groups_created += bind_groups);
        Ok(Some(PlanId(id)))
    }

    /// Turns a steady capture into a plan: its own parameter arena and bind groups, and pins on
    /// its buffers. Returns the plan and the number of bind groups created.
    fn adopt(&self, state: &mut State, capture: Capture) -> (Plan, u64) {
        let params_bytes = (capture.dispatches.len() as u64 * PARAMS_SLOT).max(PARAMS_SLOT);
        let params = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("plan params"),
            size: params_bytes,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut words = vec![0u32; (params_bytes / 4) as usize];
        let mut commands = Vec::with_capacity(capture.dispatches.len());
        let mut buffers = HashSet::new();
        for (index, dispatch) in capture.dispatches.into_iter().enumerate() {
            let offset = index as u64 * PARAMS_SLOT;
            let start = (offset / 4) as usize;
            words[start..start + dispatch.params.len()].copy_from_slice(&dispatch.params);
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &params,
                    offset,
                    size: NonZeroU64::new(dispatch.params.len() as u64 * 4),
                }),
            }];
            entries.extend(dispatch.bindings.iter().map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: buffer.as_entire_binding(),
            }));
            let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(dispatch.pipeline.entry),
                layout: &dispatch.pipeline.layout,
                entries: &entries,
            });
            buffers.extend(dispatch.bindings.into_iter().map(|(_, buffer)| buffer));
            commands.push((dispatch.pipeline, bind_group, dispatch.grid));
        }
        self.queue.write_buffer(&params, 0, bytemuck::cast_slice(&words));
        for buffer in &buffers {
            *state.pins.entry(buffer.clone()).or_insert(0) += 1;
        }
        // Temporaries of the captured step already freed wait in `retired` (or, after a submit,
        // in the pool): they are the plan's now.
        let pinned = |slot: &Slot| buffers.contains(&slot.buffer);
        let (kept, retired): (Vec<Slot>, Vec<Slot>) = std::mem::take(&mut state.retired).into_iter().partition(pinned);
        state.retired = retired;
        state.custody.extend(kept);
        for (bytes, idle) in state.pool.iter_mut() {
            let (kept, rest): (Vec<_>, Vec<_>) =
                std::mem::take(idle).into_iter().partition(|(_, b)| buffers.contains(b));
            *idle = rest;
            state.custody.extend(kept.into_iter().map(|(sequence, buffer)| Slot { buffer, bytes: *bytes, sequence }));
        }
        let bind_groups = commands.len() as u64;
        let buffers = Rc::new(buffers);
        (Plan { commands, buffers, matmul_flops: capture.matmul_flops, _params: params }, bind_groups)
    }

    pub(super) fn replay_impl(&self, plan: PlanId) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let Some(recorded) = state.plans.get(&plan.0) else {
            return Err(EngineError::InvalidArgument(format!("plan {} was released or never made", plan.0)));
        };
        let commands: Vec<Command> = recorded
            .commands
            .iter()
            .map(|(pipeline, bind_group, grid)| Command::Planned {
                pipeline: Rc::clone(pipeline),
                bind_group: bind_group.clone(),
                grid: *grid,
            })
            .collect();
        let (dispatches, flops, buffers) = (commands.len() as u64, recorded.matmul_flops, Rc::clone(&recorded.buffers));
        state.commands.extend(commands);
        state.pending_plans.push(buffers);
        if let Some(capture) = state.capture.as_mut() {
            // A replay inside a capture cannot be compared kernel by kernel.
            capture.spoiled = true;
        }
        drop(state);
        self.count(|c: &mut Counters| {
            c.dispatches += dispatches;
            c.matmul_flops += flops;
            c.replays += 1;
        });
        Ok(())
    }

    pub(super) fn release_plan_impl(&self, plan: PlanId) {
        let mut state = self.state.borrow_mut();
        let Some(plan) = state.plans.remove(&plan.0) else { return };
        for buffer in plan.buffers.iter() {
            if let Some(count) = state.pins.get_mut(buffer) {
                *count -= 1;
                if *count == 0 {
                    state.pins.remove(buffer);
                }
            }
        }
        let custody = std::mem::take(&mut state.custody);
        let (kept, freed): (Vec<Slot>, Vec<Slot>) =
            custody.into_iter().partition(|s| state.pins.contains_key(&s.buffer));
        state.custody = kept;
        // Pooled after the next submit, in case a recorded replay still uses them.
        state.retired.extend(freed);
    }
}
