//! Lessons: one per idea of d2l's recurrent chapters. A lesson is an experiment: a few
//! sentences on what to watch, the runs that show it — where the idea is a contrast, a second
//! (or third) run that changes one thing — and a claim, the outcome the runs must show, as
//! conditions on numbers the runs record (`claim.rs`). A run is a list of `RunSpec` settings
//! (a preset and what differs from it), so a lesson means the same runs in the page
//! (`?lesson=NAME`, which says after the runs whether the claim held) and on the command line
//! (`rnnplay lessons` prints the commands, `rnnplay lessons --check` runs them and checks the
//! claim).

mod catalogue;
pub mod claim;

pub use catalogue::LESSONS;
use claim::Claim;

use crate::{FieldError, RunSpec};

/// One run of a lesson: a label and what it changes from the lesson's shared settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LessonRun {
    pub label: &'static str,
    pub settings: &'static [(&'static str, &'static str)],
}

/// A lesson.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesson {
    /// The URL name (`?lesson=NAME`).
    pub name: &'static str,
    pub title: &'static str,
    /// The d2l section it follows.
    pub section: &'static str,
    /// What the runs are and what to watch, in 3 to 6 sentences; the outcome it promises is
    /// the claim's.
    pub text: &'static str,
    /// The settings every run has (`RunSpec` keys and values; the preset named here or by each
    /// run), so that a run's own settings are what the contrast changes.
    pub shared: &'static [(&'static str, &'static str)],
    pub runs: &'static [LessonRun],
    pub claim: Claim,
}

impl Lesson {
    /// Run `index`'s `RunSpec`: its preset, then the shared settings, then its own.
    pub fn spec(&self, index: usize) -> Result<RunSpec, FieldError> {
        RunSpec::from_pairs(self.settings(index))
    }

    /// Run `index`'s `RunSpec` with another seed (the claim holds for every seed, not a lucky
    /// one).
    pub fn spec_with_seed(&self, index: usize, seed: u64) -> Result<RunSpec, FieldError> {
        let mut spec = self.spec(index)?;
        spec.seed = seed;
        Ok(spec)
    }

    /// Run `index`'s command line: `rnnplay train --preset P --key value …`.
    pub fn command(&self, index: usize) -> String {
        let preset = self.settings(index).find(|(k, _)| *k == "preset").map_or("d2l-gru", |(_, v)| v);
        let flags: Vec<String> = std::iter::once(("preset", preset))
            .chain(self.settings(index).filter(|(k, _)| *k != "preset"))
            .map(|(k, v)| format!("--{} {v}", k.replace('_', "-")))
            .collect();
        format!("rnnplay train {}", flags.join(" "))
    }

    /// The runs' labels, in order (the claim's verdict names runs by them).
    pub fn labels(&self) -> Vec<&'static str> {
        self.runs.iter().map(|r| r.label).collect()
    }

    /// Run `index`'s settings: the shared ones, then its own (none for an index past the runs).
    fn settings(&self, index: usize) -> impl Iterator<Item = (&'static str, &'static str)> + Clone {
        let own = self.runs.get(index).map_or(&[][..], |r| r.settings);
        self.shared.iter().chain(own).copied()
    }
}

/// The lesson named `name`.
pub fn lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}

#[cfg(test)]
mod tests {
    use super::claim::Stat;
    use super::*;
    use crate::spec::DataSource;

    #[test]
    fn every_lesson_runs_valid_specs_and_claims_what_its_runs_record() {
        assert!(LESSONS.len() >= 9);
        for each in LESSONS {
            let sentences = each.text.matches(". ").count() + 1;
            assert!((3..=6).contains(&sentences), "{}: {sentences} sentences", each.name);
            assert!(!each.runs.is_empty());
            for (index, run) in each.runs.iter().enumerate() {
                let spec = each.spec(index).unwrap_or_else(|e| panic!("{} / {}: {}", each.name, run.label, e.message));
                assert!(spec.validate().is_empty(), "{} / {}: {:?}", each.name, run.label, spec.validate());
                assert!(each.command(index).starts_with("rnnplay train --preset "));
                // The preset is named once: by the shared settings or by each run.
                let presets = each.settings(index).filter(|(k, _)| *k == "preset").count();
                assert_eq!(presets, 1, "{} / {}: {presets} presets", each.name, run.label);
            }
            // A contrast changes something: no two runs of a lesson are the same run.
            let specs: Vec<RunSpec> = (0..each.runs.len()).map(|i| each.spec(i).unwrap()).collect();
            for (i, a) in specs.iter().enumerate() {
                assert!(specs[i + 1..].iter().all(|b| b != a), "{}: two runs are the same", each.name);
            }
            assert_eq!(lesson(each.name).map(|l| l.title), Some(each.title));
            // The claim reads runs the lesson has, and numbers those runs record.
            assert!(!each.claim.conditions.is_empty() && !each.claim.says.is_empty(), "{}", each.name);
            for q in each.claim.runs() {
                let spec = specs.get(q.run).unwrap_or_else(|| panic!("{}: no run {}", each.name, q.run));
                if q.stat.needs_validation() {
                    assert!(spec.valid_fraction > 0.0, "{}: run {} holds nothing out", each.name, q.run);
                }
                if matches!(q.stat, Stat::Bleu | Stat::Score) {
                    let scored = spec.is_seq2seq() && matches!(spec.source(), DataSource::Toy(..) | DataSource::FraEng);
                    assert!(scored, "{}: a held-out BLEU or score needs held-out pairs", each.name);
                }
                if q.stat == Stat::Accuracy {
                    let scored = matches!(spec.source(), DataSource::Toy(..) | DataSource::Recall(_));
                    assert!(scored, "{}: a held-out accuracy needs a toy task or the recall task", each.name);
                }
                if let Stat::PositionAccuracy(n) = q.stat {
                    // Every held-out target reaches position n (sources of n letters or more).
                    let long_enough = matches!(spec.source(), DataSource::Toy(_, (min, _)) if min >= n && n >= 1);
                    assert!(long_enough, "{}: not every held-out target has an output position {n}", each.name);
                }
            }
        }
        assert_eq!(
            lesson("clipping").unwrap().command(1),
            "rnnplay train --preset d2l-rnn-scratch --hidden 128 --max-tokens 10000 --epochs 30 --lr 4 --clip 1000000"
        );
    }
}
