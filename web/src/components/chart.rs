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

/// A chart of `values` (one per epoch, from epoch 1) titled `title`.
#[component]
pub fn Chart(
    /// The values to draw, one per epoch.
    values: Signal<Vec<f32>>,
    /// Which series and its options.
    series: Signal<Series>,
    title: &'static str,
    /// The element id (the browser test finds charts by it).
    id: &'static str,
) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let (values, series) = (values.get(), series.get());
        if let Some(canvas) = canvas.get() {
            if let Some(backend) = CanvasBackend::with_canvas_object(canvas) {
                let root = backend.into_drawing_area();
                if let Err(err) = draw(&root, title, &values, series) {
                    leptos::logging::warn!("chart {title}: {err}");
                }
                let _ = root.present();
            }
        }
    });
    let data = move || serde_json::to_string(&values.get()).unwrap_or_default();
    view! {
        <figure class="chart" id=id data-values=data>
            <canvas node_ref=canvas width="560" height="260" aria-label=title></canvas>
        </figure>
    }
}

fn draw(
    root: &DrawingArea<CanvasBackend, Shift>,
    title: &str,
    values: &[f32],
    series: Series,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let epochs = values.len().max(2) as f32;
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
    builder.caption(title, ("sans-serif", 16)).margin(10).x_label_area_size(30).y_label_area_size(48);
    let points = finite_points(values);
    match series {
        Series::Curve { log_scale: true, label } => {
            let low = (bottom * 0.95).max(1e-4);
            let mut chart = builder.build_cartesian_2d(1f32..epochs, (low..top.max(low * 1.1)).log_scale())?;
            chart.configure_mesh().x_desc("epoch").y_desc(format!("{label} (log)")).draw()?;
            chart.draw_series(LineSeries::new(points, &BLUE))?;
        }
        Series::Curve { log_scale: false, label } => {
            let low = (bottom * 0.95).max(0.0);
            let mut chart = builder.build_cartesian_2d(1f32..epochs, low..top)?;
            chart.configure_mesh().x_desc("epoch").y_desc(label).draw()?;
            chart.draw_series(LineSeries::new(points, &BLUE))?;
        }
        Series::GradNorm { clip } => {
            let mut chart = builder.build_cartesian_2d(1f32..epochs, 0f32..top)?;
            chart.configure_mesh().x_desc("epoch").y_desc("gradient norm").draw()?;
            chart
                .draw_series(LineSeries::new(points, &BLUE))?
                .label("pre-clip norm (epoch mean)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
            chart
                .draw_series(LineSeries::new(vec![(1.0, clip), (epochs, clip)], RED.stroke_width(2)))?
                .label(format!("θ = {clip}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
            chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
        }
    }
    Ok(())
}

/// (epoch, value) for the finite values, epochs counted from 1.
fn finite_points(values: &[f32]) -> Vec<(f32, f32)> {
    values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| (i as f32 + 1.0, v)).collect()
}
