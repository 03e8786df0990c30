//! The page's own state — what is not a view of the run (`ui.rs`): the settings, the corpus,
//! the backends and how runs pick one, the lesson, the kept runs, the messages — read from the
//! address once, and the page's commands on it: start a run, step, pause, reset, load a
//! checkpoint, resume a kept run, go on on the CPU after a lost device. The components draw it
//! and call these; the training worker (or the page's own loop) does the work.

use crate::backend_choice::{cpu_is_faster, plan, storage_key, Choice, SpeedNote};
use crate::browser;
use crate::host::{build_session, BackendState};
use crate::keeper::Keeper;
use crate::protocol::{EpochPoint, ToWorker};
use crate::run_loop::{drive, prepare, Run};
use crate::settings::{
    backend_in_query, cores_in_query, from_query, label, lesson_name, lessons_index_first, only_host_keys,
    views_disabled,
};
use crate::storage;
use crate::ui::{Phase, Ui};
use crate::worker_link;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_engine::Checkpoint;
use rnnplay_run::lessons::{Lesson, LESSONS};
use rnnplay_run::{BackendSpeed, RunSpec};

/// The page's state; every field is a signal (or fixed at load), so the value is `Copy` and
/// moves into every closure of the components.
#[derive(Clone, Copy)]
pub(crate) struct Page {
    /// The run's settings, kept in the address.
    pub(crate) settings: RwSignal<RunSpec>,
    /// The run's views (shared with the loop or fed by the worker's reports).
    pub(crate) ui: Ui,
    pub(crate) keeper: Keeper,
    /// The corpus a language model trains on (The Time Machine, pasted or uploaded text).
    pub(crate) text: RwSignal<Option<String>>,
    /// The user's own sentence pairs an encoder–decoder trains on (pasted or uploaded): apart
    /// from the corpus, so neither task ever trains on the other's text.
    pub(crate) pairs: RwSignal<Option<String>>,
    pub(crate) backend_state: RwSignal<BackendState>,
    /// Train on the page's CPU backend rather than WebGPU (the only choice without WebGPU).
    pub(crate) use_cpu: RwSignal<bool>,
    /// What “Train on” says.
    pub(crate) choice: RwSignal<Choice>,
    /// The cores a CPU run trains on (`None`: auto, `settings::cores_for`; core_workers.rs).
    pub(crate) cores: RwSignal<Option<usize>>,
    /// The figures measured this visit, with the key of the model size they are for (the banner
    /// reads remembered ones from localStorage), whether a measurement is under way, and the key
    /// the figures coming back are remembered under.
    pub(crate) speed_note: RwSignal<Option<(String, SpeedNote)>>,
    pub(crate) measuring: RwSignal<bool>,
    pub(crate) measured_key: RwSignal<Option<String>>,
    /// Set when the WebGPU device was lost: the page stays on its CPU backend until reloaded.
    pub(crate) gpu_lost: RwSignal<bool>,
    /// Why a checkpoint could not be loaded.
    pub(crate) load_error: RwSignal<Option<String>>,
    /// The lessons index is shown instead of the playground.
    pub(crate) show_index: RwSignal<bool>,
    /// The offer to resume the last kept run was declined.
    pub(crate) offer_dismissed: RwSignal<bool>,
    /// What was wrong with the address.
    pub(crate) url_error: RwSignal<Option<String>>,
    pub(crate) log_scale: RwSignal<bool>,
    /// The lesson the address names, if any.
    pub(crate) lesson: Option<&'static Lesson>,
}

impl Page {
    /// The page as the address describes it: the settings (or a lesson's first run, when the
    /// address names only the lesson and the page's own keys), “Train on”, the cores, whether
    /// the views start switched off, and a message for anything the address got wrong.
    pub(crate) fn from_address() -> Self {
        let query = browser::query();
        let (mut initial, mut errors) = match from_query(&query) {
            Ok(settings) => (settings, Vec::new()),
            Err(err) => (RunSpec::default(), vec![format!("{err}; the defaults are used instead")]),
        };
        let lesson = match lesson_name(&query) {
            None => None,
            Some(name) => match rnnplay_run::lessons::lesson(&name) {
                Some(lesson) => {
                    // (Host keys such as `backend=` or `worker=0` beside it do not count as settings.)
                    if let (true, Some(Ok(spec))) =
                        (only_host_keys(&query), (!lesson.runs.is_empty()).then(|| lesson.spec(0)))
                    {
                        initial = spec;
                    }
                    Some(lesson)
                }
                None => {
                    let names: Vec<&str> = LESSONS.iter().map(|l| l.name).collect();
                    errors.push(format!("no lesson '{name}'; the lessons are {}", names.join(", ")));
                    None
                }
            },
        };
        let choice =
            backend_in_query(&query).map(|asked| Choice::parse(asked.unwrap_or("auto"))).unwrap_or_else(|err| {
                errors.push(err);
                Choice::Auto
            });
        let cores = cores_in_query(&query).unwrap_or_else(|err| {
            errors.push(err);
            None
        });
        let ui = Ui::new();
        ui.inside_on.set(!views_disabled(&query));
        let keeper = Keeper::new();
        keeper.load();
        keeper.track(ui);
        Self {
            settings: RwSignal::new(initial),
            ui,
            keeper,
            text: RwSignal::new(None),
            pairs: RwSignal::new(None),
            backend_state: RwSignal::new(BackendState::Detecting),
            use_cpu: RwSignal::new(choice == Choice::Cpu),
            choice: RwSignal::new(choice),
            cores: RwSignal::new(cores),
            speed_note: RwSignal::new(None),
            measuring: RwSignal::new(false),
            measured_key: RwSignal::new(None),
            gpu_lost: RwSignal::new(false),
            load_error: RwSignal::new(None),
            show_index: RwSignal::new(lessons_index_first(&query, browser::first_visit())),
            offer_dismissed: RwSignal::new(false),
            url_error: RwSignal::new((!errors.is_empty()).then(|| errors.join("; "))),
            log_scale: RwSignal::new(false),
            lesson,
        }
    }

    /// The backend runs are recorded as trained on.
    pub(crate) fn backend_name(self) -> &'static str {
        if self.use_cpu.get_untracked() {
            "cpu"
        } else {
            "webgpu"
        }
    }

    /// Whether the backends are known (runs can start).
    pub(crate) fn ready(self) -> bool {
        self.backend_state.get() != BackendState::Detecting
    }

    /// Measured figures: shown, remembered, and followed.
    pub(crate) fn take_speeds(self, speeds: Vec<BackendSpeed>) {
        self.measuring.set(false);
        self.use_cpu.set(cpu_is_faster(&speeds));
        if let Some(key) = self.measured_key.get_untracked() {
            browser::store(&key, &serde_json::to_string(&speeds).unwrap_or_default());
            self.speed_note.set(Some((key, SpeedNote { speeds, remembered: false })));
        }
    }

    /// The text a run of `spec` trains on: a language model's corpus, or an encoder–decoder's
    /// own sentence pairs (none for fra-eng and toy tasks).
    pub(crate) fn text_for(&self, spec: &RunSpec) -> Option<String> {
        match (spec.is_seq2seq(), spec.own_text()) {
            (false, _) => self.text.get_untracked(),
            (true, true) => self.pairs.get_untracked(),
            (true, false) => None,
        }
    }

    /// Runs `run`'s loop on the page's thread (without a worker), training or paused.
    fn launch(self, run: Run, running: bool) {
        self.keeper.begin(run.spec(), self.backend_name(), self.lesson, self.text_for(run.spec()));
        let keeper = self.keeper;
        let run = run.autosaving(Box::new(move |epoch, bytes| keeper.autosaved(epoch, bytes)));
        self.load_error.set(None);
        let generation = prepare(self.ui, running, run.progress(), run.spec().clip);
        if !running {
            self.ui.pending_steps.set(1);
        }
        spawn_local(drive(self.ui, generation, run));
    }

    /// Builds the run the settings describe from the data they name (fetching fra-eng when it is
    /// the data) and starts it, training (`running`) or paused; a message instead when something
    /// is missing or wrong (the settings panel shows each bad value next to its field).
    pub(crate) fn begin(self, running: bool) {
        let ui = self.ui;
        if self.backend_state.get_untracked() == BackendState::Detecting {
            ui.run_error.set(Some("the backend is still being chosen; try again in a moment".into()));
            return;
        }
        let spec = self.settings.get_untracked();
        let mut bad: Vec<&str> = ui.unparsed.get_untracked().iter().map(|(key, _)| label(key)).collect();
        bad.extend(spec.validate().iter().map(|p| label(p.field)));
        bad.sort_unstable();
        bad.dedup();
        if !bad.is_empty() {
            ui.run_error.set(Some(format!("fix the settings marked in red first: {}", bad.join(", "))));
            return;
        }
        self.load_error.set(None);
        // WebGPU or the CPU: forced, remembered for this adapter and model size, or measured now.
        let state = self.backend_state.get_untracked();
        let key = match &state {
            BackendState::Gpu { name, .. } => Some(storage_key(name, &spec)),
            _ => None,
        };
        let remembered = key.as_deref().and_then(|key| crate::backend_choice::parse_remembered(&browser::stored(key)?));
        let plan = plan(&state, self.gpu_lost.get_untracked(), self.choice.get_untracked(), remembered);
        self.use_cpu.set(plan.use_cpu);
        self.measuring.set(plan.measure);
        self.measured_key.set(key);
        ui.phase.set(Phase::Running);
        ui.run_error.set(None);
        ui.curve.set(Vec::new());
        ui.views.clear();
        let text = self.text_for(&spec);
        let use_cpu = self.use_cpu.get_untracked();
        let command = ToWorker::Start { spec, text, running, use_cpu, measure: plan.measure };
        if worker_link::active() {
            worker_link::send(&command);
            return;
        }
        spawn_local(async move {
            match build_session(&command, |speeds| self.take_speeds(speeds)).await {
                Ok(session) => {
                    if let Some(run) = session.seq2seq() {
                        // The default sentence is English; a toy task's own first example fits it.
                        if session.spec().data != "fra-eng" && ui.sentence.get_untracked() == "go ." {
                            ui.sentence.set(run.examples.first().map(|(src, _)| src.clone()).unwrap_or_default());
                        }
                    }
                    self.launch(Run::new(session), running);
                }
                Err(err) => {
                    self.measuring.set(false);
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some(err));
                }
            }
        });
    }

    /// Start, or Resume a paused run.
    pub(crate) fn start(self) {
        match self.ui.phase.get_untracked() {
            Phase::Idle => self.begin(true),
            Phase::Paused => {
                self.ui.running.set(true);
                self.ui.phase.set(Phase::Running);
                worker_link::send(&ToWorker::Running(true));
            }
            _ => {}
        }
    }

    pub(crate) fn pause(self) {
        self.ui.running.set(false);
        worker_link::send(&ToWorker::Running(false));
    }

    /// One minibatch: a new run built paused, or one more step of a paused run.
    pub(crate) fn step(self) {
        match self.ui.phase.get_untracked() {
            Phase::Idle => self.begin(false),
            Phase::Paused if !worker_link::send(&ToWorker::Step) => self.ui.pending_steps.update(|n| *n += 1),
            _ => {}
        }
    }

    /// Ends the run (it stays kept) and clears its views and messages.
    pub(crate) fn reset(self) {
        let ui = self.ui;
        self.keeper.end();
        worker_link::send(&ToWorker::Reset);
        ui.generation.update(|g| *g += 1);
        ui.running.set(false);
        ui.pending_steps.set(0);
        ui.phase.set(Phase::Idle);
        ui.curve.set(Vec::new());
        ui.views.clear();
        ui.progress.set(Default::default());
        ui.run_error.set(None);
        ui.device_lost.set(false);
        self.load_error.set(None);
    }

    /// Asks for the model as a checkpoint download.
    pub(crate) fn save(self) {
        if !worker_link::send(&ToWorker::Save) {
            self.ui.save_requests.update(|n| *n += 1);
        }
    }

    /// Loads a checkpoint file: it replaces the run only once it has proved usable; otherwise a
    /// message says why and the current model and chart stay.
    pub(crate) fn load_checkpoint(self, file: web_sys::File) {
        spawn_local(async move {
            let name = file.name();
            let loaded = async {
                let bytes = browser::file_bytes(&file).await?;
                // Checked here, so a bad file leaves the current run alone.
                Checkpoint::from_bytes(&bytes).map_err(|e| e.to_string())?;
                if self.backend_state.get_untracked() == BackendState::Detecting {
                    return Err("the backend is still being chosen; try again".into());
                }
                let text = self.text.get_untracked().ok_or(
                    "load a corpus first (The Time Machine, pasted text or a file): the model trains and predicts on it",
                )?;
                let mut spec = self.settings.get_untracked();
                if spec.is_seq2seq() {
                    // A language model continues on the page's text, with the language-model defaults.
                    spec = RunSpec { seed: spec.seed, ..RunSpec::default() };
                }
                let use_cpu = self.use_cpu.get_untracked();
                let resume = ToWorker::Resume { spec, checkpoint: bytes, text, use_cpu };
                if worker_link::active() {
                    // The file proved usable here; the worker builds the run from it.
                    return Ok(Err(resume));
                }
                Ok::<_, String>(Ok(build_session(&resume, |_| {}).await?))
            }
            .await;
            match loaded {
                Ok(Err(resume)) => {
                    self.reset();
                    self.ui.phase.set(Phase::Paused);
                    worker_link::send(&resume);
                }
                Ok(Ok(session)) => {
                    self.reset();
                    self.settings.set(session.spec().clone());
                    self.launch(Run::new(session), false);
                    self.ui.pending_steps.set(0);
                    self.ui.predict_requests.update(|n| *n += 1);
                }
                Err(err) => self.load_error.set(Some(format!(
                    "{name}: {err}. Pick a .safetensors file saved by this page or by rnnplay train --save."
                ))),
            }
        });
    }

    /// Resumes a kept run: its autosaved checkpoint (with the training state) and its data from
    /// storage, rebuilt by the worker (or here), training on from the saved epoch.
    pub(crate) fn continue_kept(self, id: u64) {
        let ui = self.ui;
        let Some(record) = self.keeper.record(id) else { return };
        let Some(epoch) = record.resumable_from() else { return };
        if self.backend_state.get_untracked() == BackendState::Detecting {
            ui.run_error.set(Some("the backend is still being chosen; try again in a moment".into()));
            return;
        }
        self.reset();
        self.offer_dismissed.set(true);
        self.show_index.set(false);
        spawn_local(async move {
            let found = async {
                let bytes = storage::checkpoint(id).await?.ok_or("its checkpoint is no longer kept")?;
                let corpus = if record.spec.own_text() {
                    Some(storage::text(id).await?.ok_or("the text it trained on is no longer kept")?)
                } else if record.spec.data == "timemachine" {
                    Some(self.text.get_untracked().ok_or("The Time Machine is still loading; try again in a moment")?)
                } else {
                    None
                };
                Ok::<_, String>((bytes, corpus))
            };
            let (bytes, corpus) = match found.await {
                Ok(found) => found,
                Err(err) => {
                    ui.run_error.set(Some(format!("cannot resume {}: {err}", record.name)));
                    return;
                }
            };
            let history: Vec<EpochPoint> = record.curve.iter().filter(|p| p.epoch <= epoch).cloned().collect();
            self.settings.set(record.spec.clone());
            self.keeper.continue_run(id);
            ui.phase.set(Phase::Running);
            let use_cpu = self.use_cpu.get_untracked();
            let command = ToWorker::Continue { checkpoint: bytes, text: corpus, history: history.clone(), use_cpu };
            if worker_link::active() {
                worker_link::send(&command);
                return;
            }
            match build_session(&command, |_| {}).await {
                Ok(session) => {
                    self.launch(Run::new(session), true);
                    ui.curve.set(history);
                }
                Err(err) => {
                    self.keeper.end();
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some(format!("cannot resume {}: {err}", record.name)));
                }
            }
        });
    }

    /// After a lost GPU device the run goes on on the page's CPU backend: from its last kept
    /// epoch (autosaved from the run's host copy), or from the start when none had finished.
    pub(crate) fn continue_on_cpu(self) {
        self.gpu_lost.set(true);
        self.use_cpu.set(true);
        let kept = self.keeper.current.get_untracked().and_then(|id| self.keeper.record(id));
        match kept.filter(|record| record.resumable_from().is_some()) {
            Some(record) => self.continue_kept(record.id),
            None => {
                self.reset();
                self.begin(true);
            }
        }
    }

    /// A lesson's run, one click from training: the run in progress is kept and ended.
    pub(crate) fn train(self, spec: RunSpec) {
        if self.ui.phase.get_untracked() != Phase::Idle {
            self.reset();
        }
        self.settings.set(spec);
        self.begin(true);
    }
}
