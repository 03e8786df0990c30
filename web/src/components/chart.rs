//! A line chart drawn with plotters on a canvas: the training curve per epoch (perplexity or a
//! loss, linear or log scale) and
//! the pre-clip gradient norm with the clipping threshold θ as a line, so clipping is visible.
//! The plotted values are also in the element's `data-values` attribute (JSON), which the
//! browser test reads.

use leptos::html;
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Series {
    /// The training value per epoch, named `label` on the y axis.
    Curve {
        log_scale: bool,
        label: &'static str,
    },
    GradNorm {
        clip: f32,
    },
}

/// A chart of `values` (one per epoch, from epoch 1) titled `title`, with a one-sentence
/// caption saying what the student is looking at.
#[component]
pub fn Chart(
    /// The values to draw, one per epoch.
    values: Signal<Vec<f32>>,
    /// Which series and its options.
    series: Signal<Series>,
    title: &'static str,
    /// What the chart shows, in one sentence.
    caption: Signal<String>,
    /// The element id (the browser test finds charts by it).
    id: &'static str,
) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let (values, series) = (values.get(), series.get());
        if let Some(canvas) = canvas.get() {
            crate::paint::plot_later(id, canvas, title, move |root| draw(root, &values, series));
        }
    });
    let data = move || serde_json::to_string(&values.get()).unwrap_or_default();
    view! {
        <figure class="chart" id=id data-values=data>
            <p class="chart-title">{title}</p>
            <canvas node_ref=canvas width="560" height="260" aria-label=title></canvas>
            <figcaption>{move || caption.get()}</figcaption>
        </figure>
    }
}

/// Points drawn as dots as well as a line up to this many epochs (a single point has no line).
const DOTS_UP_TO: usize = 60;

/// The chart below its title (the title is the figure's HTML: plotters measures text through
/// the page's layout, which made a caption drawn on the canvas cost milliseconds per frame).
fn draw(
    root: &DrawingArea<CanvasBackend, Shift>,
    values: &[f32],
    series: Series,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    if values.is_empty() {
        // No axes over an empty range: say when the first point comes.
        let h = root.dim_in_pixel().1;
        let note = "nothing yet: the first point appears when the first epoch ends";
        root.draw(&Text::new(note, (20, h as i32 / 2), ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90))))?;
        return Ok(());
    }
    let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    // Epochs 1..=n with half an epoch of room on each side, so no point sits on an axis;
    // labels only at whole epochs.
    let n = values.len() as f32;
    let (first, last) = (0.5f32, n + 0.5);
    let whole = |x: &f32| {
        if (x - x.round()).abs() < 1e-3 && *x >= 1.0 {
            format!("{}", x.round() as i64)
        } else {
            String::new()
        }
    };
    let mut top = finite.iter().copied().fold(0.0f32, f32::max);
    let mut bottom = finite.iter().copied().fold(f32::INFINITY, f32::min).min(top);
    if let Series::GradNorm { clip } = series {
        top = top.max(clip);
        bottom = 0.0;
    }
    if !bottom.is_finite() {
        bottom = 0.0;
    }
    let top = if top <= bottom { bottom + 1.0 } else { top * 1.05 };
    let mut builder = ChartBuilder::on(root);
    builder.margin(10).x_label_area_size(30).y_label_area_size(48);
    let points = finite_points(values);
    let dots = |points: &[(f32, f32)]| {
        let shown = if points.len() <= DOTS_UP_TO { points.to_vec() } else { Vec::new() };
        shown.into_iter().map(|p| Circle::new(p, 3, BLUE.filled()))
    };
    let x_labels = (values.len() + 1).clamp(2, 11);
    match series {
        Series::Curve { log_scale: true, label } => {
            let low = (bottom * 0.95).max(1e-4);
            let mut chart = builder.build_cartesian_2d(first..last, (low..top.max(low * 1.1)).log_scale())?;
            chart
                .configure_mesh()
                .x_labels(x_labels)
                .x_label_formatter(&whole)
                .x_desc("epoch")
                .y_desc(format!("{label} (log)"))
                .draw()?;
            chart.draw_series(LineSeries::new(points.clone(), &BLUE))?;
            chart.draw_series(dots(&points))?;
        }
        Series::Curve { log_scale: false, label } => {
            let low = (bottom * 0.95).max(0.0);
            let mut chart = builder.build_cartesian_2d(first..last, low..top)?;
            chart.configure_mesh().x_labels(x_labels).x_label_formatter(&whole).x_desc("epoch").y_desc(label).draw()?;
            chart.draw_series(LineSeries::new(points.clone(), &BLUE))?;
            chart.draw_series(dots(&points))?;
        }
        Series::GradNorm { clip } => {
            let mut chart = builder.build_cartesian_2d(first..last, 0f32..top)?;
            chart
                .configure_mesh()
                .x_labels(x_labels)
                .x_label_formatter(&whole)
                .x_desc("epoch")
                .y_desc("gradient norm")
                .draw()?;
            chart.draw_series(LineSeries::new(points.clone(), &BLUE))?;
            chart.draw_series(dots(&points))?;
            chart.draw_series(LineSeries::new(vec![(first, clip), (last, clip)], RED.stroke_width(2)))?;
            // The θ line labelled on itself, at the left, instead of a legend box over the curve.
            chart.draw_series(std::iter::once(Text::new(
                format!("θ = {clip}"),
                (first, clip),
                ("sans-serif", 13).into_font().color(&RED),
            )))?;
        }
    }
    Ok(())
}

/// (epoch, value) for the finite values, epochs counted from 1.
fn finite_points(values: &[f32]) -> Vec<(f32, f32)> {
    values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| (i as f32 + 1.0, v)).collect()
}
