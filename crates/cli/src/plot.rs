//! `--plot perplexity.svg`: the perplexity curve of a run (and the validation curve when there
//! is one), drawn with plotters as d2l's `Animator` draws it.

use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use std::path::Path;

/// Draws `train` (and `valid`, when not empty) perplexity per epoch into an SVG file.
pub fn perplexity_svg(path: &Path, title: &str, train: &[f32], valid: &[f32]) -> Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("svg") {
        bail!("--plot {}: only .svg plots are supported; name the file e.g. perplexity.svg", path.display());
    }
    if train.is_empty() {
        bail!("nothing to plot: no epoch finished");
    }
    let backend = SVGBackend::new(path, (720, 440));
    let root = backend.into_drawing_area();
    draw(&root, title, train, valid).map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}")).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    train: &[f32],
    valid: &[f32],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let top = train.iter().chain(valid).copied().filter(|v| v.is_finite()).fold(1.0f32, f32::max);
    let epochs = train.len().max(2) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(1u32..epochs, 0.0f32..top * 1.05)?;
    chart.configure_mesh().x_desc("epoch").y_desc("perplexity").draw()?;
    let points =
        |values: &[f32]| -> Vec<(u32, f32)> { values.iter().enumerate().map(|(i, &v)| (i as u32 + 1, v)).collect() };
    chart
        .draw_series(LineSeries::new(points(train), &BLUE))?
        .label("train")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
    if !valid.is_empty() {
        chart
            .draw_series(LineSeries::new(points(valid), &RED))?
            .label("validation")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    Ok(())
}
