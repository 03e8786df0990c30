//! `rnnplay translate`: an encoder–decoder checkpoint translates a sentence free-running
//! (greedy), and with `--reference` also shows the teacher-forced probability of every
//! reference token and the BLEU of the translation.

use crate::terminal::printable;
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_data::translation::{bleu, preprocess_nmt};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::translate::{encode_source, teacher_forced_reference, translate};
use rnnplay_engine::EngineOptions;
use rnnplay_engine::{Checkpoint, Seq2SeqCheckpoint};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TranslateArgs {
    /// A checkpoint written by `rnnplay train --preset d2l-seq2seq --save F`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The sentence to translate (lower-cased and spaced as d2l's preprocessing does).
    sentence: String,
    /// A reference translation: adds the teacher-forced view and the BLEU score.
    #[arg(long)]
    reference: Option<String>,
    #[command(flatten)]
    backend: crate::run_args::BackendArg,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &TranslateArgs) -> Result<()> {
    let path = &args.checkpoint;
    let bytes = std::fs::read(path).with_context(|| format!("reading --checkpoint {}", path.display()))?;
    let checkpoint = Seq2SeqCheckpoint::from_bytes(&bytes)
        .map_err(|err| match Checkpoint::from_bytes(&bytes) {
            Ok(_) => anyhow::anyhow!("{err}: rnnplay predict runs language models"),
            Err(_) => err.into(),
        })
        .with_context(|| format!("loading {}", path.display()))?;
    for warning in checkpoint.warnings() {
        crate::terminal::warn(&format!("{}: {warning}", path.display()));
    }
    let sentence = preprocess_nmt(args.sentence.trim());
    if sentence.trim().is_empty() {
        bail!("the sentence is empty; give some words to translate, e.g. \"go .\"");
    }
    let backend = pollster::block_on(backend_by_name(&args.backend.name, &EngineOptions::from_env()?))
        .context("opening the backend")?;
    let model = checkpoint.into_model(&backend).with_context(|| format!("loading {}", path.display()))?;
    let (src_vocab, tgt_vocab) = (&checkpoint.src_vocab, &checkpoint.tgt_vocab);
    let source = encode_source(src_vocab, &sentence, checkpoint.num_steps);
    if !source.unknown.is_empty() {
        crate::terminal::warn(&format!("words outside the source vocabulary, fed as <unk>: {:?}", source.unknown));
    }
    if source.truncated > 0 {
        eprintln!(
            "warning: the sentence is longer than the model's {} steps (with <eos>); its last {} token(s) were cut",
            checkpoint.num_steps, source.truncated
        );
    }
    let ids = pollster::block_on(translate(&model, tgt_vocab, &source.ids, checkpoint.num_steps))?;
    let prediction = ids.iter().map(|&i| tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
    let reference = args.reference.as_deref().map(|r| preprocess_nmt(r.trim()));
    let forced = match &reference {
        Some(r) => {
            let tokens: Vec<&str> = r.split(' ').filter(|t| !t.is_empty()).collect();
            let unknown: Vec<&&str> = tokens.iter().filter(|t| tgt_vocab.get(t).is_none()).collect();
            if !unknown.is_empty() {
                crate::terminal::warn(&format!(
                    "reference words outside the target vocabulary, scored as <unk>: {unknown:?}"
                ));
            }
            let ids: Vec<u32> = tokens.iter().map(|t| tgt_vocab.index(t)).collect();
            Some(pollster::block_on(teacher_forced_reference(&model, tgt_vocab, &source.ids, &ids))?)
        }
        None => None,
    };
    let score = reference.as_deref().map(|r| bleu(&prediction, r, 2));
    if args.json {
        let mut out = serde_json::json!({
            "src": sentence, "pred": prediction, "unknown": source.unknown, "truncated": source.truncated,
        });
        if let (Some(r), Some(steps)) = (&reference, &forced) {
            out["reference"] = serde_json::json!(r);
            out["bleu"] = serde_json::json!(score);
            out["teacher_forced"] = steps
                .iter()
                .map(|(truth, top, p)| {
                    serde_json::json!({ "true": tgt_vocab.token(*truth), "predicted": tgt_vocab.token(*top), "p_true": p })
                })
                .collect();
        }
        println!("{out}");
        return Ok(());
    }
    println!("{} => {}", printable(&sentence), printable(&prediction));
    if let (Some(r), Some(steps)) = (&reference, forced) {
        println!("reference: {}  (bleu {:.3})", printable(r), score.unwrap_or(0.0));
        println!("teacher-forced, fed the reference:");
        for (truth, top, p) in steps {
            let mark = if truth == top { "" } else { "  ← model's top guess differs" };
            let (truth, top) = (printable(tgt_vocab.token(truth)), printable(tgt_vocab.token(top)));
            println!("  {truth:<12} p = {p:.3}   top guess {top:<12}{mark}");
        }
    }
    Ok(())
}
