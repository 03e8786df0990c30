//! A units × time heatmap of what a recurrent layer computes over a sequence: one row per unit
//! (sorted by how much it varies, or in order), one column per token, the tokens along the top;
//! a click on a row colours the tokens by that unit (Karpathy, Johnson & Fei-Fei 2015). Drawn
//! with plotters on a canvas; used for a language model's passage and for both halves of an
//! encoder–decoder.

use crate::views::{InspectView, SignalView};
use leptos::html;
use leptos::prelude::*;
use rnnplay_engine::inspect::gate_meaning;
use std::sync::Arc;
use wasm_bindgen::{Clamped, JsCast, JsValue};

/// How a vector is written in the equations: the signal choice here and the cell view's strips.
pub(crate) fn symbol(name: &str) -> &str {
    match name {
        "h_prev" => "h₋₁",
        "c_prev" => "c₋₁",
        "h_tilde" => "H̃",
        "c_tilde" => "C̃",
        other => other,
    }
}

/// Pixels per character column and per unit row of the heatmap, and the characters' band.
/// (Character models; word models get wider columns, see `cell_width`.)
const CELL_W: u32 = 9;
const ROW_H: u32 = 5;
const TEXT_H: u32 = 16;
/// Rows drawn at most (the units that vary most, when sorted).
const MAX_ROWS: usize = 64;

/// `text` with a space drawn as ␣.
pub(crate) fn visible(text: &str) -> String {
    text.replace(' ', "␣")
}

/// A colour for `x` in [0, 1]: diverging red–white–blue around 0.5 for signed signals, white to
/// blue for gates (non-negative).
pub(crate) fn colour(x: f32, signed: bool) -> (u8, u8, u8) {
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
pub(crate) fn level(value: f32, signed: bool) -> f32 {
    if signed {
        (value + 1.0) / 2.0
    } else {
        value
    }
}

/// The background of a token shaded by a gradient magnitude (connectivity, source saliency):
/// purple on `rnnplay_engine::inspect::log_level`'s log scale below `peak`.
pub(crate) fn saliency_style(value: f32, peak: f32) -> String {
    format!("background: rgba(191, 90, 242, {:.2})", 0.85 * rnnplay_engine::inspect::log_level(value, peak))
}

pub(crate) fn css((r, g, b): (u8, u8, u8)) -> String {
    format!("rgb({r}, {g}, {b})")
}

/// The rows drawn: all units or the first `MAX_ROWS` of the chosen order.
fn row_order(view: &InspectView, signal: &SignalView, sorted: bool) -> Vec<usize> {
    let order = if sorted { view.units_by_variance(signal) } else { (0..view.hidden).collect() };
    order.into_iter().take(MAX_ROWS).collect()
}

/// The cells as RGBA pixels, `rows` × `ROW_H` high and a column of `cell` pixels per token.
fn cell_pixels(view: &InspectView, signal: &SignalView, rows: &[usize], cell: usize) -> Vec<u8> {
    let signed = !signal.non_negative();
    let width = view.tokens.len() * cell;
    let line_bytes = width * 4;
    let mut pixels = vec![255u8; line_bytes * rows.len() * ROW_H as usize];
    for (row, &unit) in rows.iter().enumerate() {
        // The row's first pixel line, then copies of it.
        let first = row * ROW_H as usize * line_bytes;
        for (t, column) in pixels[first..first + line_bytes].chunks_exact_mut(cell * 4).enumerate() {
            let (r, g, b) = colour(level(view.value(signal, t, unit), signed), signed);
            for pixel in column.chunks_exact_mut(4) {
                pixel.copy_from_slice(&[r, g, b, 255]);
            }
        }
        for y in 1..ROW_H as usize {
            pixels.copy_within(first..first + line_bytes, first + y * line_bytes);
        }
    }
    pixels
}

/// Draws the tokens along the top and the units × tokens cells below them (one image, not a
/// rectangle per cell), and outlines the `selected` unit's row.
fn draw_heatmap(
    canvas: &web_sys::HtmlCanvasElement,
    view: &InspectView,
    signal: &SignalView,
    rows: &[usize],
    selected: Option<usize>,
) -> Result<(), JsValue> {
    let cell = cell_width(view) as usize;
    let (width, height) = (view.tokens.len() * cell, rows.len() * ROW_H as usize);
    canvas.set_width(width as u32);
    canvas.set_height(TEXT_H + height as u32);
    let Some(context) = canvas.get_context("2d")? else { return Ok(()) };
    let context: web_sys::CanvasRenderingContext2d = context.dyn_into()?;
    context.set_fill_style_str("white");
    context.fill_rect(0.0, 0.0, width as f64, f64::from(TEXT_H));
    context.set_fill_style_str("rgb(36, 41, 47)");
    context.set_font("13px monospace");
    context.set_text_baseline("top");
    for (t, token) in view.tokens.iter().enumerate() {
        let shown: String = visible(token).chars().take((cell / 8).max(1)).collect();
        context.fill_text(&shown, (t * cell + 1) as f64, 2.0)?;
    }
    if width > 0 && height > 0 {
        let pixels = cell_pixels(view, signal, rows, cell);
        let image =
            web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), width as u32, height as u32)?;
        context.put_image_data(&image, 0.0, f64::from(TEXT_H))?;
    }
    if let Some(row) = selected.and_then(|u| rows.iter().position(|&r| r == u)) {
        let y = f64::from(TEXT_H) + (row as u32 * ROW_H) as f64;
        context.set_stroke_style_str("black");
        context.set_line_width(1.0);
        context.stroke_rect(0.5, y - 0.5, width as f64 - 1.0, f64::from(ROW_H) + 1.0);
    }
    Ok(())
}

/// Column width: a character per column for character models, up to 8 characters of a word.
fn cell_width(view: &InspectView) -> u32 {
    let longest = view.tokens.iter().map(|t| t.chars().count()).max().unwrap_or(1) as u32;
    if longest <= 1 {
        CELL_W
    } else {
        8 * longest.min(8) + 4
    }
}

/// A units × time heatmap of one inspection with its controls (layer, signal, unit order), its
/// colour legend, its caption, and the tokens coloured by the unit whose row was clicked.
#[component]
pub fn Heatmap(
    /// What to draw (nothing while `None`).
    view: Signal<Option<InspectView>>,
    /// The canvas's element id; the controls' ids start with it.
    id: &'static str,
    /// The id of the tokens coloured by the clicked unit.
    unit_id: &'static str,
    /// What the student is looking at, in one sentence.
    caption: &'static str,
) -> impl IntoView {
    let layer = RwSignal::new(0usize);
    let name = RwSignal::new("h".to_string());
    let sorted = RwSignal::new(true);
    let unit = RwSignal::new(None::<usize>);
    let canvas = NodeRef::<html::Canvas>::new();

    // The chosen signal of the current inspection (h of the layer when the choice is gone),
    // worked out once per change and shared by the drawing and the controls.
    let chosen_now = Memo::new(move |_| {
        view.with(|v| {
            v.as_ref().map(|view| {
                let layer = layer.get().min(view.layers.saturating_sub(1));
                let signal = view.signal(layer, &name.get()).or_else(|| view.signal(layer, "h")).cloned();
                Arc::new((view.clone(), signal))
            })
        })
    });
    let rows = Memo::new(move |_| match chosen_now.get().as_deref() {
        Some((view, Some(signal))) => row_order(view, signal, sorted.get()),
        _ => Vec::new(),
    });
    Effect::new(move |_| {
        let selected = unit.get();
        let rows = rows.get();
        if let (Some(canvas), Some(both)) = (canvas.get(), chosen_now.get()) {
            crate::paint::later(id, move || {
                if let (view, Some(signal)) = &*both {
                    if let Err(err) = draw_heatmap(&canvas, view, signal, &rows, selected) {
                        leptos::logging::warn!("heatmap: {err:?}");
                    }
                }
            });
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
    let controls = move || {
        chosen_now.get().map(|both| {
            let (view, signal) = &*both;
            let current = signal.as_ref().map(|s| s.name.clone()).unwrap_or_default();
            let layer_now = layer.get().min(view.layers.saturating_sub(1));
            let names: Vec<String> =
                view.signals.iter().filter(|s| s.layer == layer_now).map(|s| s.name.clone()).collect();
            let layer_choice = (view.layers > 1).then(|| {
                view! {
                    <label>"layer "
                        <select id=format!("{id}-layer") on:change=move |ev| layer.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {(0..view.layers).map(|l| view! { <option value=l.to_string() selected=l == layer_now>{(l + 1).to_string()}</option> }).collect_view()}
                        </select>
                    </label>
                }
            });
            view! {
                <div class="row">
                    {layer_choice}
                    <label>"show "
                        <select id=format!("{id}-signal") on:change=move |ev| name.set(event_target_value(&ev))>
                            {names.into_iter().map(|n| {
                                let selected = n == current;
                                let label = symbol(&n).to_string();
                                view! { <option value=n.clone() selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"units "
                        <select id=format!("{id}-sort") on:change=move |ev| sorted.set(event_target_value(&ev) == "variance")>
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
        chosen_now.get().filter(|both| both.1.is_some()).map(|both| {
            let (view, Some(signal)) = &*both else { unreachable!("filtered to a chosen signal") };
            let signed = !signal.non_negative();
            let stops: Vec<String> = (0..=10).map(|i| css(colour(i as f32 / 10.0, signed))).collect();
            let style = format!("background: linear-gradient(to right, {})", stops.join(", "));
            let (low, high) = if signed { ("−1", "+1") } else { ("0", "1") };
            let shown = rows.get().len();
            let of = if shown < view.hidden { format!(" ({shown} of {} units)", view.hidden) } else { String::new() };
            view! {
                <div class="row legend">
                    <span>{low}</span><span class="legend-bar" style=style></span><span>{high}</span>
                    <span class="meta">{format!("rows: units{of}; columns: the tokens")}</span>
                </div>
            }
        })
    };
    let unit_passage = move || {
        let both = chosen_now.get()?;
        let (view, Some(signal)) = &*both else { return None };
        let u = unit.get()?;
        let signed = !signal.non_negative();
        let spans = view
            .tokens
            .iter()
            .enumerate()
            .map(|(t, token)| {
                let value = view.value(signal, t, u);
                let style = format!("background: {}", css(colour(level(value, signed), signed)));
                view! { <span class="tok" style=style title=format!("{value:.3}")>{visible(token)}</span> }
            })
            .collect_view();
        Some(view! {
            <p class="label">{format!("unit {u} of layer {} ({}) over the passage:", signal.layer + 1, signal.name)}</p>
            <div class="passage mono" id=unit_id data-unit=u.to_string()>{spans}</div>
        })
    };

    view! {
        <figure class="heatmap-figure">
            {controls}
            <div class="heatmap-scroll">
                <canvas id=id node_ref=canvas on:click=on_heatmap_click aria-label="units × time heatmap"
                    data-rows=move || rows.get().len().to_string()></canvas>
            </div>
            {legend}
            <figcaption>{caption}</figcaption>
        </figure>
        {unit_passage}
    }
}
