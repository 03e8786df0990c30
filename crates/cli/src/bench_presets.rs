//! `rnnplay bench presets`: training throughput of the d2l presets on one backend — tokens/s,
//! the GFLOP/s of the step's matmuls against the adapter's best GEMM measured in the same run,
//! dispatches and submits per step, the host time of a step, and peak buffer memory — with the
//! recurrent layers as window kernels, per-step kernels or unfused ops (any of them, in turn),
//! and plan replay on, off or both. The measurement
//! itself is `rnnplay_run::bench`, shared with the page's `?bench=1`; this file loads the
//! data and prints.

use anyhow::{bail, Context, Result};
use rnnplay_data::{Dataset, Hub};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::EngineOptions;
use rnnplay_run::bench::{
    best_gemm_gflops, measure_preset, BenchData, Clocks, Layers, Measurement, Run, DEFAULT_PRESETS,
};
use rnnplay_run::clock::wall_clock;
use rnnplay_run::presets::seq2seq_preset;
use std::rc::Rc;
use std::time::Instant;

/// Which of two ways a benchmark measures: `--replay on|off|both`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Modes {
    First,
    Second,
    Both,
}

impl Modes {
    /// Parses `flag`'s value: `first` or `second` (the names of the two ways) or `both`.
    pub fn parse(flag: &str, value: &str, [first, second]: [&str; 2]) -> Result<Self> {
        Ok(match value {
            v if v == first => Self::First,
            v if v == second => Self::Second,
            "both" => Self::Both,
            _ => bail!("unknown {flag} '{value}'; use {first}, {second} or both"),
        })
    }

    /// The settings to measure, the first way first (true means the first way).
    fn runs(self) -> &'static [bool] {
        match self {
            Self::First => &[true],
            Self::Second => &[false],
            Self::Both => &[true, false],
        }
    }
}

/// How `rnnplay bench presets` measures.
pub struct Options {
    pub warmup: usize,
    pub batches: usize,
    /// How the recurrent layers run, each in turn.
    pub layers: Vec<Layers>,
    /// Plan replay on (first) or off.
    pub replay: Modes,
    pub json: bool,
}

/// CPU time of the calling thread in seconds: a step's host work without the time it waits for
/// the device (lavapipe's submit blocks until the device is done). Wall time where the platform
/// has no thread clock.
fn thread_cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `time` is a valid timespec for clock_gettime to fill.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) } == 0 {
            return time.tv_sec as f64 + time.tv_nsec as f64 * 1e-9;
        }
    }
    thread_local!(static ORIGIN: Instant = Instant::now());
    ORIGIN.with(|origin| origin.elapsed().as_secs_f64())
}

pub fn presets(names: &[String], backend_name: &str, options: &Options) -> Result<()> {
    if options.batches == 0 {
        bail!("--batches must be at least 1");
    }
    let names: Vec<String> =
        if names.is_empty() { DEFAULT_PRESETS.iter().map(|s| s.to_string()).collect() } else { names.to_vec() };
    let hub = Hub::from_env();
    let time_machine = hub.read_text(Dataset::TimeMachine)?;
    let needs_fra_eng = names.iter().any(|n| seq2seq_preset(n).is_some_and(|p| p.data == "fra-eng"));
    let fra_eng = if needs_fra_eng { Some(hub.read(Dataset::FraEng)?) } else { None };
    let data = BenchData { time_machine: &time_machine, fra_eng_zip: fra_eng.as_deref() };

    let backend = pollster::block_on(backend_by_name(backend_name, &EngineOptions::from_env()?))
        .context("opening the backend")?;
    let info = backend.info();
    let clocks = Clocks { wall: wall_clock(), host: Rc::new(thread_cpu_seconds) };
    let best_gemm =
        pollster::block_on(best_gemm_gflops(&backend, &clocks.wall)).context("measuring the adapter's best GEMM")?;
    if !options.json {
        println!(
            "training throughput on {} ({}{}); best GEMM (512³, {}) {best_gemm:.2} GFLOP/s; {} warm-up + {} timed minibatches",
            info.adapter,
            info.api,
            if info.subgroups { ", subgroup kernels" } else { "" },
            info.matmul.variant_for(512, 512).name(),
            options.warmup,
            options.batches
        );
        println!(
            "{:<16} {:>8} {:>7} {:>11} {:>9} {:>8} {:>15} {:>12} {:>9} {:>13} {:>9}",
            "preset",
            "layers",
            "replay",
            "tokens/s",
            "GFLOP/s",
            "of GEMM",
            "dispatches/step",
            "submits/step",
            "replayed",
            "host ms/step",
            "peak MiB"
        );
    }
    for name in &names {
        let layer_runs: &[Layers] = &options.layers;
        // The first way's tokens/s, by replay setting (index 1: on).
        let mut first: [Option<(Layers, f64)>; 2] = [None; 2];
        for &layers in layer_runs {
            let mut replayed: Option<Measurement> = None;
            for &replay in options.replay.runs() {
                let run = Run { layers, replay, warmup: options.warmup, batches: options.batches };
                let m = pollster::block_on(measure_preset(&backend, name, &data, &run, &clocks))
                    .with_context(|| format!("measuring {name}"))?;
                // Reported on the later ways' rows: how much faster the first way is (with the
                // same replay setting).
                let speedup = first[usize::from(replay)].map(|(way, rate)| (way, rate / m.tokens_per_s));
                first[usize::from(replay)].get_or_insert((m.layers, m.tokens_per_s));
                // Reported on the row without replay when both ran: what replay saves.
                let replay_gain = replayed
                    .as_ref()
                    .filter(|_| !replay)
                    .map(|r| (m.host_ms_per_step / r.host_ms_per_step.max(1e-9), r.tokens_per_s / m.tokens_per_s));
                print_row(name, &m, &info, best_gemm, options, speedup, replay_gain);
                if replay {
                    replayed = Some(m);
                }
            }
        }
    }
    Ok(())
}

fn print_row(
    name: &str,
    m: &Measurement,
    info: &rnnplay_engine::BackendInfo,
    best_gemm: f64,
    options: &Options,
    speedup: Option<(Layers, f64)>,
    replay_gain: Option<(f64, f64)>,
) {
    let replay = if m.replay { "on" } else { "off" };
    if options.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "preset", "preset": name, "layers": m.layers.name(), "replay": m.replay,
                "backend": format!("{:?}", info.kind).to_lowercase(),
                "adapter": info.adapter, "tokens_per_s": m.tokens_per_s, "gflops": m.gflops,
                "best_gemm_gflops": best_gemm, "ratio": m.gflops / best_gemm,
                "dispatches_per_step": m.dispatches_per_step, "submits_per_step": m.submits_per_step,
                "replayed": m.replayed, "host_ms_per_step": m.host_ms_per_step,
                "peak_buffer_mib": m.peak_mib, "batches": options.batches, "seconds": m.seconds,
                "speedup_of": speedup.map(|s| s.0.name()), "speedup": speedup.map(|s| s.1),
                "replay_host_saving": replay_gain.map(|g| g.0), "replay_speedup": replay_gain.map(|g| g.1),
            })
        );
        return;
    }
    println!(
        "{name:<16} {:>8} {replay:>7} {:>11.0} {:>9.2} {:>7.0}% {:>15.0} {:>12.2} {:>8.0}% {:>13.3} {:>9.1}",
        m.layers.name(),
        m.tokens_per_s,
        m.gflops,
        100.0 * m.gflops / best_gemm,
        m.dispatches_per_step,
        m.submits_per_step,
        100.0 * m.replayed,
        m.host_ms_per_step,
        m.peak_mib
    );
    if let Some((way, speedup)) = speedup {
        println!("{:<16} {} layers are {speedup:.2}× the tokens/s of {} ones", "", way.name(), m.layers.name());
    }
    if let Some((host, tokens)) = replay_gain {
        println!("{:<16} plan replay: {host:.1}× less host time per step, {tokens:.2}× the tokens/s", "");
    }
}
