//! `rnnplay translate`: an encoder–decoder checkpoint translates a sentence free-running —
//! greedily, or by beam search (`--beam K --length-penalty A`, d2l § 10.8), its start forced with
//! `--prefix` — and with `--reference` also shows the teacher-forced probability of every
//! reference token and the BLEU of the translation.

use crate::terminal::printable;
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_data::translation::{bleu, preprocess_nmt};
use rnnplay_engine::beam::{beam_search, start_ids, BeamResult, BeamSettings, MAX_BEAM};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::translate::{encode_source, teacher_forced_reference, AttentionMap};
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
    /// Beam search keeping K hypotheses per step (1: greedy, d2l's predict_seq2seq).
    #[arg(long, default_value_t = 1, value_name = "K")]
    beam: usize,
    /// α of beam search's score (1 / L^α) · log P: 0 picks the most probable output, larger α
    /// favours longer ones (d2l: 0.75).
    #[arg(long, default_value_t = 0.75, value_name = "A")]
    length_penalty: f32,
    /// Force the translation to start with these words, then run free ("what if it began
    /// with …").
    #[arg(long, value_name = "WORDS")]
    prefix: Option<String>,
    /// Show where the decoder looked: the attention weights of every output word over the
    /// source words, as a shaded grid (a model trained with --attention).
    #[arg(long)]
    attention: bool,
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
    if args.attention && checkpoint.config.attention.is_none() {
        bail!(
            "--attention: this model has no attention (its decoder reads the encoder's final state); train one \
             with --attention additive or dot"
        );
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
    if !(1..=MAX_BEAM).contains(&args.beam) {
        bail!("--beam: the beam size must be 1 to {MAX_BEAM} (got {}); 1 is greedy decoding", args.beam);
    }
    if !args.length_penalty.is_finite() || args.length_penalty < 0.0 {
        bail!("--length-penalty: α must be a number ≥ 0 (got {}); d2l uses 0.75", args.length_penalty);
    }
    let words = args.prefix.as_deref().map(|p| preprocess_nmt(p.trim())).unwrap_or_default();
    let prefix = start_ids(tgt_vocab, &words).map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
    let settings = BeamSettings { beam: args.beam, length_penalty: args.length_penalty, max_len: checkpoint.num_steps };
    let search = pollster::block_on(beam_search(&model, tgt_vocab, &source.ids, &prefix, settings))
        .map_err(|e| anyhow::anyhow!("{}{e}", if prefix.is_empty() { "" } else { "--prefix: " }))?;
    let ids = &search.tokens;
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
    let attention = match args.attention {
        true => {
            let ended = search.ended(tgt_vocab);
            pollster::block_on(AttentionMap::of(&model, (src_vocab, tgt_vocab), &source.ids, ids, ended))?
        }
        false => None,
    };
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
        if args.beam > 1 || !prefix.is_empty() {
            out["beam"] = beam_json(&search, tgt_vocab, args);
        }
        if let Some(map) = &attention {
            out["attention"] = serde_json::json!(map);
        }
        println!("{out}");
        return Ok(());
    }
    println!("{} => {}", printable(&sentence), printable(&prediction));
    if args.beam > 1 || !prefix.is_empty() {
        print_search(&search, tgt_vocab, args);
    }
    if let Some(map) = &attention {
        print_attention(map);
    }
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

/// The search as JSON: its settings, the chosen output's score, and per step the kept and the
/// best pruned extensions (`parent`: index among the previous step's nodes).
fn beam_json(search: &BeamResult, vocab: &rnnplay_data::Vocab, args: &TranslateArgs) -> serde_json::Value {
    let steps: Vec<Vec<serde_json::Value>> = search
        .steps
        .iter()
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| serde_json::json!({"parent": n.parent, "token": vocab.token(n.token), "log_p": n.log_p, "kept": n.kept}))
                .collect()
        })
        .collect();
    let prefix: Vec<&str> = search.prefix.iter().map(|&t| vocab.token(t)).collect();
    serde_json::json!({
        "k": args.beam, "length_penalty": args.length_penalty, "prefix": prefix,
        "score": search.score, "log_p": search.log_p, "steps": steps, "path": search.path,
    })
}

/// The search as text: per step the kept hypotheses with their log P (the chosen output's
/// marked *), then the best pruned ones in brackets.
fn print_search(search: &BeamResult, vocab: &rnnplay_data::Vocab, args: &TranslateArgs) {
    let prefix: Vec<&str> = search.prefix.iter().map(|&t| vocab.token(t)).collect();
    if !prefix.is_empty() {
        println!("forced start: {}", printable(&prefix.join(" ")));
    }
    println!(
        "beam search, k = {}, α = {}: score (1/L^α)·log P = {:.3}, log P = {:.3}",
        args.beam, args.length_penalty, search.score, search.log_p
    );
    for (step, nodes) in search.steps.iter().enumerate() {
        let chosen = search.path.get(step).copied();
        let word = |i: usize| {
            let words: Vec<&str> = search.hypothesis(step, i).iter().map(|&t| vocab.token(t)).collect();
            let mark = if Some(i) == chosen { "*" } else { "" };
            format!("{mark}\"{}\" {:.2}", printable(&words.join(" ")), nodes[i].log_p)
        };
        let kept: Vec<String> = (0..nodes.len()).filter(|&i| nodes[i].kept).map(word).collect();
        let pruned: Vec<String> = (0..nodes.len()).filter(|&i| !nodes[i].kept).map(word).collect();
        println!("  step {:>2}: {}   [pruned: {}]", step + 1, kept.join(", "), pruned.join(", "));
    }
}

/// Shades of a weight in [0, 1], darker for more, in fifths.
const SHADES: [char; 5] = ['·', '░', '▒', '▓', '█'];

/// The attention weights as a grid: a row per output word, a column per source word, each
/// cell shaded by its weight (d2l's `show_heatmaps`, in a terminal).
fn print_attention(AttentionMap { source, output, weights }: &AttentionMap) {
    println!(
        "attention (rows: the output, columns: the source; {} < 0.2 ≤ {} < 0.4 ≤ {} < 0.6 ≤ {} < 0.8 ≤ {}):",
        SHADES[0], SHADES[1], SHADES[2], SHADES[3], SHADES[4]
    );
    let source: Vec<String> = source.iter().map(|w| printable(w)).collect();
    let output: Vec<String> = output.iter().map(|w| printable(w)).collect();
    let label = output.iter().map(|w| w.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = source.iter().map(|w| w.chars().count().max(3)).collect();
    let header: Vec<String> = source.iter().zip(&widths).map(|(w, &n)| format!("{w:^n$}")).collect();
    println!("  {:label$}  {}", "", header.join(" "));
    for (word, row) in output.iter().zip(weights) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(&w, &n)| {
                let shade = SHADES[((w.clamp(0.0, 1.0) * 5.0) as usize).min(4)];
                format!("{:^n$}", shade.to_string().repeat(3))
            })
            .collect();
        println!("  {word:label$}  {}", cells.join(" "));
    }
}
