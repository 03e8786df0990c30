//! `rnnplay export --pytorch run.py --checkpoint F`: writes the PyTorch script that continues
//! the run saved in F (`rnnplay_engine::export::pytorch_script`), after the same output checks
//! as training (a writable file that is not the checkpoint).

use crate::outputs::{check_paths, write_atomically};
use anyhow::{Context, Result};
use clap::Args;
use rnnplay_engine::export::pytorch_script;
use rnnplay_engine::Checkpoint;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where to write the PyTorch script (e.g. run.py).
    #[arg(long)]
    pytorch: PathBuf,
    /// A language-model checkpoint written by `rnnplay train --save` or the page.
    #[arg(long)]
    checkpoint: PathBuf,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    check_paths(&[("--checkpoint", &args.checkpoint)], &[("--pytorch", &args.pytorch)])?;
    let path = &args.checkpoint;
    let bytes = std::fs::read(path).with_context(|| format!("reading --checkpoint {}", path.display()))?;
    let checkpoint = Checkpoint::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))?;
    let script = pytorch_script(&checkpoint, &path.display().to_string())
        .with_context(|| format!("exporting {}", path.display()))?;
    write_atomically(&args.pytorch, script.as_bytes())?;
    let out = args.pytorch.display();
    println!("wrote {out}: the run of {} in PyTorch (needs torch), from its weights", path.display());
    println!("  python3 {out}                              # train on to the run's epochs (--epochs N for more)");
    println!("  python3 {out} --check \"the time traveller\" # the loaded model's perplexity on a text");
    println!("  torchrun --nproc_per_node 4 {out} --ddp    # DistributedDataParallel, one GPU per process");
    Ok(())
}
