//! The two backends behind one small, explicit interface.
//!
//! Storage is addressed by [`BufId`]; kernels are described by value ([`Kernel`]) so the CPU
//! reference and the GPU runtime execute the exact same request. Read-back is asynchronous on
//! both: in the browser `map_async` cannot block, natively `pollster` drives the same future.

mod cpu;
mod cpu_attention;
mod cpu_cells;
mod cpu_math;
mod cpu_pool;
mod cpu_reset_gru;
#[path = "gpu/mod.rs"]
mod gpu;
mod kernel;

pub use cpu::CpuBackend;
pub use cpu_pool::{default_threads as default_cpu_threads, MAX_THREADS as MAX_CPU_THREADS};
pub use gpu::{list_adapters, AdapterSummary, GpuBackend};
pub use kernel::{
    adam_bias_corrections, dropout_mask_seed, dropout_uniform, dropped, groups_of, AdditiveGrads, AttentionScoring,
    AttentionShape, BinaryOp, CellKind, CellStep, ClipBy, JoinPart, Kernel, MatmulPick, MatmulVariant, ResetGruHalf,
    TimeLoop, UnaryOp, UpdateSlot, WeightDropout, JOIN_PARTS, MAX_WINDOW_SEQUENCES, NORM_GROUP, SGD_GROUP,
};

use crate::error::{EngineError, Result};
use std::future::Future;
use std::pin::Pin;

/// Handle of a buffer owned by a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufId(pub(crate) u32);

/// Handle of a recorded step that a backend replays (see [`Backend::end_capture`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlanId(pub(crate) u32);

/// A boxed future that need not be `Send` (browser futures are not).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What the engine did, counted since the backend was created (or since `reset_counters`).
/// Tests assert on these to keep the execution model honest: one submit per training step,
/// no read-back inside a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Kernels executed (GPU: compute dispatches).
    pub dispatches: u64,
    /// Command buffers submitted to the queue (always 0 on the CPU backend).
    pub submits: u64,
    /// Host-to-device bytes.
    pub bytes_uploaded: u64,
    /// Device-to-host bytes.
    pub bytes_read_back: u64,
    /// Number of read-backs.
    pub read_backs: u64,
    /// Buffers created new (not taken from the pool).
    pub buffers_created: u64,
    /// Buffers taken from the pool.
    pub pool_hits: u64,
    /// GPU bind groups created (the rest came from the cache); always 0 on the CPU backend.
    pub bind_groups_created: u64,
    /// Steps recorded by replaying a plan instead of building them again (GPU only).
    pub replays: u64,
    /// Floating-point operations of the matmuls run (2·m·n·k each).
    pub matmul_flops: u64,
    /// The most buffer memory held at once, in bytes (GPU: the pool never shrinks, so this is
    /// every buffer created; CPU: the peak of live buffers).
    pub peak_buffer_bytes: u64,
}

/// The buffers a backend holds now: what a long run watches to see that memory stays flat
/// (soak runs watch it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoryUse {
    /// Buffers allocated and not freed (tensors alive, plans' temporaries).
    pub live_buffers: u64,
    pub live_bytes: u64,
    /// Freed buffers kept for reuse (the GPU's pool, the CPU's spare vectors).
    pub pooled_buffers: u64,
    pub pooled_bytes: u64,
}

/// Which kind of backend is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

/// A description of the running backend, for logs, benchmarks and summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// "cpu" ("cpu, 2 threads" on several) or the adapter's name (e.g. "llvmpipe (LLVM 15.0.6,
    /// 256 bits)").
    pub adapter: String,
    /// The graphics API ("Vulkan", "Metal", "WebGPU", …), or "native" for the CPU.
    pub api: String,
    /// The largest buffer one storage binding may hold, in bytes.
    pub max_buffer_bytes: u64,
    /// How a matmul that does not ask for a variant gets one.
    pub matmul: MatmulPick,
    /// Whether kernels with subgroup operations run (native adapters that offer them; never
    /// in the browser, where wgpu does not expose them).
    pub subgroups: bool,
}

/// The kernel interface, implemented by [`CpuBackend`] and [`GpuBackend`].
pub trait Backend {
    fn info(&self) -> BackendInfo;

    /// Allocates a buffer of `len` 32-bit elements. Its content is unspecified: write it
    /// (upload or a kernel) before reading it.
    fn alloc(&self, len: usize) -> Result<BufId>;

    /// Writes `data` (f32 or u32 words as raw bits) to the start of `buf`.
    fn upload(&self, buf: BufId, data: &[u32]) -> Result<()>;

    /// Releases a buffer. Its storage returns to the pool once no recorded kernel uses it.
    fn free(&self, buf: BufId);

    /// Runs (CPU) or records (GPU) one kernel.
    fn run(&self, kernel: Kernel) -> Result<()>;

    /// Submits everything recorded since the last flush as one command buffer (GPU); a no-op
    /// on the CPU backend. Returns any error the device reported.
    fn flush(&self) -> Result<()>;

    /// Reads `len` words from the start of `buf`. Flushes first.
    fn read(&self, buf: BufId, len: usize) -> LocalFuture<'_, Result<Vec<u32>>>;

    fn counters(&self) -> Counters;
    fn reset_counters(&self);

    /// The buffers held now, live and pooled.
    fn memory(&self) -> MemoryUse;

    /// Plan replay: starts capturing the kernels recorded until [`Backend::end_capture`]. A
    /// backend without plans (the CPU's, which runs kernels as they come) ignores it.
    fn begin_capture(&self) {}

    /// Ends the capture. When the captured kernels are exactly those of the previous capture —
    /// the same kernels in the same order, on the same buffers, with the same parameters — and
    /// nothing was uploaded or read back in between, the step is steady and the backend returns
    /// a plan that records all of it again in one call ([`Backend::replay`]). The plan keeps
    /// every buffer it uses from being handed out again until [`Backend::release_plan`]: its
    /// temporaries are its own, and a tensor it reads that is freed cannot be reused under it.
    fn end_capture(&self) -> Result<Option<PlanId>> {
        Ok(None)
    }

    /// Records the plan's kernels, as if its step were recorded again from scratch. The buffers
    /// it reads (parameters, inputs written before the step) are read at execution time.
    fn replay(&self, plan: PlanId) -> Result<()> {
        Err(EngineError::InvalidArgument(format!("this backend has no plan {}", plan.0)))
    }

    /// Forgets a plan; its buffers go back to the pool once no tensor uses them.
    fn release_plan(&self, _plan: PlanId) {}

    /// How fused recurrent layers run their time loop here (see [`TimeLoop`]): the window
    /// kernels unless a host chose otherwise.
    fn time_loop(&self) -> TimeLoop;

    /// Chooses how later fused layers run their time loop (`EngineOptions::time_loop`, and
    /// benchmarks that alternate the two).
    fn set_time_loop(&self, time_loop: TimeLoop);
}

/// True when `RNNPLAY_REQUIRE_GPU=1`: GPU tests must fail, not skip, without an adapter.
pub fn require_gpu() -> bool {
    std::env::var("RNNPLAY_REQUIRE_GPU").is_ok_and(|value| value == "1")
}

/// Reinterprets f32 values as the raw words that [`Backend::upload`] takes.
pub fn f32_words(values: &[f32]) -> &[u32] {
    bytemuck::cast_slice(values)
}
