//! Inside the network: what a language model computes over the teacher-forced passage.
//!
//! - a units × time heatmap of a layer's hidden state (or its memory cell, or one gate), the
//!   passage's characters along the top, units sorted by how much they vary; clicking a unit's
//!   row colours the passage by that unit (Karpathy, Johnson & Fei-Fei 2015);
//! - a picked position (click a character here or in the teacher-forced view): the model's most
//!   likely next tokens as bars, at temperature 1 and at a chosen temperature;
//! - the connectivity of that position: each earlier character shaded by the gradient of the
//!   prediction's loss with respect to it (log scale), and how many steps back the signal
//!   reaches (Distill's "memorization" view).
//!
//! The numbers come from the engine (`rnnplay_engine::inspect`), refreshed with the
//! predictions; the heatmap is drawn with plotters on a canvas.

use crate::protocol::{InspectView, SignalView};
use crate::ui::{Phase, Ui};
use leptos::html;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use rnnplay_engine::inspect::gate_meaning;

/// Pixels per character column and per unit row of the heatmap, and the characters' band.
const CELL_W: u32 = 9;
const ROW_H: u32 = 5;
const TEXT_H: u32 = 16;
/// Rows drawn at most (the units that vary most, when sorted).
const MAX_ROWS: usize = 64;

/// `text` with a space drawn as ␣.
fn visible(text: &str) -> String {
    text.replace(' ', "␣")
}

/// A colour for `x` in [0, 1]: diverging red–white–blue around 0.5 for signed signals, white to
/// blue for gates (non-negative).
fn colour(x: f32, signed: bool) -> (u8, u8, u8) {
    let x = x.clamp(0.0, 1.0);
    let toward = |t: f32, (r, g, b): (f32, f32, f32)| {
        let mix = |c: f32| (255.0 + (c - 255.0) * t) as u8;
        (mix(r), mix(g), mix(b))
    };
    if !signed {
        return toward(x, (8.0, 69.0, 148.0));
    }
    if x < 0.5 {
        toward(1.0 - 2.0 * x, (178.0, 24.0, 43.0))
    } else {
        toward(2.0 * x - 1.0, (33.0, 102.0, 172.0))
    }
}

/// A signal's value mapped to [0, 1] for colouring: [-1, 1] for signed signals (h, c are
/// clamped there), [0, 1] for gates.
fn level(value: f32, signed: bool) -> f32 {
    if signed {
        (value + 1.0) / 2.0
    } else {
        value
    }
}

fn css((r, g, b): (u8, u8, u8)) -> String {
    format!("rgb({r}, {g}, {b})")
}

/// The rows drawn: all units or the first `MAX_ROWS` of the chosen order.
fn row_order(view: &InspectView, signal: &SignalView, sorted: bool) -> Vec<usize> {
    let order = if sorted { view.units_by_variance(signal) } else { (0..view.hidden).collect() };
    order.into_iter().take(MAX_ROWS).collect()
}

fn draw_heatmap(
    canvas: web_sys::HtmlCanvasElement,
    view: &InspectView,
    signal: &SignalView,
    rows: &[usize],
    selected: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let signed = !signal.non_negative();
    let Some(backend) = CanvasBackend::with_canvas_object(canvas) else { return Ok(()) };
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    for (t, token) in view.tokens.iter().enumerate() {
        let x = (t as u32 * CELL_W) as i32;
        let style = ("monospace", 13).into_font().color(&RGBColor(36, 41, 47));
        root.draw(&Text::new(visible(token).chars().next().unwrap_or(' ').to_string(), (x + 1, 2), style))?;
        for (row, &unit) in rows.iter().enumerate() {
            let (r, g, b) = colour(level(view.value(signal, t, unit), signed), signed);
            let y = (TEXT_H + row as u32 * ROW_H) as i32;
            root.draw(&Rectangle::new([(x, y), (x + CELL_W as i32, y + ROW_H as i32)], RGBColor(r, g, b).filled()))?;
        }
    }
    if let Some(row) = selected.and_then(|u| rows.iter().position(|&r| r == u)) {
        let y = (TEXT_H + row as u32 * ROW_H) as i32;
        let right = (view.tokens.len() as u32 * CELL_W) as i32;
        root.draw(&Rectangle::new([(0, y - 1), (right - 1, y + ROW_H as i32)], RGBColor(0, 0, 0).stroke_width(1)))?;
    }
    root.present()?;
    Ok(())
}

#[component]
pub fn InsidePanel(ui: Ui) -> impl IntoView {
    let layer = RwSignal::new(0usize);
    let name = RwSignal::new("h".to_string());
    let sorted = RwSignal::new(true);
    let unit = RwSignal::new(None::<usize>);
    let temperature = RwSignal::new(0.5f32);
    let canvas = NodeRef::<html::Canvas>::new();

    // The chosen signal of the current inspection (h of the top layer when the choice is gone).
    let chosen = move || {
        ui.inspection.with(|v| {
            v.as_ref().map(|view| {
                let layer = layer.get().min(view.layers.saturating_sub(1));
                let signal = view.signal(layer, &name.get()).or_else(|| view.signal(layer, "h")).cloned();
                (view.clone(), signal)
            })
        })
    };
    let rows = Memo::new(move |_| match chosen() {
        Some((view, Some(signal))) => row_order(&view, &signal, sorted.get()),
        _ => Vec::new(),
    });
    Effect::new(move |_| {
        let selected = unit.get();
        let rows = rows.get();
        if let (Some(canvas), Some((view, Some(signal)))) = (canvas.get(), chosen()) {
            canvas.set_width(view.tokens.len() as u32 * CELL_W);
            canvas.set_height(TEXT_H + rows.len() as u32 * ROW_H);
            if let Err(err) = draw_heatmap(canvas, &view, &signal, &rows, selected) {
                leptos::logging::warn!("heatmap: {err}");
            }
        }
    });
    let on_heatmap_click = move |ev: leptos::ev::MouseEvent| {
        let y = ev.offset_y();
        if y < TEXT_H as i32 {
            return;
        }
        let row = ((y - TEXT_H as i32) / ROW_H as i32) as usize;
        if let Some(&u) = rows.get_untracked().get(row) {
            unit.set(Some(u));
        }
    };
    let pick = move |position: usize| {
        ui.position.set(Some(position));
        ui.connect_requests.update(|n| *n += 1);
    };

    let controls = move || {
        chosen().map(|(view, signal)| {
            let current = signal.as_ref().map(|s| s.name.clone()).unwrap_or_default();
            let layer_now = layer.get().min(view.layers.saturating_sub(1));
            let names: Vec<String> =
                view.signals.iter().filter(|s| s.layer == layer_now).map(|s| s.name.clone()).collect();
            let layer_choice = (view.layers > 1).then(|| {
                view! {
                    <label>"layer "
                        <select id="inside-layer" on:change=move |ev| layer.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {(0..view.layers).map(|l| view! { <option value=l.to_string() selected=l == layer_now>{(l + 1).to_string()}</option> }).collect_view()}
                        </select>
                    </label>
                }
            });
            view! {
                <div class="row">
                    {layer_choice}
                    <label>"show "
                        <select id="inside-signal" on:change=move |ev| name.set(event_target_value(&ev))>
                            {names.into_iter().map(|n| {
                                let selected = n == current;
                                view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"units "
                        <select id="inside-sort" on:change=move |ev| sorted.set(event_target_value(&ev) == "variance")>
                            <option value="variance" selected=move || sorted.get()>"those that vary most first"</option>
                            <option value="index" selected=move || !sorted.get()>"in order"</option>
                        </select>
                    </label>
                </div>
                <p class="meta">{signal.as_ref().map(|s| gate_meaning(&s.name)).unwrap_or_default()}</p>
            }
        })
    };
    let legend = move || {
        chosen().and_then(|(view, signal)| signal.map(|s| (view, s))).map(|(view, signal)| {
            let signed = !signal.non_negative();
            let stops: Vec<String> = (0..=10).map(|i| css(colour(i as f32 / 10.0, signed))).collect();
            let style = format!("background: linear-gradient(to right, {})", stops.join(", "));
            let (low, high) = if signed { ("−1", "+1") } else { ("0", "1") };
            let shown = rows.get().len();
            let of = if shown < view.hidden { format!(" ({shown} of {} units)", view.hidden) } else { String::new() };
            view! {
                <div class="row legend">
                    <span>{low}</span><span class="legend-bar" style=style></span><span>{high}</span>
                    <span class="meta">{format!("rows: units{of}; columns: the passage")}</span>
                </div>
            }
        })
    };
    let unit_passage = move || {
        let (view, signal) = match chosen() {
            Some((view, Some(signal))) => (view, signal),
            _ => return None,
        };
        let u = unit.get()?;
        let signed = !signal.non_negative();
        let spans = view
            .tokens
            .iter()
            .enumerate()
            .map(|(t, token)| {
                let value = view.value(&signal, t, u);
                let style = format!("background: {}", css(colour(level(value, signed), signed)));
                view! { <span class="tok" style=style title=format!("{value:.3}")>{visible(token)}</span> }
            })
            .collect_view();
        Some(view! {
            <p class="label">{format!("unit {u} of layer {} ({}) over the passage:", signal.layer + 1, signal.name)}</p>
            <div class="passage mono" id="unit-passage" data-unit=u.to_string()>{spans}</div>
        })
    };

    let picker = move || {
        ui.inspection.with(|v| v.clone()).map(|view| {
            let link = ui.connectivity.get().filter(|c| Some(c.position) == ui.position.get());
            let picked = ui.position.get();
            let peak = link.as_ref().map_or(0.0, |c| c.saliency_x.iter().copied().fold(0.0f32, f32::max));
            let spans = view
                .tokens
                .iter()
                .enumerate()
                .map(|(t, token)| {
                    let shade = link.as_ref().and_then(|c| c.saliency_x.get(t)).map(|&g| {
                        // Log scale over three decades below the peak.
                        let x = if peak > 0.0 && g > 0.0 { ((g / peak).log10() / 3.0 + 1.0).clamp(0.0, 1.0) } else { 0.0 };
                        format!("background: rgba(191, 90, 242, {:.2})", 0.85 * x)
                    });
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
        let view = ui.inspection.with(|v| v.clone())?;
        let next = view.next.get(position)?.clone();
        let t = temperature.get();
        let at_t = reshape(&next.logits, t);
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
            <p class="label">{format!("after '{}' (position {position}) the model expects — grey at temperature 1, purple at T = {t}{covered}:", visible(&view.tokens[position]))}</p>
            <div class="bars" id="top-k-bars">{rows}</div>
        })
    };

    let empty = move || ui.inspection.with(Option::is_none);
    view! {
        <section class="panel inside" aria-label="Inside the network">
            <h2>"Inside the network"</h2>
            <label><input type="checkbox" id="views-toggle" prop:checked=move || ui.views.get()
                on:change=move |ev| ui.views.set(event_target_checked(&ev))/>
                " compute these views at each refresh of the predictions"</label>
            <Show when=empty>
                <p class="note">{move || if ui.phase.get() == Phase::Idle {
                    "Start a language model (or load one): after its first epoch this shows its hidden state, its gates and what it predicts at each position."
                } else {
                    "The views appear with the next refresh of the predictions (after an epoch, or Predict now)."
                }}</p>
            </Show>
            <Show when=move || !empty()>
                <figure class="heatmap-figure">
                    {controls}
                    <div class="heatmap-scroll">
                        <canvas id="heatmap" node_ref=canvas on:click=on_heatmap_click aria-label="units × time heatmap"
                            data-rows=move || rows.get().len().to_string()></canvas>
                    </div>
                    {legend}
                    <figcaption>"Each row is one unit of the layer, each column a character of the passage: the colour is the unit's value after reading that character — click a row to colour the passage by that unit."</figcaption>
                </figure>
                {unit_passage}
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
            </Show>
        </section>
    }
}

/// softmax(logits / T) over the candidates, as `rnnplay_engine::inspect::at_temperature`.
fn reshape(logits: &[f32], temperature: f32) -> Vec<f32> {
    let candidates: Vec<rnnplay_engine::inspect::Candidate> = logits
        .iter()
        .enumerate()
        .map(|(i, &logit)| rnnplay_engine::inspect::Candidate { token: i as u32, logit, p: 0.0 })
        .collect();
    rnnplay_engine::inspect::at_temperature(&candidates, temperature)
}
