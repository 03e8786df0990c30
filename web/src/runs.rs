//! The runs the page keeps: every run's record (its spec, its per-epoch curve, what it
//! measured, and which epoch its saved checkpoint is from), what differs from the run before
//! it, and the two file forms a run travels in — the page's export (JSON) and `rnnplay train
//! --metrics` (JSON Lines, the spec on the first line). Plain Rust, tested natively; the page
//! keeps the records in IndexedDB (`storage.rs`).

use crate::protocol::EpochPoint;
use crate::settings::label;
use crate::views::Reach;
use rnnplay_run::lessons::claim::{value_name, RunOutcome};
use rnnplay_run::spec::MAX_EPOCHS;
use rnnplay_run::RunSpec;
use serde::{Deserialize, Serialize};

/// Distinct colours for overlaid runs (the Okabe–Ito palette, readable by colour-blind
/// students), in the order runs are selected.
pub const COLOURS: [(u8, u8, u8); 8] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
    (0, 0, 0),
    (240, 228, 66),
];

/// One kept run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique among the kept runs (milliseconds since 1970 when it was made).
    pub id: u64,
    pub name: String,
    pub spec: RunSpec,
    /// The lesson it was trained in, if any.
    #[serde(default)]
    pub lesson: Option<String>,
    pub curve: Vec<EpochPoint>,
    #[serde(default)]
    pub reach: Reach,
    /// The latest free-running prediction (or translation) shown.
    #[serde(default)]
    pub sample: String,
    pub tokens_per_s: f64,
    /// "webgpu", "cpu", or for an imported CLI run its backend.
    pub backend: String,
    /// Seconds spent training (pauses do not count).
    pub wall_s: f64,
    /// The epoch its kept checkpoint was saved after (none kept: `None`).
    #[serde(default)]
    pub saved_epoch: Option<usize>,
    /// Where it came from: "page", "cli" (a `--metrics` file) or "import" (a page export).
    #[serde(default)]
    pub origin: String,
    /// It stopped because its loss diverged.
    #[serde(default)]
    pub diverged: bool,
}

impl RunRecord {
    /// A new run's record, before its first epoch.
    pub fn new(id: u64, name: String, spec: RunSpec, backend: &str) -> Self {
        Self {
            id,
            name,
            spec,
            lesson: None,
            curve: Vec::new(),
            reach: Reach::default(),
            sample: String::new(),
            tokens_per_s: 0.0,
            backend: backend.into(),
            wall_s: 0.0,
            saved_epoch: None,
            origin: "page".into(),
            diverged: false,
        }
    }

    /// What a lesson's claim reads from it (`rnnplay_run::lessons::claim`), once it trained all
    /// its epochs or diverged; `None` while it is short of them, or while its gradient's reach
    /// (a view of its own, which can arrive a frame after the epoch's point) is behind them.
    pub fn outcome(&self) -> Option<RunOutcome> {
        if !self.diverged && self.epochs_done() < self.spec.epochs {
            return None;
        }
        if !self.diverged && !self.reach.last.is_empty() && self.reach.last_epoch != self.epochs_done() {
            return None;
        }
        Some(RunOutcome {
            values: self.curve.iter().map(|p| p.value).collect(),
            valid: self.curve.iter().filter_map(|p| p.valid).collect(),
            diverged: self.diverged,
            accuracy: self.curve.last().and_then(|p| p.accuracy),
            accuracy_by_position: self.curve.last().map(|p| p.accuracy_by_position.clone()).unwrap_or_default(),
            exact_by_length: self.curve.last().map(|p| p.exact_by_length.clone()).unwrap_or_default(),
            bleu: self.curve.last().and_then(|p| p.bleu),
            score: self.curve.last().and_then(|p| p.score),
            reach: match self.reach.last_epoch == self.epochs_done() {
                true => self.reach.last.clone(),
                false => Vec::new(),
            },
            value_name: value_name(self.spec.is_seq2seq()),
        })
    }

    /// Epochs trained (the last point of the curve).
    pub fn epochs_done(&self) -> usize {
        self.curve.last().map_or(0, |p| p.epoch)
    }

    /// The epoch a reopened page can resume it from: its checkpoint's, while the run has
    /// epochs left.
    pub fn resumable_from(&self) -> Option<usize> {
        self.saved_epoch.filter(|&epoch| epoch > 0 && epoch < self.spec.epochs)
    }

    /// "perplexity 4.21 (valid 5.02)" or "per-token CE 0.81" after the last epoch.
    pub fn final_text(&self) -> String {
        let Some(last) = self.curve.last() else { return "—".into() };
        let valid = last.valid.map(|v| format!(" (valid {v:.2})")).unwrap_or_default();
        format!("{} {:.3}{valid}", self.value_name(), last.value)
    }

    /// What the curve's values are.
    pub fn value_name(&self) -> &'static str {
        if self.spec.is_seq2seq() {
            "per-token CE"
        } else {
            "perplexity"
        }
    }

    /// The page's export of the run (its checkpoint is a separate .safetensors file).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The value of `key` in a spec, as the runs table shows it.
fn shown(spec: &RunSpec, key: &str) -> String {
    let text = spec.get(key);
    match text.parse::<f64>() {
        Ok(clip) if key == "clip" && clip >= 1e6 => "off".into(),
        // 1.0 reads 1, as the settings panel shows it.
        Ok(number) if number.fract() == 0.0 && number.abs() < 1e15 => format!("{}", number as i64),
        Ok(number) => format!("{}", number as f32),
        Err(_) => text,
    }
}

/// What differs in `spec` from `previous`, in the page's words: "hidden units 256 → 64,
/// clipping θ 1 → off"; "same settings" when nothing does.
pub fn differences(previous: &RunSpec, spec: &RunSpec) -> String {
    let changed: Vec<String> = spec
        .pairs()
        .into_iter()
        .filter(|(key, value)| *key != "preset" && previous.get(key) != *value)
        .map(|(key, _)| format!("{} {} → {}", label(key), shown(previous, key), shown(spec, key)))
        .collect();
    match (changed.is_empty(), previous.preset != spec.preset) {
        (true, false) => "same settings".into(),
        (true, true) => format!("preset {} → {}", previous.preset, spec.preset),
        _ => changed.join(", "),
    }
}

/// A name not taken by `taken`: `base`, else `base (2)`, `base (3)`, …
pub fn unique_name(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..).map(|n| format!("{base} ({n})")).find(|name| !taken.contains(name)).unwrap_or_default()
}

fn bad(what: impl std::fmt::Display) -> String {
    format!(
        "{what}. Import a run exported by this page (.json) or the --metrics file of rnnplay train (.jsonl, whose first line holds the spec)"
    )
}

/// Checks what a file says about a run: a spec that validates, at most [`MAX_EPOCHS`] points
/// with increasing epochs.
fn checked(record: RunRecord) -> Result<RunRecord, String> {
    if let Some(problem) = record.spec.validate().first() {
        return Err(bad(format!("its spec is not usable ({}: {})", label(problem.field), problem.message)));
    }
    if record.curve.len() > MAX_EPOCHS || record.curve.windows(2).any(|w| w[1].epoch <= w[0].epoch) {
        return Err(bad("its epochs are not in order"));
    }
    if record.curve.iter().any(|p| p.epoch == 0 || p.epoch > MAX_EPOCHS) {
        return Err(bad("it counts epochs from 1"));
    }
    let share = |v: &f32| v.is_nan() || (0.0..=1.0).contains(v);
    // A target and its <eos> fit the padded length.
    let positions = |p: &EpochPoint| p.accuracy_by_position.len() < record.spec.num_steps;
    if !record.curve.iter().all(|p| positions(p) && p.accuracy_by_position.iter().all(share)) {
        return Err(bad("its accuracy by output position is not a list of shares between 0 and 1, one per position"));
    }
    // Source lengths, each once, in order, that fit the padded length.
    let lengths = |p: &EpochPoint| {
        p.exact_by_length.windows(2).all(|w| w[0].0 < w[1].0)
            && p.exact_by_length.iter().all(|(l, s)| (1..record.spec.num_steps).contains(l) && share(s))
    };
    if !record.curve.iter().all(lengths) {
        return Err(bad("its exact match by source length is not a list of [length, share] pairs, lengths rising and shorter than num_steps, shares between 0 and 1"));
    }
    // BLEU is a share; a score (1/L^α)·log P is at most 0.
    if !record.curve.iter().all(|p| p.bleu.is_none_or(|b| share(&b)) && p.score.is_none_or(|s| s.is_nan() || s <= 0.0))
    {
        return Err(bad(
            "its held-out BLEU is not between 0 and 1, or its held-out score (a log-probability) is above 0",
        ));
    }
    Ok(record)
}

/// Reads a file the user imports: a page export, or a `--metrics` file. The record keeps no
/// checkpoint (`saved_epoch` is `None`) and gets `id`.
pub fn import(text: &str, file_name: &str, id: u64) -> Result<RunRecord, String> {
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(bad(format!("{file_name} is empty")));
    }
    if let Ok(mut record) = serde_json::from_str::<RunRecord>(text) {
        (record.id, record.saved_epoch, record.origin) = (id, None, "import".into());
        return checked(record);
    }
    from_metrics(text, file_name, id)
}

/// A run from `rnnplay train --metrics` lines: the first holds `spec` (and `backend`), each
/// other one epoch, up to the next run's `spec` line (runs append to one file).
fn from_metrics(text: &str, file_name: &str, id: u64) -> Result<RunRecord, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let head: serde_json::Value = lines
        .next()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| bad(format!("{file_name} is neither a page export nor JSON Lines")))?;
    let spec: RunSpec = match head.get("spec") {
        Some(spec) => serde_json::from_value(spec.clone()).map_err(|e| bad(format!("its spec does not parse: {e}")))?,
        None => return Err(bad(format!("the first line of {file_name} has no spec (rnnplay train writes it there)"))),
    };
    let backend = head.get("backend").and_then(|b| b.as_str()).unwrap_or("cli").to_string();
    let name = file_name.trim_end_matches(".jsonl").trim_end_matches(".json").to_string();
    let mut record = RunRecord::new(id, name, spec, &backend);
    record.origin = "cli".into();
    let value_key = if record.spec.is_seq2seq() { "per_token_ce" } else { "perplexity" };
    for (index, line) in lines.enumerate() {
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("line {} does not parse: {e}", index + 2)))?;
        if row.get("spec").is_some() {
            // The next run appended to the same file: this run ends here.
            break;
        }
        let number = |key: &str| row.get(key).and_then(serde_json::Value::as_f64);
        let (Some(epoch), Some(value)) = (number("epoch"), number(value_key)) else {
            return Err(bad(format!("line {} has no epoch or {value_key}", index + 2)));
        };
        let reach: Vec<f32> = row
            .get("reach")
            .and_then(|t| t.as_array())
            // A value that was not finite was written as null: it keeps its place.
            .map(|t| t.iter().map(|v| v.as_f64().map_or(f32::NAN, |v| v as f32)).collect())
            .unwrap_or_default();
        let epoch = epoch as usize;
        if !reach.is_empty() {
            let r = &mut record.reach;
            if r.first.is_empty() {
                (r.first, r.first_epoch) = (reach.clone(), epoch);
            }
            (r.last, r.last_epoch) = (reach, epoch);
        }
        record.curve.push(EpochPoint {
            epoch,
            value: value as f32,
            grad_norm: number("grad_norm").unwrap_or(f64::NAN) as f32,
            valid: number("valid_perplexity").map(|v| v as f32),
            accuracy: number("accuracy").map(|v| v as f32),
            accuracy_by_position: row
                .get("accuracy_by_position")
                .and_then(|t| t.as_array())
                .map(|t| t.iter().map(|v| v.as_f64().map_or(f32::NAN, |v| v as f32)).collect())
                .unwrap_or_default(),
            exact_by_length: match row.get("exact_by_length") {
                None => Vec::new(),
                Some(pairs) => serde_json::from_value(pairs.clone()).map_err(|_| {
                    bad(format!("line {}: exact_by_length is not a list of [length, share] pairs", index + 2))
                })?,
            },
            bleu: number("bleu").map(|v| v as f32),
            score: number("score").map(|v| v as f32),
        });
        record.tokens_per_s = number("tokens_per_s").unwrap_or(record.tokens_per_s);
        record.wall_s = number("seconds").unwrap_or(record.wall_s);
    }
    checked(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(changes: &[(&str, &str)]) -> RunSpec {
        let mut spec = RunSpec::preset("d2l-gru").unwrap();
        for (key, value) in changes {
            spec.set(key, value).unwrap();
        }
        spec
    }

    #[test]
    fn differences_name_each_changed_setting_in_the_pages_words() {
        let before = spec(&[]);
        assert_eq!(differences(&before, &before), "same settings");
        let after = spec(&[("hidden", "64"), ("clip", "1000000")]);
        assert_eq!(differences(&before, &after), "hidden units 256 → 64, clipping θ 1 → off");
        let lstm = RunSpec::preset("d2l-lstm").unwrap();
        assert_eq!(differences(&before, &lstm), "model gru → lstm");
    }

    #[test]
    fn a_finished_run_has_an_outcome_once_its_reach_caught_up() {
        let mut record = RunRecord::new(7, "gru".into(), spec(&[("epochs", "2")]), "cpu");
        let point = |epoch| EpochPoint {
            epoch,
            value: 5.0,
            grad_norm: 1.0,
            valid: None,
            accuracy: None,
            accuracy_by_position: Vec::new(),
            exact_by_length: Vec::new(),
            bleu: None,
            score: None,
        };
        record.curve = vec![point(1)];
        record.reach = Reach { first: vec![1.0, 0.5], first_epoch: 1, last: vec![1.0, 0.5], last_epoch: 1 };
        assert_eq!(record.outcome(), None, "one epoch of two");
        record.curve.push(point(2));
        assert_eq!(record.outcome(), None, "the last epoch's reach has not arrived");
        (record.reach.last, record.reach.last_epoch) = (vec![2.0, 0.1], 2);
        let outcome = record.outcome().unwrap();
        assert_eq!((outcome.values, outcome.reach), (vec![5.0, 5.0], vec![2.0, 0.1]));
        record.reach = Reach::default();
        assert!(record.outcome().unwrap().reach.is_empty(), "a record kept without the reach still counts");
    }

    #[test]
    fn names_are_made_unique() {
        let taken = vec!["gru".to_string(), "gru (2)".to_string()];
        assert_eq!(unique_name("lstm", &taken), "lstm");
        assert_eq!(unique_name("gru", &taken), "gru (3)");
    }

    #[test]
    fn a_page_export_imports_as_a_new_run_without_its_checkpoint() {
        let mut record = RunRecord::new(7, "mine".into(), spec(&[("epochs", "3")]), "webgpu");
        record.curve = (1..=3)
            .map(|e| EpochPoint {
                epoch: e,
                value: 10.0 / e as f32,
                grad_norm: 0.5,
                valid: None,
                accuracy: None,
                accuracy_by_position: Vec::new(),
                exact_by_length: Vec::new(),
                bleu: None,
                score: None,
            })
            .collect();
        record.saved_epoch = Some(3);
        let imported = import(&record.to_json(), "mine.json", 9).unwrap();
        assert_eq!((imported.id, imported.saved_epoch, imported.origin.as_str()), (9, None, "import"));
        assert_eq!(imported.curve, record.curve);
        assert_eq!(imported.final_text(), "perplexity 3.333");
    }

    #[test]
    fn a_cli_metrics_file_imports_with_its_spec_line() {
        let spec = spec(&[("hidden", "32"), ("valid_fraction", "0.1")]);
        let head = serde_json::json!({"spec": spec, "backend": "gpu", "adapter": "lavapipe", "first_epoch": 1});
        let lines = [
            head.to_string(),
            r#"{"epoch":1,"perplexity":20.5,"valid_perplexity":21.0,"grad_norm":0.9,"lr":1,"reach":[0.1,0.2],"tokens_per_s":900,"seconds":1.5}"#.into(),
            r#"{"epoch":2,"perplexity":15.0,"valid_perplexity":17.5,"grad_norm":0.7,"lr":1,"reach":[0.3,0.4],"tokens_per_s":1000,"seconds":3.0}"#.into(),
        ];
        let record = import(&lines.join("\n"), "run.jsonl", 1).unwrap();
        assert_eq!((record.name.as_str(), record.backend.as_str(), record.origin.as_str()), ("run", "gpu", "cli"));
        assert_eq!(record.spec, spec);
        assert_eq!(
            record.curve[1],
            EpochPoint {
                epoch: 2,
                value: 15.0,
                grad_norm: 0.7,
                valid: Some(17.5),
                accuracy: None,
                accuracy_by_position: Vec::new(),
                exact_by_length: Vec::new(),
                bleu: None,
                score: None
            }
        );
        assert_eq!((record.reach.first.clone(), record.reach.last.clone()), (vec![0.1, 0.2], vec![0.3, 0.4]));
        assert_eq!((record.tokens_per_s, record.wall_s), (1000.0, 3.0));
        assert_eq!(record.final_text(), "perplexity 15.000 (valid 17.50)");
    }

    #[test]
    fn bad_files_are_refused_with_what_to_import_instead() {
        for (text, says) in [
            ("", "is empty"),
            ("hello", "neither a page export nor JSON Lines"),
            (r#"{"epoch":1,"perplexity":3}"#, "has no spec"),
            (r#"{"spec":{"hidden":"many"}}"#, "spec does not parse"),
        ] {
            let err = import(text, "f.jsonl", 1).unwrap_err();
            assert!(err.contains(says) && err.contains("--metrics"), "{text}: {err}");
        }
        let head = serde_json::json!({"spec": spec(&[])}).to_string();
        let out_of_order = format!("{head}\n{{\"epoch\":2,\"perplexity\":3}}\n{{\"epoch\":1,\"perplexity\":3}}");
        assert!(import(&out_of_order, "f.jsonl", 1).unwrap_err().contains("not in order"));
        let mut bad_spec = spec(&[]);
        bad_spec.lr = -1.0;
        let text = serde_json::json!({"spec": bad_spec}).to_string();
        assert!(import(&text, "f.jsonl", 1).unwrap_err().contains("learning rate"));
        let toy = RunSpec { epochs: 1, ..RunSpec::preset("toy-reverse").unwrap() };
        let toy = serde_json::json!({ "spec": toy }).to_string();
        let line = |by_position: &str| {
            format!("{toy}\n{{\"epoch\":1,\"per_token_ce\":0.5,\"accuracy_by_position\":{by_position}}}")
        };
        let record = import(&line("[1.0,0.75,null]"), "f.jsonl", 1).unwrap();
        let kept = &record.curve[0].accuracy_by_position;
        assert!(kept[..2] == [1.0, 0.75] && kept[2].is_nan(), "{kept:?}");
        assert_eq!(record.outcome().unwrap().accuracy_by_position.len(), 3);
        assert!(import(&line("[1.5]"), "f.jsonl", 1).unwrap_err().contains("accuracy by output position"));
        let too_many = format!("[{}]", ["1"; 8].join(","));
        assert!(import(&line(&too_many), "f.jsonl", 1).unwrap_err().contains("one per position"));
        // Exact match by source length: [length, share] pairs, lengths rising and inside
        // num_steps (8 for this preset).
        let by_length =
            |pairs: &str| format!("{toy}\n{{\"epoch\":1,\"per_token_ce\":0.5,\"exact_by_length\":{pairs}}}");
        let record = import(&by_length("[[3,1.0],[5,0.5]]"), "f.jsonl", 1).unwrap();
        assert_eq!(record.outcome().unwrap().exact_by_length, [(3, 1.0), (5, 0.5)]);
        for (pairs, says) in [
            ("\"all\"", "[length, share] pairs"),
            ("[[3,1.0],[3,0.5]]", "lengths rising"),
            ("[[9,1.0]]", "shorter than num_steps"),
            ("[[3,2.0]]", "shares between 0 and 1"),
        ] {
            let err = import(&by_length(pairs), "f.jsonl", 1).unwrap_err();
            assert!(err.contains(says), "{pairs}: {err}");
        }
    }

    #[test]
    fn a_run_resumes_from_its_checkpoint_while_it_has_epochs_left() {
        let mut record = RunRecord::new(1, "r".into(), spec(&[("epochs", "10")]), "cpu");
        assert_eq!(record.resumable_from(), None);
        record.saved_epoch = Some(4);
        assert_eq!(record.resumable_from(), Some(4));
        record.saved_epoch = Some(10);
        assert_eq!(record.resumable_from(), None, "a finished run has nothing to resume");
    }
}
