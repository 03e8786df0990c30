//! The page: backend banner, dataset, settings, training controls, charts and predictions.

use crate::browser;
use crate::components::chart::{Chart, Series};
use crate::components::dataset_panel::DatasetPanel;
use crate::components::predictions::PredictionsPanel;
use crate::components::settings_panel::SettingsPanel;
use crate::components::translations::TranslationsPanel;
use crate::run::{drive, Run};
use crate::settings::{from_query, to_query};
use crate::ui::{Phase, Ui};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_engine::backend::{Backend, CpuBackend, GpuBackend};
use rnnplay_engine::run::{DataSource, RunData, RunSpec};
use rnnplay_engine::{Checkpoint, EngineOptions};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// The backend every run uses, chosen once when the page loads.
    static BACKEND: RefCell<Option<Rc<dyn Backend>>> = const { RefCell::new(None) };
}

/// What the page trains on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BackendState {
    Detecting,
    Gpu(String),
    /// The CPU fallback, with the reason WebGPU is not used.
    Cpu(String),
}

/// WebGPU when the browser offers an adapter, else the CPU backend with the reason.
pub(crate) async fn open_backend() -> (Rc<dyn Backend>, BackendState) {
    let options = EngineOptions::default();
    match GpuBackend::new(options.matmul, options.subgroups).await {
        Ok(gpu) => {
            // Browsers may hide the adapter's name; say what kind it is then.
            let adapter = gpu.adapter();
            let name =
                if adapter.name.is_empty() { format!("{} adapter", adapter.device_type) } else { adapter.name.clone() };
            (Rc::new(gpu), BackendState::Gpu(name))
        }
        Err(err) => (Rc::new(CpuBackend::new()), BackendState::Cpu(err.to_string())),
    }
}

/// d2l's fra-eng.zip from beside the page, accepted only with its published sha1.
pub(crate) async fn load_fra_eng() -> Result<Vec<u8>, String> {
    const SERVED: &str = "data/fra-eng.zip";
    let bytes = browser::fetch_bytes(SERVED).await.map_err(|err| {
        format!("fra-eng.zip is not served with this page ({err}); pick a toy task, or build the page with the dataset cache that holds it")
    })?;
    let (sha1, expected) = (rnnplay_data::hub::sha1_hex(&bytes), rnnplay_data::Dataset::FraEng.sha1());
    if sha1 != expected {
        return Err(format!("{SERVED} has sha1 {sha1}, not fra-eng's {expected}; it is not used"));
    }
    Ok(bytes)
}

#[component]
pub fn App() -> impl IntoView {
    let (initial, url_error) = match from_query(&browser::query()) {
        Ok(settings) => (settings, None),
        Err(err) => (RunSpec::default(), Some(format!("{err}; the defaults are used instead"))),
    };
    let settings = RwSignal::new(initial);
    let ui = Ui::new();
    let text = RwSignal::new(None::<String>);
    let backend_state = RwSignal::new(BackendState::Detecting);
    let url_error = RwSignal::new(url_error);
    let log_scale = RwSignal::new(false);

    Effect::new(move |_| browser::set_query(&to_query(&settings.get())));
    spawn_local(async move {
        let (backend, state) = open_backend().await;
        BACKEND.with(|b| *b.borrow_mut() = Some(backend));
        backend_state.set(state);
    });

    // Resets the page for a new run, training (`running`) or paused, and returns its generation;
    // the caller spawns the run's loop with it.
    let prepare = move |running: bool, clip: f32| -> u64 {
        ui.run_error.set(None);
        ui.curve.set(Vec::new());
        ui.predictions.set(None);
        ui.translations.set(None);
        ui.clip.set(clip);
        ui.progress.set(Default::default());
        ui.running.set(running);
        ui.pending_steps.set(0);
        ui.phase.set(if running { Phase::Running } else { Phase::Paused });
        ui.generation.get_untracked()
    };
    let launch = move |run: Run, running: bool, clip: f32| {
        let generation = prepare(running, clip);
        if !running {
            ui.pending_steps.set(1);
        }
        spawn_local(drive(ui, generation, run));
    };
    // Builds the session from the current settings and the data they name (fetching fra-eng
    // when it is the data) and starts its loop; a message instead when something is missing
    // or wrong. The settings panel shows each bad value next to its field.
    let begin = move |running: bool| {
        let Some(backend) = BACKEND.with(|b| b.borrow().clone()) else {
            ui.run_error.set(Some("the backend is still being chosen; try again in a moment".into()));
            return;
        };
        let spec = settings.get_untracked();
        let problems = spec.validate();
        if !problems.is_empty() {
            let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
            ui.run_error.set(Some(format!("fix the settings marked in red first ({})", fields.join(", "))));
            return;
        }
        ui.phase.set(Phase::Running);
        spawn_local(async move {
            let (zip, corpus) = match spec.source() {
                DataSource::FraEng => match load_fra_eng().await {
                    Ok(zip) => (Some(zip), None),
                    Err(err) => {
                        ui.phase.set(Phase::Idle);
                        ui.run_error.set(Some(err));
                        return;
                    }
                },
                DataSource::Toy(_) => (None, None),
                DataSource::TimeMachine | DataSource::Text(_) => (None, text.get_untracked()),
            };
            let data = match (&zip, &corpus, spec.source()) {
                (Some(zip), _, _) => RunData::FraEngZip(zip),
                (_, _, DataSource::Toy(_)) => RunData::Generated,
                (_, Some(corpus), _) => RunData::Text(corpus),
                (_, None, _) => {
                    ui.phase.set(Phase::Idle);
                    ui.run_error.set(Some("no corpus yet: load The Time Machine, paste text or upload a file".into()));
                    return;
                }
            };
            match spec.build(&backend, data, &EngineOptions::default()) {
                Ok(session) => launch(Run::new(session), running, spec.clip),
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
        }
        _ => {}
    };
    let pause = move |_| ui.running.set(false);
    let step = move |_| match ui.phase.get_untracked() {
        Phase::Idle => begin(false),
        Phase::Paused => ui.pending_steps.update(|n| *n += 1),
        _ => {}
    };
    let reset = move || {
        ui.generation.update(|g| *g += 1);
        ui.running.set(false);
        ui.pending_steps.set(0);
        ui.phase.set(Phase::Idle);
        ui.curve.set(Vec::new());
        ui.predictions.set(None);
        ui.progress.set(Default::default());
        ui.run_error.set(None);
    };
    // Loading a checkpoint replaces the run only once the file has proved usable; otherwise a
    // message says why and the current model and chart stay.
    let load_input = NodeRef::<html::Input>::new();
    let load_error = RwSignal::new(None::<String>);
    let on_load = move |_| {
        let Some(file) = load_input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            let name = file.name();
            let loaded = async {
                let bytes = browser::file_bytes(&file).await?;
                let checkpoint = Checkpoint::from_bytes(&bytes).map_err(|e| e.to_string())?;
                let backend =
                    BACKEND.with(|b| b.borrow().clone()).ok_or("the backend is still being chosen; try again")?;
                let corpus = text.get_untracked().ok_or(
                    "load a corpus first (The Time Machine, pasted text or a file): the model trains and predicts on it",
                )?;
                let mut spec = settings.get_untracked();
                if spec.is_seq2seq() {
                    // A language model continues on the page's text, with the language-model defaults.
                    spec = RunSpec { seed: spec.seed, ..RunSpec::default() };
                }
                let session =
                    spec.resume(&backend, &checkpoint, RunData::Text(&corpus), &EngineOptions::default()).map_err(|e| e.to_string())?;
                Ok::<_, String>(session)
            }
            .await;
            match loaded {
                Ok(session) => {
                    reset();
                    let spec = session.spec().clone();
                    settings.set(spec.clone());
                    let generation = prepare(false, spec.clip);
                    spawn_local(drive(ui, generation, Run::new(session)));
                    ui.predict_requests.update(|n| *n += 1);
                    load_error.set(None);
                }
                Err(err) => load_error.set(Some(format!("{name}: {err}"))),
            }
        });
    };
    let save = move |_| ui.save_requests.update(|n| *n += 1);

    let ready = move || backend_state.get() != BackendState::Detecting;
    let phase_text = move || match ui.phase.get() {
        Phase::Idle => "ready",
        Phase::Running => "training",
        Phase::Paused => "paused",
        Phase::Finished => "finished",
        Phase::Failed => "stopped",
    };
    let progress_text = move || {
        let p = ui.progress.get();
        format!(
            "epoch {}/{} · batch {}/{} · lr {} · {:.0} tokens/s",
            p.epoch, p.epochs, p.batch, p.batches, p.lr, p.tokens_per_s
        )
    };
    let curve = Signal::derive(move || ui.curve.with(|c| c.iter().map(|p| p.value).collect()));
    let grad_norms = Signal::derive(move || ui.curve.with(|c| c.iter().map(|p| p.grad_norm).collect()));
    let seq2seq = move || settings.with(RunSpec::is_seq2seq);
    let curve_series = Signal::derive(move || Series::Curve {
        log_scale: log_scale.get(),
        label: if seq2seq() { "per-token cross-entropy" } else { "perplexity" },
    });
    let norm_series = Signal::derive(move || Series::GradNorm { clip: ui.clip.get() });

    view! {
        <header>
            <h1>"rnnplay"</h1>
            <p>"Train recurrent networks in your browser — the recurrent chapters of " <em>"Dive into Deep Learning"</em> "."</p>
        </header>
        {move || match backend_state.get() {
            BackendState::Detecting => view! { <div class="banner" id="backend">"Looking for WebGPU…"</div> }.into_any(),
            BackendState::Gpu(name) => view! {
                <div class="banner ok" id="backend" data-backend="gpu">{format!("Training on the GPU through WebGPU ({name}).")}</div>
            }.into_any(),
            BackendState::Cpu(reason) => view! {
                <div class="banner warn" id="backend" data-backend="cpu" role="status">
                    {format!("WebGPU is not available ({reason}). Training runs on the CPU backend instead — slower, same numbers.")}
                </div>
            }.into_any(),
        }}
        <Show when=move || url_error.get().is_some()>
            <div class="banner warn" role="alert" id="url-error">{move || url_error.get().unwrap_or_default()}</div>
        </Show>
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
                </section>
                <section class="panel charts" aria-label="Charts">
                    <label><input type="checkbox" prop:checked=move || log_scale.get()
                        on:change=move |ev| log_scale.set(event_target_checked(&ev))/>" log scale"</label>
                    <Chart values=curve series=curve_series title="training curve per epoch" id="perplexity-chart"/>
                    <Chart values=grad_norms series=norm_series title="pre-clip gradient norm" id="grad-norm-chart"/>
                </section>
                <Show when=seq2seq fallback=move || view! { <PredictionsPanel ui=ui/> }>
                    <TranslationsPanel ui=ui/>
                </Show>
            </div>
        </main>
    }
}
