//! The training loop of the page. One task owns the run (the engine's `Session`); the controls
//! talk to it only through signals, which it reads between minibatches. So the page never
//! freezes (the task yields to the browser after every batch), Pause takes effect within one
//! batch, and a Reset simply makes the old task stop. Everything a run does — schedules,
//! validation, divergence handling — is the session's; this file only drives and reports.

use crate::browser;
use crate::core_workers::CoreWorkers;
use crate::ui::{EpochPoint, Phase, Progress, Ui};
use crate::view_signals::{ViewContext, When};
use leptos::prelude::*;
use rnnplay_engine::EngineError;
use rnnplay_run::{EpochReport, RunSpec, Session};

/// Where a saved checkpoint goes: a download in the page, a message from the worker.
pub type Deliver = Box<dyn Fn(&str, Vec<u8>) -> Result<(), String>>;

/// Where an autosaved checkpoint goes, with the epoch it was saved after: the page's run
/// keeper, or a message from the worker to it.
pub type Autosave = Box<dyn Fn(usize, Vec<u8>)>;

/// The least time between two autosaves: a checkpoint is read back from the device and
/// serialized, so not after every short epoch.
const AUTOSAVE_EVERY_MS: f64 = 2000.0;

/// A run: the session and its last epoch's report.
pub struct Run {
    session: Session,
    last: Option<EpochReport>,
    deliver: Deliver,
    autosave: Option<Autosave>,
    /// The epoch last autosaved, and when (ms).
    autosaved: (usize, f64),
    /// Wait for each step to finish before the next (WebGPU): at most one minibatch is in
    /// flight, so the batch counter counts finished batches and Pause takes effect within one.
    one_in_flight: bool,
    /// The other cores' workers when the run is split over several (`core_workers.rs`).
    helpers: Option<CoreWorkers>,
}

impl Run {
    pub fn new(session: Session) -> Self {
        let one_in_flight = session.on_gpu();
        let deliver: Deliver = Box::new(|name, bytes| browser::download(name, &bytes));
        // The first finished epoch is always saved.
        let autosaved = (session.epochs_done(), f64::NEG_INFINITY);
        Self { session, last: None, deliver, autosave: None, autosaved, one_in_flight, helpers: None }
    }

    /// Trains on the helpers' cores too (`None`: on this worker's alone).
    pub fn helped_by(mut self, helpers: Option<CoreWorkers>) -> Self {
        self.helpers = helpers;
        self
    }

    /// The cores the run trains on.
    fn cores(&self) -> usize {
        self.helpers.as_ref().map_or(1, CoreWorkers::cores)
    }

    /// One minibatch: on this worker, or split over the helpers' cores and this one.
    async fn step(&mut self) -> Result<Option<EpochReport>, EngineError> {
        match &self.helpers {
            Some(helpers) => helpers.step(&mut self.session).await,
            None => self.session.step().await,
        }
    }

    /// Hands saved checkpoints to `deliver` instead of downloading them.
    pub fn delivering(mut self, deliver: Deliver) -> Self {
        self.deliver = deliver;
        self
    }

    /// Autosaves the run, at epoch ends (at most every [`AUTOSAVE_EVERY_MS`], and always after
    /// the last) and when it stops between epochs (Pause, Step): the checkpoint carries the
    /// training state, so the run resumes from it exactly.
    pub fn autosaving(mut self, autosave: Autosave) -> Self {
        self.autosave = Some(autosave);
        self
    }

    /// Autosaves if the run is between epochs, has trained an epoch not saved yet, and either
    /// `now` says so or enough time has passed.
    async fn autosave(&mut self, now: bool) -> Result<(), String> {
        let epoch = self.session.epochs_done();
        let Some(autosave) = &self.autosave else { return Ok(()) };
        let due = now || self.session.finished() || browser::now_ms() - self.autosaved.1 >= AUTOSAVE_EVERY_MS;
        if !self.session.resumable() || epoch == self.autosaved.0 || !due {
            return Ok(());
        }
        let bytes = self.checkpoint().await?;
        autosave(epoch, bytes);
        self.autosaved = (epoch, browser::now_ms());
        Ok(())
    }

    /// After a lost device: keeps the host copy of the last finished epoch (the autosave may
    /// have skipped it) and says what survived.
    fn after_device_lost(&mut self) -> String {
        let Some((epochs, bytes)) = self.session.host_checkpoint() else {
            return ". No epoch had finished: “Continue on the CPU” starts the run again on this page's CPU backend"
                .into();
        };
        if let Some(autosave) = self.autosave.as_ref().filter(|_| epochs > self.autosaved.0) {
            autosave(epochs, bytes.to_vec());
            self.autosaved = (epochs, browser::now_ms());
        }
        format!(
            ". The weights after epoch {epochs} are kept (Save downloads them): “Continue on the CPU” trains on from there on this page's CPU backend"
        )
    }

    pub fn spec(&self) -> &RunSpec {
        self.session.spec()
    }

    /// The progress before the first step.
    pub fn progress(&self) -> Progress {
        Progress {
            epochs: self.session.spec().epochs,
            lr: self.session.lr(),
            epochs_before: self.session.epochs_before(),
            epoch: self.session.epochs_done(),
            cores: self.cores(),
            ..Progress::default()
        }
    }

    /// The run as a checkpoint, with the last epoch's metric.
    async fn checkpoint(&self) -> Result<Vec<u8>, String> {
        self.session.checkpoint_bytes(self.last.as_ref()).await.map_err(|e| e.to_string())
    }

    /// Offers the model as a checkpoint download (the spec and epochs in its metadata).
    async fn save(&self) -> Result<(), String> {
        let bytes = self.checkpoint().await?;
        let name = if self.session.spec().is_seq2seq() { "seq2seq".into() } else { self.session.spec().model.clone() };
        (self.deliver)(&format!("rnnplay-{name}.safetensors"), bytes)
    }
}

/// Resets the views for a new run (training when `running`, else paused) and returns its
/// generation, for the loop to be spawned with.
pub fn prepare(ui: Ui, running: bool, progress: Progress, clip: f32) -> u64 {
    ui.run_error.set(None);
    ui.device_lost.set(false);
    ui.curve.set(Vec::new());
    ui.views.clear();
    ui.position.set(None);
    ui.clip.set(clip);
    ui.progress.set(progress);
    ui.running.set(running);
    ui.pending_steps.set(0);
    ui.phase.set(if running { Phase::Running } else { Phase::Paused });
    ui.generation.get_untracked()
}

/// What the views are computed from: the run and the page's options now.
fn view_context(session: &Session, ui: Ui) -> ViewContext<'_> {
    ViewContext {
        session,
        prefix: ui.prefix.get_untracked(),
        length: ui.length.get_untracked(),
        temperature: ui.temperature.get_untracked(),
        sentence: ui.sentence.get_untracked(),
        search: ui.search.get_untracked(),
        position: ui.position.get_untracked(),
        searched: Default::default(),
    }
}

/// Computes the views `when` names (and at a refresh, the views inside the network too while
/// they are on).
async fn refresh(session: &Session, ui: Ui, when: When) -> Result<(), String> {
    let cx = view_context(session, ui);
    ui.views.compute(when, &cx, None).await?;
    if when == When::Refresh && ui.inside_on.get_untracked() {
        ui.views.compute(When::Inside, &cx, None).await?;
    }
    Ok(())
}

/// Whether predictions refresh on their own after `epoch`: after each of the first 10 epochs
/// (where the model changes most), then about 20 more times a run, and after the last.
fn predict_after(epoch: usize, epochs: usize) -> bool {
    epoch <= 10 || epoch.is_multiple_of((epochs / 20).max(1)) || epoch >= epochs
}

/// Drives `run` until the generation changes. Commands are read between batches:
/// predictions and saves asked for first, then one batch if training or stepping.
pub async fn drive(ui: Ui, generation: u64, mut run: Run) {
    let epochs = run.session.spec().epochs;
    let (mut predicts_seen, mut saves_seen, mut connects_seen) = (0, 0, ui.connect_requests.get_untracked());
    // Tokens/s over the epoch so far: its start (reset on resuming, so pauses do not count).
    let (mut epoch_started, mut epoch_tokens) = (browser::now_ms(), run.session.tokens_trained());
    let mut was_stepping = false;
    loop {
        if ui.generation.get_untracked() != generation {
            return;
        }
        let predicts = ui.predict_requests.get_untracked();
        if predicts != predicts_seen {
            predicts_seen = predicts;
            if let Err(err) = refresh(&run.session, ui, When::Refresh).await {
                ui.run_error.set(Some(err));
            }
            continue;
        }
        let connects = ui.connect_requests.get_untracked();
        if connects != connects_seen {
            connects_seen = connects;
            if let Err(err) = refresh(&run.session, ui, When::Inside).await {
                ui.run_error.set(Some(err));
            }
            continue;
        }
        let saves = ui.save_requests.get_untracked();
        if saves != saves_seen {
            saves_seen = saves;
            if let Err(err) = run.save().await {
                ui.run_error.set(Some(format!("saving failed: {err}")));
            }
            continue;
        }
        let stepping = ui.running.get_untracked() || ui.pending_steps.get_untracked() > 0;
        let failed = matches!(ui.phase.get_untracked(), Phase::Failed | Phase::Diverged);
        let finished = run.session.finished();
        if !stepping || finished || failed {
            if was_stepping && !failed {
                if let Err(err) = run.autosave(true).await {
                    ui.run_error.set(Some(format!("autosaving failed: {err}")));
                }
            }
            was_stepping = false;
            if ui.phase.get_untracked() == Phase::Running {
                ui.phase.set(if finished { Phase::Finished } else { Phase::Paused });
            }
            ui.running.set(false);
            ui.pending_steps.set(0);
            browser::sleep(40).await;
            continue;
        }
        if !ui.running.get_untracked() {
            ui.pending_steps.update(|n| *n = n.saturating_sub(1));
        }
        if !was_stepping {
            (epoch_started, epoch_tokens) = (browser::now_ms(), run.session.tokens_trained());
            was_stepping = true;
        }
        let lr = run.session.lr();
        let mut stepped = run.step().await;
        if run.one_in_flight && matches!(stepped, Ok(None)) {
            if let Err(err) = run.session.sync().await {
                stepped = Err(err);
            }
        }
        let tokens_per_s =
            |started: f64, tokens: usize| tokens as f64 / ((browser::now_ms() - started) / 1000.0).max(1e-3);
        match stepped {
            Ok(Some(report)) => {
                let epoch = report.epoch;
                let (valid, accuracy) = (report.valid_perplexity, report.accuracy);
                let point = EpochPoint {
                    epoch,
                    value: report.value,
                    grad_norm: report.grad_norm,
                    valid,
                    accuracy,
                    accuracy_by_position: report.accuracy_by_position.clone(),
                    exact_by_length: report.exact_by_length.clone(),
                    bleu: report.bleu,
                    score: report.score,
                };
                ui.curve.update(|c| c.push(point));
                let cx = view_context(&run.session, ui);
                if let Err(err) = ui.views.compute(When::Epoch, &cx, Some(&report)).await {
                    ui.run_error.set(Some(err));
                }
                ui.progress.set(Progress {
                    epoch,
                    epochs,
                    batch: report.batches,
                    batches: report.batches,
                    tokens_per_s: tokens_per_s(epoch_started, run.session.tokens_trained() - epoch_tokens),
                    lr: run.session.lr(),
                    epochs_before: run.session.epochs_before(),
                    cores: run.cores(),
                });
                (epoch_started, epoch_tokens) = (browser::now_ms(), run.session.tokens_trained());
                run.last = Some(report);
                if let Err(err) = run.autosave(false).await {
                    ui.run_error.set(Some(format!("autosaving failed: {err}")));
                }
                if predict_after(epoch, epochs) {
                    ui.predict_requests.update(|n| *n += 1);
                }
                if epoch >= epochs {
                    ui.running.set(false);
                    ui.phase.set(Phase::Finished);
                }
            }
            Ok(None) => {
                let (batch, batches) = run.session.epoch_progress();
                let speed = tokens_per_s(epoch_started, run.session.tokens_trained() - epoch_tokens);
                ui.progress.update(|p| {
                    (p.batch, p.batches, p.lr, p.tokens_per_s) = (batch, batches, lr, speed);
                });
            }
            Err(err) => {
                ui.running.set(false);
                let diverged = matches!(err, EngineError::Diverged { .. });
                ui.phase.set(if diverged { Phase::Diverged } else { Phase::Failed });
                let kept = match err {
                    // The session put the weights of the last good epoch back: they can be saved.
                    EngineError::Diverged { .. } => {
                        ui.predict_requests.update(|n| *n += 1);
                        format!(
                            "; the weights after epoch {} are kept (Save downloads them)",
                            run.session.epochs_done()
                        )
                    }
                    EngineError::DeviceLost(_) => {
                        ui.device_lost.set(true);
                        run.after_device_lost()
                    }
                    _ => String::new(),
                };
                let epoch = run.session.epochs_done() + 1;
                ui.run_error.set(Some(format!("training stopped at epoch {epoch}: {err}{kept}")));
            }
        }
        browser::sleep(0).await;
    }
}
