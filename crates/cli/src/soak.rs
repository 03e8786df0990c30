//! `rnnplay bench soak`: trains one run for minutes and prints its memory every so often — the
//! resident set (Linux: /proc/self/statm) and the backend's live and pooled buffers — then says
//! whether each stayed flat after the warm-up (`rnnplay_run::soak`). Exits with an error when
//! one grew, so a script can fail on a leak.

use crate::run_args::RunArgs;
use crate::train::Loaded;
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_engine::backend::LocalFuture;
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::EngineOptions;
use rnnplay_run::clock::wall_clock;
use rnnplay_run::soak::{endless, growing, growth, soak, HostMemory, MemorySample, SoakHost, Span, MIN_SAMPLES};
use std::rc::Rc;

#[derive(Args, Debug)]
pub struct SoakArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub backend: crate::run_args::BackendArg,
    /// How long to train, in minutes (the run's --epochs is ignored: it trains until then).
    #[arg(long, allow_negative_numbers = true, default_value_t = 30.0)]
    pub minutes: f64,
    /// Seconds between memory samples.
    #[arg(long, allow_negative_numbers = true, default_value_t = 60.0)]
    pub every: f64,
    /// Print one JSON object per sample, then one with the verdict.
    #[arg(long)]
    pub json: bool,
}

/// The process's resident set in bytes, where the platform tells it.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|page| pages * page)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

pub fn run(args: &SoakArgs) -> Result<()> {
    if !(args.minutes.is_finite() && args.minutes > 0.0 && args.minutes <= 24.0 * 60.0) {
        bail!("--minutes must be more than 0 and at most a day (1440), got {}", args.minutes);
    }
    if !(args.every.is_finite() && args.every >= 0.1) {
        bail!("--every must be at least 0.1 seconds, got {}", args.every);
    }
    let samples_expected = (args.minutes * 60.0 / args.every) as usize + 1;
    if samples_expected < MIN_SAMPLES {
        bail!(
            "--minutes {} with --every {} gives {samples_expected} samples; a verdict needs {MIN_SAMPLES}: sample more often",
            args.minutes,
            args.every
        );
    }
    let spec = endless(args.run.spec()?);
    let loaded = Loaded::read(&spec)?;
    let options = EngineOptions::from_env()?;
    let backend = pollster::block_on(backend_by_name(&args.backend.name, &options)).context("opening the backend")?;
    let info = backend.info();
    let mut session = spec.build(&backend, loaded.data(), &options)?;
    if !args.json {
        println!("{}", spec.describe());
        println!(
            "soak: {} minutes on {:?} ({}), plan replay {}, a sample every {} s",
            args.minutes,
            info.kind,
            info.adapter,
            if options.plan_replay { "on" } else { "off" },
            args.every
        );
        println!(
            "{:>9} {:>11} {:>12} {:>13} {:>15} {:>16}",
            "minutes", "minibatches", "resident MiB", "live buffers", "live buffer MiB", "pooled buffer MiB"
        );
    }
    let clock = wall_clock();
    let host = || HostMemory { resident: resident_bytes(), js_heap: None };
    let json = args.json;
    let mut print = |s: &MemorySample| {
        if json {
            println!("{}", serde_json::json!({ "sample": s }));
        } else {
            println!(
                "{:>9.1} {:>11} {:>12} {:>13} {:>15.1} {:>16.1}",
                s.seconds / 60.0,
                s.minibatches,
                s.host.resident.map_or("?".into(), |r| format!("{:.1}", mib(r))),
                s.device.live_buffers,
                mib(s.device.live_bytes),
                mib(s.device.pooled_bytes)
            );
        }
    };
    let soak_host = SoakHost {
        clock: Rc::clone(&clock),
        memory: &host,
        yield_now: &|| -> LocalFuture<'static, ()> { Box::pin(std::future::ready(())) },
        on_sample: &mut print,
    };
    let until = Span::Seconds(args.minutes * 60.0);
    let samples = pollster::block_on(soak(&mut session, until, Span::Seconds(args.every), soak_host))?;
    let growths = growth(&samples)?;
    let last = samples.last().map_or(0, |s| s.minibatches);
    let tokens_per_s = session.tokens_trained() as f64 / clock();
    if json {
        println!("{}", serde_json::json!({ "minibatches": last, "tokens_per_s": tokens_per_s, "growth": growths }));
    } else {
        println!("{last} minibatches, {tokens_per_s:.0} tokens/s; after the warm-up:");
        for g in &growths {
            println!("  {}", g.describe());
        }
    }
    let grew = growing(&growths);
    if !grew.is_empty() {
        bail!("memory grew during the soak: {} (see the samples above)", grew.join(", "));
    }
    Ok(())
}
