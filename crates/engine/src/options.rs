//! How the engine executes, as one value the host passes in: the matmul variant, subgroup
//! kernels, fused recurrent layers and their time loop, and plan replay. None of these changes what a run computes
//! (the tests compare each against its alternative), only how fast. A native host can read them
//! from environment variables with [`EngineOptions::from_env`].

use crate::backend::{
    default_cpu_threads, require_gpu, Backend, CpuBackend, GpuBackend, MatmulVariant, TimeLoop, MAX_CPU_THREADS,
};
use crate::error::{EngineError, Result};
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Force a matmul kernel variant (`RNNPLAY_MATMUL`); `None` picks by adapter type
    /// (`blocked4x4` on CPU-like adapters such as lavapipe, `tiled16` on GPUs).
    pub matmul: Option<MatmulVariant>,
    /// Use subgroup kernels where the adapter offers them natively (`RNNPLAY_SUBGROUPS=0` turns
    /// them off).
    pub subgroups: bool,
    /// Run concise recurrent layers fused (one tape node per layer per window, two dispatches
    /// per time step each way) rather than composed from primitive ops per time step.
    pub fused_layers: bool,
    /// Force how fused layers run their time loop (`RNNPLAY_TIME_LOOP=window|step`); `None`
    /// leaves it to the backend (by adapter type, see `GpuBackend::new`). Backends made here
    /// take it.
    pub time_loop: Option<TimeLoop>,
    /// Replay a training step's recorded kernels once two steps in a row recorded the same
    /// ones (`RNNPLAY_REPLAY=0` records every step).
    pub plan_replay: bool,
    /// Threads of the CPU backend (`RNNPLAY_THREADS`); `None` uses every core. Any count
    /// computes the same numbers.
    pub cpu_threads: Option<usize>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            matmul: None,
            subgroups: true,
            fused_layers: true,
            time_loop: None,
            plan_replay: true,
            cpu_threads: None,
        }
    }
}

/// Whether the variable `name` is set to `0` (turning its feature off).
fn turned_off(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v.trim() == "0")
}

impl EngineOptions {
    /// The defaults with `RNNPLAY_MATMUL`, `RNNPLAY_SUBGROUPS`, `RNNPLAY_TIME_LOOP` and
    /// `RNNPLAY_REPLAY` applied; an unknown matmul variant or time loop is an error that lists
    /// the known ones.
    pub fn from_env() -> Result<Self> {
        let matmul = match std::env::var("RNNPLAY_MATMUL") {
            Ok(name) => Some(MatmulVariant::parse(name.trim()).ok_or_else(|| {
                EngineError::InvalidArgument(format!(
                    "unknown RNNPLAY_MATMUL '{name}'; use naive, blocked4x4 or tiled16"
                ))
            })?),
            Err(_) => None,
        };
        let time_loop = match std::env::var("RNNPLAY_TIME_LOOP") {
            Ok(name) => Some(TimeLoop::parse(name.trim()).ok_or_else(|| {
                EngineError::InvalidArgument(format!("unknown RNNPLAY_TIME_LOOP '{name}'; use window or step"))
            })?),
            Err(_) => None,
        };
        Ok(Self {
            matmul,
            subgroups: !turned_off("RNNPLAY_SUBGROUPS"),
            fused_layers: true,
            time_loop,
            plan_replay: !turned_off("RNNPLAY_REPLAY"),
            cpu_threads: threads_from_env()?,
        })
    }
}

/// `RNNPLAY_THREADS` checked: a whole number from 1 to the most a pool takes.
fn threads_from_env() -> Result<Option<usize>> {
    let Ok(text) = std::env::var("RNNPLAY_THREADS") else { return Ok(None) };
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CPU_THREADS).contains(&n) => Ok(Some(n)),
        _ => Err(EngineError::InvalidArgument(format!(
            "RNNPLAY_THREADS is '{text}'; use a whole number of threads from 1 to {MAX_CPU_THREADS} (or unset it to use every core)"
        ))),
    }
}

/// The CPU backend with `options`' thread count and time loop.
pub fn cpu_backend(options: &EngineOptions) -> Rc<dyn Backend> {
    let cpu = CpuBackend::with_threads(options.cpu_threads.unwrap_or_else(default_cpu_threads));
    if let Some(time_loop) = options.time_loop {
        cpu.set_time_loop(time_loop);
    }
    Rc::new(cpu)
}

/// The GPU backend with `options`' matmul variant, subgroups and time loop.
async fn gpu_backend(options: &EngineOptions) -> Result<GpuBackend> {
    let gpu = GpuBackend::new(options.matmul, options.subgroups).await?;
    if let Some(time_loop) = options.time_loop {
        gpu.set_time_loop(time_loop);
    }
    Ok(gpu)
}

/// The GPU backend when an adapter opens; `None` when none does, unless `RNNPLAY_REQUIRE_GPU=1`
/// makes that an error.
pub async fn gpu_if_any(options: &EngineOptions) -> Result<Option<Rc<dyn Backend>>> {
    match gpu_backend(options).await {
        Ok(gpu) => Ok(Some(Rc::new(gpu))),
        Err(err) if require_gpu() => Err(err),
        Err(_) => Ok(None),
    }
}

/// Chooses the backend named by `RNNPLAY_BACKEND` (`gpu`, `cpu`; unset means "gpu if an adapter
/// is found, else cpu"). With `RNNPLAY_REQUIRE_GPU=1`, a missing adapter is an error instead of a
/// fallback.
pub async fn backend_from_env() -> Result<Rc<dyn Backend>> {
    let choice = std::env::var("RNNPLAY_BACKEND").unwrap_or_default();
    if !matches!(choice.trim(), "" | "auto" | "gpu" | "cpu") {
        return Err(EngineError::InvalidArgument(format!(
            "RNNPLAY_BACKEND is '{choice}'; it must be auto, gpu or cpu (or unset)"
        )));
    }
    backend_by_name(choice.trim(), &EngineOptions::from_env()?).await
}

/// Creates the backend called `name`: "gpu", "cpu" or "" / "auto"; a GPU backend with `options`.
pub async fn backend_by_name(name: &str, options: &EngineOptions) -> Result<Rc<dyn Backend>> {
    match name {
        "cpu" => Ok(cpu_backend(options)),
        "gpu" => Ok(Rc::new(gpu_backend(options).await?)),
        "" | "auto" => Ok(gpu_if_any(options).await?.unwrap_or_else(|| cpu_backend(options))),
        other => Err(EngineError::InvalidArgument(format!(
            "unknown backend '{other}'; the backend must be auto, gpu or cpu"
        ))),
    }
}
