//! `rnnplay bench presets`: training throughput of the d2l presets on one backend — tokens/s,
//! the GFLOP/s of the step's matmuls against the adapter's best GEMM measured in the same run,
//! dispatches and submits per step, and peak buffer memory — with the concise layers fused,
//! unfused or both. The measurement itself is `rnnplay_engine::bench`, shared with the page's
//! `?bench=1`; this file loads the data and prints.

use anyhow::{bail, Context, Result};
use rnnplay_data::{Dataset, Hub};
use rnnplay_engine::backend::backend_by_name;
use rnnplay_engine::bench::{
    best_gemm_gflops, has_concise_layers, measure_preset, BenchData, Clock, Layers, DEFAULT_PRESETS,
};
use rnnplay_engine::presets::seq2seq_preset;
use std::rc::Rc;
use std::time::Instant;

/// Which ways of running concise layers a benchmark measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LayerModes {
    Fused,
    Unfused,
    Both,
}

impl LayerModes {
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "fused" => Self::Fused,
            "unfused" => Self::Unfused,
            "both" => Self::Both,
            _ => bail!("unknown --layers '{name}'; use fused, unfused or both"),
        })
    }

    /// The fused flags to measure, fused first.
    fn runs(self) -> &'static [bool] {
        match self {
            Self::Fused => &[true],
            Self::Unfused => &[false],
            Self::Both => &[true, false],
        }
    }
}

/// How `rnnplay bench presets` measures.
pub struct Options {
    pub warmup: usize,
    pub batches: usize,
    pub layers: LayerModes,
    pub json: bool,
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

    let backend = pollster::block_on(backend_by_name(backend_name)).context("opening the backend")?;
    let info = backend.info();
    let origin = Instant::now();
    let now: Clock = Rc::new(move || origin.elapsed().as_secs_f64());
    let best_gemm =
        pollster::block_on(best_gemm_gflops(&backend, &now)).context("measuring the adapter's best GEMM")?;
    if !options.json {
        println!(
            "training throughput on {} ({}{}); best GEMM (512³, {}) {best_gemm:.2} GFLOP/s; {} warm-up + {} timed minibatches",
            info.adapter,
            info.api,
            if info.subgroups { ", subgroup kernels" } else { "" },
            info.matmul_variant.name(),
            options.warmup,
            options.batches
        );
        println!(
            "{:<16} {:>8} {:>11} {:>9} {:>8} {:>15} {:>12} {:>15} {:>9}",
            "preset",
            "layers",
            "tokens/s",
            "GFLOP/s",
            "of GEMM",
            "dispatches/step",
            "submits/step",
            "record ms/step",
            "peak MiB"
        );
    }
    for name in &names {
        let runs: &[bool] = if has_concise_layers(name) { options.layers.runs() } else { &[true] };
        let mut fused_tokens_per_s = None;
        for &fused in runs {
            let m =
                pollster::block_on(measure_preset(&backend, name, &data, fused, options.warmup, options.batches, &now))
                    .with_context(|| format!("measuring {name}"))?;
            // Reported on the unfused row when both ran: how much faster the fused layers are.
            let speedup = match (m.layers, fused_tokens_per_s) {
                (Layers::Unfused, Some(f)) => Some(f / m.tokens_per_s),
                _ => None,
            };
            if m.layers == Layers::Fused {
                fused_tokens_per_s = Some(m.tokens_per_s);
            }
            if options.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "bench": "preset", "preset": name, "layers": m.layers.name(),
                        "backend": format!("{:?}", info.kind).to_lowercase(),
                        "adapter": info.adapter, "tokens_per_s": m.tokens_per_s, "gflops": m.gflops,
                        "best_gemm_gflops": best_gemm, "ratio": m.gflops / best_gemm,
                        "dispatches_per_step": m.dispatches_per_step, "submits_per_step": m.submits_per_step,
                        "peak_buffer_mib": m.peak_mib, "batches": options.batches, "seconds": m.seconds,
                        "record_ms_per_step": m.record_ms_per_step,
                        "fused_speedup": speedup,
                    })
                );
            } else {
                println!(
                    "{name:<16} {:>8} {:>11.0} {:>9.2} {:>7.0}% {:>15.0} {:>12.2} {:>15.2} {:>9.1}",
                    m.layers.name(),
                    m.tokens_per_s,
                    m.gflops,
                    100.0 * m.gflops / best_gemm,
                    m.dispatches_per_step,
                    m.submits_per_step,
                    m.record_ms_per_step,
                    m.peak_mib
                );
                if let Some(speedup) = speedup {
                    println!("{:<16} fused layers are {speedup:.1}× the tokens/s of unfused ones", "");
                }
            }
        }
    }
    Ok(())
}
