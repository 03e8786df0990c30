//! `rnnplay export --pytorch run.py --checkpoint F`: writes the PyTorch script that continues
//! the run saved in F (`rnnplay_run::export::pytorch_script`), after the same output checks
//! as training: a regular, writable file that is none of the run's inputs (the checkpoint, the
//! corpus it trained on, the dataset cache).

use crate::outputs::{check_paths, write_atomically};
use anyhow::{Context, Result};
use clap::Args;
use rnnplay_engine::{Checkpoint, Seq2SeqCheckpoint};
use rnnplay_run::export::{pytorch_script, pytorch_seq2seq_script};
use rnnplay_run::RunSpec;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where to write the PyTorch script (e.g. run.py).
    #[arg(long)]
    pytorch: PathBuf,
    /// A checkpoint written by `rnnplay train --save` or the page (a language model or an
    /// encoder–decoder).
    #[arg(long)]
    checkpoint: PathBuf,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    check_paths(&[("--checkpoint", &args.checkpoint)], &[("--pytorch", &args.pytorch)])?;
    let path = &args.checkpoint;
    let bytes = std::fs::read(path).with_context(|| format!("reading --checkpoint {}", path.display()))?;
    let name = path.display().to_string();
    let (checkpoint, script, check) = match Checkpoint::from_bytes(&bytes) {
        Ok(checkpoint) => (
            checkpoint.extra.get("spec").cloned(),
            pytorch_script(&checkpoint, &name),
            "--check \"the time traveller\" # the loaded model's perplexity on a text",
        ),
        Err(language_error) => match Seq2SeqCheckpoint::from_bytes(&bytes) {
            Ok(checkpoint) => (
                checkpoint.extra.get("spec").cloned(),
                pytorch_seq2seq_script(&checkpoint, &name),
                "--check \"go .\"   # the loaded model's greedy translation of a sentence",
            ),
            Err(_) => return Err(language_error).with_context(|| format!("loading {name}")),
        },
    };
    let script = script.with_context(|| format!("exporting {name}"))?;
    // The run's own inputs too: the corpus it trained on and the dataset cache.
    if let Some(spec) = checkpoint.and_then(|text| serde_json::from_str::<RunSpec>(&text).ok()) {
        let inputs = crate::train::input_files(&spec);
        let inputs: Vec<(&str, &Path)> = inputs
            .iter()
            .map(|(flag, path)| (if *flag == "--data" { "the run's corpus" } else { flag }, path.as_path()))
            .collect();
        check_paths(&inputs, &[("--pytorch", &args.pytorch)])?;
    }
    write_atomically("--pytorch", &args.pytorch, script.as_bytes())?;
    let out = args.pytorch.display();
    println!("wrote {out}: the run of {name} in PyTorch (needs torch), from its weights");
    println!("  python3 {out}                              # train on to the run's epochs (--epochs N for more)");
    println!("  python3 {out} {check}");
    println!("  torchrun --nproc_per_node 4 {out} --ddp    # DistributedDataParallel, one GPU per process");
    Ok(())
}
