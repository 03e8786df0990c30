//! `rnnplay train --preset d2l-seq2seq` (and the toy presets): d2l's `train_seq2seq` from the
//! command line — progress, per-token cross-entropy next to d2l's printed loss, metrics, a loss
//! plot, a checkpoint, and at the end d2l's four translations with BLEU (fra-eng) or held-out
//! exact match (toy tasks).

use crate::train::{check_outputs, write_atomically, TrainArgs};
use anyhow::{bail, Context, Result};
use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{bleu, epoch_rng, preprocess_nmt, read_fra_eng, tokenize_nmt, Pair, PairDataset};
use rnnplay_data::{Dataset, Hub};
use rnnplay_engine::backend::{backend_by_name, Backend};
use rnnplay_engine::nn::{Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::presets::{seq2seq_preset, Seq2SeqPreset};
use rnnplay_engine::train::Optimizer;
use rnnplay_engine::translate::{encode_source, translate, Seq2SeqTrainer};
use rnnplay_engine::Seq2SeqCheckpoint;
use std::io::Write;
use std::rc::Rc;
use std::time::Instant;

/// d2l's example sentences and their references.
pub const D2L_EXAMPLES: [(&str, &str); 4] = [
    ("go .", "va !"),
    ("i lost .", "j'ai perdu ."),
    ("he's calm .", "il est calme ."),
    ("i'm home .", "je suis chez moi ."),
];

/// Source lengths of generated toy examples.
const TOY_LENGTHS: (usize, usize) = (3, 5);

/// The training pairs and, for toy tasks, held-out pairs that share no source with them.
struct Data {
    pairs: Vec<Pair>,
    held_out: Vec<Pair>,
    toy: Option<ToyTask>,
}

fn load_pairs(data: &str, num_examples: usize, seed: u64) -> Result<Data> {
    if data == "fra-eng" {
        let zip = Hub::from_env().read(Dataset::FraEng)?;
        let text = preprocess_nmt(&read_fra_eng(&zip)?);
        return Ok(Data { pairs: tokenize_nmt(&text, Some(num_examples)), held_out: Vec::new(), toy: None });
    }
    if let Ok(task) = ToyTask::parse(data) {
        let (min, max) = TOY_LENGTHS;
        let pairs = task.pairs(num_examples, min, max, seed, &[])?;
        let held_out = task.pairs(200, min, max, seed.wrapping_add(1_000_003), &pairs)?;
        return Ok(Data { pairs, held_out, toy: Some(task) });
    }
    if data == "timemachine" {
        bail!("timemachine is a language-model corpus; encoder-decoders train on fra-eng, a toy task (reverse, copy, sort-digits, add) or a file of source<TAB>target lines");
    }
    let bytes = std::fs::read(data).with_context(|| {
        format!("reading --data {data} (give fra-eng, a toy task, or a UTF-8 file of source<TAB>target lines)")
    })?;
    let text = rnnplay_data::text::utf8(bytes, data)?;
    let pairs = tokenize_nmt(&preprocess_nmt(&text), Some(num_examples));
    if pairs.is_empty() {
        bail!("{data} has no line of the form source<TAB>target");
    }
    Ok(Data { pairs, held_out: Vec::new(), toy: None })
}

/// Flags of the language-model presets that mean nothing here.
fn reject_language_model_flags(args: &TrainArgs) -> Result<()> {
    let run = &args.run;
    for (flag, given) in [
        ("--model", run.model.is_some()),
        ("--sampling", run.sampling.is_some()),
        ("--max-tokens", run.max_tokens.is_some()),
        ("--tokens", run.tokens.is_some()),
        ("--valid-fraction", run.valid_fraction.is_some()),
    ] {
        if given {
            bail!(
                "{flag} applies to language models; {} is an encoder-decoder (use --num-examples, --data)",
                run.preset
            );
        }
    }
    Ok(())
}

/// The preset with every given flag applied.
fn resolve(args: &TrainArgs, preset: &Seq2SeqPreset) -> Result<(Seq2SeqPreset, String)> {
    let run = &args.run;
    let mut p = *preset;
    p.embed = run.embedding.unwrap_or(p.embed);
    p.hidden = run.hidden.unwrap_or(p.hidden);
    p.layers = run.layers.unwrap_or(p.layers);
    p.dropout = run.dropout.unwrap_or(p.dropout);
    p.batch_size = run.batch_size.unwrap_or(p.batch_size);
    p.num_steps = run.num_steps.unwrap_or(p.num_steps);
    p.lr = run.lr.unwrap_or(p.lr);
    p.clip = run.clip.unwrap_or(p.clip);
    p.epochs = run.epochs.unwrap_or(p.epochs);
    p.num_examples = args.num_examples.unwrap_or(p.num_examples);
    let optimizer = run.optimizer.clone().unwrap_or_else(|| p.optimizer.to_string());
    for (flag, value) in [
        ("--embedding", p.embed),
        ("--hidden", p.hidden),
        ("--layers", p.layers),
        ("--batch-size", p.batch_size),
        ("--num-steps", p.num_steps),
        ("--epochs", p.epochs),
        ("--num-examples", p.num_examples),
    ] {
        if value == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    if !(p.lr.is_finite() && p.lr > 0.0) {
        bail!("--lr {} must be a positive finite number (d2l uses 0.005 with Adam)", p.lr);
    }
    if !(p.clip.is_finite() && p.clip > 0.0) {
        bail!("--clip {} must be a positive finite number (d2l uses θ = 1)", p.clip);
    }
    if !(0.0..1.0).contains(&p.dropout) {
        bail!("--dropout {} must be in [0, 1)", p.dropout);
    }
    Ok((p, optimizer))
}

/// A translation of `src` with its BLEU against `reference` (k = 2, as d2l).
fn translation(model: &Seq2Seq, dataset: &PairDataset, src: &str, reference: &str) -> Result<serde_json::Value> {
    let source = encode_source(&dataset.src_vocab, src, dataset.num_steps);
    let ids = pollster::block_on(translate(model, &dataset.tgt_vocab, &source.ids, dataset.num_steps))?;
    let pred = ids.iter().map(|&i| dataset.tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
    let score = bleu(&pred, reference, 2);
    Ok(serde_json::json!({ "src": src, "pred": pred, "reference": reference, "bleu": score }))
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let preset = seq2seq_preset(&args.run.preset).context("an encoder-decoder preset")?;
    reject_language_model_flags(args)?;
    let (p, optimizer) = resolve(args, preset)?;
    check_outputs(args)?;
    let sampling = args.scheduled_sampling.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&sampling) {
        bail!("--scheduled-sampling {sampling} must be a probability in [0, 1]");
    }
    let data_name = args.data.as_deref().unwrap_or(p.data);
    let seed = args.run.seed;
    let data = load_pairs(data_name, p.num_examples, seed)?;
    let dataset = PairDataset::new(&data.pairs, p.num_steps, p.min_freq)?;
    let backend: Rc<dyn Backend> = pollster::block_on(backend_by_name(&args.backend)).context("opening the backend")?;
    let info = backend.info();
    let config = Seq2SeqConfig {
        src_vocab_size: dataset.src_vocab.len(),
        tgt_vocab_size: dataset.tgt_vocab.len(),
        embed_size: p.embed,
        hidden_size: p.hidden,
        num_layers: p.layers,
        dropout: p.dropout,
    };
    let model = Seq2Seq::new(&backend, &config, seed)?;
    let mut trainer = Seq2SeqTrainer::new(&backend, Optimizer::by_name(&optimizer, p.lr)?, p.clip)?;
    let mut metrics_file = match &args.metrics {
        Some(path) => Some(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => None,
    };
    if !args.json {
        println!(
            "{}: GRU encoder-decoder (embedding {}, hidden {}, {} layer(s), dropout {}), batch {}, num_steps {}, {optimizer} lr {}, θ {}, {} epochs{}",
            p.name,
            p.embed,
            p.hidden,
            p.layers,
            p.dropout,
            p.batch_size,
            p.num_steps,
            p.lr,
            p.clip,
            p.epochs,
            if sampling > 0.0 { format!(", scheduled sampling rising to {sampling}") } else { String::new() }
        );
        println!(
            "data: {data_name} — {} pairs, vocabularies {} (source) and {} (target); backend {:?} ({})",
            dataset.len(),
            dataset.src_vocab.len(),
            dataset.tgt_vocab.len(),
            info.kind,
            info.adapter
        );
    }
    let bar = crate::progress::epoch_bar(args.json, p.epochs)?;
    let started = Instant::now();
    let mut rng = epoch_rng(seed);
    let (mut tokens, mut curve, mut last) = (0usize, Vec::new(), None);
    for epoch in 1..=p.epochs {
        let batches = dataset.epoch(p.batch_size, &mut rng)?;
        // Linear schedule: 0 in the first epoch, `sampling` in the last.
        let probability = sampling * (epoch - 1) as f32 / (p.epochs - 1).max(1) as f32;
        trainer.set_scheduled_sampling(probability, seed.wrapping_add(epoch as u64))?;
        let metrics = pollster::block_on(trainer.train_epoch(&model, &dataset.tgt_vocab, &batches))
            .with_context(|| format!("epoch {epoch}"))?;
        tokens += metrics.tokens;
        curve.push(metrics.per_token_ce);
        last = Some(metrics);
        let seconds = started.elapsed().as_secs_f64();
        let tokens_per_s = tokens as f64 / seconds;
        if let Some(file) = metrics_file.as_mut() {
            let line = serde_json::json!({
                "epoch": epoch, "per_token_ce": metrics.per_token_ce, "d2l_loss": metrics.d2l_loss,
                "grad_norm": metrics.grad_norm, "tokens_per_s": tokens_per_s, "seconds": seconds,
            });
            writeln!(file, "{line}").context("writing --metrics")?;
        }
        bar.set_message(format!("per-token CE {:.3}, {tokens_per_s:.0} tokens/s", metrics.per_token_ce));
        bar.inc(1);
        if !args.json && (epoch % args.report_every == 0 || epoch == p.epochs) {
            let line = format!(
                "epoch {epoch:>4}  per-token CE {:>7.4}  (d2l's loss {:.4})  grad norm {:>6.3}  {tokens_per_s:>7.0} tokens/s",
                metrics.per_token_ce, metrics.d2l_loss, metrics.grad_norm
            );
            crate::progress::report(&bar, line);
        }
    }
    bar.finish_and_clear();
    let last = last.context("no epoch ran")?;
    let seconds = started.elapsed().as_secs_f64();
    let tokens_per_s = tokens as f64 / seconds;
    let examples: Vec<(String, String)> = match data.toy {
        Some(_) => data.held_out.iter().take(4).map(|(s, t)| (s.join(" "), t.join(" "))).collect(),
        None => D2L_EXAMPLES.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect(),
    };
    let translations = examples.iter().map(|(s, t)| translation(&model, &dataset, s, t)).collect::<Result<Vec<_>>>()?;
    let exact_match = match data.toy {
        Some(_) => {
            let mut exact = 0;
            for (s, t) in &data.held_out {
                let out = translation(&model, &dataset, &s.join(" "), &t.join(" "))?;
                exact += usize::from(out["pred"] == t.join(" "));
            }
            Some(exact as f64 / data.held_out.len() as f64)
        }
        None => None,
    };
    if let Some(path) = &args.save {
        let mut checkpoint = pollster::block_on(Seq2SeqCheckpoint::capture(
            &model,
            &dataset.src_vocab,
            &dataset.tgt_vocab,
            dataset.num_steps,
        ))?;
        checkpoint.extra.insert("preset".into(), p.name.into());
        checkpoint.extra.insert("data".into(), data_name.into());
        checkpoint.extra.insert("epochs".into(), p.epochs.to_string());
        checkpoint.extra.insert("per_token_ce".into(), last.per_token_ce.to_string());
        write_atomically(path, &checkpoint.to_bytes()?)?;
    }
    if let Some(path) = &args.plot {
        let title = format!("encoder-decoder on {data_name}");
        crate::plot::curve_plot(path, &title, "per-token cross-entropy", &curve, &[])?;
    }
    if args.json {
        let mut summary = serde_json::json!({
            "preset": p.name, "model": "seq2seq", "data": data_name, "epochs": p.epochs, "scheduled_sampling": sampling,
            "per_token_ce": last.per_token_ce, "d2l_loss": last.d2l_loss, "grad_norm": last.grad_norm,
            "tokens_per_s": tokens_per_s, "seconds": seconds,
            "backend": format!("{:?}", info.kind).to_lowercase(), "adapter": info.adapter,
            "translations": translations,
        });
        if let Some(rate) = exact_match {
            summary["exact_match"] = serde_json::json!(rate);
        }
        println!("{summary}");
        return Ok(());
    }
    println!(
        "per-token cross-entropy {:.4} (d2l prints loss {:.4} = per-token CE / num_steps), {tokens_per_s:.0} tokens/s on {:?} ({}), {seconds:.1}s",
        last.per_token_ce, last.d2l_loss, info.kind, info.adapter
    );
    for t in &translations {
        println!(
            "{} => {}, bleu {:.3}",
            t["src"].as_str().unwrap_or(""),
            t["pred"].as_str().unwrap_or(""),
            t["bleu"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(rate) = exact_match {
        println!("exact match on {} held-out examples: {:.1}%", data.held_out.len(), 100.0 * rate);
    }
    if let Some(path) = &args.save {
        println!(
            "saved {} (try: rnnplay translate --checkpoint {} \"{}\")",
            path.display(),
            path.display(),
            examples[0].0
        );
    }
    Ok(())
}
