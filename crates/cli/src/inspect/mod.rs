//! `rnnplay inspect`: looks inside a checkpoint — a language model (`language.rs`) or an
//! encoder–decoder (`translation.rs`) — and prints what it computes; `shading.rs` draws a
//! passage shaded by a unit on the terminal.

mod args;
mod cell;
mod language;
mod shading;
mod translation;

use anyhow::{bail, Context, Result};
pub use args::InspectArgs;
use rnnplay_engine::{Checkpoint, Seq2SeqCheckpoint};

pub fn run(args: &InspectArgs) -> Result<()> {
    let path = &args.checkpoint;
    let bytes = std::fs::read(path).with_context(|| format!("reading --checkpoint {}", path.display()))?;
    if args.top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    let warn = |warnings: Vec<String>| {
        for warning in warnings {
            crate::terminal::warn(&format!("{}: {warning}", path.display()));
        }
    };
    let checkpoint = match Checkpoint::from_bytes(&bytes) {
        Ok(checkpoint) => checkpoint,
        Err(err) => match Seq2SeqCheckpoint::from_bytes(&bytes) {
            Ok(seq2seq) => {
                warn(seq2seq.warnings());
                return translation::run(args, &seq2seq);
            }
            Err(_) => return Err(err).with_context(|| format!("loading {}", path.display())),
        },
    };
    warn(checkpoint.warnings());
    language::run(args, &checkpoint)
}
