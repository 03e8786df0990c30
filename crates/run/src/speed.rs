//! Choosing a backend by measurement: which of the backends at hand trains *this* run's model
//! faster. The answer is not "the GPU whenever there is one": a software adapter (SwiftShader,
//! lavapipe) is several times slower than the CPU backend, and on a real GPU a tiny model may
//! still train faster on the CPU (docs/PERFORMANCE.md). So a host times a few minibatches of a
//! throwaway copy of the run on each backend and trains on the fastest; the page remembers the
//! answer per adapter and [`RunSpec::speed_key`], the CLI's `--backend auto` measures each time.

use super::{RunData, RunSpec};
use crate::clock::Clock;
use rnnplay_engine::backend::Backend;
use rnnplay_engine::error::Result;
use rnnplay_engine::options::{backend_by_name, cpu_backend, gpu_if_any};
use rnnplay_engine::EngineOptions;
use std::rc::Rc;

/// Minibatches trained before timing: the first records the step and compiles the GPU's
/// pipelines, the second records it again and switches plan replay on.
pub const WARMUP_STEPS: usize = 2;
/// At most this many minibatches are timed, and no more once `MIN_SECONDS` have passed.
pub const MAX_TIMED_STEPS: usize = 4;
pub const MIN_SECONDS: f64 = 0.25;

/// One backend's measured speed on a run's model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackendSpeed {
    /// The host's name for it (`gpu`, `cpu`, `webgpu`, …).
    pub backend: String,
    pub tokens_per_s: f64,
    /// Minibatches timed.
    pub steps: usize,
}

impl RunSpec {
    /// What decides a backend's speed on this run: the model and its sizes, not the data or
    /// the optimizer. Two runs with the same key train equally fast on a given backend.
    pub fn speed_key(&self) -> String {
        format!(
            "{} {}x{} emb {} batch {}x{} {}",
            self.model, self.layers, self.hidden, self.embedding, self.batch_size, self.num_steps, self.tokens
        )
    }
}

/// Times throwaway copies of `spec`'s run (built with `options`) on each of `backends`
/// (`(name, backend)`), one after another: [`WARMUP_STEPS`] minibatches, then up to
/// [`MAX_TIMED_STEPS`] timed ones (fewer once [`MIN_SECONDS`] have passed, at least one). The
/// run the host then builds is unaffected.
pub async fn time_backends(
    spec: &RunSpec,
    data: RunData<'_>,
    backends: &[(&str, Rc<dyn Backend>)],
    options: &EngineOptions,
    now: &Clock,
) -> Result<Vec<BackendSpeed>> {
    let mut speeds = Vec::new();
    for (name, backend) in backends {
        let mut session = spec.build(backend, data, options)?;
        for _ in 0..WARMUP_STEPS {
            if session.finished() {
                break;
            }
            session.step().await?;
        }
        session.sync().await?;
        let (started, tokens_before) = (now(), session.tokens_trained());
        let mut steps = 0;
        while steps < MAX_TIMED_STEPS && !session.finished() && (steps == 0 || now() - started < MIN_SECONDS) {
            session.step().await?;
            session.sync().await?;
            steps += 1;
        }
        let seconds = (now() - started).max(1e-9);
        let tokens = session.tokens_trained() - tokens_before;
        speeds.push(BackendSpeed { backend: name.to_string(), tokens_per_s: tokens as f64 / seconds, steps });
    }
    Ok(speeds)
}

/// The index of the fastest of `speeds` (the first on a tie; 0 when empty).
pub fn fastest(speeds: &[BackendSpeed]) -> usize {
    speeds.iter().enumerate().fold(0, |best, (i, s)| if s.tokens_per_s > speeds[best].tokens_per_s { i } else { best })
}

/// "gpu 4 289 tokens/s, cpu 45 012 tokens/s": what a host shows beside its choice.
pub fn describe(speeds: &[BackendSpeed]) -> String {
    speeds
        .iter()
        .map(|s| format!("{} {} tokens/s", s.backend, group_thousands(s.tokens_per_s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// 45012.3 → "45 012".
fn group_thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The backend a run trains on, for a host that knows the run: `gpu` and `cpu` as named; `auto`
/// (or "") opens the GPU and, when there is one, times a few minibatches of a throwaway copy of
/// the run on it and on the CPU backend ([`time_backends`]) and takes the faster — a software
/// adapter, or a tiny model on a real GPU, trains faster on the CPU. Returns the measurements
/// too (empty unless both were timed), for the host to show.
pub async fn backend_for_run(
    name: &str,
    options: &EngineOptions,
    spec: &RunSpec,
    data: RunData<'_>,
    now: &Clock,
) -> Result<(Rc<dyn Backend>, Vec<BackendSpeed>)> {
    if !matches!(name, "" | "auto") {
        return Ok((backend_by_name(name, options).await?, Vec::new()));
    }
    let Some(gpu) = gpu_if_any(options).await? else { return Ok((cpu_backend(options), Vec::new())) };
    let cpu = cpu_backend(options);
    let speeds = time_backends(spec, data, &[("gpu", Rc::clone(&gpu)), ("cpu", Rc::clone(&cpu))], options, now).await?;
    let backend = if fastest(&speeds) == 0 { gpu } else { cpu };
    Ok((backend, speeds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speed(backend: &str, tokens_per_s: f64) -> BackendSpeed {
        BackendSpeed { backend: backend.into(), tokens_per_s, steps: 2 }
    }

    #[test]
    fn the_fastest_is_picked_and_both_are_described() {
        let speeds = [speed("webgpu", 1_197.4), speed("cpu", 17_378.0)];
        assert_eq!(fastest(&speeds), 1);
        assert_eq!(fastest(&speeds[..1]), 0);
        assert_eq!(fastest(&[]), 0);
        assert_eq!(describe(&speeds), "webgpu 1 197 tokens/s, cpu 17 378 tokens/s");
        assert_eq!(group_thousands(1_234_567.0), "1 234 567");
        assert_eq!(group_thousands(999.0), "999");
    }

    #[test]
    fn the_speed_key_names_the_model_sizes_and_nothing_else() {
        let spec = RunSpec::preset("d2l-gru").unwrap();
        let mut other = spec.clone();
        (other.lr, other.epochs, other.seed) = (0.5, 3, 9);
        assert_eq!(spec.speed_key(), other.speed_key());
        other.hidden = 64;
        assert_ne!(spec.speed_key(), other.speed_key());
        assert_eq!(spec.speed_key(), "gru 1x256 emb 0 batch 32x35 char");
    }
}
