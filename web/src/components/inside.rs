//! Inside the network: what a language model computes over the teacher-forced passage.
//!
//! - a units × time heatmap of a layer's hidden state (or its memory cell, or one gate), the
//!   passage's characters along the top, units sorted by how much they vary; clicking a unit's
//!   row colours the passage by that unit (Karpathy, Johnson & Fei-Fei 2015);
//! - a picked position (click a character here or in the teacher-forced view): the model's most
//!   likely next tokens as bars, at temperature 1 and at a chosen temperature;
//! - the connectivity of that position: each earlier character shaded by the gradient of the
//!   prediction's loss with respect to it (log scale), and how many steps back the signal
//!   reaches (Distill's "memorization" view);
//! - one step of the cell at that position, with its numbers (`inside/cell_view.rs`).
//!
//! The numbers come from the engine (`rnnplay_engine::inspect`), refreshed with the
//! predictions; the heatmap is `heatmap::Heatmap`.

pub(crate) mod cell_view;

use super::heatmap::{saliency_style, visible, Heatmap};
use crate::ui::{Phase, Ui};
use crate::view_signals::{ComputeView, ViewContext, When};
use crate::views::{view, ConnectView, InspectView};
use cell_view::CellStep;
use leptos::prelude::*;
use rnnplay_engine::inspect::{connectivity as connectivity_of, inspect};

/// The inspection of the teacher-forced passage (the whole passage: position t's candidates
/// are the prediction of token t + 1).
impl ComputeView for view::inspection {
    type Value = InspectView;
    const WHEN: When = When::Inside;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<InspectView>, String> {
        let Some((run, passage)) = cx.passage() else { return Ok(None) };
        let token = |id: u32| run.vocab.token(id).to_string();
        let seen = inspect(&run.model, passage, 5).await.map_err(|e| e.to_string())?;
        let epoch = cx.session.epochs_done();
        Ok(Some(InspectView::new(epoch, passage, (seen.layers, seen.hidden), &seen.signals, &seen.next, &token)))
    }
}

/// How far back the prediction at the picked position of the passage reaches (computed on the
/// same weights as the inspection: mid-epoch they have moved since the last refresh).
impl ComputeView for view::connectivity {
    type Value = ConnectView;
    const WHEN: When = When::Inside;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<ConnectView>, String> {
        let Some((run, passage, position)) = cx.picked() else { return Ok(None) };
        let link = connectivity_of(&run.model, passage, position).await.map_err(|e| e.to_string())?;
        Ok(Some(ConnectView {
            epoch: cx.session.epochs_done(),
            position,
            target: run.vocab.token(link.target).to_string(),
            target_is_truth: link.target_is_truth,
            reach: link.reach(),
            saliency_x: link.saliency_x,
        }))
    }
}

#[component]
pub fn InsidePanel(ui: Ui) -> impl IntoView {
    let temperature = RwSignal::new(0.5f32);
    let pick = move |position: usize| {
        ui.position.set(Some(position));
        ui.connect_requests.update(|n| *n += 1);
    };

    // The passage, and the connectivity of the picked position in the current inspection: each
    // changes far less often than the inspection (every epoch), and the passage's spans are
    // built again only when one does.
    let passage = Memo::new(move |_| ui.views.inspection.with(|v| v.as_ref().map(|view| view.tokens.clone())));
    let current_link = Memo::new(move |_| {
        let epoch = ui.views.inspection.with(|v| v.as_ref().map(|view| view.epoch));
        ui.views.connectivity.get().filter(|c| Some(c.position) == ui.position.get() && Some(c.epoch) == epoch)
    });
    let picker = move || {
        passage.get().map(|tokens| {
            let link = current_link.get();
            let picked = ui.position.get();
            let peak = link.as_ref().map_or(0.0, |c| c.saliency_x.iter().copied().fold(0.0f32, f32::max));
            let spans = tokens
                .iter()
                .enumerate()
                .map(|(t, token)| {
                    let shade = link.as_ref().and_then(|c| c.saliency_x.get(t)).map(|&g| saliency_style(g, peak));
                    view! {
                        <span class="tok pick" class:picked=picked == Some(t) style=shade.unwrap_or_default()
                            on:click=move |_| pick(t) title=format!("position {t}: click to see its prediction")>
                            {visible(token)}
                        </span>
                    }
                })
                .collect_view();
            let summary = link.as_ref().map(|c| {
                let what = if c.target_is_truth { "the true next token" } else { "its own guess: the passage ends" };
                format!(
                    "predicting '{}' ({what}) after position {}: the signal reaches {} step(s) back (where it falls below 1% of its peak)",
                    visible(&c.target),
                    c.position,
                    c.reach
                )
            });
            view! {
                <div class="passage mono" id="connectivity-passage" data-reach=link.as_ref().map(|c| c.reach.to_string())>{spans}</div>
                <p class="meta" id="connectivity-summary">{summary.unwrap_or_else(|| "click a character to pick a position".into())}</p>
            }
        })
    };
    let bars = move || {
        let position = ui.position.get()?;
        let (next, token) = ui.views.inspection.with(|v| {
            let view = v.as_ref()?;
            Some((view.next.get(position)?.clone(), view.tokens.get(position)?.clone()))
        })?;
        let t = temperature.get();
        let at_t = rnnplay_engine::inspect::at_temperature(&next.logits, t);
        let rows = next
            .tokens
            .iter()
            .zip(&next.p)
            .zip(&at_t)
            .take(8)
            .map(|((token, &p), &q)| {
                view! {
                    <div class="bar-row">
                        <span class="bar-token mono">{visible(token)}</span>
                        <span class="bar" style=format!("width: {:.1}%", 100.0 * p)></span>
                        <span class="bar-value">{format!("{p:.3}")}</span>
                        <span class="bar hot" style=format!("width: {:.1}%", 100.0 * q)></span>
                        <span class="bar-value">{format!("{q:.3}")}</span>
                    </div>
                }
            })
            .collect_view();
        let covered = if next.tokens.len() < 32 { "" } else { " (renormalized over the 32 most likely tokens)" };
        Some(view! {
            <p class="label">{format!("after '{}' (position {position}) the model expects — grey at temperature 1, purple at T = {t}{covered}:", visible(&token))}</p>
            <div class="bars" id="top-k-bars">{rows}</div>
        })
    };

    let empty = move || ui.views.inspection.with(Option::is_none);
    let inspection = ui.views.inspection.signal();
    view! {
        <section class="panel inside" aria-label="Inside the network">
            <h2>"Inside the network"</h2>
            <label><input type="checkbox" id="views-toggle" prop:checked=move || ui.inside_on.get()
                on:change=move |ev| ui.inside_on.set(event_target_checked(&ev))/>
                " compute these views at each refresh of the predictions"</label>
            <Show when=empty>
                <p class="note">{move || if !ui.inside_on.get() {
                    "The views are switched off: tick the box to compute them at the next refresh."
                } else if ui.phase.get() == Phase::Idle {
                    "Start a language model (or load one): after its first epoch this shows its hidden state, its gates and what it predicts at each position."
                } else {
                    "The views appear with the next refresh of the predictions (after an epoch, or Predict now)."
                }}</p>
            </Show>
            <Show when=move || !empty()>
                <Heatmap view=inspection id="heatmap" unit_id="unit-passage"
                    caption="Each row is one unit of the layer, each column a character of the passage: the colour is the unit's value after reading that character — click a row to colour the passage by that unit."/>
                <h3>"Pick a position"</h3>
                <p class="hint">"Click a character (here or in the teacher-forced view): the bars show what the model expects next, and the earlier characters are shaded by how much the gradient of that prediction's loss reaches them (log scale)."</p>
                {picker}
                <label>"temperature "
                    <input type="range" id="inside-temperature" min="0.1" max="2" step="0.1" prop:value=move || temperature.get().to_string()
                        on:input=move |ev| {
                            if let Ok(t) = event_target_value(&ev).parse::<f32>() {
                                temperature.set(t);
                            }
                        }/>
                    {move || format!(" {}", temperature.get())}
                </label>
                {bars}
                <CellStep ui=ui/>
            </Show>
        </section>
    }
}
