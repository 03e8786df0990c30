//! A lesson opened with `?lesson=NAME` (`rnnplay_engine::lessons`): what the student will see
//! and what to watch, and its runs — each a button that puts its settings in the panels (the
//! first is set up when the page opens), with the command that runs it from a terminal.

use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use rnnplay_engine::lessons::Lesson;
use rnnplay_engine::run::RunSpec;

#[component]
pub fn LessonPanel(lesson: &'static Lesson, settings: RwSignal<RunSpec>, ui: Ui) -> impl IntoView {
    let chosen = RwSignal::new(0usize);
    let runs = lesson
        .runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            let set_up = move |_| {
                if let Ok(spec) = run.spec() {
                    settings.set(spec);
                    chosen.set(index);
                }
            };
            view! {
                <li class:chosen=move || chosen.get() == index>
                    <button class="lesson-run" on:click=set_up disabled=move || ui.phase.get() != Phase::Idle>
                        {format!("Set up: {}", run.label)}
                    </button>
                    " " <code>{run.command()}</code>
                </li>
            }
        })
        .collect_view();
    let contrast = (lesson.runs.len() > 1).then(|| {
        view! { <p class="hint">"This lesson compares runs: train one, then Reset, set up the next and train it, and compare the charts and views."</p> }
    });
    view! {
        <section class="panel lesson" id="lesson" data-lesson=lesson.name aria-label="Lesson">
            <h2>{lesson.title}</h2>
            <p class="meta">{format!("d2l {}", lesson.section)}</p>
            <p>{lesson.text}</p>
            {contrast}
            <ol class="lesson-runs">{runs}</ol>
            <p class="hint">"Start trains the run set up; the buttons work before a run (Reset ends one)."</p>
        </section>
    }
}
