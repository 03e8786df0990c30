//! The two views of what the model predicts, side by side: teacher-forced (fed the true text,
//! each token shaded by the probability the model gave it, mistakes marked with what the model
//! predicted, and the argmax row aligned under the positions it predicts) and free-running (the
//! model feeding itself, from the passage's first token and from a prefix the user types).
//! Spaces are drawn as ␣ in every view, so a prediction of spaces never looks like nothing.

use crate::ui::{Phase, Ui};
use crate::view_signals::{ComputeView, ViewContext, When};
use crate::views::{view, ForcedToken, Predictions};
use leptos::prelude::*;
use rnnplay_engine::generate::{generate, teacher_forced, Decoding};

/// What a language model predicts now: the passage teacher-forced and free-running, and the
/// continuation of the user's prefix (sampled at the chosen temperature, seeded by the epoch).
impl ComputeView for view::predictions {
    type Value = Predictions;
    const WHEN: When = When::Refresh;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<Predictions>, String> {
        let Some((run, passage)) = cx.passage() else { return Ok(None) };
        let epoch = cx.session.epochs_done();
        let token = |id: u32| run.vocab.token(id).to_string();
        let forced = teacher_forced(&run.model, passage).await.map_err(|e| e.to_string())?;
        let own = generate(&run.model, &passage[..1], passage.len() - 1, Decoding::Greedy)
            .await
            .map_err(|e| e.to_string())?;
        let (prefix, unknown) = rnnplay_data::prompt::encode(&run.vocab, run.token_kind, &cx.prefix);
        let continuation = if prefix.is_empty() {
            String::new()
        } else {
            let decoding = Decoding::from_temperature(Some(cx.temperature), epoch as u64).map_err(|e| e.to_string())?;
            let ids = generate(&run.model, &prefix, cx.length, decoding).await.map_err(|e| e.to_string())?;
            rnnplay_data::prompt::decode(&run.vocab, run.token_kind, &ids)
        };
        Ok(Some(Predictions {
            epoch,
            first: token(passage[0]),
            forced: forced
                .steps
                .iter()
                .map(|s| ForcedToken { truth: token(s.truth), predicted: token(s.predicted), p_truth: s.p_truth })
                .collect(),
            forced_perplexity: forced.perplexity,
            forced_accuracy: forced.accuracy,
            passage_free_running: own[1..].iter().map(|&id| token(id)).collect(),
            continuation,
            unknown,
        }))
    }
}

/// `text` with every space drawn as ␣.
fn visible(text: &str) -> String {
    text.replace(' ', "␣")
}

/// "after epoch 4", marked stale while training has gone further.
fn freshness(ui: Ui, epoch: usize) -> impl IntoView {
    let now = move || ui.progress.with(|p| p.epoch);
    view! {
        <span class="freshness" class:stale={move || now() > epoch} data-epoch=epoch>
            {move || match now() {
                n if n > epoch => format!("after epoch {epoch} (stale: training is at epoch {n}; Predict now refreshes)"),
                _ => format!("after epoch {epoch}"),
            }}
        </span>
    }
}

#[component]
pub fn PredictionsPanel(ui: Ui) -> impl IntoView {
    let teacher = move || {
        ui.views.predictions.get().map(|p: Predictions| {
            // A token of this view was predicted at the position before it: hovering shows that
            // position's bars inside the network, a click also its connectivity.
            let tokens = p
                .forced
                .iter()
                .enumerate()
                .map(|(position, t)| {
                    let wrong = t.predicted != t.truth;
                    let shade = format!("background: rgba(46, 160, 67, {:.2})", t.p_truth.clamp(0.0, 1.0) * 0.8);
                    let title = format!("predicted '{}', p(true) = {:.3}", t.predicted, t.p_truth);
                    view! {
                        <span class="tok" class:wrong=wrong class:space={t.truth == " "} style=shade title=title
                            on:mouseenter=move |_| ui.position.set(Some(position))
                            on:click=move |_| {
                                ui.position.set(Some(position));
                                ui.connect_requests.update(|n| *n += 1);
                            }>
                            {visible(&t.truth)}
                        </span>
                    }
                })
                .collect_view();
            // Position 0 is given, not predicted: a blank of its width keeps the rows aligned.
            let blank = " ".repeat(visible(&p.first).chars().count());
            let predicted = p.forced.iter().map(|t| visible(&t.predicted)).collect::<String>();
            view! {
                <p class="meta">
                    {freshness(ui, p.epoch)} " · perplexity " {format!("{:.2}", p.forced_perplexity)} " · accuracy "
                    {format!("{:.1}%", 100.0 * p.forced_accuracy)}
                </p>
                <div class="passage mono" id="teacher-forced-text">{visible(&p.first)}{tokens}</div>
                <p class="label">"the model's most likely next token at each position, under the token it predicts:"</p>
                <div class="passage mono" id="teacher-forced-argmax">{blank}{predicted}</div>
            }
        })
    };
    let free = move || {
        ui.views.predictions.get().map(|p: Predictions| {
            let own: String = p.passage_free_running.iter().map(|t| visible(t)).collect();
            let unknown = (!p.unknown.is_empty()).then(|| {
                let list = p.unknown.iter().map(|t| format!("'{}'", visible(t))).collect::<Vec<_>>().join(", ");
                view! {
                    <p class="note" id="prefix-unknown">
                        {format!("not in the model's vocabulary, so fed as <unk>: {list}")}
                    </p>
                }
            });
            view! {
                <p class="meta">{freshness(ui, p.epoch)} ", from the passage's first token, fed its own output:"</p>
                <div class="passage mono" id="free-running-passage">{visible(&p.first)}{own}</div>
                <p class="label">"continuation of the prefix:"</p>
                {unknown}
                <div class="passage mono" id="free-running-text">{visible(&p.continuation)}</div>
            }
        })
    };
    let predict_now = move |_| ui.predict_requests.update(|n| *n += 1);
    let no_run = move || ui.phase.get() == Phase::Idle;
    view! {
        <section class="panel predictions" aria-label="Predictions">
            <h2>"Predictions"</h2>
            <div class="side-by-side">
                <div>
                    <h3>"Teacher-forced"</h3>
                    <p class="hint">"Fed the true text; shading = probability of the true token; red underline = the model's top guess was wrong (hover for it)."</p>
                    {teacher}
                </div>
                <div>
                    <h3>"Free-running"</h3>
                    <div class="row">
                        <label>"prefix "
                            <input type="text" id="prefix" prop:value=move || ui.prefix.get()
                                on:change=move |ev| ui.prefix.set(event_target_value(&ev))/>
                        </label>
                        <label>"length "
                            <input type="number" min="1" max="500" prop:value=move || ui.length.get().to_string()
                                on:change=move |ev| {
                                    if let Ok(n) = event_target_value(&ev).parse::<usize>() {
                                        ui.length.set(n.clamp(1, 500));
                                    }
                                }/>
                        </label>
                        <label>"temperature "
                            <input type="number" min="0" step="0.1" prop:value=move || ui.temperature.get().to_string()
                                on:change=move |ev| {
                                    if let Ok(t) = event_target_value(&ev).parse::<f32>() {
                                        if t.is_finite() && t >= 0.0 {
                                            ui.temperature.set(t);
                                        }
                                    }
                                }/>
                        </label>
                        <button id="predict-now" on:click=predict_now disabled=no_run>"Predict now"</button>
                    </div>
                    {free}
                </div>
            </div>
        </section>
    }
}
