//! The page's benchmark mode, `?bench=1`: which presets, how many warm-up and timed
//! minibatches, how the recurrent layers run and whether steps are replayed. Read from the URL;
//! plain Rust, tested natively.
//!
//! `?bench=1[&bench_presets=d2l-gru,d2l-lstm][&bench_warmup=2][&bench_batches=5][&bench_layers=window,steps,unfused|fused|all][&bench_replay=on|off|both]`
//!
//! `?bench=1&bench_soak=N&preset=…&hidden=…` is the soak instead: the run the other keys of the
//! address describe (as in the playground) trains N minibatches while its memory is sampled
//! (`rnnplay_run::soak`).
//!
//! Every key of the mode is `bench` or starts with `bench_`: the training settings ignore such
//! keys (`settings::from_query`).

use rnnplay_run::bench::{Layers, DEFAULT_PRESETS};
use rnnplay_run::presets::{preset, preset_names, seq2seq_preset};
use rnnplay_run::RunSpec;

/// The longest page soak, in minibatches.
pub const MAX_SOAK: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    pub presets: Vec<String>,
    pub warmup: usize,
    pub batches: usize,
    /// How the recurrent layers run, each measured in turn (`Layers::parse_list`).
    pub layers: Vec<Layers>,
    /// The plan-replay flags to measure, in order: on first when both.
    pub replay: Vec<bool>,
    /// A soak instead of the table: minibatches to train, and the run (the address's settings).
    pub soak: Option<(usize, RunSpec)>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            presets: DEFAULT_PRESETS.iter().map(|s| s.to_string()).collect(),
            // Two warm-up steps: plan replay starts once two recorded steps were the same.
            warmup: 2,
            batches: 5,
            layers: vec![Layers::Window, Layers::Steps],
            replay: vec![true],
            soak: None,
        }
    }
}

impl BenchOptions {
    /// `Ok(None)` when the query does not ask for the benchmark (no `bench` or `bench=0`); an
    /// error naming the key for a value that does not parse.
    pub fn from_query(query: &str) -> Result<Option<Self>, String> {
        let pairs: Vec<(&str, &str)> = query
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let wanted = pairs.iter().any(|(k, v)| *k == "bench" && !matches!(*v, "0" | "false"));
        if !wanted {
            return Ok(None);
        }
        let mut options = Self::default();
        for (key, value) in pairs {
            match key {
                "bench_presets" => {
                    options.presets = value.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
                    if options.presets.is_empty() {
                        return Err("bench_presets is empty; name at least one preset".into());
                    }
                    if let Some(bad) =
                        options.presets.iter().find(|p| preset(p).is_none() && seq2seq_preset(p).is_none())
                    {
                        return Err(format!("unknown preset '{bad}' in bench_presets; use one of {}", preset_names()));
                    }
                }
                "bench_warmup" => options.warmup = count(key, value, 0)?,
                "bench_batches" => options.batches = count(key, value, 1)?,
                "bench_layers" => {
                    options.layers = Layers::parse_list(value).map_err(|e| format!("bench_layers: {e}"))?
                }
                "bench_replay" => options.replay = one_or_both(key, value, ["on", "off"])?,
                "bench_soak" => {
                    let minibatches = match value.trim().parse::<usize>() {
                        Ok(n) if (40..=MAX_SOAK).contains(&n) => n,
                        _ => {
                            return Err(format!(
                                "bench_soak '{value}' must be a whole number of minibatches from 40 to {MAX_SOAK}"
                            ))
                        }
                    };
                    let spec = crate::settings::from_query(query)?;
                    if let Some(problem) = spec.validate().first() {
                        return Err(format!("the soak's run: {} (URL key '{}')", problem.message, problem.field));
                    }
                    options.soak = Some((minibatches, spec));
                }
                _ => {}
            }
        }
        Ok(Some(options))
    }
}

/// `[true]` for the first name, `[false]` for the second, both (first first) for `both`.
fn one_or_both(key: &str, value: &str, [first, second]: [&str; 2]) -> Result<Vec<bool>, String> {
    match value {
        v if v == first => Ok(vec![true]),
        v if v == second => Ok(vec![false]),
        "both" => Ok(vec![true, false]),
        _ => Err(format!("{key} '{value}' is not {first}, {second} or both")),
    }
}

/// A whole number of at least `min`, at most 1000.
fn count(key: &str, value: &str, min: usize) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=1000).contains(&n) => Ok(n),
        _ => Err(format!("{key} '{value}' must be a whole number from {min} to 1000")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_is_off_unless_asked_for() {
        assert_eq!(BenchOptions::from_query("?preset=d2l-gru").unwrap(), None);
        assert_eq!(BenchOptions::from_query("?bench=0").unwrap(), None);
        assert_eq!(BenchOptions::from_query("?bench=1").unwrap(), Some(BenchOptions::default()));
    }

    #[test]
    fn options_come_from_the_url() {
        let options = BenchOptions::from_query(
            "?bench=1&bench_presets=d2l-gru,d2l-seq2seq&bench_warmup=0&bench_batches=2&bench_layers=unfused&bench_replay=both",
        )
        .unwrap()
        .unwrap();
        assert_eq!(options.presets, ["d2l-gru", "d2l-seq2seq"]);
        assert_eq!((options.warmup, options.batches, options.layers.as_slice()), (0, 2, &[Layers::Unfused][..]));
        assert_eq!(options.replay, [true, false]);
        let layers = |q: &str| BenchOptions::from_query(q).unwrap().unwrap().layers;
        assert_eq!(layers("?bench=1&bench_layers=unfused,window"), [Layers::Window, Layers::Unfused]);
        assert_eq!(layers("?bench=1&bench_layers=all"), Layers::ASKED);
        assert_eq!(layers("?bench=1&bench_layers=fused"), [Layers::Window, Layers::Steps]);
    }

    #[test]
    fn bad_options_name_the_key() {
        let err = |q: &str| BenchOptions::from_query(q).unwrap_err();
        assert!(err("?bench=1&bench_presets=d2l-transformer").contains("d2l-transformer"));
        assert!(err("?bench=1&bench_batches=0").contains("bench_batches"));
        assert!(err("?bench=1&bench_warmup=lots").contains("bench_warmup"));
        assert!(err("?bench=1&bench_layers=half").contains("bench_layers"));
        assert!(err("?bench=1&bench_replay=maybe").contains("bench_replay"));
        assert!(err("?bench=1&bench_presets=").contains("at least one"));
        assert!(err("?bench=1&bench_soak=10").contains("bench_soak"));
        assert!(err("?bench=1&bench_soak=500&hidden=0").contains("hidden"));
    }

    #[test]
    fn a_soak_trains_the_run_the_address_describes() {
        let options = BenchOptions::from_query("?bench=1&bench_soak=500&preset=d2l-gru&hidden=16").unwrap().unwrap();
        let (minibatches, spec) = options.soak.unwrap();
        assert_eq!((minibatches, spec.model.as_str(), spec.hidden), (500, "gru", 16));
    }
}
