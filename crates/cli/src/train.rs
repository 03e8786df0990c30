//! `rnnplay train`: d2l's language-model training (`train_ch8`) from the command line.

use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_data::{BatchIter, Corpus, Dataset, Hub, Sampling, TokenKind};
use rnnplay_engine::backend::backend_by_name;
use rnnplay_engine::nn::{CellKind, ScratchModel};
use rnnplay_engine::train::{predict, Trainer};
use std::time::Instant;

/// Settings of a run: a preset, then any flag overrides it.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// d2l-rnn-scratch (hidden 512), d2l-gru-scratch or d2l-lstm-scratch (hidden 256): d2l's
    /// settings — The Time Machine's first 10 000 char tokens, batch 32, 35 steps, SGD lr 1,
    /// θ = 1, sequential partitioning, 500 epochs.
    #[arg(long, default_value = "d2l-rnn-scratch")]
    preset: String,
    /// rnn-scratch, gru-scratch or lstm-scratch.
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    hidden: Option<usize>,
    #[arg(long)]
    lr: Option<f32>,
    /// Global-norm clipping threshold θ.
    #[arg(long)]
    clip: Option<f32>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    num_steps: Option<usize>,
    /// sequential (state carried, truncated BPTT) or random (state reset per batch).
    #[arg(long)]
    sampling: Option<String>,
    #[arg(long)]
    epochs: Option<usize>,
    /// Keep the first N tokens of the corpus (0: all).
    #[arg(long)]
    max_tokens: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// gpu, cpu or auto (GPU when an adapter exists).
    #[arg(long, default_value = "auto")]
    backend: String,
    /// `timemachine` (from the dataset hub) or the path of a UTF-8 text file.
    #[arg(long, default_value = "timemachine")]
    data: String,
    /// Print one JSON summary line at the end instead of the predictions.
    #[arg(long)]
    json: bool,
}

/// A fully resolved configuration.
#[derive(Debug, Clone)]
struct Config {
    preset: String,
    kind: CellKind,
    hidden: usize,
    lr: f32,
    clip: f32,
    batch_size: usize,
    num_steps: usize,
    sampling: Sampling,
    epochs: usize,
    max_tokens: Option<usize>,
}

fn preset(name: &str) -> Result<Config> {
    let (kind, hidden) = match name {
        "d2l-rnn-scratch" => (CellKind::Rnn, 512),
        "d2l-gru-scratch" => (CellKind::Gru, 256),
        "d2l-lstm-scratch" => (CellKind::Lstm, 256),
        other => bail!(
            "unknown preset '{other}'; available: d2l-rnn-scratch, d2l-gru-scratch, d2l-lstm-scratch \
             (the concise-layer presets come with the nn layers)"
        ),
    };
    Ok(Config {
        preset: name.to_string(),
        kind,
        hidden,
        lr: 1.0,
        clip: 1.0,
        batch_size: 32,
        num_steps: 35,
        sampling: Sampling::Sequential,
        epochs: 500,
        max_tokens: Some(10_000),
    })
}

fn resolve(args: &TrainArgs) -> Result<Config> {
    let mut config = preset(&args.preset)?;
    if let Some(model) = &args.model {
        config.kind = match model.as_str() {
            "rnn-scratch" => CellKind::Rnn,
            "gru-scratch" => CellKind::Gru,
            "lstm-scratch" => CellKind::Lstm,
            other => bail!("unknown model '{other}'; use rnn-scratch, gru-scratch or lstm-scratch"),
        };
    }
    config.hidden = args.hidden.unwrap_or(config.hidden);
    config.lr = args.lr.unwrap_or(config.lr);
    config.clip = args.clip.unwrap_or(config.clip);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.num_steps = args.num_steps.unwrap_or(config.num_steps);
    config.epochs = args.epochs.unwrap_or(config.epochs);
    if let Some(sampling) = &args.sampling {
        config.sampling = Sampling::parse(sampling)?;
    }
    if let Some(max) = args.max_tokens {
        config.max_tokens = (max > 0).then_some(max);
    }
    for (name, value) in [
        ("--hidden", config.hidden),
        ("--batch-size", config.batch_size),
        ("--num-steps", config.num_steps),
        ("--epochs", config.epochs),
    ] {
        if value == 0 {
            bail!("{name} must be at least 1");
        }
    }
    Ok(config)
}

fn load_text(data: &str) -> Result<String> {
    if data == "timemachine" {
        return Ok(Hub::from_env().read_text(Dataset::TimeMachine)?);
    }
    let bytes = std::fs::read(data).with_context(|| format!("reading --data {data}"))?;
    Ok(rnnplay_data::text::utf8(bytes, data)?)
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let config = resolve(args)?;
    let text = load_text(&args.data)?;
    let corpus = Corpus::from_text(&text, TokenKind::Char, config.max_tokens)?;
    let backend = pollster::block_on(backend_by_name(&args.backend)).context("opening the backend")?;
    let info = backend.info();
    let mut batches =
        BatchIter::new(corpus.tokens.clone(), config.batch_size, config.num_steps, config.sampling, args.seed)?;
    let model = ScratchModel::new(&backend, config.kind, corpus.vocab.len(), config.hidden, args.seed)?;
    let mut trainer = Trainer::new(&backend, config.lr, config.clip)?;
    if !args.json {
        println!(
            "{}: {} scratch, hidden {}, {} tokens (vocab {}), batch {} × {} steps, {:?} sampling, lr {}, θ {}, {} epochs on {:?} ({})",
            config.preset,
            config.kind.name(),
            config.hidden,
            corpus.len(),
            corpus.vocab.len(),
            config.batch_size,
            config.num_steps,
            config.sampling,
            config.lr,
            config.clip,
            config.epochs,
            info.kind,
            info.adapter
        );
    }
    let encode = |text: &str| -> Vec<u32> { text.chars().map(|c| corpus.vocab.index(&c.to_string())).collect() };
    let generate = |prefix: &str| -> Result<String> {
        let out = pollster::block_on(predict(&model, &encode(prefix), 50))?;
        Ok(corpus.decode(&out))
    };
    let started = Instant::now();
    let mut tokens = 0;
    let mut last = None;
    for epoch in 1..=config.epochs {
        let metrics =
            pollster::block_on(trainer.train_epoch(&model, &mut batches)).with_context(|| format!("epoch {epoch}"))?;
        tokens += metrics.tokens;
        last = Some(metrics);
        if !args.json && (epoch % 10 == 0 || epoch == 1 || epoch == config.epochs) {
            println!(
                "epoch {epoch:>4}  perplexity {:>8.3}  grad norm {:>7.3}  {:>8.0} tokens/s  {:?}",
                metrics.perplexity,
                metrics.grad_norm,
                tokens as f64 / started.elapsed().as_secs_f64(),
                generate("time traveller")?
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let last = last.expect("invariant: at least one epoch ran");
    let tokens_per_s = tokens as f64 / seconds;
    if args.json {
        let summary = serde_json::json!({
            "preset": config.preset, "model": format!("{}-scratch", config.kind.name()), "epochs": config.epochs,
            "perplexity": last.perplexity, "grad_norm": last.grad_norm, "tokens_per_s": tokens_per_s,
            "seconds": seconds, "backend": format!("{:?}", info.kind).to_lowercase(), "adapter": info.adapter,
            "time_traveller": generate("time traveller")?, "traveller": generate("traveller")?,
        });
        println!("{summary}");
    } else {
        println!(
            "perplexity {:.2}, {tokens_per_s:.0} tokens/s on {:?} ({}), {seconds:.1}s",
            last.perplexity, info.kind, info.adapter
        );
        println!("time traveller → {:?}", generate("time traveller")?);
        println!("traveller      → {:?}", generate("traveller")?);
    }
    Ok(())
}
