//! The page: the banner, the lessons, the playground's panels and the kept runs, laid out; the
//! address kept in step with the settings; and the training worker started, told what the page
//! asks and heard (`worker_reports.rs`). The state and the commands are `page.rs`'s; the host
//! services (backends, data) `host.rs`'s.

use crate::components::backend_banner::BackendBanner;
use crate::components::charts_panel::ChartsPanel;
use crate::components::dataset_panel::DatasetPanel;
use crate::components::inside::InsidePanel;
use crate::components::inside_translation::TranslationInside;
use crate::components::lesson_panel::LessonPanel;
use crate::components::lessons_index::LessonsIndex;
use crate::components::overlay_chart::Metric;
use crate::components::predictions::PredictionsPanel;
use crate::components::runs_panel::RunsPanel;
use crate::components::settings_panel::SettingsPanel;
use crate::components::training_panel::TrainingPanel;
use crate::components::translations::TranslationsPanel;
use crate::host::{keep_backend, open_backend, BackendState};
use crate::page::Page;
use crate::protocol::ToWorker;
use crate::settings::{to_query, worker_disabled, CORES_KEY};
use crate::ui::Phase;
use crate::{browser, worker_link};
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_run::RunSpec;

/// Without a worker the page finds its own backends and trains by itself.
fn open_backends_here(page: Page) {
    spawn_local(async move {
        let (backend, state) = open_backend().await;
        keep_backend(backend, &state);
        if !matches!(state, BackendState::Gpu { .. }) {
            page.use_cpu.set(true);
        }
        page.backend_state.set(state);
    });
}

/// Sends `message` to the worker whenever `asked` changes (requests are counters): Predict
/// now, a position picked inside the network.
fn forward_requests(asked: RwSignal<u32>, message: impl Fn() -> Option<ToWorker> + 'static) {
    let sent = std::cell::Cell::new(asked.get_untracked());
    Effect::new(move |_| {
        let now = asked.get();
        if now != sent.get() && worker_link::active() {
            sent.set(now);
            if let Some(message) = message() {
                worker_link::send(&message);
            }
        }
    });
}

/// Keeps the worker told what the page asks: predictions, a picked position, the views inside the
/// network on or off, the cores.
fn tell_the_worker(page: Page) {
    let ui = page.ui;
    forward_requests(ui.predict_requests, move || {
        Some(ToWorker::Predict {
            prefix: ui.prefix.get_untracked(),
            length: ui.length.get_untracked(),
            temperature: ui.temperature.get_untracked(),
            sentence: ui.sentence.get_untracked(),
            search: ui.search.get_untracked(),
        })
    });
    forward_requests(ui.connect_requests, move || {
        ui.position.get_untracked().map(|position| ToWorker::Connect { position })
    });
    Effect::new(move |_| {
        let on = ui.inside_on.get();
        if worker_link::active() {
            worker_link::send(&ToWorker::InsideViews(on));
        }
    });
    Effect::new(move |_| {
        let asked = page.cores.get();
        if worker_link::active() {
            worker_link::send(&ToWorker::Cores(asked));
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    let page = Page::from_address();
    let (ui, keeper, show_index) = (page.ui, page.keeper, page.show_index);
    // The address keeps the settings, the lesson and a core count other than auto, so a reload
    // (or a shared link) trains the same run the same way.
    Effect::new(move |_| {
        let mut query = to_query(&page.settings.get());
        if let Some(lesson) = page.lesson {
            query.push_str(&format!("&lesson={}", lesson.name));
        }
        if let Some(n) = page.cores.get() {
            query.push_str(&format!("&{CORES_KEY}={n}"));
        }
        browser::set_query(&query);
    });
    if worker_disabled(&browser::query())
        || !worker_link::start(move |m| page.take(m), move |_| open_backends_here(page))
    {
        open_backends_here(page);
    }
    tell_the_worker(page);
    let offer = Memo::new(move |_| {
        keeper.runs.with(|runs| {
            runs.iter().rev().find_map(|r| r.resumable_from().map(|k| (r.id, r.name.clone(), k, r.spec.epochs)))
        })
    });
    let offered = move || {
        offer.get().is_some()
            && !page.offer_dismissed.get()
            && ui.phase.get() == Phase::Idle
            && keeper.current.get().is_none()
    };
    let seq2seq = move || page.settings.with(RunSpec::is_seq2seq);
    view! {
        <header>
            <h1>"rnnplay"</h1>
            <p>"Train recurrent networks in your browser — the recurrent chapters of " <em>"Dive into Deep Learning"</em> "."
                " " <button id="lessons-link" on:click=move |_| show_index.update(|s| *s = !*s)>
                    {move || if show_index.get() { "Open the playground" } else { "Lessons" }}
                </button>
            </p>
        </header>
        <BackendBanner page=page/>
        <Show when=move || page.url_error.get().is_some()>
            <div class="banner warn" role="alert" id="url-error">{move || page.url_error.get().unwrap_or_default()}</div>
        </Show>
        <Show when=move || show_index.get()>
            <LessonsIndex on_playground=Callback::new(move |()| show_index.set(false))/>
        </Show>
        <Show when=offered>
            {move || offer.get().map(|(id, name, epoch, epochs)| view! {
                <div class="banner" id="resume-offer" role="status">
                    {format!("“{name}” stopped after epoch {epoch} of {epochs}; its checkpoint is kept. ")}
                    <button id="resume-run" on:click=move |_| page.continue_kept(id)>{format!("Resume {name} from epoch {epoch}")}</button>
                    " " <button on:click=move |_| page.offer_dismissed.set(true)>"Not now"</button>
                </div>
            })}
        </Show>
        <div class="playground" style:display=move || if show_index.get() { "none" } else { "" }>
        {page.lesson.map(|lesson| view! {
            <LessonPanel lesson=lesson settings=page.settings ui=ui kept=page.keeper.runs train=Callback::new(move |spec| page.train(spec))/>
        })}
        <main>
            <div class="column">
                <DatasetPanel settings=page.settings ui=ui text=page.text pairs=page.pairs/>
                <SettingsPanel settings=page.settings ui=ui/>
            </div>
            <div class="column wide">
                <TrainingPanel page=page/>
                <ChartsPanel page=page/>
                <Show when=seq2seq fallback=move || view! { <PredictionsPanel ui=ui/> <InsidePanel ui=ui/> }>
                    <TranslationsPanel ui=ui/>
                    <TranslationInside ui=ui/>
                </Show>
            </div>
        </main>
        <RunsPanel keeper=keeper resume=Callback::new(move |id| page.continue_kept(id))
            idle=Signal::derive(move || ui.phase.get() != Phase::Running) first_metric=Metric::for_lesson(page.lesson)/>
        </div>
    }
}
