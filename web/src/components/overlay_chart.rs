//! The comparison chart: the picked runs' curves overlaid, each in its own colour, with a
//! legend — perplexity (or per-token cross-entropy), the pre-clip gradient norm, the
//! validation perplexity or the held-out accuracy, per epoch; or after each run's last epoch,
//! the gradient's reach against the steps back, or an encoder–decoder's held-out accuracy at each output
//! position or exact match by source length. How many series it drew and their names are
//! in the element's `data-series` and `data-names` attributes (the browser test reads them).

use crate::runs::{RunRecord, COLOURS};
use leptos::html;
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use rnnplay_run::lessons::claim::Stat;
use rnnplay_run::lessons::Lesson;

/// Which value of each epoch the chart compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Value,
    GradNorm,
    Valid,
    Accuracy,
    /// The gradient's reach after the run's last epoch: log₁₀ of the share of the last
    /// prediction's gradient left k steps back, against k.
    Reach,
    /// An encoder–decoder's free-running held-out accuracy after the run's last epoch, against the
    /// output position.
    PositionAccuracy,
    /// An encoder–decoder's held-out exact match after the run's last epoch, against the source's
    /// length: where a fixed-size context runs out.
    ExactByLength,
}

impl Metric {
    fn of(self, point: &crate::protocol::EpochPoint) -> Option<f32> {
        match self {
            Self::Value => Some(point.value),
            Self::GradNorm => Some(point.grad_norm),
            Self::Valid => point.valid,
            Self::Accuracy => point.accuracy,
            Self::Reach | Self::PositionAccuracy | Self::ExactByLength => None,
        }
        .filter(|v| v.is_finite())
    }

    fn label(self) -> &'static str {
        match self {
            Self::Value => "training perplexity (or per-token CE)",
            Self::GradNorm => "pre-clip gradient norm",
            Self::Valid => "validation perplexity",
            Self::Accuracy => "held-out accuracy",
            Self::Reach => "share of the gradient left (log)",
            Self::PositionAccuracy => "held-out accuracy",
            Self::ExactByLength => "held-out exact match",
        }
    }

    /// What a lesson's comparison shows first: what its claim reads.
    pub fn for_lesson(lesson: Option<&Lesson>) -> Self {
        let stats: Vec<Stat> = lesson.map(|l| l.claim.runs().map(|q| q.stat).collect()).unwrap_or_default();
        if stats.iter().any(|s| matches!(s, Stat::ExactFromLength(_))) {
            Self::ExactByLength
        } else if stats.iter().any(|s| matches!(s, Stat::PositionAccuracy(_))) {
            Self::PositionAccuracy
        } else if stats.contains(&Stat::Accuracy) {
            Self::Accuracy
        } else if stats.iter().any(|s| s.needs_validation()) {
            Self::Valid
        } else {
            Self::Value
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::GradNorm => "grad-norm",
            Self::Valid => "valid",
            Self::Accuracy => "accuracy",
            Self::Reach => "reach",
            Self::PositionAccuracy => "position-accuracy",
            Self::ExactByLength => "exact-by-length",
        }
    }
}

/// One run's line: its name, colour and (epoch, value) points.
type Line = (String, RGBColor, Vec<(f32, f32)>);

/// The line of each picked run that has a value of `metric`.
fn series(runs: &[RunRecord], metric: Metric) -> Vec<Line> {
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            let (r, g, b) = COLOURS[i % COLOURS.len()];
            let points = match metric {
                Metric::Reach => reach_points(&run.reach.last),
                Metric::PositionAccuracy => position_points(run),
                Metric::ExactByLength => length_points(run),
                _ => run.curve.iter().filter_map(|p| metric.of(p).map(|v| (p.epoch as f32, v))).collect(),
            };
            (run.name.clone(), RGBColor(r, g, b), points)
        })
        .filter(|(_, _, points): &Line| !points.is_empty())
        .collect()
}

/// (k, log₁₀ of the share of `reach[0]` left at k) for each positive, finite share.
fn reach_points(reach: &[f32]) -> Vec<(f32, f32)> {
    let shares = rnnplay_engine::inspect::reach_shares(reach).into_iter().enumerate();
    shares.filter(|(_, v)| v.is_finite() && *v > 0.0).map(|(k, v)| (k as f32, v.log10())).collect()
}

/// (output position from 1, accuracy there) after the run's last epoch.
fn position_points(run: &RunRecord) -> Vec<(f32, f32)> {
    let by_position = run.curve.last().map(|p| p.accuracy_by_position.as_slice()).unwrap_or_default();
    by_position.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(at, &v)| ((at + 1) as f32, v)).collect()
}

/// (source length, exact match of the held-out sources that long) after the run's last epoch.
fn length_points(run: &RunRecord) -> Vec<(f32, f32)> {
    let by_length = run.curve.last().map(|p| p.exact_by_length.as_slice()).unwrap_or_default();
    by_length.iter().filter(|(_, v)| v.is_finite()).map(|&(length, v)| (length as f32, v)).collect()
}

#[component]
pub fn OverlayChart(runs: Signal<Vec<RunRecord>>, metric: RwSignal<Metric>) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let (runs, metric) = (runs.get(), metric.get());
        if let Some(canvas) = canvas.get() {
            let lines = series(&runs, metric);
            crate::paint::plot_later("overlay-chart", canvas, "comparison chart", move |root| {
                draw(root, &lines, metric)
            });
        }
    });
    let drawn = move || series(&runs.get(), metric.get());
    let count = move || drawn().len().to_string();
    let names = move || {
        serde_json::to_string(&drawn().iter().map(|(n, _, _)| n.clone()).collect::<Vec<_>>()).unwrap_or_default()
    };
    let pick = move |ev| {
        metric.set(match event_target_value(&ev).as_str() {
            "grad-norm" => Metric::GradNorm,
            "valid" => Metric::Valid,
            "accuracy" => Metric::Accuracy,
            "reach" => Metric::Reach,
            "position-accuracy" => Metric::PositionAccuracy,
            "exact-by-length" => Metric::ExactByLength,
            _ => Metric::Value,
        })
    };
    view! {
        <figure class="chart overlay" id="overlay-chart" data-series=count data-names=names>
            <div class="row">
                <label>"Compare "
                    <select id="overlay-metric" on:change=pick>
                        {[(Metric::Value, "training perplexity / cross-entropy"), (Metric::GradNorm, "gradient norm"),
                          (Metric::Valid, "validation perplexity"), (Metric::Accuracy, "held-out accuracy"),
                          (Metric::Reach, "gradient's reach (after the last epoch)"),
                          (Metric::PositionAccuracy, "accuracy by output position (after the last epoch)"),
                          (Metric::ExactByLength, "exact match by source length (after the last epoch)")]
                            .into_iter()
                            .map(|(m, text)| view! { <option value=m.key() selected=move || metric.get() == m>{text}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <canvas node_ref=canvas width="640" height="300" aria-label="runs compared" style="display: block"></canvas>
            <figcaption>{move || match metric.get() {
                Metric::PositionAccuracy => "The runs ticked in the table, one colour each: after each run's last epoch, the share of held-out strings whose letter at each output position its decoder got right, feeding itself its own guesses. A curve that falls toward the end is mistakes piling up.",
                Metric::ExactByLength => "The runs ticked in the table, one colour each: after each run's last epoch, the share of held-out sources of each length it translated exactly. A plain encoder–decoder squeezes the whole source into one state, so its curve falls as sources grow; attention reads every source position and holds up.",
                Metric::Reach => "The runs ticked in the table, one colour each: after each run's last epoch, the share of its last prediction's gradient left k steps back (log scale; 1e-2 is a hundredth). A curve that falls steeply is a gradient that vanishes before it reaches what the prediction needs.",
                _ => "The runs ticked in the table, one colour each, epoch by epoch: where two runs differ in one setting, the gap between their curves is what that setting does.",
            }}</figcaption>
        </figure>
    }
}

fn draw(
    root: &DrawingArea<CanvasBackend, Shift>,
    series: &[Line],
    metric: Metric,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    if series.is_empty() {
        let (_, h) = root.dim_in_pixel();
        let note = match metric {
            Metric::Valid => "tick runs with a validation split (validation fraction > 0) to compare them here",
            Metric::Accuracy => {
                "tick runs of the recall task (every epoch) or an encoder–decoder (after the last) to compare their held-out accuracy here"
            }
            Metric::Reach => "tick language-model runs to compare how far back their gradients reach here",
            Metric::PositionAccuracy => "tick finished encoder–decoder runs to compare their accuracy at each output position here",
            Metric::ExactByLength => "tick finished encoder–decoder runs to compare their exact match by source length here",
            _ => "tick runs in the table to compare them here",
        };
        root.draw(&Text::new(note, (20, h as i32 / 2), ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90))))?;
        return Ok(());
    }
    let points = series.iter().flat_map(|(_, _, p)| p.iter());
    let (mut first, mut last, mut bottom, mut top) = (f32::INFINITY, 1.0f32, f32::INFINITY, 0.0f32);
    for &(x, y) in points {
        (first, last, bottom, top) = (first.min(x), last.max(x), bottom.min(y), top.max(y));
    }
    // The values' own range (not from 0), so close runs stay apart.
    let span = (top - bottom).max(top.abs() * 0.05).max(1e-3);
    let floor = if metric == Metric::Reach { f32::NEG_INFINITY } else { 0.0 };
    // Accuracy by position: room below the curves for the legend, which would hide a dip.
    let below = if matches!(metric, Metric::PositionAccuracy | Metric::ExactByLength) { 0.6 } else { 0.05 };
    let (bottom, top) = ((bottom - span * below).max(floor), top + span * 0.05);
    let whole = |x: &f32| if (x - x.round()).abs() < 1e-3 { format!("{}", x.round() as i64) } else { String::new() };
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(48)
        .build_cartesian_2d((first - 0.5)..(last + 0.5), bottom..top)?;
    let x_labels = ((last - first) as usize + 2).clamp(2, 11);
    let power = |y: &f32| format!("{:.0e}", 10f32.powf(*y));
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(x_labels).x_label_formatter(&whole).y_desc(metric.label());
    match metric {
        Metric::Reach => mesh.x_desc("k: steps back from the last prediction").y_label_formatter(&power),
        Metric::PositionAccuracy => mesh.x_desc("output position (letter)"),
        Metric::ExactByLength => mesh.x_desc("source length (tokens)"),
        _ => mesh.x_desc("epoch"),
    };
    mesh.draw()?;
    for (name, colour, points) in series {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        if points.len() == 1 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        // The reach and position curves start at the top left and fall toward the right.
        .position(if matches!(metric, Metric::Reach | Metric::PositionAccuracy | Metric::ExactByLength) {
            SeriesLabelPosition::LowerLeft
        } else {
            SeriesLabelPosition::UpperRight
        })
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    Ok(())
}
