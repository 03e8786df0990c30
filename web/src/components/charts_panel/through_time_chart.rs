//! The gradient-through-time chart: per time step of the training window, how much gradient
//! reaches the hidden state there (the batch-mean ‖∂L/∂h_s‖ of the top layer, before clipping,
//! averaged over an epoch; `rnnplay_engine`'s `through_time.rs`), for the first epoch and the
//! latest, and the latest scaled as clipping scales it. The values are also in the figure's
//! `data-values` attribute (JSON) for the browser test.

use crate::ui::Ui;
use crate::view_signals::{ComputeView, When};
use crate::views::{view, ThroughTime};
use leptos::html;
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use rnnplay_run::EpochReport;

/// The chart's curves after an epoch: its report's as the latest, the run's first epoch's kept
/// from before (an epoch without the measure leaves them as they were).
impl ComputeView for view::through_time {
    type Value = ThroughTime;
    const WHEN: When = When::Epoch;

    fn after_epoch(report: &EpochReport, previous: Option<&ThroughTime>) -> Option<ThroughTime> {
        if report.through_time.is_empty() {
            return previous.cloned();
        }
        let (first, first_epoch) = match previous.filter(|curves| !curves.first.is_empty()) {
            Some(curves) => (curves.first.clone(), curves.first_epoch),
            None => (report.through_time.clone(), report.epoch),
        };
        Some(ThroughTime {
            first,
            first_epoch,
            last: report.through_time.clone(),
            last_epoch: report.epoch,
            last_grad_norm: report.grad_norm,
        })
    }
}

#[component]
pub fn ThroughTimeChart(ui: Ui) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let (curves, clip) = (ui.views.through_time.get().unwrap_or_default(), ui.clip.get());
        if let Some(canvas) = canvas.get() {
            let what = "gradient-through-time chart";
            crate::paint::plot_later("through-time-chart", canvas, what, move |root| draw(root, &curves, clip));
        }
    });
    let data = move || {
        let last = ui.views.through_time.with(|t| t.as_ref().map(|t| t.last.clone()).unwrap_or_default());
        serde_json::to_string(&last).unwrap_or_default()
    };
    // The key, in HTML beside the canvas (a key drawn by plotters measured its text through the
    // page's layout at every redraw).
    let key = move || {
        let clip = ui.clip.get();
        ui.views.through_time.with(|curves| {
            curves
                .as_ref()
                .map_or_else(Vec::new, |curves| lines(curves, clip))
                .into_iter()
                .map(|(label, (r, g, b), _)| {
                    view! { <span class="key"><span class="swatch" style=format!("background: rgb({r}, {g}, {b})")></span>{label}</span> }
                })
                .collect_view()
        })
    };
    view! {
        <figure class="chart" id="through-time-chart" data-values=data>
            <p class="chart-title">"gradient through time"</p>
            <canvas node_ref=canvas width="560" height="260" aria-label="gradient through time"></canvas>
            <p class="chart-key">{key}</p>
            <figcaption>"How much gradient reaches the hidden state at each step of the training window (log scale): flat means each step gets little more than its own loss's gradient — what came later vanished on the way back; rising toward step 1 means gradient from later steps is carried back; a steep climb is an exploding gradient, which clipping (orange) scales down."</figcaption>
        </figure>
    }
}

/// Five labels spread evenly over a log axis (plotters labels only powers of ten, and a curve
/// within one decade would get one label or none).
fn key_points(low: f32, high: f32) -> Vec<f32> {
    (0..5).map(|i| low * (high / low).powf((0.5 + i as f32) / 5.0)).collect()
}

/// One curve of the chart: its key, its colour and its values.
type Line = (String, (u8, u8, u8), Vec<f32>);

/// The curves drawn, in drawing order: the first epoch's (grey), the latest scaled as clipping
/// scales it (orange, when clipping acts) and the latest (blue).
fn lines(curves: &ThroughTime, clip: f32) -> Vec<Line> {
    if curves.last.is_empty() {
        return Vec::new();
    }
    let after = clipped(curves, clip);
    let mut lines = vec![(format!("epoch {}", curves.first_epoch), (150, 150, 150), curves.first.clone())];
    if after != curves.last {
        lines.push((format!("after clipping at θ = {clip}"), (219, 109, 40), after));
    }
    lines.push((format!("epoch {}", curves.last_epoch), (0, 0, 255), curves.last.clone()));
    lines
}

/// The latest epoch's values scaled by clipping's factor for its mean gradient norm.
fn clipped(curves: &ThroughTime, clip: f32) -> Vec<f32> {
    let factor = if curves.last_grad_norm > clip { clip / curves.last_grad_norm } else { 1.0 };
    curves.last.iter().map(|v| v * factor).collect()
}

fn draw(
    root: &DrawingArea<CanvasBackend, Shift>,
    curves: &ThroughTime,
    clip: f32,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    if curves.last.is_empty() {
        let h = root.dim_in_pixel().1;
        let note = "nothing yet: the curve appears when the first epoch ends";
        root.draw(&Text::new(note, (20, h as i32 / 2), ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90))))?;
        return Ok(());
    }
    let after = clipped(curves, clip);
    let all = curves.first.iter().chain(&curves.last).chain(&after).copied().filter(|v| v.is_finite() && *v > 0.0);
    let (low, high) = all.fold((f32::INFINITY, 0.0f32), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = if low.is_finite() && high > low { (low * 0.8, high * 1.25) } else { (1e-6, 1.0) };
    let steps = curves.last.len() as f32;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(68)
        .build_cartesian_2d(0.5f32..steps + 0.5, (low..high).log_scale().with_key_points(key_points(low, high)))?;
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
        .y_label_formatter(&|y| format!("{y:.1e}"))
        .x_desc("time step s of the window")
        .y_desc("‖∂L/∂h_s‖ (log)")
        .draw()?;
    let points = |values: &[f32]| -> Vec<(f32, f32)> {
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite() && **v > 0.0)
            .map(|(i, &v)| (i as f32 + 1.0, v))
            .collect()
    };
    for (_, (r, g, b), values) in lines(curves, clip) {
        chart.draw_series(LineSeries::new(points(&values), RGBColor(r, g, b).stroke_width(2)))?;
    }
    Ok(())
}
