//! The progress bar of a training run and the lines printed beside it.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `epochs`, or a hidden one for `--json` runs.
pub fn epoch_bar(hidden: bool, epochs: usize) -> Result<ProgressBar> {
    let bar = if hidden { ProgressBar::hidden() } else { ProgressBar::new(epochs as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    Ok(bar)
}

/// Prints `line` above the bar when it is drawn to a terminal; without a terminal (a log, a
/// pipe) the bar is hidden and so would its lines be, so they go to stdout instead.
pub fn report(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}
