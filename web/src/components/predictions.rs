//! The two views of what the model predicts, side by side: teacher-forced (fed the true text,
//! each token shaded by the probability the model gave it, mistakes marked with what the model
//! predicted; spaces stay visible through `white-space: pre-wrap`) and free-running (the model feeding itself, from the passage's first token and
//! from a prefix the user types).

use crate::ui::{Phase, Predictions, Ui};
use leptos::prelude::*;

#[component]
pub fn PredictionsPanel(ui: Ui) -> impl IntoView {
    let teacher = move || {
        ui.predictions.get().map(|p: Predictions| {
            let tokens = p
                .forced
                .iter()
                .map(|t| {
                    let wrong = t.predicted != t.truth;
                    let shade = format!("background: rgba(46, 160, 67, {:.2})", t.p_truth.clamp(0.0, 1.0) * 0.8);
                    let title = format!("predicted '{}', p(true) = {:.3}", t.predicted, t.p_truth);
                    view! {
                        <span class="tok" class:wrong=wrong style=shade title=title>{t.truth.clone()}</span>
                    }
                })
                .collect_view();
            let predicted = p.forced.iter().map(|t| t.predicted.as_str()).collect::<String>();
            view! {
                <p class="meta">
                    "epoch " {p.epoch} " · perplexity " {format!("{:.2}", p.forced_perplexity)} " · accuracy "
                    {format!("{:.1}%", 100.0 * p.forced_accuracy)}
                </p>
                <div class="passage" id="teacher-forced-text">{p.first.clone()}{tokens}</div>
                <p class="label">"argmax at each position:"</p>
                <div class="passage mono" id="teacher-forced-argmax">{predicted}</div>
            }
        })
    };
    let free = move || {
        ui.predictions.get().map(|p: Predictions| {
            let own = p.passage_free_running.concat();
            view! {
                <p class="meta">"from the passage's first token, fed its own output:"</p>
                <div class="passage mono" id="free-running-passage">{p.first.clone()}{own}</div>
                <p class="label">"continuation of the prefix:"</p>
                <div class="passage mono" id="free-running-text">{p.continuation.clone()}</div>
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
                            <input type="text" prop:value=move || ui.prefix.get()
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
                        <button on:click=predict_now disabled=no_run>"Predict now"</button>
                    </div>
                    {free}
                </div>
            </div>
        </section>
    }
}
