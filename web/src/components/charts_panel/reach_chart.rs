//! The gradient's reach chart: how much of one prediction's gradient is left k steps back —
//! ‖∂ℓ_T/∂h_{T−k}‖ of each window's last prediction over a fixed batch, as a share of its size
//! at k = 0 (`rnnplay_engine::inspect::gradient_reach`) — after the run's first epoch and after
//! the latest, on a log scale. The raw values of the latest are also in the figure's
//! `data-values` attribute (JSON) for the browser test.

use crate::ui::Ui;
use crate::view_signals::{ComputeView, When};
use crate::views::{view, Reach};
use leptos::html;
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use rnnplay_engine::inspect::reach_shares;
use rnnplay_run::EpochReport;

/// The chart's curves after an epoch: its report's as the latest, the run's first epoch's kept
/// from before (an epoch without the measure leaves them as they were).
impl ComputeView for view::reach {
    type Value = Reach;
    const WHEN: When = When::Epoch;

    fn after_epoch(report: &EpochReport, previous: Option<&Reach>) -> Option<Reach> {
        if report.reach.is_empty() {
            return previous.cloned();
        }
        let (first, first_epoch) = match previous.filter(|curves| !curves.first.is_empty()) {
            Some(curves) => (curves.first.clone(), curves.first_epoch),
            None => (report.reach.clone(), report.epoch),
        };
        Some(Reach { first, first_epoch, last: report.reach.clone(), last_epoch: report.epoch })
    }
}

#[component]
pub fn ReachChart(ui: Ui) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let curves = ui.views.reach.get().unwrap_or_default();
        if let Some(canvas) = canvas.get() {
            crate::paint::plot_later("reach-chart", canvas, "gradient's reach chart", move |root| draw(root, &curves));
        }
    });
    let data = move || {
        let last = ui.views.reach.with(|t| t.as_ref().map(|t| t.last.clone()).unwrap_or_default());
        serde_json::to_string(&last).unwrap_or_default()
    };
    // The key, in HTML beside the canvas (a key drawn by plotters measured its text through the
    // page's layout at every redraw).
    let key = move || {
        ui.views.reach.with(|curves| {
            curves
                .as_ref()
                .map_or_else(Vec::new, lines)
                .into_iter()
                .map(|(label, (r, g, b), _)| {
                    view! { <span class="key"><span class="swatch" style=format!("background: rgb({r}, {g}, {b})")></span>{label}</span> }
                })
                .collect_view()
        })
    };
    view! {
        <figure class="chart" id="reach-chart" data-values=data>
            <p class="chart-title">"how far back the gradient reaches"</p>
            <canvas node_ref=canvas width="560" height="260" aria-label="how far back the gradient reaches"></canvas>
            <p class="chart-key">{key}</p>
            <figcaption>"Follow the gradient of one prediction — the last of a training window — back through the hidden states: at k steps back, what share of its size is left (log scale; the mean over a fixed batch of windows, measured after each epoch). Backpropagation multiplies it by the recurrent step's Jacobian once per step, so a plain RNN's curve falls (or climbs) geometrically — a vanishing (or exploding) gradient — and what it falls below a hundredth of barely trains; a gated cell's stays flatter, so it can learn from further back."</figcaption>
        </figure>
    }
}

/// One curve of the chart: its key, its colour and its values as shares of their value at
/// k = 0.
type Line = (String, (u8, u8, u8), Vec<f32>);

/// The curves drawn, in drawing order: the first epoch's (grey), then the latest (blue).
fn lines(curves: &Reach) -> Vec<Line> {
    let last = (format!("after epoch {}", curves.last_epoch), (0, 0, 255), reach_shares(&curves.last));
    match curves.first_epoch == curves.last_epoch {
        _ if curves.last.is_empty() => Vec::new(),
        true => vec![last],
        false => {
            vec![(format!("after epoch {}", curves.first_epoch), (150, 150, 150), reach_shares(&curves.first)), last]
        }
    }
}

fn draw(root: &DrawingArea<CanvasBackend, Shift>, curves: &Reach) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    if curves.last.is_empty() {
        let h = root.dim_in_pixel().1;
        let note = "nothing yet: the curve appears when the first epoch ends";
        root.draw(&Text::new(note, (20, h as i32 / 2), ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90))))?;
        return Ok(());
    }
    let lines = lines(curves);
    let all = lines.iter().flat_map(|(_, _, values)| values.iter().copied()).filter(|v| v.is_finite() && *v > 0.0);
    let (low, high) = all.fold((HUNDREDTH, 1.0f32), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = (low * 0.5, high * 2.0);
    let steps = curves.last.len() as f32;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(68)
        .build_cartesian_2d(-0.5f32..steps - 0.5, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(steps.clamp(2.0, 12.0) as usize)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-3 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .x_desc("k: steps back from the prediction")
        .y_desc("share of the gradient left (log)")
        .draw()?;
    // A hundredth: below it a step barely learns from the prediction.
    let guide = RGBColor(150, 150, 150).stroke_width(1);
    chart.draw_series(LineSeries::new([(-0.5, HUNDREDTH), (steps - 0.5, HUNDREDTH)], guide))?;
    let points = |values: &[f32]| -> Vec<(f32, f32)> {
        values.iter().enumerate().filter(|(_, v)| v.is_finite() && **v > 0.0).map(|(k, &v)| (k as f32, v)).collect()
    };
    for (_, (r, g, b), values) in lines {
        chart.draw_series(LineSeries::new(points(&values), RGBColor(r, g, b).stroke_width(2)))?;
    }
    Ok(())
}

/// The grey guide line's share.
const HUNDREDTH: f32 = 0.01;
