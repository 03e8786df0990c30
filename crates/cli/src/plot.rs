//! `--plot perplexity.svg` or `.png`: the perplexity curve of a run (and the validation curve
//! when there is one), drawn with plotters as d2l's `Animator` draws it. PNG text uses the
//! DejaVu Sans font embedded in the binary, so no system fonts are needed.

use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use std::path::Path;

/// Checks that `path` names a format we can draw, before a long run.
pub fn check_plot_path(path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg" | "png") => Ok(()),
        _ => bail!("--plot {}: plots are .svg or .png files; name the file e.g. perplexity.svg", path.display()),
    }
}

/// Registers the embedded font (once; later calls do nothing). plotters lays text out with it
/// for both backends.
fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if !ok {
        bail!("the embedded DejaVu font could not be loaded for the plot's text");
    }
    Ok(())
}

/// Draws `train` (and `valid`, when not empty) values per epoch — perplexity, or a loss — into
/// an SVG or PNG file; `y_label` names the values.
pub fn curve_plot(
    path: &Path,
    title: &str,
    y_label: &str,
    first_epoch: u32,
    train: &[f32],
    valid: &[f32],
) -> Result<()> {
    check_plot_path(path)?;
    if train.is_empty() {
        bail!("nothing to plot: no epoch finished");
    }
    register_font()?;
    let size = (720, 440);
    let png = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("png"));
    // plotters writes a file by its path: a temporary one (ending in the format's extension,
    // which the PNG encoder reads), renamed over `path` once it is complete.
    crate::outputs::replace_with("--plot", path, if png { ".png" } else { ".svg" }, |_, temp| {
        let drawn = if png {
            let root = BitMapBackend::new(temp, size).into_drawing_area();
            draw(&root, title, y_label, first_epoch, train, valid)
                .and_then(|()| root.present())
                .map_err(|e| anyhow::anyhow!("{e}"))
        } else {
            let root = SVGBackend::new(temp, size).into_drawing_area();
            draw(&root, title, y_label, first_epoch, train, valid)
                .and_then(|()| root.present())
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        drawn.with_context(|| format!("writing {}", path.display()))
    })
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    first_epoch: u32,
    train: &[f32],
    valid: &[f32],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let top = train.iter().chain(valid).copied().filter(|v| v.is_finite()).fold(1.0f32, f32::max);
    let last_epoch = first_epoch + train.len().max(2) as u32 - 1;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(first_epoch..last_epoch, 0.0f32..top * 1.05)?;
    chart.configure_mesh().x_desc("epoch").y_desc(y_label).draw()?;
    let points = |values: &[f32]| -> Vec<(u32, f32)> {
        values.iter().enumerate().map(|(i, &v)| (first_epoch + i as u32, v)).collect()
    };
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
