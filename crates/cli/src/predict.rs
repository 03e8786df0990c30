//! `rnnplay predict`: what a saved model says, free-running from a prefix and, for a given
//! text, teacher-forced at every position — side by side.

use crate::terminal::printable;
use crate::tokens::{decode, encode_with_warning};
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_engine::generate::{generate, teacher_forced, Decoding};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::EngineOptions;
use rnnplay_engine::{Checkpoint, Seq2SeqCheckpoint};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A checkpoint written by `rnnplay train --save`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The text the model continues.
    #[arg(long, default_value = "time traveller")]
    prefix: String,
    /// Tokens to generate (1 to 100000).
    #[arg(long, allow_negative_numbers = true, default_value_t = 50, value_parser = crate::run_args::generation_length)]
    len: usize,
    /// Sample from softmax(logits / T) instead of taking the most likely token (0: greedy).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::run_args::f32_value)]
    temperature: Option<f32>,
    /// Seeds the sampling.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    seed: u64,
    /// Also feed this text and show, at every position, the model's prediction given the true
    /// prefix next to its free-running continuation.
    #[arg(long)]
    teacher_forced: Option<String>,
    #[command(flatten)]
    backend: crate::run_args::BackendArg,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let path = &args.checkpoint;
    let bytes = std::fs::read(path).with_context(|| format!("reading --checkpoint {}", path.display()))?;
    let checkpoint = Checkpoint::from_bytes(&bytes)
        .map_err(|err| match Seq2SeqCheckpoint::from_bytes(&bytes) {
            Ok(_) => anyhow::anyhow!("{err}: rnnplay translate runs encoder-decoders"),
            Err(_) => err.into(),
        })
        .with_context(|| format!("loading {}", path.display()))?;
    for warning in checkpoint.warnings() {
        crate::terminal::warn(&format!("{}: {warning}", path.display()));
    }
    let decoding = Decoding::from_temperature(args.temperature, args.seed)?;
    let backend = pollster::block_on(backend_by_name(&args.backend.name, &EngineOptions::from_env()?))
        .context("opening the backend")?;
    let model = checkpoint.into_model(&backend).with_context(|| format!("loading {}", path.display()))?;
    let (vocab, kind) = (&checkpoint.vocab, checkpoint.token_kind);
    let prefix = encode_with_warning(vocab, kind, &args.prefix, "prefix");
    if prefix.is_empty() {
        bail!("--prefix is empty; give at least one token to start from");
    }
    let free_running = decode(vocab, kind, &pollster::block_on(generate(&model, &prefix, args.len, decoding))?);
    let forced = match &args.teacher_forced {
        None => None,
        Some(text) => {
            let ids = encode_with_warning(vocab, kind, text, "teacher-forced text");
            if ids.len() < 2 {
                bail!("--teacher-forced needs at least two tokens: one to feed and one to predict");
            }
            let view = pollster::block_on(teacher_forced(&model, &ids))?;
            // The free-running view of the same passage: start from its first token and let the
            // model feed itself for as many tokens as the passage has.
            let own = pollster::block_on(generate(&model, &ids[..1], ids.len() - 1, Decoding::Greedy))?;
            Some((ids, view, own))
        }
    };
    if args.json {
        let mut out = serde_json::json!({
            "checkpoint": path.display().to_string(), "model": checkpoint.config.model_name(),
            "prefix": args.prefix, "free_running": free_running,
        });
        if let Some((ids, view, own)) = &forced {
            let token = |id: u32| vocab.token(id).to_string();
            out["teacher_forced"] = serde_json::json!({
                "text": decode(vocab, kind, ids),
                "perplexity": view.perplexity,
                "accuracy": view.accuracy,
                "positions": view.steps.iter().enumerate().map(|(i, s)| serde_json::json!({
                    "position": i + 1, "true": token(s.truth), "predicted": token(s.predicted),
                    "p_true": s.p_truth, "free_running": token(own[i + 1]),
                })).collect::<Vec<_>>(),
            });
        }
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} from {} ({} epochs)",
        checkpoint.config.model_name(),
        printable(&path.display().to_string()),
        printable(checkpoint.extra.get("epochs").map_or("?", String::as_str))
    );
    println!("free-running: {free_running:?}");
    if let Some((ids, view, own)) = forced {
        let row = |label: &str, tokens: &[u32]| println!("{label:<16}{}", printable(&decode(vocab, kind, tokens)));
        println!();
        row("text", &ids[1..]);
        row("teacher-forced", &view.steps.iter().map(|s| s.predicted).collect::<Vec<_>>());
        row("free-running", &own[1..]);
        println!(
            "teacher-forced: perplexity {:.3}, accuracy {:.1}% over {} positions (free-running matches the text at {:.1}%)",
            view.perplexity,
            100.0 * view.accuracy,
            view.steps.len(),
            100.0 * own[1..].iter().zip(&ids[1..]).filter(|(a, b)| a == b).count() as f32 / view.steps.len() as f32
        );
    }
    Ok(())
}
