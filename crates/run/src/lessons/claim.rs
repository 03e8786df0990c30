//! A lesson's claim: what its runs will show, as data — conditions over numbers each run
//! records (its per-epoch training values, validation perplexities, whether it diverged,
//! held-out accuracy, how far back its gradient reaches) — so that the page and
//! `rnnplay lessons --check` say, after the runs, whether it held and with which numbers.

use crate::task::EpochReport;
use rnnplay_engine::inspect::reach_shares;
use serde::Serialize;

/// What a claim reads from one run: its epochs' training values (perplexity, or an
/// encoder–decoder's per-token cross-entropy), its validation perplexities, whether it
/// diverged, its held-out accuracy and its gradient's reach after its last epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub values: Vec<f32>,
    pub valid: Vec<f32>,
    /// The run stopped because its loss diverged (its recorded epochs are those before).
    pub diverged: bool,
    pub accuracy: Option<f32>,
    /// An encoder–decoder's held-out accuracy at each output position after its last epoch
    /// (`EpochReport::accuracy_by_position`).
    pub accuracy_by_position: Vec<f32>,
    /// An encoder–decoder's held-out exact match by source length after its last epoch
    /// (`EpochReport::exact_by_length`).
    pub exact_by_length: Vec<(usize, f32)>,
    /// An encoder–decoder's held-out mean BLEU and mean score (1/L^α)·log P after its last
    /// epoch (`EpochReport::bleu`, `EpochReport::score`).
    pub bleu: Option<f32>,
    pub score: Option<f32>,
    /// A language model's gradient reach after its last epoch (`EpochReport::reach`).
    pub reach: Vec<f32>,
    /// What its training value is: "perplexity" (language models) or "cross-entropy"
    /// (encoder–decoders' per-token cross-entropy).
    pub value_name: &'static str,
}

impl Default for RunOutcome {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            valid: Vec::new(),
            diverged: false,
            accuracy: None,
            accuracy_by_position: Vec::new(),
            exact_by_length: Vec::new(),
            bleu: None,
            score: None,
            reach: Vec::new(),
            value_name: "perplexity",
        }
    }
}

impl RunOutcome {
    /// The outcome of a run's epochs' reports (`diverged`: it stopped after them because its
    /// loss diverged).
    pub fn of_reports(reports: &[EpochReport], diverged: bool) -> Self {
        Self {
            value_name: value_name(reports.iter().any(|r| r.d2l_loss.is_some())),
            values: reports.iter().map(|r| r.value).collect(),
            valid: reports.iter().filter_map(|r| r.valid_perplexity).collect(),
            diverged,
            accuracy: reports.last().and_then(|r| r.accuracy),
            accuracy_by_position: reports.last().map(|r| r.accuracy_by_position.clone()).unwrap_or_default(),
            exact_by_length: reports.last().map(|r| r.exact_by_length.clone()).unwrap_or_default(),
            bleu: reports.last().and_then(|r| r.bleu),
            score: reports.last().and_then(|r| r.score),
            reach: reports.last().map(|r| r.reach.clone()).unwrap_or_default(),
        }
    }
}

/// What a run's training value is called: an encoder–decoder's per-token "cross-entropy", a
/// language model's "perplexity".
pub fn value_name(seq2seq: bool) -> &'static str {
    if seq2seq {
        "cross-entropy"
    } else {
        "perplexity"
    }
}

/// A number read from one run's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// The first epoch's training value.
    First,
    /// The last epoch's training value.
    Final,
    /// The highest training value of any epoch after the first — infinite when the run
    /// diverged, since its loss left every bound.
    Peak,
    /// The last epoch's validation perplexity.
    FinalValid,
    /// The lowest validation perplexity of any epoch.
    BestValid,
    /// The share of held-out examples answered exactly after the last epoch: the recall
    /// task's records whose key the model recalls, an encoder–decoder's held-out pairs (toy tasks, fra-eng) translated exactly.
    Accuracy,
    /// An encoder–decoder's free-running held-out accuracy at output position n (counting from 1)
    /// after the last epoch: the share of held-out targets at least n long whose n-th token
    /// the greedy translation got right.
    PositionAccuracy(usize),
    /// An encoder–decoder's held-out exact match of the sources of length n and longer after the last
    /// epoch, weighting each length alike (the mean of `EpochReport::exact_by_length` from n).
    ExactFromLength(usize),
    /// An encoder–decoder's mean BLEU (k = 2) of its held-out translations after the last epoch.
    Bleu,
    /// An encoder–decoder's mean score (1/L^α)·log P (d2l 10.8, α = 0.75) of its held-out
    /// translations after the last epoch: how probable the model finds what it wrote.
    Score,
    /// How much of the last prediction's gradient is left k steps back after the last epoch:
    /// the batch mean of ‖∂ℓ_T/∂h_{T−k}‖ over the batch mean of ‖∂ℓ_T/∂h_T‖, from the
    /// gradient's reach (`EpochReport::reach`, `rnnplay_engine::inspect::reach_shares`).
    GradientBack(usize),
}

impl Stat {
    /// What it is called in a verdict, for a run whose training value is `value_name`.
    pub fn name(self, value_name: &str) -> String {
        match self {
            Stat::First => format!("first epoch's {value_name}"),
            Stat::Final => format!("final {value_name}"),
            Stat::Peak => format!("highest {value_name} after epoch 1"),
            Stat::FinalValid => "final validation perplexity".into(),
            Stat::BestValid => "best validation perplexity".into(),
            Stat::Accuracy => "held-out accuracy".into(),
            Stat::PositionAccuracy(n) => format!("accuracy at output position {n}"),
            Stat::ExactFromLength(n) => format!("exact match of sources {n} or more long"),
            Stat::Bleu => "held-out BLEU".into(),
            Stat::Score => "held-out mean score (1/L^0.75)·log P".into(),
            Stat::GradientBack(k) => format!("gradient {k} steps back ÷ at the last step"),
        }
    }

    /// The number in `outcome`, or `None` when the run recorded none (no epoch, no held-out
    /// split, not a toy task).
    pub fn read(self, outcome: &RunOutcome) -> Option<f32> {
        let best = |xs: &[f32]| xs.iter().copied().reduce(f32::min);
        match self {
            Stat::First => outcome.values.first().copied(),
            Stat::Final if outcome.diverged => Some(f32::INFINITY),
            Stat::Final => outcome.values.last().copied(),
            Stat::Peak if outcome.diverged => Some(f32::INFINITY),
            Stat::Peak => outcome.values.iter().skip(1).copied().reduce(f32::max),
            Stat::FinalValid => outcome.valid.last().copied(),
            Stat::BestValid => best(&outcome.valid),
            Stat::Accuracy => outcome.accuracy,
            Stat::PositionAccuracy(n) => outcome.accuracy_by_position.get(n.checked_sub(1)?).copied(),
            Stat::ExactFromLength(n) => {
                let shares: Vec<f32> =
                    outcome.exact_by_length.iter().filter(|(l, _)| *l >= n).map(|(_, s)| *s).collect();
                (!shares.is_empty()).then(|| shares.iter().sum::<f32>() / shares.len() as f32)
            }
            Stat::Bleu => outcome.bleu,
            Stat::Score => outcome.score,
            Stat::GradientBack(k) => reach_shares(&outcome.reach).get(k).copied(),
        }
    }

    /// Whether a run needs a validation split (`valid_fraction` > 0) to record it.
    pub fn needs_validation(self) -> bool {
        matches!(self, Stat::FinalValid | Stat::BestValid)
    }
}

/// A stat of one of the lesson's runs (by its index in the lesson).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    pub run: usize,
    pub stat: Stat,
}

/// What a quantity is compared with: a number, or a multiple of another quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Value(f32),
    Times(f32, Quantity),
}

/// One condition: `left` above or below `bound`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub left: Quantity,
    pub above: bool,
    pub bound: Bound,
}

/// Shorthand for the catalogue: `run`'s `stat`.
pub const fn of(run: usize, stat: Stat) -> Quantity {
    Quantity { run, stat }
}

/// `left < bound`.
pub const fn below(left: Quantity, bound: Bound) -> Condition {
    Condition { left, above: false, bound }
}

/// `left > bound`.
pub const fn above(left: Quantity, bound: Bound) -> Condition {
    Condition { left, above: true, bound }
}

/// A lesson's claim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    /// What the student should see, in their words.
    pub says: &'static str,
    /// All of them hold when the claim does.
    pub conditions: &'static [Condition],
    /// The likely reason when it did not hold this time.
    pub if_not: &'static str,
}

/// One condition as measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// The condition with its numbers, e.g. "θ = 0.5: final value 8.50 < 0.5 × ... (10.3)".
    pub text: String,
    pub left: f32,
    pub bound: f32,
    pub holds: bool,
}

/// What the runs showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub holds: bool,
    pub conditions: Vec<Measured>,
}

impl Claim {
    /// The claim measured on the runs' outcomes (in the lesson's order; `labels` name them),
    /// or `None` while a run it reads has not recorded what it needs.
    pub fn verdict(&self, labels: &[&str], outcomes: &[RunOutcome]) -> Option<Verdict> {
        let read = |q: Quantity| outcomes.get(q.run).and_then(|o| q.stat.read(o));
        let name = |q: Quantity| {
            let value_name = outcomes.get(q.run).map_or("value", |o| o.value_name);
            format!("{}: {}", labels.get(q.run).copied().unwrap_or("?"), q.stat.name(value_name))
        };
        let mut conditions = Vec::new();
        for c in self.conditions {
            let left = read(c.left)?;
            let (bound, bound_text) = match c.bound {
                Bound::Value(v) => (v, number(v)),
                Bound::Times(k, q) => {
                    let v = read(q)?;
                    (k * v, format!("{} × {} {}", number(k), name(q), number(v)))
                }
            };
            let holds = if c.above { left > bound } else { left < bound };
            let sign = if c.above { ">" } else { "<" };
            let text = format!("{} {} {sign} {bound_text}", name(c.left), number(left));
            conditions.push(Measured { text, left, bound, holds });
        }
        Some(Verdict { holds: conditions.iter().all(|m| m.holds), conditions })
    }

    /// The runs the claim reads.
    pub fn runs(&self) -> impl Iterator<Item = Quantity> + '_ {
        self.conditions.iter().flat_map(|c| {
            let right = match c.bound {
                Bound::Times(_, q) => Some(q),
                Bound::Value(_) => None,
            };
            std::iter::once(c.left).chain(right)
        })
    }
}

/// A number as a verdict prints it: three significant digits, "diverged" for infinity.
pub fn number(x: f32) -> String {
    if x.is_infinite() {
        "∞ (diverged)".into()
    } else if x.abs() >= 1e4 || (x != 0.0 && x.abs() < 1e-2) {
        format!("{x:.2e}")
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        let decimals = if x.abs() >= 10.0 { 1 } else { 3 };
        format!("{x:.decimals$}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIM: Claim = Claim {
        says: "the second run ends lower",
        conditions: &[below(of(1, Stat::Final), Bound::Times(0.9, of(0, Stat::Final)))],
        if_not: "too few epochs",
    };

    fn outcome(values: &[f32]) -> RunOutcome {
        RunOutcome { values: values.to_vec(), ..RunOutcome::default() }
    }

    #[test]
    fn a_claim_holds_or_fails_by_its_numbers() {
        let labels = ["a", "b"];
        let v = CLAIM.verdict(&labels, &[outcome(&[20.0, 10.0]), outcome(&[20.0, 8.0])]).unwrap();
        assert!(v.holds, "{v:?}");
        assert_eq!(v.conditions[0].text, "b: final perplexity 8 < 0.9 × a: final perplexity 10");
        let v = CLAIM.verdict(&labels, &[outcome(&[20.0, 10.0]), outcome(&[20.0, 9.5])]).unwrap();
        assert!(!v.holds);
        assert!(CLAIM.verdict(&labels, &[outcome(&[20.0]), outcome(&[])]).is_none(), "a run without epochs");
    }

    #[test]
    fn a_diverged_run_peaks_at_infinity() {
        let run = RunOutcome { values: vec![20.0, 18.0], diverged: true, ..RunOutcome::default() };
        assert_eq!(Stat::Peak.read(&run), Some(f32::INFINITY));
        assert_eq!(Stat::Peak.read(&outcome(&[20.0, 18.0, 30.0])), Some(30.0));
        assert_eq!(Stat::BestValid.read(&outcome(&[1.0])), None);
        let toy = RunOutcome { accuracy_by_position: vec![1.0, 0.5], ..RunOutcome::default() };
        let at = |n| Stat::PositionAccuracy(n).read(&toy);
        assert_eq!((at(0), at(1), at(2), at(3)), (None, Some(1.0), Some(0.5), None));
        let translated = RunOutcome { bleu: Some(0.25), score: Some(-0.7), ..RunOutcome::default() };
        assert_eq!((Stat::Bleu.read(&translated), Stat::Score.read(&translated)), (Some(0.25), Some(-0.7)));
        assert_eq!(Stat::Score.read(&toy), None, "no held-out translations scored");
        assert_eq!(number(f32::INFINITY), "∞ (diverged)");
        assert_eq!(number(1.25e17), "1.25e17");
        assert_eq!((number(4.28e-8), number(0.00123)), ("4.28e-8".into(), "1.23e-3".into()));
        assert_eq!((number(0.0), number(0.121), number(6.1836)), ("0".into(), "0.121".into(), "6.184".into()));
    }
}
