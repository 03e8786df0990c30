//! The training worker: a dedicated Web Worker that owns the backend, the session and the
//! training loop, so a minibatch computed on the CPU backend never holds up the page's frames.
//! It runs the very loop the page runs without a worker (`run::drive`, over its own `Ui`
//! signals), takes the page's commands ([`ToWorker`]) and reports what changed in its views
//! ([`FromWorker`]) every few milliseconds.

use crate::bench_options::BenchOptions;
use crate::browser;
use crate::components::bench_page::measure;
use crate::core_workers::CoreWorkers;
use crate::host::{build_session, keep_backend, open_backend, BackendState};
use crate::protocol::{Backends, BenchView, FromWorker, ToWorker};
use crate::run_loop::{drive, prepare, Deliver, Run};
use crate::settings::cores_for;
use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use rnnplay_run::{Session, Shard};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

/// How often the worker looks for changed views to report.
const REPORT_EVERY_MS: i32 = 25;

fn post(message: &FromWorker) {
    browser::post_to_parent(&message.to_json());
}

/// A message with a checkpoint: the bytes go beside its JSON (`FromWorker::take_bytes`).
fn post_checkpoint(mut message: FromWorker) {
    match message.take_bytes() {
        Some(bytes) => browser::post_to_parent_with(&message.to_json(), &bytes),
        None => post(&message),
    }
}

/// Checkpoints go to the page as a message; it offers the download.
fn deliver() -> Deliver {
    Box::new(|name, bytes| {
        post_checkpoint(FromWorker::Saved { name: name.to_string(), bytes });
        Ok(())
    })
}

thread_local! {
    /// The cores the page asked CPU runs to train on (`None`: auto, `settings::cores_for`).
    static CORES: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// A CPU run split over the cores the page asked for (`core_workers.rs`), as `command` built it:
/// the helpers, or none (one core, a GPU run, or helpers that could not start: why).
async fn split(session: &mut Session, command: &ToWorker) -> Result<Option<CoreWorkers>, String> {
    let cores = cores_for(CORES.with(|c| c.get()), browser::available_cores(), session.spec().batch_size);
    if session.on_gpu() || cores < 2 {
        return Ok(None);
    }
    let helpers = CoreWorkers::start(command, cores).await?;
    session.set_shard(Shard::new(0, cores).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    Ok(Some(helpers))
}

/// Starts a built session, on every core it is given: resets the views, reports the build,
/// spawns the loop.
async fn launch(ui: Ui, mut session: Session, running: bool, command: &ToWorker) {
    let (helpers, not_split) = match split(&mut session, command).await {
        Ok(helpers) => (helpers, None),
        Err(why) => (None, Some(format!("the other CPU cores could not join ({why}); training on one"))),
    };
    let spec = session.spec().clone();
    let first_example = session.seq2seq().and_then(|r| r.examples.first().map(|(src, _)| src.clone()));
    let autosave = Box::new(|epoch, bytes| post_checkpoint(FromWorker::Autosaved { epoch, bytes }));
    let run = Run::new(session).delivering(deliver()).autosaving(autosave).helped_by(helpers);
    let generation = prepare(ui, running, run.progress(), spec.clip);
    ui.run_error.set(not_split);
    if !running {
        ui.pending_steps.set(1);
    }
    post(&FromWorker::Built { spec: Box::new(spec), progress: run.progress(), first_example });
    spawn_local(drive(ui, generation, run));
}

/// Builds and launches the run `command` (Start, Resume or Continue) describes; a Start with
/// `measure` first times WebGPU and the CPU backend on it and builds on the faster.
async fn start(ui: Ui, command: ToWorker) -> Result<(), String> {
    let session = build_session(&command, |speeds| post(&FromWorker::Measured(speeds))).await?;
    match &command {
        ToWorker::Start { running, .. } => launch(ui, session, *running, &command).await,
        ToWorker::Resume { .. } => {
            launch(ui, session, false, &command).await;
            ui.pending_steps.set(0);
            ui.predict_requests.update(|n| *n += 1);
        }
        ToWorker::Continue { history, .. } => {
            launch(ui, session, true, &command).await;
            ui.curve.set(history.clone());
        }
        _ => {}
    }
    Ok(())
}

fn handle(ui: Ui, message: ToWorker) {
    match message {
        command @ (ToWorker::Start { .. } | ToWorker::Resume { .. } | ToWorker::Continue { .. }) => {
            spawn_local(async move {
                if let Err(err) = start(ui, command).await {
                    post(&FromWorker::NotBuilt(err));
                }
            })
        }
        ToWorker::Cores(cores) => CORES.with(|c| c.set(cores)),
        ToWorker::Running(on) => {
            ui.running.set(on);
            if on && ui.phase.get_untracked() == Phase::Paused {
                ui.phase.set(Phase::Running);
            }
        }
        ToWorker::Step => ui.pending_steps.update(|n| *n += 1),
        ToWorker::Predict { prefix, length, temperature, sentence, search } => {
            ui.search.set(search);
            ui.prefix.set(prefix);
            ui.length.set(length);
            ui.temperature.set(temperature);
            ui.sentence.set(sentence);
            ui.predict_requests.update(|n| *n += 1);
        }
        ToWorker::Save => ui.save_requests.update(|n| *n += 1),
        ToWorker::Connect { position } => {
            ui.position.set(Some(position));
            ui.connect_requests.update(|n| *n += 1);
        }
        ToWorker::InsideViews(on) => ui.inside_on.set(on),
        ToWorker::Bench { query } => {
            let options = match BenchOptions::from_query(&query) {
                Ok(Some(options)) => options,
                Ok(None) => BenchOptions::default(),
                Err(err) => {
                    post(&FromWorker::Bench(BenchView { status: ("failed".into(), err), ..BenchView::default() }));
                    return;
                }
            };
            let view = RwSignal::new(BenchView::default());
            spawn_local(measure(options, view));
            spawn_local(report_bench(view));
        }
        ToWorker::Reset => {
            ui.generation.update(|g| *g += 1);
            ui.running.set(false);
            ui.pending_steps.set(0);
            ui.phase.set(Phase::Idle);
        }
    }
}

/// Sends the benchmark table whenever it changed, until the measurement has ended.
async fn report_bench(view: RwSignal<BenchView>) {
    let mut sent = String::new();
    loop {
        let now = FromWorker::Bench(view.get_untracked());
        let text = now.to_json();
        if text != sent {
            post(&now);
            sent = text;
        }
        if matches!(view.with_untracked(|v| v.status.0.clone()).as_str(), "finished" | "failed") {
            return;
        }
        browser::sleep(REPORT_EVERY_MS * 4).await;
    }
}

/// Reports the run's state and each view that changed since the last report: the run's state
/// compared as text (it is small), the views by their versions (an inspection is large).
async fn report(ui: Ui) {
    let mut sent: Vec<String> = Vec::new();
    let mut views_sent: Vec<u64> = Vec::new();
    loop {
        for view in ui.views.changed(&mut views_sent) {
            post(&FromWorker::View(view));
        }
        let now = [
            FromWorker::Phase(ui.phase.get_untracked()),
            FromWorker::Progress(ui.progress.get_untracked()),
            FromWorker::Curve(ui.curve.get_untracked()),
            FromWorker::RunError(ui.run_error.get_untracked()),
            FromWorker::DeviceLost(ui.device_lost.get_untracked()),
        ];
        let texts: Vec<String> = now.iter().map(FromWorker::to_json).collect();
        for (index, text) in texts.iter().enumerate() {
            if sent.get(index) != Some(text) {
                post(&now[index]);
            }
        }
        sent = texts;
        browser::sleep(REPORT_EVERY_MS).await;
    }
}

/// The worker's entry point (called by worker.js once the module is loaded).
#[wasm_bindgen]
pub fn worker_main() {
    console_error_panic_hook::set_once();
    let ui = Ui::new();
    let Some(scope) = browser::dedicated_scope() else { return };
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            match event.data().as_string().map(|text| ToWorker::from_json(&text)) {
                Some(Ok(message)) => handle(ui, message),
                Some(Err(err)) => post(&FromWorker::RunError(Some(err))),
                None => post(&FromWorker::RunError(Some("the worker got a message that is not text".into()))),
            }
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    spawn_local(async move {
        let (found, state) = open_backend().await;
        keep_backend(found, &state);
        let backends = match state {
            BackendState::Gpu { name, software } => Backends::Gpu { name, software },
            BackendState::Cpu(reason) => Backends::Cpu { reason },
            BackendState::Detecting => Backends::Cpu { reason: "no backend was found".into() },
        };
        post(&FromWorker::Backends(backends));
        report(ui).await;
    });
}
