//! Soak runs: one long training run whose memory is sampled as it goes — the backend's live and
//! pooled buffers, and what the host can see of its own memory — and judged flat or growing.
//! `rnnplay bench soak` runs it natively for minutes (the resident set from /proc), the page's
//! `?bench=1&bench_soak=N` for N minibatches (wasm memory and Chromium's JS heap); the browser
//! test runs a short one. A leak of a buffer, a bind group or a few bytes per step shows as a
//! series that keeps rising after the warm-up, which fills the pools and captures the plans.

use crate::clock::Clock;
use crate::{RunSpec, Session};
use rnnplay_engine::backend::{LocalFuture, MemoryUse};
use rnnplay_engine::error::{EngineError, Result};
use serde::{Deserialize, Serialize};

/// What the host can tell of its own memory, in bytes: natively the resident set; in the
/// browser the wasm linear memory (`resident`) and, in Chromium, the JS heap in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMemory {
    pub resident: Option<u64>,
    pub js_heap: Option<u64>,
}

/// One sample, taken between two minibatches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemorySample {
    pub minibatches: u64,
    pub seconds: f64,
    pub device: MemoryUse,
    pub host: HostMemory,
}

/// When a soak stops, or how often it samples: after a number of minibatches, or of seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    Minibatches(u64),
    Seconds(f64),
}

impl Span {
    fn reached(self, minibatches: u64, seconds: f64) -> bool {
        match self {
            Self::Minibatches(n) => minibatches >= n,
            Self::Seconds(s) => seconds >= s,
        }
    }
}

/// `spec` made to train until a soak stops it rather than for its own epochs.
pub fn endless(mut spec: RunSpec) -> RunSpec {
    spec.epochs = 1_000_000;
    spec
}

/// What a soak needs from its host: a clock, its own memory, a way to yield after each
/// minibatch (the page lets the browser run; natively nothing), and where each sample goes as
/// it is taken (a progress line, the page's table).
pub struct SoakHost<'a> {
    pub clock: Clock,
    pub memory: &'a dyn Fn() -> HostMemory,
    pub yield_now: &'a dyn Fn() -> LocalFuture<'static, ()>,
    pub on_sample: &'a mut dyn FnMut(&MemorySample),
}

/// Trains `session` until `until`, sampling memory every `every` (and once at the start).
/// Stops early, without error, if the run reaches its last epoch: give it epochs enough.
pub async fn soak(session: &mut Session, until: Span, every: Span, host: SoakHost<'_>) -> Result<Vec<MemorySample>> {
    let SoakHost { clock, memory, yield_now, on_sample } = host;
    let backend = session
        .params()
        .first()
        .map(|p| std::rc::Rc::clone(p.value().backend()))
        .ok_or_else(|| EngineError::InvalidArgument("the run has no parameters to train".into()))?;
    let start = clock();
    let mut samples = Vec::new();
    let mut take = |minibatches: u64, samples: &mut Vec<MemorySample>| {
        let sample = MemorySample { minibatches, seconds: clock() - start, device: backend.memory(), host: memory() };
        on_sample(&sample);
        samples.push(sample);
    };
    take(0, &mut samples);
    let (mut minibatches, mut since) = (0u64, (0u64, 0.0f64));
    while !session.finished() {
        session.step().await?;
        minibatches += 1;
        yield_now().await;
        let seconds = clock() - start;
        if every.reached(minibatches - since.0, seconds - since.1) || until.reached(minibatches, seconds) {
            take(minibatches, &mut samples);
            since = (minibatches, seconds);
        }
        if until.reached(minibatches, seconds) {
            break;
        }
    }
    Ok(samples)
}

/// How one quantity moved after the warm-up: `start` is its highest value in the first third
/// of the samples that follow the warm-up (the first quarter of all), `end` its lowest in the
/// last third (lowest, so that garbage not yet collected does not count). Flat when `end` is at
/// most `start + tolerance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Growth {
    pub name: String,
    /// "buffers" or "bytes".
    pub unit: String,
    pub start: u64,
    pub end: u64,
    pub tolerance: u64,
}

impl Growth {
    pub fn flat(&self) -> bool {
        self.end <= self.start.saturating_add(self.tolerance)
    }

    /// "live buffers 41 → 41 (flat, tolerance 16)".
    pub fn describe(&self) -> String {
        let show = |v: u64| match self.unit.as_str() {
            "bytes" => format!("{:.1} MiB", v as f64 / (1 << 20) as f64),
            _ => v.to_string(),
        };
        let verdict = if self.flat() { "flat" } else { "GROWING" };
        format!(
            "{} {} → {} ({verdict}, tolerance {})",
            self.name,
            show(self.start),
            show(self.end),
            show(self.tolerance)
        )
    }
}

/// The names of the quantities that grew (empty: the soak found no leak).
pub fn growing(growths: &[Growth]) -> Vec<&str> {
    growths.iter().filter(|g| !g.flat()).map(|g| g.name.as_str()).collect()
}

/// A sampled quantity: name, unit, how to read it, and its tolerance (bytes or buffers, and a
/// fraction of its value after the warm-up, whichever is larger).
type Series = (&'static str, &'static str, fn(&MemorySample) -> Option<u64>, u64, f64);

/// Fewest samples a verdict needs: a warm-up, then a first and a last third.
pub const MIN_SAMPLES: usize = 7;

/// Each sampled quantity's [`Growth`]: the backend's live buffers (16 buffers of slack), live
/// and pooled bytes (1 MiB or 5 %), and the host's resident memory (16 MiB or 10 %) and JS heap
/// (8 MiB or 25 %: the collector runs when it likes) where the host measured them.
pub fn growth(samples: &[MemorySample]) -> Result<Vec<Growth>> {
    if samples.len() < MIN_SAMPLES {
        return Err(EngineError::InvalidArgument(format!(
            "{} memory samples are too few to judge growth (at least {MIN_SAMPLES}); soak longer",
            samples.len()
        )));
    }
    let judged = &samples[samples.len() / 4..];
    let third = judged.len().div_ceil(3);
    let series: [Series; 5] = [
        ("live buffers", "buffers", |s| Some(s.device.live_buffers), 16, 0.0),
        ("live buffer memory", "bytes", |s| Some(s.device.live_bytes), 1 << 20, 0.05),
        ("pooled buffer memory", "bytes", |s| Some(s.device.pooled_bytes), 1 << 20, 0.05),
        ("host memory", "bytes", |s| s.host.resident, 16 << 20, 0.10),
        ("JS heap", "bytes", |s| s.host.js_heap, 8 << 20, 0.25),
    ];
    let mut growths = Vec::new();
    for (name, unit, value, slack, fraction) in series {
        let values: Option<Vec<u64>> = judged.iter().map(value).collect();
        let Some(values) = values else { continue };
        let start = values[..third].iter().copied().max().unwrap_or(0);
        let end = values[values.len() - third..].iter().copied().min().unwrap_or(0);
        let tolerance = slack.max((start as f64 * fraction) as u64);
        growths.push(Growth { name: name.into(), unit: unit.into(), start, end, tolerance });
    }
    Ok(growths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(minibatches: u64, live_buffers: u64, resident: u64) -> MemorySample {
        MemorySample {
            minibatches,
            seconds: minibatches as f64,
            device: MemoryUse { live_buffers, live_bytes: live_buffers * 1024, pooled_buffers: 4, pooled_bytes: 4096 },
            host: HostMemory { resident: Some(resident), js_heap: None },
        }
    }

    #[test]
    fn a_steady_run_is_flat_and_a_leak_is_growing() {
        let steady: Vec<_> = (0..20).map(|i| sample(i, if i < 3 { 10 + i } else { 40 }, 100 << 20)).collect();
        let growths = growth(&steady).unwrap();
        assert_eq!(growths.len(), 4, "no JS heap measured: four series");
        assert!(growths.iter().all(Growth::flat), "{growths:?}");

        let leaking: Vec<_> = (0..20).map(|i| sample(i, 40 + 3 * i, (100 << 20) + i * (4 << 20))).collect();
        let growths = growth(&leaking).unwrap();
        assert_eq!(growing(&growths), ["live buffers", "host memory"], "{growths:?}");
        assert!(growths[0].describe().contains("GROWING"), "{}", growths[0].describe());
    }

    #[test]
    fn a_noisy_but_bounded_heap_is_flat() {
        let noisy: Vec<_> = (0..30)
            .map(|i| {
                let mut s = sample(i, 40, 100 << 20);
                s.host.js_heap = Some((20 << 20) + (i % 5) * (3 << 20));
                s
            })
            .collect();
        assert!(growth(&noisy).unwrap().iter().all(Growth::flat));
        assert!(growth(&noisy[..5]).unwrap_err().to_string().contains("too few"));
    }
}
