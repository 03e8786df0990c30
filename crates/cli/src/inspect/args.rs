//! The flags of `rnnplay inspect`, and the checks of the ones that depend on the model.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A checkpoint written by `rnnplay train --save`: a language model, or an encoder–decoder
    /// (then --text is the source sentence and --reference the target).
    #[arg(long)]
    pub(crate) checkpoint: PathBuf,
    /// The passage to run through the model.
    #[arg(long, default_value = "time traveller for so it will be convenient to speak of him")]
    pub(crate) text: String,
    /// Also differentiate the prediction made at this position (0-based) with respect to
    /// every earlier input and hidden state: how far back it reaches.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) position: Option<usize>,
    /// How many of the most likely next tokens to list per position.
    #[arg(long, allow_negative_numbers = true, default_value_t = 5)]
    pub(crate) top_k: usize,
    /// Shade the passage by this unit instead of the three that vary most.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) unit: Option<usize>,
    /// The layer to shade (1-based; default the top layer).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) layer: Option<usize>,
    /// The signal to shade: h (default), c (LSTM) or a gate's name (r, z, n for the GRU; i, f,
    /// g, o for the LSTM; the scratch models' own names).
    #[arg(long, default_value = "h")]
    pub(crate) signal: String,
    /// With --position: one step of the layer's cell there — the state before, every gate and
    /// candidate, the state after — with their numbers.
    #[arg(long, requires = "position")]
    pub(crate) cell: bool,
    /// Encoder–decoders: the target the decoder is teacher-forced on (default: the model's own
    /// greedy translation).
    #[arg(long)]
    pub(crate) reference: Option<String>,
    #[command(flatten)]
    pub(crate) backend: crate::run_args::BackendArg,
    /// Print one JSON object instead of the terminal view.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Units shaded when no --unit is given.
pub(crate) const SHOWN_UNITS: usize = 3;

/// The 0-based layer `--layer` names (default the top one), after checking it and `--unit`
/// against the model's `layers` and `hidden` units.
pub(crate) fn chosen_layer(args: &InspectArgs, layers: usize, hidden: usize) -> Result<usize> {
    if let Some(unit) = args.unit.filter(|&u| u >= hidden) {
        bail!("--unit {unit}: the model has {hidden} units per layer, numbered from 0");
    }
    match args.layer {
        None => Ok(layers - 1),
        Some(l) if (1..=layers).contains(&l) => Ok(l - 1),
        Some(l) => bail!("--layer {l}: the model has {layers} layer(s), numbered from 1"),
    }
}
