//! A lesson opened with `?lesson=NAME` (`rnnplay_run::lessons`): what the student will see
//! and what to watch, and its runs — each one click from training (its settings go into the
//! panels and it starts; a run in progress is kept in the runs table and ended), with the
//! command that runs it from a terminal. A lesson's runs are overlaid on the comparison chart
//! as they train.

use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use rnnplay_run::lessons::Lesson;
use rnnplay_run::RunSpec;

#[component]
pub fn LessonPanel(
    lesson: &'static Lesson,
    settings: RwSignal<RunSpec>,
    ui: Ui,
    /// Trains a run with these settings (ending the one in progress).
    train: Callback<RunSpec>,
) -> impl IntoView {
    let chosen = RwSignal::new(0usize);
    let runs = lesson
        .runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            let spec = run.spec();
            let start = move |_| {
                if let Ok(spec) = run.spec() {
                    chosen.set(index);
                    train.run(spec);
                }
            };
            let set_up = move |_| {
                if let Ok(spec) = run.spec() {
                    settings.set(spec);
                    chosen.set(index);
                }
            };
            let broken = spec.is_err();
            view! {
                <li class:chosen=move || chosen.get() == index>
                    <button class="lesson-train" on:click=start disabled=broken>{format!("Train: {}", run.label)}</button>
                    " "
                    <button class="lesson-run" on:click=set_up disabled=move || broken || ui.phase.get() != Phase::Idle>
                        "Set up only"
                    </button>
                    " " <code>{run.command()}</code>
                </li>
            }
        })
        .collect_view();
    let contrast = (lesson.runs.len() > 1).then(|| {
        view! { <p class="hint">"This lesson compares runs: train each (one click; the run before is kept), and the runs table overlays them on one chart."</p> }
    });
    view! {
        <section class="panel lesson" id="lesson" data-lesson=lesson.name aria-label="Lesson">
            <p class="meta"><a href="?lessons=1" id="all-lessons">"All lessons"</a>{format!(" · d2l {}", lesson.section)}</p>
            <h2>{lesson.title}</h2>
            <p>{lesson.text}</p>
            {contrast}
            <ol class="lesson-runs">{runs}</ol>
        </section>
    }
}
