//! What the training worker reports, applied to the page's signals: the same signals the page's
//! own loop writes, so the components are the same either way.

use crate::host::BackendState;
use crate::page::Page;
use crate::protocol::{Backends, FromWorker, ToWorker};
use crate::ui::Phase;
use crate::{browser, worker_link};
use leptos::prelude::*;

impl Page {
    /// Applies one report of the worker.
    pub(crate) fn take(self, message: FromWorker) {
        let ui = self.ui;
        match message {
            FromWorker::Backends(backends) => {
                // The worker listens now (a message sent while its module was loading can be lost):
                // tell it whether the views are on.
                worker_link::send(&ToWorker::InsideViews(ui.inside_on.get_untracked()));
                worker_link::send(&ToWorker::Cores(self.cores.get_untracked()));
                match backends {
                    Backends::Gpu { name, software } => self.backend_state.set(BackendState::Gpu { name, software }),
                    Backends::Cpu { reason } => {
                        self.use_cpu.set(true);
                        self.backend_state.set(BackendState::Cpu(reason));
                    }
                }
            }
            FromWorker::Measured(speeds) => self.take_speeds(speeds),
            FromWorker::Built { spec, progress, first_example } => {
                ui.position.set(None);
                if spec.is_seq2seq() && spec.data != "fra-eng" && ui.sentence.get_untracked() == "go ." {
                    ui.sentence.set(first_example.unwrap_or_default());
                }
                ui.clip.set(spec.clip);
                ui.progress.set(progress);
                self.keeper.begin(&spec, self.backend_name(), self.lesson, self.text_for(&spec));
                if self.settings.get_untracked() != *spec {
                    self.settings.set(*spec);
                }
            }
            FromWorker::NotBuilt(err) => {
                self.measuring.set(false);
                self.keeper.end();
                ui.phase.set(Phase::Idle);
                ui.run_error.set(Some(err));
            }
            FromWorker::Phase(phase) => ui.phase.set(phase),
            FromWorker::Progress(progress) => ui.progress.set(progress),
            FromWorker::Curve(curve) => ui.curve.set(curve),
            FromWorker::View(value) => ui.views.show(value),
            FromWorker::RunError(err) => ui.run_error.set(err),
            FromWorker::DeviceLost(lost) => ui.device_lost.set(lost),
            // The playground never asks the worker for the benchmark.
            FromWorker::Bench(_) => {}
            FromWorker::Autosaved { epoch, bytes } => self.keeper.autosaved(epoch, bytes),
            FromWorker::Saved { name, bytes } => {
                if let Err(err) = browser::download(&name, &bytes) {
                    ui.run_error.set(Some(format!("saving failed: {err}")));
                }
            }
        }
    }
}
