//! The lessons index: every lesson of `rnnplay_run::lessons` as a card — its title, the d2l
//! section it follows, what it shows — linking to `?lesson=NAME`. It is the page's landing view
//! on a first visit; the playground is one click away.

use leptos::prelude::*;
use rnnplay_run::lessons::LESSONS;

#[component]
pub fn LessonsIndex(
    /// Leaves the index for the playground.
    on_playground: Callback<()>,
) -> impl IntoView {
    let cards = LESSONS
        .iter()
        .map(|lesson| {
            let runs = match lesson.runs.len() {
                1 => "one run".to_string(),
                n => format!("{n} runs compared"),
            };
            view! {
                <li class="lesson-card" data-lesson=lesson.name>
                    <h3><a href=format!("?lesson={}", lesson.name)>{lesson.title}</a></h3>
                    <p class="meta">{format!("d2l {} · {runs}", lesson.section)}</p>
                    <p>{lesson.text}</p>
                    <p class="meta">"You should see: "{lesson.claim.says}"."</p>
                    <a class="button" href=format!("?lesson={}", lesson.name)>"Open the lesson"</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel lessons-index" id="lessons-index" aria-label="Lessons">
            <h2>"Lessons"</h2>
            <p>"Each lesson is an experiment: it trains small recurrent networks on The Time Machine, a generated memory task or sentence pairs right in this page, says what you should see, and once its runs have trained says whether they showed it, with their numbers. Most compare runs that differ in one setting, overlaid on one chart. Pick one, or go straight to the playground and set up any run."</p>
            <button id="playground" on:click=move |_| on_playground.run(())>"Open the playground"</button>
            <ol class="lesson-cards">{cards}</ol>
        </section>
    }
}
