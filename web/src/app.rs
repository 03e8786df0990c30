//! The page: backend banner, dataset, settings, training controls, charts and predictions.

use crate::backend_choice::{banner, cpu_is_faster, parse_remembered, plan, storage_key, Choice, SpeedNote};
use crate::browser::{self, available_cores};
use crate::components::chart::{Chart, Series};
use crate::components::dataset_panel::DatasetPanel;
use crate::components::inside::InsidePanel;
use crate::components::inside_translation::TranslationInside;
use crate::components::lesson_panel::LessonPanel;
use crate::components::lessons_index::LessonsIndex;
use crate::components::predictions::PredictionsPanel;
use crate::components::runs_panel::RunsPanel;
use crate::components::settings_panel::SettingsPanel;
use crate::components::through_time_chart::ThroughTimeChart;
use crate::components::translations::TranslationsPanel;
use crate::host::{
    chosen_backend, fra_eng_for, keep_backend, measure_backends, open_backend, run_data, saved_session, BackendState,
};
use crate::keeper::Keeper;
use crate::paint;
use crate::protocol::EpochPoint;
use crate::protocol::{Backends, FromWorker, ToWorker};
use crate::run_loop::{drive, prepare, Run};
use crate::settings::{
    backend_in_query, cores_for, cores_in_query, from_query, label, lesson_name, lessons_index_first, only_host_keys,
    to_query, views_disabled, worker_disabled, CORES_KEY, CORE_CHOICES,
};
use crate::storage;
use crate::ui::{Phase, Predictions, Ui};
use crate::worker_link;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_engine::run::BackendSpeed;
use rnnplay_engine::run::{RunData, RunSpec};
use rnnplay_engine::{Checkpoint, EngineOptions};

/// The speeds this browser remembered for `key`, if any (and sound).
fn remembered_speeds(key: &str) -> Option<Vec<BackendSpeed>> {
    parse_remembered(&browser::stored(key)?)
}

#[component]
pub fn App() -> impl IntoView {
    let (mut initial, mut url_error) = match from_query(&browser::query()) {
        Ok(settings) => (settings, None),
        Err(err) => (RunSpec::default(), Some(format!("{err}; the defaults are used instead"))),
    };
    // A lesson's address sets up its first run; after that the page keeps the settings in the
    // address beside the lesson's name, and a reload keeps them.
    let query = browser::query();
    // (Host keys such as `backend=` or `worker=0` beside it do not count as settings.)
    let lesson_only = only_host_keys(&query);
    let lesson = match lesson_name(&query) {
        None => None,
        Some(name) => match rnnplay_engine::lessons::lesson(&name) {
            Some(lesson) => {
                if let (true, Some(Ok(spec))) = (lesson_only, lesson.runs.first().map(|r| r.spec())) {
                    initial = spec;
                }
                Some(lesson)
            }
            None => {
                let names: Vec<&str> = rnnplay_engine::lessons::LESSONS.iter().map(|l| l.name).collect();
                url_error = Some(format!("no lesson '{name}'; the lessons are {}", names.join(", ")));
                None
            }
        },
    };
    let settings = RwSignal::new(initial);
    let ui = Ui::new();
    let keeper = Keeper::new();
    keeper.load();
    keeper.track(ui);
    let show_index = RwSignal::new(lessons_index_first(&query, browser::first_visit()));
    let offer_dismissed = RwSignal::new(false);
    ui.views.set(!views_disabled(&browser::query()));
    let text = RwSignal::new(None::<String>);
    let backend_state = RwSignal::new(BackendState::Detecting);
    // Train on the page's CPU backend rather than WebGPU (the only choice without WebGPU).
    let use_cpu = RwSignal::new(false);
    // A bad host key in the address adds its message to the address's others.
    let mut also_wrong =
        |err: String| url_error = Some(url_error.take().map_or(err.clone(), |earlier| format!("{earlier}; {err}")));
    // What “Train on” says, the figures measured this visit (with the key of the model size they
    // are for; the banner reads remembered ones from localStorage), whether a measurement is
    // under way, and the key the figures coming back are remembered under.
    let choice = RwSignal::new(match backend_in_query(&query) {
        Ok(asked) => Choice::parse(asked.unwrap_or("auto")),
        Err(err) => {
            also_wrong(err);
            Choice::Auto
        }
    });
    use_cpu.set(choice.get_untracked() == Choice::Cpu);
    // The cores a CPU run trains on (`None`: auto, `settings::cores_for`; core_workers.rs).
    let cores = RwSignal::new(cores_in_query(&query).unwrap_or_else(|err| {
        also_wrong(err);
        None
    }));
    let speed_note = RwSignal::new(None::<(String, SpeedNote)>);
    let measuring = RwSignal::new(false);
    let measured_key = RwSignal::new(None::<String>);
    // Set when the WebGPU device was lost: the page stays on its CPU backend until reloaded.
    let gpu_lost = RwSignal::new(false);
    // Measured figures: shown, remembered, and followed.
    let take_speeds = move |speeds: Vec<BackendSpeed>| {
        measuring.set(false);
        use_cpu.set(cpu_is_faster(&speeds));
        if let Some(key) = measured_key.get_untracked() {
            browser::store(&key, &serde_json::to_string(&speeds).unwrap_or_default());
            speed_note.set(Some((key, SpeedNote { speeds, remembered: false })));
        }
    };
    let url_error = RwSignal::new(url_error);
    let backend_name = move || if use_cpu.get_untracked() { "cpu" } else { "webgpu" };
    let log_scale = RwSignal::new(false);

    // The address keeps the settings, the lesson and a core count other than auto, so a reload
    // (or a shared link) trains the same run the same way.
    Effect::new(move |_| {
        let mut query = to_query(&settings.get());
        if let Some(lesson) = lesson {
            query.push_str(&format!("&lesson={}", lesson.name));
        }
        if let Some(n) = cores.get() {
            query.push_str(&format!("&{CORES_KEY}={n}"));
        }
        browser::set_query(&query);
    });
    // Without a worker the page finds its own backends and trains by itself.
    let local_backends = move || {
        spawn_local(async move {
            let (backend, state) = open_backend().await;
            keep_backend(backend, &state);
            if !matches!(state, BackendState::Gpu { .. }) {
                use_cpu.set(true);
            }
            backend_state.set(state);
        });
    };
    // The training worker owns the run; what it reports goes into the same signals the page's
    // own loop would write.
    let from_worker = move |message: FromWorker| match message {
        FromWorker::Backends(backends) => {
            // The worker listens now (a message sent while its module was loading can be lost):
            // tell it whether the views are on.
            worker_link::send(&ToWorker::Views(ui.views.get_untracked()));
            worker_link::send(&ToWorker::Cores(cores.get_untracked()));
            match backends {
                Backends::Gpu { name, software } => backend_state.set(BackendState::Gpu { name, software }),
                Backends::Cpu { reason } => {
                    use_cpu.set(true);
                    backend_state.set(BackendState::Cpu(reason));
                }
            }
        }
        FromWorker::Measured(speeds) => take_speeds(speeds),
        FromWorker::Built { spec, progress, first_example } => {
            ui.position.set(None);
            if spec.is_seq2seq() && spec.data != "fra-eng" && ui.sentence.get_untracked() == "go ." {
                ui.sentence.set(first_example.unwrap_or_default());
            }
            ui.clip.set(spec.clip);
            ui.progress.set(progress);
            keeper.begin(&spec, backend_name(), lesson, text.get_untracked());
            if settings.get_untracked() != *spec {
                settings.set(*spec);
            }
        }
        FromWorker::NotBuilt(err) => {
            measuring.set(false);
            keeper.end();
            ui.phase.set(Phase::Idle);
            ui.run_error.set(Some(err));
        }
        FromWorker::Phase(phase) => ui.phase.set(phase),
        FromWorker::Progress(progress) => ui.progress.set(progress),
        FromWorker::Curve(curve) => ui.curve.set(curve),
        // The views an epoch's end refreshes all at once are shown one per animation frame
        // (`paint::later`): each rebuilds a panel of the page.
        FromWorker::Predictions(p) => {
            paint::later("predictions", move || ui.predictions.set((p != Predictions::default()).then_some(p)))
        }
        FromWorker::ThroughTime(t) => ui.through_time.set(t),
        FromWorker::Inspection(view) => {
            paint::later("inspection", move || ui.inspection.set((!view.tokens.is_empty()).then_some(view)))
        }
        FromWorker::TranslationInspection(view) => paint::later("translation-inspection", move || {
            ui.translation_inspection.set((!view.encoder.tokens.is_empty()).then_some(view))
        }),
        FromWorker::Connectivity(view) => ui.connectivity.set((!view.saliency_x.is_empty()).then_some(view)),
        FromWorker::Translations(rows) => {
            paint::later("translations", move || ui.translations.set((!rows.is_empty()).then_some(rows)))
        }
        FromWorker::SentenceTranslation(text) => ui.sentence_translation.set(text),
        FromWorker::RunError(err) => ui.run_error.set(err),
        FromWorker::DeviceLost(lost) => ui.device_lost.set(lost),
        // The playground never asks the worker for the benchmark.
        FromWorker::Bench(_) => {}
        FromWorker::Autosaved { epoch, bytes } => keeper.autosaved(epoch, bytes),
        FromWorker::Saved { name, bytes } => {
            if let Err(err) = browser::download(&name, &bytes) {
                ui.run_error.set(Some(format!("saving failed: {err}")));
            }
        }
    };
    if worker_disabled(&browser::query()) || !worker_link::start(from_worker, move |_| local_backends()) {
        local_backends();
    }
    // Predictions asked for (Predict now, Translate) go to the worker with the current options.
    let predicts_sent = std::cell::Cell::new(0);
    Effect::new(move |_| {
        let asked = ui.predict_requests.get();
        if asked != predicts_sent.get() && worker_link::active() {
            predicts_sent.set(asked);
            worker_link::send(&ToWorker::Predict {
                prefix: ui.prefix.get_untracked(),
                length: ui.length.get_untracked(),
                temperature: ui.temperature.get_untracked(),
                sentence: ui.sentence.get_untracked(),
            });
        }
    });

    // A position picked inside the network, and the views switched on or off, go to the worker.
    let connects_sent = std::cell::Cell::new(0);
    Effect::new(move |_| {
        let asked = ui.connect_requests.get();
        if asked != connects_sent.get() && worker_link::active() {
            connects_sent.set(asked);
            if let Some(position) = ui.position.get_untracked() {
                worker_link::send(&ToWorker::Connect { position });
            }
        }
    });
    Effect::new(move |_| {
        let on = ui.views.get();
        if worker_link::active() {
            worker_link::send(&ToWorker::Views(on));
        }
    });
    Effect::new(move |_| {
        let asked = cores.get();
        if worker_link::active() {
            worker_link::send(&ToWorker::Cores(asked));
        }
    });

    // Resets the page for a new run, training (`running`) or paused, and returns its generation;
    // the caller spawns the run's loop with it.
    let load_error = RwSignal::new(None::<String>);
    let prepare_page = move |running: bool, run: &Run| -> u64 {
        load_error.set(None);
        prepare(ui, running, run.progress(), run.spec().clip)
    };
    let autosave_here = move |run: Run| run.autosaving(Box::new(move |epoch, bytes| keeper.autosaved(epoch, bytes)));
    let launch = move |run: Run, running: bool| {
        keeper.begin(run.spec(), backend_name(), lesson, text.get_untracked());
        let run = autosave_here(run);
        let generation = prepare_page(running, &run);
        if !running {
            ui.pending_steps.set(1);
        }
        spawn_local(drive(ui, generation, run));
    };
    // Builds the session from the current settings and the data they name (fetching fra-eng
    // when it is the data) and starts its loop; a message instead when something is missing
    // or wrong. The settings panel shows each bad value next to its field.
    let begin = move |running: bool| {
        if backend_state.get_untracked() == BackendState::Detecting {
            ui.run_error.set(Some("the backend is still being chosen; try again in a moment".into()));
            return;
        }
        let spec = settings.get_untracked();
        let mut bad: Vec<&str> = ui.unparsed.get_untracked().iter().map(|(key, _)| label(key)).collect();
        bad.extend(spec.validate().iter().map(|p| label(p.field)));
        bad.sort_unstable();
        bad.dedup();
        if !bad.is_empty() {
            ui.run_error.set(Some(format!("fix the settings marked in red first: {}", bad.join(", "))));
            return;
        }
        load_error.set(None);
        // WebGPU or the CPU: forced, remembered for this adapter and model size, or measured now.
        let state = backend_state.get_untracked();
        let key = match &state {
            BackendState::Gpu { name, .. } => Some(storage_key(name, &spec)),
            _ => None,
        };
        let plan =
            plan(&state, gpu_lost.get_untracked(), choice.get_untracked(), key.as_deref().and_then(remembered_speeds));
        use_cpu.set(plan.use_cpu);
        measuring.set(plan.measure);
        measured_key.set(key);
        let measure = plan.measure;
        ui.phase.set(Phase::Running);
        if worker_link::active() {
            let text = if spec.is_seq2seq() { None } else { text.get_untracked() };
            ui.run_error.set(None);
            ui.curve.set(Vec::new());
            ui.predictions.set(None);
            ui.translations.set(None);
            worker_link::send(&ToWorker::Start { spec, text, running, use_cpu: use_cpu.get_untracked(), measure });
            return;
        }
        spawn_local(async move {
            let zip = match fra_eng_for(&spec).await {
                Ok(zip) => zip,
                Err(err) => {
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some(err));
                    return;
                }
            };
            // (run_data takes the archive, or a toy task's generated pairs, before the text.)
            let corpus = text.get_untracked();
            let data = match run_data(&spec, zip.as_deref(), corpus.as_deref()) {
                Ok(data) => data,
                Err(err) => {
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some(err));
                    return;
                }
            };
            if measure {
                match measure_backends(&spec, data).await {
                    Ok(speeds) => take_speeds(speeds),
                    Err(err) => {
                        measuring.set(false);
                        ui.phase.set(Phase::Idle);
                        ui.run_error.set(Some(err));
                        return;
                    }
                }
            }
            let backend = chosen_backend(use_cpu.get_untracked());
            match spec.build(&backend, data, &EngineOptions::default()) {
                Ok(session) => {
                    if let Some(run) = session.seq2seq() {
                        // The default sentence is English; a toy task's own first example fits it.
                        if spec.data != "fra-eng" && ui.sentence.get_untracked() == "go ." {
                            ui.sentence.set(run.examples.first().map(|(src, _)| src.clone()).unwrap_or_default());
                        }
                    }
                    launch(Run::new(session), running);
                }
                Err(err) => {
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some(err.to_string()));
                }
            }
        });
    };
    let start = move |_| match ui.phase.get_untracked() {
        Phase::Idle => begin(true),
        Phase::Paused => {
            ui.running.set(true);
            ui.phase.set(Phase::Running);
            worker_link::send(&ToWorker::Running(true));
        }
        _ => {}
    };
    let pause = move |_| {
        ui.running.set(false);
        worker_link::send(&ToWorker::Running(false));
    };
    let step = move |_| match ui.phase.get_untracked() {
        Phase::Idle => begin(false),
        Phase::Paused if !worker_link::send(&ToWorker::Step) => ui.pending_steps.update(|n| *n += 1),
        _ => {}
    };
    let reset = move || {
        keeper.end();
        worker_link::send(&ToWorker::Reset);
        ui.generation.update(|g| *g += 1);
        ui.running.set(false);
        ui.pending_steps.set(0);
        ui.phase.set(Phase::Idle);
        ui.curve.set(Vec::new());
        ui.predictions.set(None);
        ui.progress.set(Default::default());
        ui.run_error.set(None);
        ui.device_lost.set(false);
        load_error.set(None);
    };
    // Loading a checkpoint replaces the run only once the file has proved usable; otherwise a
    // message says why and the current model and chart stay.
    let load_input = NodeRef::<html::Input>::new();
    let on_load = move |_| {
        let Some(file) = load_input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            let name = file.name();
            let loaded = async {
                let bytes = browser::file_bytes(&file).await?;
                let checkpoint = Checkpoint::from_bytes(&bytes).map_err(|e| e.to_string())?;
                if backend_state.get_untracked() == BackendState::Detecting {
                    return Err("the backend is still being chosen; try again".into());
                }
                let backend = chosen_backend(use_cpu.get_untracked());
                let corpus = text.get_untracked().ok_or(
                    "load a corpus first (The Time Machine, pasted text or a file): the model trains and predicts on it",
                )?;
                let mut spec = settings.get_untracked();
                if spec.is_seq2seq() {
                    // A language model continues on the page's text, with the language-model defaults.
                    spec = RunSpec { seed: spec.seed, ..RunSpec::default() };
                }
                if worker_link::active() {
                    // The file proved usable here; the worker builds the run from it.
                    return Ok(Err(ToWorker::Resume { spec, checkpoint: bytes, text: corpus, use_cpu: use_cpu.get_untracked() }));
                }
                let session =
                    spec.resume(&backend, &checkpoint, RunData::Text(&corpus), &EngineOptions::default()).map_err(|e| e.to_string())?;
                Ok::<_, String>(Ok(session))
            }
            .await;
            match loaded {
                Ok(Err(resume)) => {
                    reset();
                    ui.phase.set(Phase::Paused);
                    worker_link::send(&resume);
                }
                Ok(Ok(session)) => {
                    reset();
                    settings.set(session.spec().clone());
                    keeper.begin(session.spec(), backend_name(), lesson, text.get_untracked());
                    let run = autosave_here(Run::new(session));
                    let generation = prepare_page(false, &run);
                    spawn_local(drive(ui, generation, run));
                    ui.predict_requests.update(|n| *n += 1);
                    load_error.set(None);
                }
                Err(err) => load_error.set(Some(format!(
                    "{name}: {err}. Pick a .safetensors file saved by this page or by rnnplay train --save."
                ))),
            }
        });
    };
    // Resuming a kept run: its autosaved checkpoint (with the training state) and its data from
    // storage, rebuilt by the worker (or here), training on from the saved epoch.
    let continue_kept = move |id: u64| {
        let Some(record) = keeper.record(id) else { return };
        let Some(epoch) = record.resumable_from() else { return };
        if backend_state.get_untracked() == BackendState::Detecting {
            ui.run_error.set(Some("the backend is still being chosen; try again in a moment".into()));
            return;
        }
        reset();
        offer_dismissed.set(true);
        show_index.set(false);
        spawn_local(async move {
            let found = async {
                let bytes = storage::checkpoint(id).await?.ok_or("its checkpoint is no longer kept")?;
                let corpus = if record.spec.is_seq2seq() {
                    None
                } else if record.spec.data == "timemachine" {
                    Some(text.get_untracked().ok_or("The Time Machine is still loading; try again in a moment")?)
                } else {
                    Some(storage::text(id).await?.ok_or("the text it trained on is no longer kept")?)
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
            settings.set(record.spec.clone());
            keeper.continue_run(id);
            ui.phase.set(Phase::Running);
            let use_cpu = use_cpu.get_untracked();
            if worker_link::active() {
                worker_link::send(&ToWorker::Continue { checkpoint: bytes, text: corpus, history, use_cpu });
                return;
            }
            match saved_session(&bytes, corpus.as_deref(), use_cpu).await {
                Ok(session) => {
                    launch(Run::new(session), true);
                    ui.curve.set(history);
                }
                Err(err) => {
                    keeper.end();
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some(format!("cannot resume {}: {err}", record.name)));
                }
            }
        });
    };
    // After a lost GPU device the run goes on on the page's CPU backend: from its last kept
    // epoch (autosaved from the run's host copy), or from the start when none had finished.
    let continue_on_cpu = move |_| {
        gpu_lost.set(true);
        use_cpu.set(true);
        let kept = keeper.current.get_untracked().and_then(|id| keeper.record(id));
        match kept.filter(|record| record.resumable_from().is_some()) {
            Some(record) => continue_kept(record.id),
            None => {
                reset();
                begin(true);
            }
        }
    };
    // A lesson's run, one click from training: the run in progress is kept and ended.
    let train_lesson_run = Callback::new(move |spec: RunSpec| {
        if ui.phase.get_untracked() != Phase::Idle {
            reset();
        }
        settings.set(spec);
        begin(true);
    });
    let offer = Memo::new(move |_| {
        keeper.runs.with(|runs| {
            runs.iter().rev().find_map(|r| r.resumable_from().map(|k| (r.id, r.name.clone(), k, r.spec.epochs)))
        })
    });
    let save = move |_| {
        if !worker_link::send(&ToWorker::Save) {
            ui.save_requests.update(|n| *n += 1);
        }
    };

    let ready = move || backend_state.get() != BackendState::Detecting;
    let phase_text = move || match ui.phase.get() {
        Phase::Idle => "ready",
        Phase::Running => "training",
        Phase::Paused => "paused",
        Phase::Finished => "finished",
        Phase::Failed => "stopped",
    };
    let progress_text = move || ui.progress.get().describe();
    let curve = Signal::derive(move || ui.curve.with(|c| c.iter().map(|p| p.value).collect()));
    let grad_norms = Signal::derive(move || ui.curve.with(|c| c.iter().map(|p| p.grad_norm).collect()));
    let seq2seq = move || settings.with(RunSpec::is_seq2seq);
    let curve_series = Signal::derive(move || Series::Curve {
        log_scale: log_scale.get(),
        label: if seq2seq() { "per-token cross-entropy" } else { "perplexity" },
    });
    let norm_series = Signal::derive(move || Series::GradNorm { clip: ui.clip.get() });
    let curve_caption = Signal::derive(move || {
        if seq2seq() {
            "The cross-entropy per target token, per epoch: how surprised the decoder is by the true next word — lower is better.".to_string()
        } else {
            "Perplexity of the training text per epoch: roughly how many tokens the model hesitates between at each step — lower is better, 1 is certainty.".to_string()
        }
    });
    let norm_caption = Signal::derive(move || {
        format!(
            "The global gradient norm before clipping, averaged over each epoch's minibatches; wherever it is above the red line θ = {}, clipping scaled the gradients down to θ.",
            ui.clip.get()
        )
    });

    view! {
        <header>
            <h1>"rnnplay"</h1>
            <p>"Train recurrent networks in your browser — the recurrent chapters of " <em>"Dive into Deep Learning"</em> "."
                " " <button id="lessons-link" on:click=move |_| show_index.update(|s| *s = !*s)>
                    {move || if show_index.get() { "Open the playground" } else { "Lessons" }}
                </button>
            </p>
        </header>
        {move || {
            let state = backend_state.get();
            if state == BackendState::Detecting {
                return view! { <div class="banner" id="backend">"Looking for WebGPU…"</div> }.into_any();
            }
            // The figures for the model size the settings describe now: measured this visit, or
            // remembered by this browser.
            let note = match &state {
                BackendState::Gpu { name, .. } => {
                    let key = storage_key(name, &settings.get());
                    match speed_note.get() {
                        Some((noted, note)) if noted == key => Some(note),
                        _ => remembered_speeds(&key).map(|speeds| SpeedNote { speeds, remembered: true }),
                    }
                }
                _ => None,
            };
            let (class, kind, text) =
                banner(&state, gpu_lost.get(), use_cpu.get(), choice.get(), note.as_ref(), measuring.get());
            let has_gpu = matches!(state, BackendState::Gpu { .. }) && !gpu_lost.get();
            let picked = move |c: Choice| choice.get() == c;
            view! {
                <div class=class id="backend" data-backend=kind data-measured=note.is_some().to_string() role="status">
                    {text}
                    <Show when=move || has_gpu>
                        <label class="backend-choice">" Train on "
                            <select id="backend-choice" disabled=move || ui.phase.get() != Phase::Idle
                                on:change=move |ev| {
                                    let picked = Choice::parse(&event_target_value(&ev));
                                    choice.set(picked);
                                    match picked {
                                        Choice::Gpu => use_cpu.set(false),
                                        Choice::Cpu => use_cpu.set(true),
                                        Choice::Auto => {}
                                    }
                                }>
                                <option value=Choice::Auto.value() selected=move || picked(Choice::Auto)>"the faster, measured"</option>
                                <option value=Choice::Gpu.value() selected=move || picked(Choice::Gpu)>"WebGPU"</option>
                                <option value=Choice::Cpu.value() selected=move || picked(Choice::Cpu)>"this page's CPU backend"</option>
                            </select>
                        </label>
                    </Show>
                    <Show when=worker_link::active>
                        <label class="backend-choice" title="Each core trains its share of every minibatch's rows in its own Web Worker; the numbers match one core's up to rounding.">" CPU cores "
                            <select id="cores-choice" disabled=move || ui.phase.get() != Phase::Idle
                                on:change=move |ev| cores.set(event_target_value(&ev).parse().ok())>
                                <option value="auto" selected=move || cores.get().is_none()>
                                    {move || format!("auto: {}", cores_for(None, available_cores(), settings.with(|s| s.batch_size)))}
                                </option>
                                {CORE_CHOICES.iter().map(|&n| view! {
                                    <option value=n.to_string() selected=move || cores.get() == Some(n)>{n.to_string()}</option>
                                }).collect_view()}
                            </select>
                        </label>
                    </Show>
                </div>
            }.into_any()
        }}
        <Show when=move || url_error.get().is_some()>
            <div class="banner warn" role="alert" id="url-error">{move || url_error.get().unwrap_or_default()}</div>
        </Show>
        <Show when=move || show_index.get()>
            <LessonsIndex on_playground=Callback::new(move |()| show_index.set(false))/>
        </Show>
        <Show when=move || {
            offer.get().is_some() && !offer_dismissed.get() && ui.phase.get() == Phase::Idle && keeper.current.get().is_none()
        }>
            {move || offer.get().map(|(id, name, epoch, epochs)| view! {
                <div class="banner" id="resume-offer" role="status">
                    {format!("“{name}” stopped after epoch {epoch} of {epochs}; its checkpoint is kept. ")}
                    <button id="resume-run" on:click=move |_| continue_kept(id)>{format!("Resume {name} from epoch {epoch}")}</button>
                    " " <button on:click=move |_| offer_dismissed.set(true)>"Not now"</button>
                </div>
            })}
        </Show>
        <div class="playground" style:display=move || if show_index.get() { "none" } else { "" }>
        {lesson.map(|lesson| view! { <LessonPanel lesson=lesson settings=settings ui=ui train=train_lesson_run/> })}
        <main>
            <div class="column">
                <DatasetPanel settings=settings ui=ui text=text/>
                <SettingsPanel settings=settings ui=ui/>
            </div>
            <div class="column wide">
                <section class="panel" aria-label="Training">
                    <div class="row">
                        <button id="start" on:click=start disabled=move || !ready() || matches!(ui.phase.get(), Phase::Running | Phase::Finished | Phase::Failed)>
                            {move || if ui.phase.get() == Phase::Paused { "Resume" } else { "Start" }}
                        </button>
                        <button id="pause" on:click=pause disabled=move || ui.phase.get() != Phase::Running>"Pause"</button>
                        <button id="step" on:click=step disabled=move || !ready() || !matches!(ui.phase.get(), Phase::Idle | Phase::Paused)>"Step (one batch)"</button>
                        <button id="reset" on:click=move |_| reset()>"Reset"</button>
                        <button id="save" on:click=save disabled=move || ui.phase.get() == Phase::Idle>"Save model (.safetensors)"</button>
                        <span id="status" data-phase=phase_text>{phase_text}</span>
                    </div>
                    <div class="row">
                        <label>"Load a model (.safetensors from the page or rnnplay train --save) "
                            <input type="file" id="load-checkpoint" accept=".safetensors" node_ref=load_input on:change=on_load
                                disabled=move || !ready()/>
                        </label>
                    </div>
                    <Show when=move || load_error.get().is_some()>
                        <p class="error" role="alert" id="load-error">{move || load_error.get().unwrap_or_default()}</p>
                    </Show>
                    <progress max=move || ui.progress.get().epochs.max(1) value=move || ui.progress.get().epoch></progress>
                    <p id="progress">{progress_text}</p>
                    <Show when=move || ui.run_error.get().is_some()>
                        <p class="error" role="alert" id="run-error">{move || ui.run_error.get().unwrap_or_default()}</p>
                    </Show>
                    <Show when=move || ui.device_lost.get() && ui.phase.get() == Phase::Failed>
                        <p><button id="continue-on-cpu" on:click=continue_on_cpu>"Continue on the CPU"</button></p>
                    </Show>
                </section>
                <section class="panel charts" aria-label="Charts">
                    <label><input type="checkbox" prop:checked=move || log_scale.get()
                        on:change=move |ev| log_scale.set(event_target_checked(&ev))/>" log scale"</label>
                    <Chart values=curve series=curve_series title="training curve per epoch" caption=curve_caption id="perplexity-chart"/>
                    <Chart values=grad_norms series=norm_series title="pre-clip gradient norm" caption=norm_caption id="grad-norm-chart"/>
                    <Show when=move || !seq2seq()>
                        <ThroughTimeChart ui=ui/>
                    </Show>
                </section>
                <Show when=seq2seq fallback=move || view! { <PredictionsPanel ui=ui/> <InsidePanel ui=ui/> }>
                    <TranslationsPanel ui=ui/>
                    <TranslationInside ui=ui/>
                </Show>
            </div>
        </main>
        <RunsPanel keeper=keeper resume=Callback::new(continue_kept)
            idle=Signal::derive(move || ui.phase.get() != Phase::Running)/>
        </div>
    }
}
