//! `GpuBackend`: the kernels of `shaders/` on wgpu (Vulkan, Metal, DX12 natively; WebGPU in the
//! browser).
//!
//! Execution model: [`Backend::run`] only *records* a kernel. Everything recorded until the
//! next [`Backend::flush`] (or read-back) is encoded into one command encoder with one compute
//! pass and submitted once, so a training step costs one `queue.submit`. Uniform parameters of
//! all recorded kernels go into one arena buffer written once per submit. Buffers freed while
//! a step is being recorded return to the size-keyed pool only after that step is submitted,
//! so a buffer is never reused while a recorded kernel still refers to it.

mod adapters;
mod encode;
mod plan;

pub use adapters::{list_adapters, AdapterSummary};

use super::kernel::{Kernel, MatmulPick, MatmulVariant};
use super::{BackendInfo, BackendKind, BufId, Counters, LocalFuture, MemoryUse, PlanId};
use crate::error::{EngineError, Result};
use encode::{DispatchSpec, Family};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

/// Bytes reserved per dispatch in the parameter arena (the largest `Params` struct is 48 bytes;
/// offsets must be multiples of `min_uniform_buffer_offset_alignment`, at most 256).
const PARAMS_SLOT: u64 = 256;

struct Slot {
    buffer: wgpu::Buffer,
    /// Size in bytes (a multiple of 4, at least 16).
    bytes: u64,
    /// Position of the allocation that last took this buffer among the allocations since the
    /// previous submit (see `State::alloc_sequence`).
    sequence: u32,
}

struct Pipeline {
    entry: &'static str,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

enum Command {
    Dispatch {
        pipeline: std::rc::Rc<Pipeline>,
        params_offset: u64,
        params_bytes: u64,
        bindings: Vec<(u32, wgpu::Buffer)>,
        grid: [u32; 3],
    },
    Copy {
        src: wgpu::Buffer,
        dst: wgpu::Buffer,
        bytes: u64,
    },
    /// A dispatch of a replayed plan, with the bind group the plan built once.
    Planned {
        pipeline: std::rc::Rc<Pipeline>,
        bind_group: wgpu::BindGroup,
        grid: [u32; 3],
    },
}

type BindKey = (&'static str, u64, Vec<(u32, wgpu::Buffer)>);

/// Bind groups kept at most; past this the cache starts over (shapes keep changing).
const MAX_CACHED_BIND_GROUPS: usize = 1 << 16;

#[derive(Default)]
struct State {
    buffers: Vec<Option<Slot>>,
    free_ids: Vec<u32>,
    /// Idle buffers by byte size, each with the allocation position it last served.
    pool: HashMap<u64, Vec<(u32, wgpu::Buffer)>>,
    /// Allocations since the last submit. A fixed-shape step allocates the same sizes in the
    /// same order every time; handing allocation n the buffer that served allocation n last
    /// time keeps every buffer in the same role, which is what lets bind groups be cached.
    alloc_sequence: u32,
    /// Buffers freed since the last submit; pooled after it.
    retired: Vec<Slot>,
    commands: Vec<Command>,
    /// Ids of the buffers that recorded, unsubmitted commands use.
    pending_use: std::collections::HashSet<u32>,
    params: Vec<u32>,
    params_buffer: Option<wgpu::Buffer>,
    modules: HashMap<Family, wgpu::ShaderModule>,
    /// Bind groups by (entry point, params slot, bound buffers). A fixed-shape training step
    /// records the same dispatches with the same pooled buffers every time, so after the first
    /// steps every bind group comes from here. Cleared when the params arena is reallocated.
    bind_groups: HashMap<BindKey, wgpu::BindGroup>,
    pipelines: HashMap<(Family, &'static str), std::rc::Rc<Pipeline>>,
    /// Plan replay (plan.rs): the capture being recorded, the previous one, the plans made.
    capture: Option<plan::Capture>,
    last_capture: Option<plan::Capture>,
    plans: HashMap<u32, plan::Plan>,
    next_plan: u32,
    /// The buffers of the plans replayed since the last submit (an upload to one of them must
    /// wait for the replay, like an upload to a buffer of a recorded dispatch).
    pending_plans: Vec<std::rc::Rc<std::collections::HashSet<wgpu::Buffer>>>,
    /// How many plans bind each pinned buffer.
    pins: HashMap<wgpu::Buffer, u32>,
    /// Pinned buffers that were freed: kept out of the pool until no plan binds them.
    custody: Vec<Slot>,
}

/// The GPU backend. Create it with [`GpuBackend::new`].
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    matmul: MatmulPick,
    /// Whether the device was opened with `Features::SUBGROUP` (see `encode`).
    subgroups: bool,
    state: RefCell<State>,
    counters: Cell<Counters>,
    time_loop: Cell<super::TimeLoop>,
    /// Errors the device reported outside any call (validation, out of memory).
    device_errors: Arc<Mutex<Vec<String>>>,
    /// Why the device was lost, once it has been (wgpu's device-lost callback; in the browser,
    /// WebGPU's `device.lost`). Every later call fails with [`EngineError::DeviceLost`].
    lost: Arc<Mutex<Option<String>>>,
}

/// How an adapter picks matmul variants: the options' variant when there is one, else register
/// blocking on CPU-like adapters (measured fastest on lavapipe at every size) and, on real
/// GPUs, by the product's size (see [`MatmulPick::LARGE_OUTPUTS`]).
fn choose_matmul(device_type: wgpu::DeviceType, forced: Option<MatmulVariant>) -> MatmulPick {
    match (forced, device_type) {
        (Some(variant), _) => MatmulPick::Always(variant),
        (None, wgpu::DeviceType::Cpu) => MatmulPick::Always(MatmulVariant::Blocked4x4),
        (None, _) => MatmulPick::BySize,
    }
}

/// How fused layers run their time loop on an adapter, measured (docs/PERFORMANCE.md): per step
/// on CPU-like adapters (lavapipe, SwiftShader), where the window kernel's one workgroup per
/// sequence reads the recurrent weights once per sequence and step while the per-step matmul
/// reads them once per block of sequences (the window was 0.15× the per-step tokens/s for
/// d2l-gru on lavapipe); as a window on GPUs, where each dispatch's launch is what a step costs.
fn choose_time_loop(device_type: wgpu::DeviceType) -> super::TimeLoop {
    match device_type {
        wgpu::DeviceType::Cpu => super::TimeLoop::PerStep,
        _ => super::TimeLoop::Window,
    }
}

impl GpuBackend {
    /// Opens the preferred adapter with its own limits (so large buffers are allowed up to what
    /// the hardware offers), with the `matmul` variant (`None`: by adapter type), and with
    /// subgroup kernels where the adapter offers them natively and `subgroups` allows them
    /// (hosts pass `EngineOptions::matmul` and `EngineOptions::subgroups`).
    pub async fn new(matmul: Option<MatmulVariant>, subgroups: bool) -> Result<Self> {
        let allowed = subgroups;
        // A browser without `navigator.gpu` must be told apart before wgpu touches it.
        #[cfg(target_arch = "wasm32")]
        if !wgpu::util::is_browser_webgpu_supported().await {
            return Err(EngineError::NoAdapter {
                reason: "this browser does not offer WebGPU (navigator.gpu is missing or grants no adapter)".into(),
            });
        }
        let instance = adapters::instance();
        let adapter = adapters::pick_adapter(&instance).await?;
        let summary = AdapterSummary::of(&adapter);
        let matmul_pick = choose_matmul(adapter.get_info().device_type, matmul);
        let time_loop = choose_time_loop(adapter.get_info().device_type);
        // wgpu's WebGPU backend does not expose subgroups; natively they need the feature.
        let subgroups =
            allowed && !cfg!(target_arch = "wasm32") && adapter.features().contains(wgpu::Features::SUBGROUP);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("rnnplay"),
                required_features: if subgroups { wgpu::Features::SUBGROUP } else { wgpu::Features::empty() },
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|err| EngineError::NoAdapter { reason: format!("could not open {}: {err}", summary.name) })?;
        let device_errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&device_errors);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut errors) = sink.lock() {
                errors.push(error.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut lost) = lost_sink.lock() {
                let why = match reason {
                    wgpu::DeviceLostReason::Destroyed => "destroyed",
                    _ => "lost by the driver or the browser",
                };
                *lost = Some(if message.is_empty() { why.to_string() } else { format!("{why}: {message}") });
            }
        });
        Ok(Self {
            device,
            queue,
            summary,
            matmul: matmul_pick,
            subgroups,
            state: RefCell::new(State::default()),
            counters: Cell::new(Counters::default()),
            time_loop: Cell::new(time_loop),
            device_errors,
            lost,
        })
    }

    /// Destroys the device, as a driver reset or the browser would: every later call fails
    /// with [`EngineError::DeviceLost`]. Tests of the recovery path call it; nothing else does.
    pub fn destroy_device(&self) {
        self.device.destroy();
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::Poll);
    }

    /// [`EngineError::DeviceLost`] once the device is gone.
    fn check_lost(&self) -> Result<()> {
        match self.lost.lock().ok().and_then(|lost| lost.clone()) {
            Some(why) => Err(EngineError::DeviceLost(why)),
            None => Ok(()),
        }
    }

    /// The adapter this backend runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    fn count(&self, update: impl FnOnce(&mut Counters)) {
        let mut counters = self.counters.get();
        update(&mut counters);
        self.counters.set(counters);
    }

    fn take_device_error(&self) -> Result<()> {
        self.check_lost()?;
        let mut errors = self.device_errors.lock().map_err(|_| EngineError::Device("error log poisoned".into()))?;
        if errors.is_empty() {
            return Ok(());
        }
        let message = errors.join("; ");
        errors.clear();
        Err(EngineError::Device(message))
    }

    fn pipeline(&self, state: &mut State, family: Family, entry: &'static str) -> std::rc::Rc<Pipeline> {
        if let Some(pipeline) = state.pipelines.get(&(family, entry)) {
            return pipeline.clone();
        }
        let device = &self.device;
        let module = state.modules.entry(family).or_insert_with(|| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(family.name()),
                source: wgpu::ShaderSource::Wgsl(family.source().into()),
            })
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        let cached = std::rc::Rc::new(Pipeline { entry, pipeline, layout });
        state.pipelines.insert((family, entry), cached.clone());
        cached
    }

    fn buffer(state: &State, id: BufId) -> &Slot {
        state.buffers[id.0 as usize].as_ref().expect("invariant: a live BufId names an allocated buffer")
    }

    fn record(&self, spec: DispatchSpec) {
        let mut state = self.state.borrow_mut();
        let pipeline = self.pipeline(&mut state, spec.family, spec.entry);
        let bindings: Vec<(u32, wgpu::Buffer)> =
            spec.bindings.iter().map(|(binding, id)| (*binding, Self::buffer(&state, *id).buffer.clone())).collect();
        state.pending_use.extend(spec.bindings.iter().map(|(_, id)| id.0));
        let params_offset = state.params.len() as u64 * 4;
        let params_bytes = spec.params.len() as u64 * 4;
        state.params.extend_from_slice(&spec.params);
        state.params.resize((params_offset + PARAMS_SLOT) as usize / 4, 0);
        if let Some(capture) = state.capture.as_mut() {
            capture.dispatches.push(plan::CapturedDispatch {
                pipeline: pipeline.clone(),
                params: spec.params.clone(),
                bindings: bindings.clone(),
                grid: spec.grid,
            });
        }
        state.commands.push(Command::Dispatch { pipeline, params_offset, params_bytes, bindings, grid: spec.grid });
        drop(state);
        self.count(|c| c.dispatches += 1);
    }

    /// Encodes and submits everything recorded: one encoder, one compute pass per run of
    /// dispatches (copies for read-back sit between passes), one submit.
    fn submit(&self) -> Result<()> {
        self.check_lost()?;
        let mut state = self.state.borrow_mut();
        if state.commands.is_empty() {
            return Ok(());
        }
        let params_bytes = (state.params.len() as u64 * 4).max(PARAMS_SLOT);
        let needs_new = state.params_buffer.as_ref().is_none_or(|b| b.size() < params_bytes);
        if needs_new {
            state.bind_groups.clear();
            state.params_buffer = Some(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("params arena"),
                size: params_bytes.next_power_of_two(),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let params_buffer = state.params_buffer.clone().expect("invariant: the params arena was just ensured");
        if !state.params.is_empty() {
            self.queue.write_buffer(&params_buffer, 0, bytemuck::cast_slice(&state.params));
        }
        let commands = std::mem::take(&mut state.commands);
        state.pending_use.clear();
        state.pending_plans.clear();
        state.alloc_sequence = 0;
        state.params.clear();
        if state.bind_groups.len() > MAX_CACHED_BIND_GROUPS {
            state.bind_groups.clear();
        }
        let mut bind_groups_created = 0;
        let mut encoder =
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("rnnplay step") });
        let mut index = 0;
        while index < commands.len() {
            if let Command::Copy { src, dst, bytes } = &commands[index] {
                encoder.copy_buffer_to_buffer(src, 0, dst, 0, *bytes);
                index += 1;
                continue;
            }
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            while let Some(command) = commands.get(index) {
                let (pipeline, params_offset, params_bytes, bindings, grid) = match command {
                    Command::Copy { .. } => break,
                    Command::Planned { pipeline, bind_group, grid } => {
                        pass.set_pipeline(&pipeline.pipeline);
                        pass.set_bind_group(0, bind_group, &[]);
                        pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
                        index += 1;
                        continue;
                    }
                    Command::Dispatch { pipeline, params_offset, params_bytes, bindings, grid } => {
                        (pipeline, params_offset, params_bytes, bindings, grid)
                    }
                };
                let key: BindKey = (pipeline.entry, *params_offset, bindings.clone());
                let bind_group = state.bind_groups.entry(key).or_insert_with(|| {
                    bind_groups_created += 1;
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &params_buffer,
                            offset: *params_offset,
                            size: NonZeroU64::new(*params_bytes),
                        }),
                    }];
                    entries.extend(bindings.iter().map(|(binding, buffer)| wgpu::BindGroupEntry {
                        binding: *binding,
                        resource: buffer.as_entire_binding(),
                    }));
                    self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(pipeline.entry),
                        layout: &pipeline.layout,
                        entries: &entries,
                    })
                });
                pass.set_pipeline(&pipeline.pipeline);
                pass.set_bind_group(0, &*bind_group, &[]);
                pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
                index += 1;
            }
        }
        self.queue.submit([encoder.finish()]);
        for slot in std::mem::take(&mut state.retired) {
            state.pool.entry(slot.bytes).or_default().push((slot.sequence, slot.buffer));
        }
        drop(state);
        self.count(|c| {
            c.submits += 1;
            c.bind_groups_created += bind_groups_created;
        });
        self.take_device_error()
    }
}

impl super::Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Gpu,
            adapter: self.summary.name.clone(),
            api: self.summary.backend.clone(),
            max_buffer_bytes: self.summary.max_storage_buffer_binding_size,
            matmul: self.matmul,
            subgroups: self.subgroups,
        }
    }

    fn alloc(&self, len: usize) -> Result<BufId> {
        let bytes = (len as u64 * 4).max(16);
        let limit = self.summary.max_storage_buffer_binding_size.min(self.summary.max_buffer_size);
        if bytes > limit {
            return Err(EngineError::BufferTooLarge {
                bytes,
                limit,
                limit_name: "this adapter's max_storage_buffer_binding_size",
            });
        }
        let mut state = self.state.borrow_mut();
        let sequence = state.alloc_sequence;
        state.alloc_sequence += 1;
        let pooled = state.pool.get_mut(&bytes).and_then(|idle| {
            let same_role = idle.iter().rposition(|(last, _)| *last == sequence);
            let index = same_role.or(idle.len().checked_sub(1))?;
            Some(idle.swap_remove(index).1)
        });
        let reused = pooled.is_some();
        let buffer = pooled.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        let slot = Some(Slot { buffer, bytes, sequence });
        let id = match state.free_ids.pop() {
            Some(id) => {
                state.buffers[id as usize] = slot;
                id
            }
            None => {
                state.buffers.push(slot);
                (state.buffers.len() - 1) as u32
            }
        };
        drop(state);
        self.count(|c| {
            if reused {
                c.pool_hits += 1;
            } else {
                c.buffers_created += 1;
                c.peak_buffer_bytes += bytes;
            }
        });
        Ok(BufId(id))
    }

    fn upload(&self, buf: BufId, data: &[u32]) -> Result<()> {
        if let Some(capture) = self.state.borrow_mut().capture.as_mut() {
            capture.spoiled = true;
        }
        let state = self.state.borrow();
        let slot = Self::buffer(&state, buf);
        let bytes = data.len() as u64 * 4;
        if bytes > slot.bytes {
            return Err(EngineError::InvalidArgument(format!(
                "upload of {} elements into a buffer of {}",
                data.len(),
                slot.bytes / 4
            )));
        }
        if data.is_empty() {
            return Ok(());
        }
        let used_by_replay = state.pending_plans.iter().any(|buffers| buffers.contains(&slot.buffer));
        if state.pending_use.contains(&buf.0) || used_by_replay {
            // A recorded kernel still uses this buffer: `queue.write_buffer` would land before
            // it, so copy from a staging buffer in recording order instead.
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("ordered upload"),
                size: bytes,
                usage: wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            });
            staging
                .get_mapped_range_mut(..)
                .map_err(|err| EngineError::Device(err.to_string()))?
                .copy_from_slice(bytemuck::cast_slice(data));
            staging.unmap();
            let dst = slot.buffer.clone();
            drop(state);
            self.state.borrow_mut().commands.push(Command::Copy { src: staging, dst, bytes });
        } else {
            self.queue.write_buffer(&slot.buffer, 0, bytemuck::cast_slice(data));
            drop(state);
        }
        self.count(|c| c.bytes_uploaded += bytes);
        Ok(())
    }

    fn free(&self, buf: BufId) {
        let mut state = self.state.borrow_mut();
        if let Some(slot) = state.buffers[buf.0 as usize].take() {
            if state.pins.contains_key(&slot.buffer) {
                state.custody.push(slot);
            } else {
                state.retired.push(slot);
            }
            state.free_ids.push(buf.0);
        }
    }

    fn run(&self, kernel: Kernel) -> Result<()> {
        let spec = encode::encode(&kernel, self.matmul, self.subgroups)?;
        self.record(spec);
        let flops = kernel.matmul_flops();
        if let Some(capture) = self.state.borrow_mut().capture.as_mut() {
            capture.matmul_flops += flops;
        }
        self.count(|c| c.matmul_flops += flops);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.submit()
    }

    fn read(&self, buf: BufId, len: usize) -> LocalFuture<'_, Result<Vec<u32>>> {
        let bytes = (len as u64 * 4).max(4);
        let prepared = (|| {
            let mut state = self.state.borrow_mut();
            if let Some(capture) = state.capture.as_mut() {
                capture.spoiled = true;
            }
            let slot = Self::buffer(&state, buf);
            if len as u64 * 4 > slot.bytes {
                return Err(EngineError::Readback(format!(
                    "read of {len} elements from a buffer of {}",
                    slot.bytes / 4
                )));
            }
            let src = slot.buffer.clone();
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("read-back"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            state.commands.push(Command::Copy { src, dst: staging.clone(), bytes });
            drop(state);
            self.submit()?;
            Ok(staging)
        })();
        Box::pin(async move {
            let staging = prepared?;
            let (sender, receiver) = futures_channel::oneshot::channel();
            staging.slice(..).map_async(wgpu::MapMode::Read, move |result| {
                let _ = sender.send(result);
            });
            #[cfg(not(target_arch = "wasm32"))]
            let polled = self.device.poll(wgpu::PollType::wait_indefinitely());
            #[cfg(not(target_arch = "wasm32"))]
            {
                self.check_lost()?;
                polled.map_err(|err| EngineError::Readback(err.to_string()))?;
            }
            let mapped = receiver.await;
            // A map that fails because the device went away says so by its own error.
            self.check_lost()?;
            mapped
                .map_err(|_| EngineError::Readback("the device was lost before the read finished".into()))?
                .map_err(|err| EngineError::Readback(err.to_string()))?;
            let words: Vec<u32> = {
                let view = staging.get_mapped_range(..).map_err(|err| EngineError::Readback(err.to_string()))?;
                bytemuck::cast_slice::<u8, u32>(&view)[..len].to_vec()
            };
            staging.unmap();
            self.count(|c| {
                c.read_backs += 1;
                c.bytes_read_back += len as u64 * 4;
            });
            self.take_device_error()?;
            Ok(words)
        })
    }

    fn counters(&self) -> Counters {
        self.counters.get()
    }

    fn time_loop(&self) -> super::TimeLoop {
        self.time_loop.get()
    }

    fn set_time_loop(&self, time_loop: super::TimeLoop) {
        self.time_loop.set(time_loop);
    }

    fn reset_counters(&self) {
        self.counters.set(Counters::default());
    }

    fn memory(&self) -> MemoryUse {
        let state = self.state.borrow();
        let live = state.buffers.iter().flatten().chain(&state.custody).chain(&state.retired);
        let (live_buffers, live_bytes) = live.fold((0, 0), |(n, bytes), slot| (n + 1, bytes + slot.bytes));
        let pooled = state.pool.iter().map(|(bytes, idle)| (idle.len() as u64, *bytes * idle.len() as u64));
        let (pooled_buffers, pooled_bytes) = pooled.fold((0, 0), |(n, b), (k, kb)| (n + k, b + kb));
        MemoryUse { live_buffers, live_bytes, pooled_buffers, pooled_bytes }
    }

    fn begin_capture(&self) {
        self.begin_capture_impl()
    }

    fn end_capture(&self) -> Result<Option<PlanId>> {
        self.end_capture_impl()
    }

    fn replay(&self, plan: PlanId) -> Result<()> {
        self.replay_impl(plan)
    }

    fn release_plan(&self, plan: PlanId) {
        self.release_plan_impl(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmuls_pick_by_adapter_and_size() {
        let gpu = choose_matmul(wgpu::DeviceType::DiscreteGpu, None);
        // d2l-gru's recurrent step (32 × 768) and weight gradient (768 × 256) stay tiled; a
        // 512³ product and larger use register blocking (the H200's measurements).
        assert_eq!(gpu.variant_for(32, 768), MatmulVariant::Tiled16);
        assert_eq!(gpu.variant_for(768, 256), MatmulVariant::Tiled16);
        assert_eq!(gpu.variant_for(256, 256), MatmulVariant::Tiled16);
        assert_eq!(gpu.variant_for(512, 512), MatmulVariant::Blocked4x4);
        assert_eq!(gpu.variant_for(2048, 2048), MatmulVariant::Blocked4x4);
        let lavapipe = choose_matmul(wgpu::DeviceType::Cpu, None);
        assert_eq!(lavapipe.variant_for(32, 768), MatmulVariant::Blocked4x4);
        let forced = choose_matmul(wgpu::DeviceType::DiscreteGpu, Some(MatmulVariant::Naive));
        assert_eq!(forced.variant_for(4096, 4096), MatmulVariant::Naive);
    }

    #[test]
    fn the_time_loop_is_per_step_on_cpu_like_adapters_and_a_window_on_gpus() {
        assert_eq!(choose_time_loop(wgpu::DeviceType::Cpu), super::super::TimeLoop::PerStep);
        for gpu in [wgpu::DeviceType::DiscreteGpu, wgpu::DeviceType::IntegratedGpu, wgpu::DeviceType::Other] {
            assert_eq!(choose_time_loop(gpu), super::super::TimeLoop::Window);
        }
    }
}
