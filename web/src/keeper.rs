//! Keeps the page's runs: the record of the run being trained follows its curve, speed, wall
//! time and predictions epoch by epoch, its autosaved checkpoint is stored beside it, and the
//! records survive a reload (IndexedDB, `storage.rs`). A storage failure — a full or refused
//! quota — is a message in the runs panel; training never waits for storage or stops for it.

use crate::runs::{unique_name, RunRecord};
use crate::storage;
use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_run::lessons::Lesson;
use rnnplay_run::RunSpec;

/// The runs and which of them are recorded and overlaid.
#[derive(Clone, Copy)]
pub struct Keeper {
    /// Every kept run, oldest first.
    pub runs: RwSignal<Vec<RunRecord>>,
    /// The run being recorded.
    pub current: RwSignal<Option<u64>>,
    /// The runs overlaid on the comparison chart, in the order they were picked.
    pub selected: RwSignal<Vec<u64>>,
    /// The last storage failure.
    pub error: RwSignal<Option<String>>,
    /// True once the kept runs have been read.
    pub loaded: RwSignal<bool>,
    /// A kept run the page asked to continue: the next run built continues its record.
    continuing: RwSignal<Option<u64>>,
    /// Seconds trained before the current stretch, and when the current stretch began (ms).
    wall: StoredValue<(f64, Option<f64>)>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Keeper {
    pub fn new() -> Self {
        Self {
            runs: RwSignal::new(Vec::new()),
            current: RwSignal::new(None),
            selected: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
            loaded: RwSignal::new(false),
            continuing: RwSignal::new(None),
            wall: StoredValue::new((0.0, None)),
        }
    }

    /// Reads the kept runs.
    pub fn load(self) {
        spawn_local(async move {
            match storage::records().await {
                Ok((records, unreadable)) => {
                    self.runs.set(records);
                    if unreadable > 0 {
                        self.error.set(Some(format!(
                            "{unreadable} kept run(s) were saved by another version of the page and cannot be read"
                        )));
                    }
                }
                Err(err) => self.error.set(Some(err)),
            }
            self.loaded.set(true);
        });
    }

    pub fn record(self, id: u64) -> Option<RunRecord> {
        self.runs.with_untracked(|runs| runs.iter().find(|r| r.id == id).cloned())
    }

    /// Replaces a record (in the table and in storage).
    fn put(self, record: RunRecord) {
        self.runs.update(|runs| match runs.iter_mut().find(|r| r.id == record.id) {
            Some(kept) => *kept = record.clone(),
            None => runs.push(record.clone()),
        });
        spawn_local(async move {
            if let Err(err) = storage::put_record(&record).await {
                self.error.set(Some(err));
            }
        });
    }

    /// Continue the kept run `id`: the next run built records into it.
    pub fn continue_run(self, id: u64) {
        self.continuing.set(Some(id));
    }

    /// A run was built: it continues the kept run asked for, or starts a new record named after
    /// the lesson run it is (a lesson's runs are overlaid together) or its preset. A run on a
    /// text other than The Time Machine keeps that text, to be resumable after a reload.
    pub fn begin(self, spec: &RunSpec, backend: &str, lesson: Option<&'static Lesson>, text: Option<String>) {
        self.wall.set_value((0.0, None));
        if let Some(id) = self.continuing.get_untracked() {
            self.continuing.set(None);
            if let Some(record) = self.record(id) {
                self.wall.set_value((record.wall_s, None));
                self.current.set(Some(id));
                return;
            }
        }
        let lesson_run =
            lesson.and_then(|l| (0..l.runs.len()).find(|&i| l.spec(i).ok().as_ref() == Some(spec)).map(|i| &l.runs[i]));
        let base = match (lesson, lesson_run) {
            (Some(lesson), Some(run)) => format!("{}: {}", lesson.name, run.label),
            _ => spec.preset.clone(),
        };
        let taken: Vec<String> = self.runs.with_untracked(|runs| runs.iter().map(|r| r.name.clone()).collect());
        let last_id = self.runs.with_untracked(|runs| runs.iter().map(|r| r.id).max().unwrap_or(0));
        let id = (now_ms() as u64).max(last_id + 1);
        let mut record = RunRecord::new(id, unique_name(&base, &taken), spec.clone(), backend);
        record.lesson = lesson_run.and(lesson).map(|l| l.name.to_string());
        self.put(record.clone());
        self.current.set(Some(id));
        if let (Some(text), true) = (text, spec.own_text()) {
            spawn_local(async move {
                if let Err(err) = storage::put_text(id, &text).await {
                    self.error.set(Some(err));
                }
            });
        }
        if let Some(lesson) = &record.lesson {
            // The lesson's latest run of each label, overlaid.
            let mut latest: Vec<(String, u64)> = Vec::new();
            for kept in self.runs.get_untracked().iter().filter(|r| r.lesson.as_ref() == Some(lesson)) {
                match latest.iter_mut().find(|(name, _)| *name == base_name(&kept.name)) {
                    Some(entry) => entry.1 = kept.id,
                    None => latest.push((base_name(&kept.name), kept.id)),
                }
            }
            self.selected.set(latest.into_iter().map(|(_, id)| id).collect());
        }
    }

    /// Stops recording (Reset): the record keeps what it has.
    pub fn end(self) {
        self.current.set(None);
        self.continuing.set(None);
    }

    /// Follows the page's run: the wall time of training stretches, and after each epoch the
    /// current record's curve, speed and latest prediction.
    pub fn track(self, ui: Ui) {
        Effect::new(move |_| {
            let running = ui.phase.get() == Phase::Running;
            let (before, since) = self.wall.get_value();
            match (running, since) {
                (true, None) => self.wall.set_value((before, Some(now_ms()))),
                (false, Some(since)) => self.wall.set_value((before + (now_ms() - since) / 1000.0, None)),
                _ => {}
            }
        });
        Effect::new(move |_| {
            if ui.phase.get() != Phase::Diverged {
                return;
            }
            let Some(mut record) = self.current.get_untracked().and_then(|id| self.record(id)) else { return };
            if !record.diverged {
                record.diverged = true;
                self.put(record);
            }
        });
        Effect::new(move |_| {
            // The reach arrives as a view of its own, possibly a frame after the epoch's point.
            let (curve, reach) = (ui.curve.get(), ui.views.reach.get().unwrap_or_default());
            let Some(mut record) = self.current.get_untracked().and_then(|id| self.record(id)) else { return };
            if curve == record.curve && reach == record.reach {
                return;
            }
            let (before, since) = self.wall.get_value();
            record.wall_s = before + since.map_or(0.0, |since| (now_ms() - since) / 1000.0);
            record.curve = curve;
            record.reach = reach;
            record.tokens_per_s = ui.progress.get_untracked().tokens_per_s;
            if let Some(predictions) = ui.views.predictions.get_untracked() {
                record.sample = predictions.continuation;
            }
            if let Some(rows) = ui.views.translations.get_untracked() {
                record.sample =
                    rows.iter().map(|r| format!("{} → {}", r.src, r.translation)).collect::<Vec<_>>().join("; ");
            }
            self.put(record);
        });
    }

    /// Keeps the current run's checkpoint, saved after `epoch`.
    pub fn autosaved(self, epoch: usize, bytes: Vec<u8>) {
        let Some(id) = self.current.get_untracked() else { return };
        spawn_local(async move {
            match storage::put_checkpoint(id, &bytes).await {
                Ok(()) => {
                    if let Some(mut record) = self.record(id) {
                        record.saved_epoch = Some(epoch);
                        self.put(record);
                    }
                }
                Err(err) => self.error.set(Some(err)),
            }
        });
    }

    pub fn rename(self, id: u64, name: String) {
        let name = name.trim().to_string();
        if let (Some(mut record), false) = (self.record(id), name.is_empty()) {
            record.name = name;
            self.put(record);
        }
    }

    /// Forgets a run (not the one being recorded: its record would come back).
    pub fn delete(self, id: u64) {
        if self.current.get_untracked() == Some(id) {
            self.error.set(Some("this run is training: Reset it before deleting it".into()));
            return;
        }
        self.runs.update(|runs| runs.retain(|r| r.id != id));
        self.selected.update(|s| s.retain(|&s| s != id));
        spawn_local(async move {
            if let Err(err) = storage::delete(id).await {
                self.error.set(Some(err));
            }
        });
    }

    /// Forgets every run but the one being recorded.
    pub fn clear(self) {
        let current = self.current.get_untracked();
        let keep = current.and_then(|id| self.record(id));
        self.runs.set(keep.iter().cloned().collect());
        self.selected.update(|s| s.retain(|&s| Some(s) == current));
        spawn_local(async move {
            let cleared = async {
                storage::clear().await?;
                match keep {
                    Some(record) => storage::put_record(&record).await,
                    None => Ok(()),
                }
            };
            if let Err(err) = cleared.await {
                self.error.set(Some(err));
            }
        });
    }

    /// Adds an imported run and overlays it.
    pub fn add_imported(self, mut record: RunRecord) {
        let taken: Vec<String> = self.runs.with_untracked(|runs| runs.iter().map(|r| r.name.clone()).collect());
        let last_id = self.runs.with_untracked(|runs| runs.iter().map(|r| r.id).max().unwrap_or(0));
        record.id = record.id.max(last_id + 1);
        record.name = unique_name(&record.name, &taken);
        self.selected.update(|s| s.push(record.id));
        self.put(record);
    }
}

/// A name without the " (2)" that made it unique.
fn base_name(name: &str) -> String {
    match name.rsplit_once(" (") {
        Some((base, n)) if n.trim_end_matches(')').parse::<u32>().is_ok() => base.to_string(),
        _ => name.to_string(),
    }
}
