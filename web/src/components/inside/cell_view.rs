//! One step of the cell at the picked position, with its numbers (CNN Explainer's idea for a
//! recurrent cell): the state the step starts from and the input it reads, the gates, the
//! candidate and the new state, in the order d2l's figures draw them, each with its equation
//! and drawn as a strip of coloured cells, one per unit. Hovering a unit shows its value in
//! every vector and the cell's arithmetic for it, so a student can follow how h₋₁ and x become
//! h. The numbers are the engine's (`Inspection::cell_step`), the ones `rnnplay inspect --cell`
//! prints; the figure's `data-vectors` attribute carries them (JSON) for the browser test.

use super::super::heatmap::{colour, css, level, symbol, visible};
use crate::ui::Ui;
use crate::view_signals::{ComputeView, ViewContext, When};
use crate::views::{view, CellView};
use leptos::prelude::*;
use rnnplay_engine::inspect::{cell_equation, inspect, CellVector};

/// The step at the picked position of the passage, for the top layer. Only the tokens up to
/// the position are run: the step cannot depend on what follows.
impl ComputeView for view::cell {
    type Value = CellView;
    const WHEN: When = When::Inside;

    async fn compute(cx: &ViewContext<'_>) -> Result<Option<CellView>, String> {
        let Some((run, passage, position)) = cx.picked() else { return Ok(None) };
        let seen = inspect(&run.model, &passage[..=position], 1).await.map_err(|e| e.to_string())?;
        let (config, layer) = (run.model.config(), seen.layers.saturating_sub(1));
        let vectors = seen.cell_step(layer, position);
        let equations =
            vectors.iter().map(|v| cell_equation(config, &v.name).unwrap_or_default().to_string()).collect();
        Ok(Some(CellView {
            epoch: cx.session.epochs_done(),
            position,
            layer,
            model: config.model_name(),
            input: run.vocab.token(passage[position]).to_string(),
            vectors,
            equations,
        }))
    }
}

/// Where a vector sits in the step, in d2l's reading order.
fn stage(name: &str) -> (usize, &'static str) {
    match name {
        "h_prev" | "c_prev" => (0, "from the previous position"),
        "n" | "g" | "h_tilde" | "c_tilde" => (2, "candidate"),
        "c" | "h" => (3, "the new state"),
        _ => (1, "gates"),
    }
}

/// Gates are sigmoids in (0, 1), drawn white to blue; the rest are signed, red–white–blue.
fn is_gate(name: &str) -> bool {
    matches!(name, "r" | "z" | "i" | "f" | "o")
}

/// The cell's arithmetic for one unit, with its numbers: how the new c and h follow from the
/// gates (a plain RNN's h is a tanh of weighted sums, which the strips do not hold).
fn arithmetic(vectors: &[CellVector], unit: usize) -> Vec<String> {
    let value = |name: &str| vectors.iter().find(|v| v.name == name).and_then(|v| v.values.get(unit)).copied();
    let n = |x: f32| format!("{x:.3}");
    let mut lines = Vec::new();
    // The candidate's name: PyTorch's n and g, d2l's H̃ and C̃.
    let pick = |names: [&'static str; 2]| names.into_iter().find_map(|name| Some((symbol(name), value(name)?)));
    if let (Some(z), Some((cand, n_value)), Some(prev), Some(h)) =
        (value("z"), pick(["n", "h_tilde"]), value("h_prev"), value("h"))
    {
        let (a, b, c, d, e) = (n(1.0 - z), n(n_value), n(z), n(prev), n(h));
        lines.push(format!("h = (1 − z)·{cand} + z·h₋₁ = {a}·{b} + {c}·{d} = {e}"));
    }
    let gates = (value("f"), value("c_prev"), value("i"), pick(["g", "c_tilde"]), value("c"));
    if let (Some(f), Some(prev), Some(i), Some((cand, g)), Some(c)) = gates {
        lines.push(format!("c = f·c₋₁ + i·{cand} = {}·{} + {}·{} = {}", n(f), n(prev), n(i), n(g), n(c)));
        if let (Some(o), Some(h)) = (value("o"), value("h")) {
            lines.push(format!("h = o·tanh(c) = {}·tanh({}) = {}", n(o), n(c), n(h)));
        }
    }
    lines
}

/// One vector as a row: its symbol, its equation and its strip of units.
fn row(vector: CellVector, equation: String, hovered: RwSignal<Option<usize>>) -> impl IntoView {
    let gate = is_gate(&vector.name);
    let name = symbol(&vector.name).to_string();
    let units = vector
        .values
        .iter()
        .enumerate()
        .map(|(unit, &v)| {
            let style = format!("background: {}", css(colour(level(v, !gate), !gate)));
            let title = format!("{name}[{unit}] = {v:+.4}");
            view! {
                <span class="cell-unit" class:hovered=move || hovered.get() == Some(unit) style=style title=title
                    on:mouseenter=move |_| hovered.set(Some(unit))></span>
            }
        })
        .collect_view();
    view! {
        <div class="cell-row" data-name=vector.name.clone()>
            <span class="cell-name mono">{name}</span>
            <span class="cell-eq mono">{equation}</span>
            <div class="cell-strip">{units}</div>
        </div>
    }
}

#[component]
pub fn CellStep(ui: Ui) -> impl IntoView {
    let hovered = RwSignal::new(None::<usize>);
    // The step of the picked position in the current inspection.
    let current = Memo::new(move |_| {
        let epoch = ui.views.inspection.with(|v| v.as_ref().map(|view| view.epoch));
        ui.views.cell.get().filter(|c| Some(c.position) == ui.position.get() && Some(c.epoch) == epoch)
    });
    move || {
        let cell = current.get()?;
        let data: serde_json::Map<String, serde_json::Value> =
            cell.vectors.iter().map(|v| (v.name.clone(), serde_json::json!(v.values))).collect();
        let data = serde_json::Value::Object(data).to_string();
        let mut stages: Vec<(usize, &'static str, Vec<AnyView>)> = Vec::new();
        for (vector, equation) in cell.vectors.iter().cloned().zip(cell.equations.iter().cloned()) {
            let (order, title) = stage(&vector.name);
            let view = row(vector, equation, hovered).into_any();
            match stages.iter_mut().find(|(o, _, _)| *o == order) {
                Some((_, _, rows)) => rows.push(view),
                None => stages.push((order, title, vec![view])),
            }
        }
        stages.sort_by_key(|(order, _, _)| *order);
        // Above the first layer, x is the layer below's h at this position.
        let x = match cell.layer {
            0 => format!("x: the input read here, '{}'", visible(&cell.input)),
            below => format!("x: layer {below}'s h at this position (the token read: '{}')", visible(&cell.input)),
        };
        let stages = stages
            .into_iter()
            .map(|(order, title, rows)| {
                let input = (order == 0).then(|| view! { <p class="cell-input mono">{x.clone()}</p> });
                view! { <div class="cell-stage"><p class="label">{title}</p>{input}{rows}</div> }
            })
            .collect_view();
        let vectors = cell.vectors.clone();
        let hover_line = move || match hovered.get() {
            None => vec!["hover a unit to follow it through the step".to_string()],
            Some(unit) => {
                let values: Vec<String> = vectors
                    .iter()
                    .filter_map(|v| v.values.get(unit).map(|x| format!("{} = {x:+.3}", symbol(&v.name))))
                    .collect();
                let mut lines = vec![format!("unit {unit}: {}", values.join(", "))];
                lines.extend(arithmetic(&vectors, unit));
                lines
            }
        };
        let heading = format!(
            "One step of layer {}'s {} cell at position {} (after reading '{}')",
            cell.layer + 1,
            cell.model,
            cell.position,
            visible(&cell.input)
        );
        Some(view! {
            <figure class="cell-view" id="cell-view" data-position=cell.position.to_string() data-layer=cell.layer.to_string()
                data-vectors=data on:mouseleave=move |_| hovered.set(None)>
                <p class="chart-title">{heading}</p>
                {stages}
                <div class="cell-hover mono" id="cell-hover">
                    {move || hover_line().into_iter().map(|line| view! { <p>{line}</p> }).collect_view()}
                </div>
                <figcaption>"Each strip is one vector of the step, one cell per unit: red below 0, blue above (gates, which are sigmoids between 0 and 1, white to blue). The step reads the state from the previous position and the input, computes the gates from both, then a candidate, and mixes the old state with the candidate as the gates say."</figcaption>
            </figure>
        })
    }
}
