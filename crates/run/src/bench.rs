//! The training-throughput benchmark shared by `rnnplay bench presets` and the page's
//! `?bench=1`: the same presets, the same warm-up and timed minibatches, the same counters.
//!
//! Everything here is async because the browser cannot block on a read-back; natively
//! `pollster::block_on` drives it. Time comes from the caller (`Instant` natively,
//! `performance.now()` in the page), so the module has no platform code.

use crate::clock::Clock;
use crate::{DataSource, RunData, RunSpec, Session};
use rnnplay_engine::backend::{Backend, BackendKind, Kernel, MatmulVariant, TimeLoop};
use rnnplay_engine::error::{EngineError, Result};
use rnnplay_engine::options::EngineOptions;
use rnnplay_engine::tensor::Tensor;
use std::rc::Rc;

/// The presets measured when none is named.
pub const DEFAULT_PRESETS: [&str; 5] =
    ["d2l-rnn-scratch", "d2l-gru", "d2l-lstm", "d2l-seq2seq", "d2l-seq2seq-attention"];

/// What the presets train on: The Time Machine's text and, for d2l-seq2seq, d2l's fra-eng.zip.
pub struct BenchData<'a> {
    pub time_machine: &'a str,
    pub fra_eng_zip: Option<&'a [u8]>,
}

/// The run `rnnplay train` would build for preset `name` (the same `RunSpec::build`), on the
/// data the host loaded.
fn session(backend: &Rc<dyn Backend>, name: &str, data: &BenchData, options: &EngineOptions) -> Result<Session> {
    let spec = RunSpec::preset(name).map_err(|e| EngineError::InvalidArgument(e.message))?;
    let loaded =
        match spec.source() {
            DataSource::TimeMachine => RunData::Text(data.time_machine),
            DataSource::FraEng => RunData::FraEngZip(data.fra_eng_zip.ok_or_else(|| {
                EngineError::InvalidArgument(format!("{name} needs fra-eng.zip, which was not loaded"))
            })?),
            _ => {
                return Err(EngineError::InvalidArgument(format!(
                    "the benchmark measures d2l's data sets; {name} trains on {}",
                    spec.data
                )))
            }
        };
    spec.build(backend, loaded, options)
}

/// How a preset's recurrent layers run in a measurement (the scratch models' too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layers {
    /// Fused, the time loop inside one window kernel each way.
    Window,
    /// Fused, two dispatches per time step each way.
    Steps,
    /// Composed from primitive ops per time step.
    Unfused,
}

impl Layers {
    /// The ways a measurement can ask for, in the order they are measured.
    pub const ASKED: [Layers; 3] = [Self::Window, Self::Steps, Self::Unfused];

    pub fn name(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Steps => "steps",
            Self::Unfused => "unfused",
        }
    }

    /// A `--layers` (`bench_layers`) value: `window`, `steps`, `unfused`, a comma-separated
    /// list of them, `fused` (window and steps) or `all`; measured in [`Layers::ASKED`]'s order.
    pub fn parse_list(value: &str) -> std::result::Result<Vec<Layers>, String> {
        let mut asked = Vec::new();
        for word in value.split(',').map(str::trim) {
            match word {
                "fused" => asked.extend([Self::Window, Self::Steps]),
                "all" => asked.extend(Self::ASKED),
                _ => match Self::ASKED.into_iter().find(|l| l.name() == word) {
                    Some(layers) => asked.push(layers),
                    None => {
                        return Err(format!(
                            "'{word}' is not a way to run the layers; use window, steps, unfused (or a comma-separated list of them), fused or all"
                        ))
                    }
                },
            }
        }
        Ok(Self::ASKED.into_iter().filter(|l| asked.contains(l)).collect())
    }
}

/// One preset measured one way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    pub preset: String,
    pub layers: Layers,
    /// Whether plan replay was on.
    pub replay: bool,
    pub tokens_per_s: f64,
    /// GFLOP/s of the step's matmuls (`Kernel::matmul_flops` over the timed wall time).
    pub gflops: f64,
    pub dispatches_per_step: f64,
    pub submits_per_step: f64,
    /// The share of the timed steps replayed from a plan instead of recorded (0 to 1).
    pub replayed: f64,
    pub peak_mib: f64,
    pub seconds: f64,
    /// Host time per step on the calling thread, by the `host` clock: building the step (or
    /// replaying its plan) and submitting it. Natively that clock is the thread's CPU time, so
    /// waiting for the device does not count (lavapipe's submit waits for it); on the CPU
    /// backend the kernels themselves run on this thread.
    pub host_ms_per_step: f64,
}

/// How one preset is measured.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// How the recurrent layers run.
    pub layers: Layers,
    /// Plan replay on (see `rnnplay_engine::replay`).
    pub replay: bool,
    /// Minibatches trained before the timing starts.
    pub warmup: usize,
    /// Minibatches timed.
    pub batches: usize,
}

/// The clocks a measurement reads, in seconds from any fixed origin: `wall` for throughput,
/// `host` for the steps' host time (see [`Measurement::host_ms_per_step`]).
pub struct Clocks {
    pub wall: Clock,
    pub host: Clock,
}

/// Trains `run.warmup` then `run.batches` minibatches of preset `name` and measures the timed
/// ones.
pub async fn measure_preset(
    backend: &Rc<dyn Backend>,
    name: &str,
    data: &BenchData<'_>,
    run: &Run,
    clocks: &Clocks,
) -> Result<Measurement> {
    if run.batches == 0 {
        return Err(EngineError::InvalidArgument("the benchmark needs at least 1 timed minibatch".into()));
    }
    let layers = run.layers;
    let Timing { tokens, seconds, host_seconds, warm_peak } = timed(backend, name, data, run, clocks).await?;
    let batches = run.batches;
    let counters = backend.counters();
    let per_step = |n: u64| n as f64 / batches as f64;
    // GPU: bytes of buffers created (the pool keeps them), before and after the reset add up;
    // CPU: the peak of live bytes, the larger of the two windows.
    let peak = match backend.info().kind {
        BackendKind::Gpu => warm_peak + counters.peak_buffer_bytes,
        BackendKind::Cpu => warm_peak.max(counters.peak_buffer_bytes),
    };
    Ok(Measurement {
        preset: name.to_string(),
        layers,
        replay: run.replay,
        tokens_per_s: tokens as f64 / seconds,
        gflops: counters.matmul_flops as f64 / seconds / 1e9,
        dispatches_per_step: per_step(counters.dispatches),
        // The final read-back's own submit is not a training step's.
        submits_per_step: per_step(counters.submits.saturating_sub(1)),
        replayed: per_step(counters.replays),
        peak_mib: peak as f64 / (1 << 20) as f64,
        seconds,
        host_ms_per_step: 1e3 * host_seconds / batches as f64,
    })
}

/// What the timed minibatches took.
struct Timing {
    tokens: usize,
    /// Wall time from the first step to the read-back after the last.
    seconds: f64,
    /// Host time of the steps' calls, by the `host` clock.
    host_seconds: f64,
    /// Peak buffer bytes during the warm-up.
    warm_peak: u64,
}

/// Measures the timed minibatches; the counters then hold the timed window.
async fn timed(
    backend: &Rc<dyn Backend>,
    name: &str,
    data: &BenchData<'_>,
    run: &Run,
    clocks: &Clocks,
) -> Result<Timing> {
    // Each preset's memory is its own: the previous one's buffers are freed by now.
    backend.reset_counters();
    let options = EngineOptions {
        fused_layers: run.layers != Layers::Unfused,
        plan_replay: run.replay,
        ..EngineOptions::default()
    };
    // The backend's own time loop comes back after the measurement.
    let time_loop = backend.time_loop();
    backend.set_time_loop(if run.layers == Layers::Steps { TimeLoop::PerStep } else { TimeLoop::Window });
    let timing = timed_session(backend, name, data, run, clocks, &options).await;
    backend.set_time_loop(time_loop);
    timing
}

async fn timed_session(
    backend: &Rc<dyn Backend>,
    name: &str,
    data: &BenchData<'_>,
    run: &Run,
    clocks: &Clocks,
    options: &EngineOptions,
) -> Result<Timing> {
    let now = &clocks.wall;
    let mut session = session(backend, name, data, options)?;
    for _ in 0..run.warmup {
        session.step().await?;
    }
    session.sync().await?;
    let warm_peak = backend.counters().peak_buffer_bytes;
    backend.reset_counters();
    let started = now();
    let (tokens_before, mut host_seconds) = (session.tokens_trained(), 0.0);
    for _ in 0..run.batches {
        let step_started = (clocks.host)();
        session.step().await?;
        host_seconds += (clocks.host)() - step_started;
    }
    // The timing ends with a read-back, so queued GPU work is included.
    session.sync().await?;
    let tokens = session.tokens_trained() - tokens_before;
    Ok(Timing { tokens, seconds: (now() - started).max(1e-9), host_seconds, warm_peak })
}

/// GFLOP/s of `variant` on size³ products and the repeats timed: wall time around a flush and
/// a one-element read-back, so submission overhead is included.
pub async fn gemm_gflops(
    backend: &Rc<dyn Backend>,
    size: usize,
    variant: MatmulVariant,
    now: &Clock,
) -> Result<(f64, usize)> {
    let shape = [size, size];
    let values = |seed: u64| -> Vec<f32> {
        // A small deterministic pattern in [-1, 1): the values do not matter, only the work.
        (0..size * size).map(|i| ((i as u64 * 2_654_435_761 + seed) % 2001) as f32 / 1000.0 - 1.0).collect()
    };
    let a = Tensor::from_f32(backend, &shape, &values(1))?;
    let b = Tensor::from_f32(backend, &shape, &values(2))?;
    let c = Tensor::zeros(backend, &shape)?;
    let kernel = Kernel::Matmul {
        a: a.id(),
        b: b.id(),
        c: c.id(),
        m: size,
        k: size,
        n: size,
        trans_a: false,
        trans_b: false,
        accumulate: false,
        offsets: [0; 3],
        variant: Some(variant),
    };
    let flops = 2.0 * (size as f64).powi(3);
    // Warm-up: pipeline creation and first-touch costs stay out of the timing.
    backend.run(kernel.clone())?;
    backend.read(c.id(), 1).await?;
    // Aim for about half a second of work at 10 GFLOP/s, between 1 and 50 repeats.
    let repeats = ((5e9 / flops) as usize).clamp(1, 50);
    let started = now();
    for _ in 0..repeats {
        backend.run(kernel.clone())?;
    }
    backend.read(c.id(), 1).await?;
    let seconds = (now() - started).max(1e-9);
    Ok((flops * repeats as f64 / seconds / 1e9, repeats))
}

/// GFLOP/s of the runtime's own matmul variant at 512³: the yardstick the presets' GFLOP/s are
/// divided by.
pub async fn best_gemm_gflops(backend: &Rc<dyn Backend>, now: &Clock) -> Result<f64> {
    Ok(gemm_gflops(backend, 512, backend.info().matmul.variant_for(512, 512), now).await?.0)
}
