//! The training loop of the page. One task owns the run (the engine's `Session`); the controls
//! talk to it only through signals, which it reads between minibatches. So the page never
//! freezes (the task yields to the browser after every batch), Pause takes effect within one
//! batch, and a Reset simply makes the old task stop. Everything a run does — schedules,
//! validation, divergence handling — is the session's; this file only drives and reports.

use crate::browser;
use crate::ui::{EpochPoint, Phase, Progress, Ui};
use leptos::prelude::*;
use rnnplay_engine::run::{EpochReport, Session};
use rnnplay_engine::EngineError;

/// A run: the session and its last epoch's report.
pub struct Run {
    session: Session,
    last: Option<EpochReport>,
}

impl Run {
    pub fn new(session: Session) -> Self {
        Self { session, last: None }
    }

    /// Offers the model as a checkpoint download (the spec and epochs in its metadata).
    async fn save(&self) -> Result<(), String> {
        let bytes = self.session.checkpoint_bytes(self.last.as_ref()).await.map_err(|e| e.to_string())?;
        let name = if self.session.spec().is_seq2seq() { "seq2seq".into() } else { self.session.spec().model.clone() };
        browser::download(&format!("rnnplay-{name}.safetensors"), &bytes)
    }
}

/// How often (in epochs) predictions refresh on their own: about 20 times a run.
fn predict_every(epochs: usize) -> usize {
    (epochs / 20).max(1)
}

/// Drives `run` until the generation changes. Commands are read between batches:
/// predictions and saves asked for first, then one batch if training or stepping.
pub async fn drive(ui: Ui, generation: u64, mut run: Run) {
    let epochs = run.session.spec().epochs;
    let (mut predicts_seen, mut saves_seen) = (0, 0);
    let mut epoch_started = browser::now_ms();
    loop {
        if ui.generation.get_untracked() != generation {
            return;
        }
        let predicts = ui.predict_requests.get_untracked();
        if predicts != predicts_seen {
            predicts_seen = predicts;
            if let Err(err) = crate::predict::refresh(&run.session, ui).await {
                ui.run_error.set(Some(format!("predictions failed: {err}")));
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
        let failed = ui.phase.get_untracked() == Phase::Failed;
        let finished = run.session.finished();
        if !stepping || finished || failed {
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
        let lr = run.session.lr();
        match run.session.step().await {
            Ok(Some(report)) => {
                let seconds = (browser::now_ms() - epoch_started) / 1000.0;
                epoch_started = browser::now_ms();
                let epoch = report.epoch;
                ui.curve.update(|c| c.push(EpochPoint { epoch, value: report.value, grad_norm: report.grad_norm }));
                ui.progress.set(Progress {
                    epoch,
                    epochs,
                    batch: report.batches,
                    batches: report.batches,
                    tokens_per_s: report.tokens as f64 / seconds.max(1e-3),
                    lr: run.session.lr(),
                });
                run.last = Some(report);
                if epoch.is_multiple_of(predict_every(epochs)) || epoch >= epochs {
                    ui.predict_requests.update(|n| *n += 1);
                }
                if epoch >= epochs {
                    ui.running.set(false);
                    ui.phase.set(Phase::Finished);
                }
            }
            Ok(None) => {
                let (batch, batches) = run.session.epoch_progress();
                ui.progress.update(|p| {
                    (p.batch, p.batches, p.lr) = (batch, batches, lr);
                });
            }
            Err(err) => {
                ui.running.set(false);
                ui.phase.set(Phase::Failed);
                let kept = match err {
                    // The session put the weights of the last good epoch back: they can be saved.
                    EngineError::Diverged { .. } => {
                        ui.predict_requests.update(|n| *n += 1);
                        format!(
                            "; the weights after epoch {} are kept (Save downloads them)",
                            run.session.epochs_done()
                        )
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
