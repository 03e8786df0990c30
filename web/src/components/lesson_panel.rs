//! A lesson opened with `?lesson=NAME` (`rnnplay_run::lessons`): what the runs are and what to
//! watch, what the student should see (the lesson's claim), and its runs — each one click from
//! training (its settings go into the panels and it starts; a run in progress is kept in the
//! runs table and ended), or all of them one after another — with the command that runs each
//! from a terminal. A lesson's runs are overlaid on the comparison chart as they train; once
//! each has trained all its epochs (or diverged), the panel says whether the claim held, with
//! the numbers the runs recorded.

use crate::runs::RunRecord;
use crate::ui::{Phase, Ui};
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_run::lessons::claim::{RunOutcome, Verdict};
use rnnplay_run::lessons::Lesson;
use rnnplay_run::RunSpec;

#[component]
pub fn LessonPanel(
    lesson: &'static Lesson,
    settings: RwSignal<RunSpec>,
    ui: Ui,
    /// The kept runs, where the lesson's finished runs are found.
    kept: RwSignal<Vec<RunRecord>>,
    /// Trains a run with these settings (ending the one in progress).
    train: Callback<RunSpec>,
) -> impl IntoView {
    let chosen = RwSignal::new(0usize);
    // The lesson's runs still to train after the current one ("Train the whole lesson").
    let queue = RwSignal::new(Vec::<usize>::new());
    let start = move |index: usize| {
        if let Ok(spec) = lesson.spec(index) {
            chosen.set(index);
            train.run(spec);
        }
    };
    // When a run of the queue has ended (all its epochs, or diverged) and its kept record holds
    // them all (the last epoch's report can arrive a frame after the phase), the next one
    // starts; any other stop empties the queue.
    Effect::new(move |_| match ui.phase.get() {
        Phase::Finished | Phase::Diverged => {
            let recorded =
                kept.with(|k| latest(lesson, chosen.get_untracked(), k).and_then(RunRecord::outcome).is_some());
            let Some(next) = queue.with_untracked(|q| q.first().copied()).filter(|_| recorded) else { return };
            queue.update(|q| {
                q.remove(0);
            });
            // After this effect, not inside it: training resets the signals it reads.
            spawn_local(async move { start(next) });
        }
        Phase::Failed => queue.set(Vec::new()),
        _ => {}
    });
    let runs = lesson
        .runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            let set_up = move |_| {
                if let Ok(spec) = lesson.spec(index) {
                    settings.set(spec);
                    chosen.set(index);
                }
            };
            let broken = lesson.spec(index).is_err();
            view! {
                <li class:chosen=move || chosen.get() == index>
                    <button class="lesson-train" on:click=move |_| { queue.set(Vec::new()); start(index) } disabled=broken>
                        {format!("Train: {}", run.label)}
                    </button>
                    " "
                    <button class="lesson-run" on:click=set_up disabled=move || broken || ui.phase.get() != Phase::Idle>
                        "Set up only"
                    </button>
                    " " <code>{lesson.command(index)}</code>
                </li>
            }
        })
        .collect_view();
    let train_all = move |_| {
        queue.set((1..lesson.runs.len()).collect());
        start(0);
    };
    let whole = (lesson.runs.len() > 1).then(|| {
        view! {
            <p>
                <button id="lesson-train-all" on:click=train_all>"Train the whole lesson"</button>
                <span class="hint">" its runs one after another (the run before is kept), overlaid on the runs chart as they train"</span>
            </p>
        }
    });
    let verdict = move || kept.with(|kept| verdict(lesson, kept));
    view! {
        <section class="panel lesson" id="lesson" data-lesson=lesson.name aria-label="Lesson">
            <p class="meta"><a href="?lessons=1" id="all-lessons">"All lessons"</a>{format!(" · d2l {}", lesson.section)}</p>
            <h2>{lesson.title}</h2>
            <p>{lesson.text}</p>
            <p class="claim"><strong>"You should see: "</strong>{lesson.claim.says}"."</p>
            {whole}
            <ol class="lesson-runs">{runs}</ol>
            <div id="lesson-verdict" class="verdict">{move || verdict_view(lesson, verdict())}</div>
        </section>
    }
}

/// Where the lesson's claim stands on the kept runs: how many of its runs have finished, and
/// once all have, the verdict on the latest of each.
enum Standing {
    Waiting {
        done: usize,
    },
    /// Every run finished, but one was kept without a number the claim reads (a run kept by an
    /// older version of the page).
    Unrecorded,
    Measured(Verdict),
}

/// The latest kept run of the lesson's run `index`: trained in this lesson, with the run's
/// settings up to the seed.
fn latest<'a>(lesson: &Lesson, index: usize, kept: &'a [RunRecord]) -> Option<&'a RunRecord> {
    let spec = lesson.spec(index).ok()?;
    kept.iter()
        .filter(|r| r.lesson.as_deref() == Some(lesson.name) && RunSpec { seed: spec.seed, ..r.spec.clone() } == spec)
        .max_by_key(|r| r.id)
}

/// The claim's standing on the latest kept run of each of the lesson's runs, their outcomes
/// once finished.
fn verdict(lesson: &Lesson, kept: &[RunRecord]) -> Standing {
    let outcomes: Vec<Option<RunOutcome>> =
        (0..lesson.runs.len()).map(|index| latest(lesson, index, kept).and_then(RunRecord::outcome)).collect();
    let done = outcomes.iter().flatten().count();
    if done < outcomes.len() {
        return Standing::Waiting { done };
    }
    let outcomes: Vec<RunOutcome> = outcomes.into_iter().flatten().collect();
    match lesson.claim.verdict(&lesson.labels(), &outcomes) {
        Some(v) => Standing::Measured(v),
        None => Standing::Unrecorded,
    }
}

fn verdict_view(lesson: &'static Lesson, standing: Standing) -> AnyView {
    match standing {
        Standing::Waiting { done } => {
            let total = lesson.runs.len();
            view! { <p class="hint">{format!("Train the lesson's runs to check it: {done} of {total} finished.")}</p> }
                .into_any()
        }
        Standing::Unrecorded => view! {
            <p class="hint">"A kept run of this lesson did not record every number its claim reads (it was trained by an earlier version of the page): train the lesson again to check it."</p>
        }
        .into_any(),
        Standing::Measured(v) => {
            let lines = v
                .conditions
                .iter()
                .map(|c| view! { <li class:holds=c.holds>{if c.holds { "✓ " } else { "✗ " }}{c.text.clone()}</li> })
                .collect_view();
            let (class, head) = if v.holds {
                ("verdict-holds", "✓ It showed: ".to_string())
            } else {
                ("verdict-not", format!("Not this time — likely {}. Measured: ", lesson.claim.if_not))
            };
            view! { <p class=class><strong>{head}</strong>{lesson.claim.says}"."</p><ul>{lines}</ul> }.into_any()
        }
    }
}
