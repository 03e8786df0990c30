//! `rnnplay lessons --check [NAME] [--seeds 0,1,2]`: trains a lesson's runs exactly as the page
//! sets them up (the same `RunSpec`s, the seed replaced), then measures the lesson's claim on
//! what they recorded and prints the numbers and the verdict per seed — a lesson is an
//! experiment, and this is its test.

use crate::train::Loaded;
use anyhow::{bail, Context, Result};
use rnnplay_engine::backend::Backend;
use rnnplay_engine::error::EngineError;
use rnnplay_engine::options::{backend_by_name, EngineOptions};
use rnnplay_run::lessons::claim::{RunOutcome, Verdict};
use rnnplay_run::lessons::Lesson;
use std::io::Write;
use std::rc::Rc;
use std::time::Instant;

/// What one run of a lesson did: what the claim reads, and how long it took.
struct RunFigures {
    label: &'static str,
    seconds: f64,
    outcome: RunOutcome,
}

impl RunFigures {
    fn json(&self) -> serde_json::Value {
        let o = &self.outcome;
        serde_json::json!({
            "label": self.label, "epochs": o.values.len(), "diverged": o.diverged, "seconds": self.seconds,
            "last_value": o.values.last(), "accuracy": o.accuracy,
        })
    }
}

/// Checks each lesson's claim on each seed; fails naming the lessons and seeds where it did
/// not hold.
pub fn check(lessons: &[&'static Lesson], seeds: &[u64], backend_name: &str, json: bool) -> Result<()> {
    let options = EngineOptions::from_env()?;
    let backend = pollster::block_on(backend_by_name(backend_name, &options)).context("opening the backend")?;
    let (mut failed, mut reasons) = (Vec::new(), Vec::new());
    for lesson in lessons {
        if !json {
            println!("{} — {}", lesson.name, lesson.title);
            println!("  claim: {}", lesson.claim.says);
        }
        let (mut per_seed, mut failed_seeds) = (Vec::new(), Vec::new());
        for &seed in seeds {
            let figures = train_runs(lesson, seed, &backend, &options)?;
            let outcomes: Vec<RunOutcome> = figures.iter().map(|f| f.outcome.clone()).collect();
            let verdict = lesson
                .claim
                .verdict(&lesson.labels(), &outcomes)
                .context(format!("{}: a run recorded none of the numbers its claim reads", lesson.name))?;
            if !verdict.holds {
                failed_seeds.push(seed);
            }
            if json {
                let runs: Vec<_> = figures.iter().map(RunFigures::json).collect();
                per_seed.push(serde_json::json!({ "seed": seed, "verdict": verdict, "runs": runs }));
            } else {
                print_seed(seed, &verdict, &figures);
            }
        }
        if !failed_seeds.is_empty() {
            failed.extend(failed_seeds.iter().map(|seed| format!("{} (seed {seed})", lesson.name)));
            reasons.push(format!("{}: {}", lesson.name, lesson.claim.if_not));
        }
        if json {
            let holds = failed_seeds.is_empty();
            let line = serde_json::json!({
                "name": lesson.name, "claim": lesson.claim.says, "holds": holds, "seeds": per_seed,
            });
            println!("{line}");
        } else {
            println!();
        }
        std::io::stdout().flush().ok();
    }
    if !failed.is_empty() {
        bail!("the claim did not hold for {} (likely: {})", failed.join(", "), reasons.join("; "));
    }
    Ok(())
}

/// Trains every run of `lesson` with `seed`, to its last epoch or until it diverges.
fn train_runs(
    lesson: &Lesson,
    seed: u64,
    backend: &Rc<dyn Backend>,
    options: &EngineOptions,
) -> Result<Vec<RunFigures>> {
    let mut figures = Vec::new();
    for (index, run) in lesson.runs.iter().enumerate() {
        let spec = lesson
            .spec_with_seed(index, seed)
            .map_err(|e| anyhow::anyhow!("{} / {}: {}", lesson.name, run.label, e.message))?;
        let loaded = Loaded::read(&spec)?;
        let mut session = spec.build(backend, loaded.data(), options)?;
        let started = Instant::now();
        let (mut reports, mut diverged) = (Vec::new(), false);
        while !session.finished() {
            match pollster::block_on(session.step()) {
                Ok(None) => {}
                Ok(Some(report)) => reports.push(report),
                Err(EngineError::Diverged { .. }) => {
                    diverged = true;
                    break;
                }
                Err(err) => return Err(err).context(format!("{} / {} (seed {seed})", lesson.name, run.label)),
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        figures.push(RunFigures { label: run.label, seconds, outcome: RunOutcome::of_reports(&reports, diverged) });
    }
    Ok(figures)
}

fn print_seed(seed: u64, verdict: &Verdict, figures: &[RunFigures]) {
    let mark = |holds: bool| if holds { "✓" } else { "✗" };
    let runs: Vec<String> = figures
        .iter()
        .map(|f| {
            let epochs = f.outcome.values.len();
            let end =
                if f.outcome.diverged { format!("diverged after epoch {epochs}") } else { format!("{epochs} epochs") };
            format!("{} {end} in {:.1} s", f.label, f.seconds)
        })
        .collect();
    println!("  seed {seed}: {} ({})", if verdict.holds { "holds" } else { "not this time" }, runs.join("; "));
    for c in &verdict.conditions {
        println!("    {} {}", mark(c.holds), c.text);
    }
}
