//! `rnnplay train`: d2l's language-model training (`train_ch8`) from the command line, with a
//! progress bar, a line every few epochs with a free-running sample, optional validation,
//! per-epoch metrics, a perplexity plot and a checkpoint.

use crate::presets::{describe_presets, RunArgs, RunConfig};
use crate::tokens::{decode, encode_with_warning};
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_data::{BatchIter, Corpus, Dataset, Hub, Vocab};
use rnnplay_engine::backend::{backend_by_name, Backend};
use rnnplay_engine::generate::{generate, Decoding};
use rnnplay_engine::nn::LanguageModel;
use rnnplay_engine::train::{EpochMetrics, Optimizer, Trainer};
use rnnplay_engine::{Checkpoint, EngineError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// gpu, cpu or auto (GPU when an adapter exists).
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Language models: `timemachine` (default; from the dataset hub) or a UTF-8 text file.
    /// Encoder-decoders: `fra-eng` (default for d2l-seq2seq), a toy task (`reverse`, `copy`,
    /// `sort-digits`, `add`) or a file of `source<TAB>target` lines.
    #[arg(long)]
    pub data: Option<String>,
    /// Encoder-decoders: sentence pairs to read (fra-eng) or generate (toy tasks).
    #[arg(long)]
    pub num_examples: Option<usize>,
    /// Encoder-decoders: scheduled sampling — the probability of feeding the decoder its own
    /// previous prediction instead of the true token, rising linearly from 0 in the first epoch
    /// to this value in the last (default 0: pure teacher forcing, as d2l).
    #[arg(long)]
    pub scheduled_sampling: Option<f32>,
    /// Print one JSON summary line at the end instead of the human-readable report.
    #[arg(long)]
    pub json: bool,
    /// Append one JSON object per epoch to this file (JSON Lines).
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Draw the perplexity curve into this .svg or .png file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Save the trained model (safetensors, PyTorch names) to this file. If training diverges,
    /// the last good weights are saved.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Print a progress line with a free-running sample every N epochs.
    #[arg(long, default_value_t = 10)]
    pub report_every: usize,
    /// Tokens generated for each prediction.
    #[arg(long, default_value_t = 50)]
    pub predict_len: usize,
    /// List the presets and exit.
    #[arg(long)]
    pub list_presets: bool,
}

pub(crate) fn load_text(data: &str) -> Result<String> {
    match data {
        "timemachine" => return Ok(Hub::from_env().read_text(Dataset::TimeMachine)?),
        "fra-eng" => bail!("fra-eng is a translation corpus: train it with --preset d2l-seq2seq; language models train on timemachine or a text file"),
        _ => {}
    }
    let bytes = std::fs::read(data)
        .with_context(|| format!("reading --data {data} (give a UTF-8 text file, or timemachine)"))?;
    Ok(rnnplay_data::text::utf8(bytes, data)?)
}

/// Fails early, before a long run, when an output file could not be written at the end.
fn check_output_dir(flag: &str, path: &Option<PathBuf>) -> Result<()> {
    if let Some(path) = path {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("{flag} {}: the directory {} does not exist", path.display(), dir.display());
        }
    }
    Ok(())
}

/// Checks the output flags before a long run: their directories exist, the plot's format is
/// known, and the report interval is positive.
pub(crate) fn check_outputs(args: &TrainArgs) -> Result<()> {
    check_output_dir("--save", &args.save)?;
    check_output_dir("--metrics", &args.metrics)?;
    check_output_dir("--plot", &args.plot)?;
    if let Some(plot) = &args.plot {
        crate::plot::check_plot_path(plot)?;
    }
    if args.report_every == 0 {
        bail!("--report-every must be at least 1");
    }
    Ok(())
}

/// Writes `bytes` next to `path` and renames it into place, so that an existing file is
/// replaced only by a complete new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
}

/// Where a run is, for the checkpoint's metadata.
struct Progress<'a> {
    config: &'a RunConfig,
    epochs_done: usize,
    last: Option<EpochMetrics>,
}

fn save_checkpoint(path: &Path, checkpoint: &mut Checkpoint, progress: &Progress) -> Result<()> {
    checkpoint.extra.insert("preset".into(), progress.config.preset.clone());
    checkpoint.extra.insert("epochs".into(), progress.epochs_done.to_string());
    checkpoint.extra.insert("seed".into(), progress.config.seed.to_string());
    if let Some(last) = progress.last {
        checkpoint.extra.insert("perplexity".into(), last.perplexity.to_string());
    }
    write_atomically(path, &checkpoint.to_bytes()?)
}

/// Free-running continuation of `prefix`, as text.
fn continuation(model: &LanguageModel, vocab: &Vocab, config: &RunConfig, prefix: &str, len: usize) -> Result<String> {
    let ids = encode_with_warning(vocab, config.tokens, prefix, "prefix");
    let out = pollster::block_on(generate(model, &ids, len, Decoding::Greedy))?;
    Ok(decode(vocab, config.tokens, &out))
}

pub fn run(args: &TrainArgs) -> Result<()> {
    if args.list_presets {
        println!("{}", describe_presets());
        return Ok(());
    }
    if rnnplay_engine::presets::seq2seq_preset(&args.run.preset).is_some() {
        return crate::seq2seq::run(args);
    }
    for (flag, given) in
        [("--num-examples", args.num_examples.is_some()), ("--scheduled-sampling", args.scheduled_sampling.is_some())]
    {
        if given {
            bail!("{flag} applies to encoder-decoder presets (d2l-seq2seq, toy-reverse), not to {}", args.run.preset);
        }
    }
    let data = args.data.as_deref().unwrap_or("timemachine");
    let mut config = args.run.resolve()?;
    check_outputs(args)?;
    let text = load_text(data)?;
    let corpus = Corpus::from_text(&text, config.tokens, config.max_tokens)?;
    config.model.vocab_size = corpus.vocab.len();
    let valid_len = (corpus.len() as f32 * config.valid_fraction).round() as usize;
    let (train_tokens, valid_tokens) = corpus.tokens.split_at(corpus.len() - valid_len);
    let mut batches =
        BatchIter::new(train_tokens.to_vec(), config.batch_size, config.num_steps, config.sampling, config.seed)
            .context("the training split is too short for one minibatch")?;
    let mut valid = match valid_len {
        0 => None,
        _ => Some(
            BatchIter::new(valid_tokens.to_vec(), config.batch_size, config.num_steps, config.sampling, config.seed)
                .context(
                    "the validation split is too short for one minibatch; raise --valid-fraction or --max-tokens",
                )?,
        ),
    };
    let backend: Rc<dyn Backend> = pollster::block_on(backend_by_name(&args.backend)).context("opening the backend")?;
    let info = backend.info();
    let model = LanguageModel::new(&backend, &config.model, config.seed)?;
    let mut trainer = Trainer::new(&backend, Optimizer::by_name(&config.optimizer, config.lr)?, config.clip)?;
    let mut metrics_file = match &args.metrics {
        Some(path) => Some(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => None,
    };
    if !args.json {
        println!("{}", config.describe());
        println!(
            "data: {} — {} {:?} tokens (vocab {}), {} for validation; backend {:?} ({})",
            data,
            corpus.len(),
            config.tokens,
            corpus.vocab.len(),
            valid_len,
            info.kind,
            info.adapter
        );
    }
    let bar = crate::progress::epoch_bar(args.json, config.epochs)?;
    let started = Instant::now();
    let (mut tokens, mut train_curve, mut valid_curve) = (0usize, Vec::new(), Vec::new());
    let mut progress = Progress { config: &config, epochs_done: 0, last: None };
    let mut last_good: Option<Checkpoint> = None;
    for epoch in 1..=config.epochs {
        let metrics = match pollster::block_on(trainer.train_epoch(&model, &mut batches)) {
            Ok(metrics) => metrics,
            Err(err @ EngineError::Diverged { .. }) => {
                bar.abandon();
                let mut saved = String::new();
                if let (Some(path), Some(checkpoint)) = (&args.save, last_good.as_mut()) {
                    save_checkpoint(path, checkpoint, &progress)?;
                    saved = format!("; the weights after epoch {} are saved in {}", epoch - 1, path.display());
                }
                bail!("epoch {epoch}: {err}{saved}");
            }
            Err(err) => return Err(err).with_context(|| format!("epoch {epoch}")),
        };
        tokens += metrics.tokens;
        train_curve.push(metrics.perplexity);
        progress.epochs_done = epoch;
        progress.last = Some(metrics);
        let valid_ppl = match valid.as_mut() {
            Some(v) => Some(pollster::block_on(trainer.evaluate(&model, v))?),
            None => None,
        };
        valid_curve.extend(valid_ppl);
        if args.save.is_some() {
            last_good = Some(pollster::block_on(Checkpoint::capture(&model, &corpus.vocab, config.tokens))?);
        }
        let seconds = started.elapsed().as_secs_f64();
        let tokens_per_s = tokens as f64 / seconds;
        if let Some(file) = metrics_file.as_mut() {
            let line = serde_json::json!({
                "epoch": epoch, "perplexity": metrics.perplexity, "valid_perplexity": valid_ppl,
                "grad_norm": metrics.grad_norm, "tokens_per_s": tokens_per_s, "seconds": seconds,
            });
            writeln!(file, "{line}").context("writing --metrics")?;
        }
        let valid_text = valid_ppl.map(|v| format!(", valid {v:.2}")).unwrap_or_default();
        bar.set_message(format!("perplexity {:.2}{valid_text}, {tokens_per_s:.0} tokens/s", metrics.perplexity));
        bar.inc(1);
        if !args.json && (epoch % args.report_every == 0 || epoch == config.epochs) {
            let sample = continuation(&model, &corpus.vocab, &config, "time traveller", args.predict_len)?;
            let line = format!(
                "epoch {epoch:>4}  perplexity {:>7.3}{valid_text}  grad norm {:>6.3}  {tokens_per_s:>7.0} tokens/s  {sample:?}",
                metrics.perplexity, metrics.grad_norm
            );
            crate::progress::report(&bar, line);
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let last = progress.last.context("no epoch ran")?;
    let tokens_per_s = tokens as f64 / seconds;
    if let Some(path) = &args.save {
        let mut checkpoint = match last_good.take() {
            Some(checkpoint) => checkpoint,
            None => pollster::block_on(Checkpoint::capture(&model, &corpus.vocab, config.tokens))?,
        };
        save_checkpoint(path, &mut checkpoint, &progress)?;
    }
    if let Some(path) = &args.plot {
        let title = format!("{} on {data}", config.model.model_name());
        crate::plot::curve_plot(path, &title, "perplexity", &train_curve, &valid_curve)?;
    }
    let time_traveller = continuation(&model, &corpus.vocab, &config, "time traveller", args.predict_len)?;
    let traveller = continuation(&model, &corpus.vocab, &config, "traveller", args.predict_len)?;
    if args.json {
        let summary = serde_json::json!({
            "preset": config.preset, "model": config.model.model_name(), "epochs": config.epochs,
            "perplexity": last.perplexity, "valid_perplexity": valid_curve.last(), "grad_norm": last.grad_norm,
            "tokens_per_s": tokens_per_s, "seconds": seconds,
            "backend": format!("{:?}", info.kind).to_lowercase(), "adapter": info.adapter,
            "time_traveller": time_traveller, "traveller": traveller,
        });
        println!("{summary}");
    } else {
        let valid_text = valid_curve.last().map(|v| format!(", validation {v:.2}")).unwrap_or_default();
        println!(
            "perplexity {:.2}{valid_text}, {tokens_per_s:.0} tokens/s on {:?} ({}), {seconds:.1}s",
            last.perplexity, info.kind, info.adapter
        );
        println!("time traveller → {time_traveller:?}");
        println!("traveller      → {traveller:?}");
        if let Some(path) = &args.save {
            println!(
                "saved {} (try: rnnplay predict --checkpoint {} --prefix \"time traveller\")",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}
