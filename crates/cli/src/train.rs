//! `rnnplay train`: d2l's `train_ch8` (language models) and `train_seq2seq` (the encoder–
//! decoder) from the command line. The run is the engine's `Session`, built from the flags'
//! `RunSpec`; this file loads the data, loops over the session and prints: a progress bar, a
//! line every few epochs, per-epoch metrics, a plot, a checkpoint and the summary.

use crate::outputs::{check_paths, open_to_append, write_atomically};
use crate::run_args::{describe_presets, RunArgs};
use crate::summary::Outcome;
use crate::terminal::printable;
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_data::{Dataset, Hub};
use rnnplay_engine::backend::{Backend, BackendKind};
use rnnplay_engine::{EngineError, EngineOptions};
use rnnplay_run::backend_for_run;
use rnnplay_run::clock::wall_clock;
use rnnplay_run::describe_speeds;
use rnnplay_run::{DataSource, EpochReport, RunData, RunSpec, SavedRun, Session};
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub backend: crate::run_args::BackendArg,
    /// Print one JSON summary line at the end instead of the human-readable report.
    #[arg(long)]
    pub json: bool,
    /// Append to this file (JSON Lines) a line with the run's spec, then one JSON object per
    /// epoch; every line carries the run's id, so several runs can share the file.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Draw the training curve into this .svg or .png file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Save the trained model (safetensors, PyTorch names) to this file. If training diverges,
    /// the last good weights are saved.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Continue the run saved in this file (by --save at the end of a run, or the page's
    /// export): its spec, weights, optimizer state, position in the data and seeds, up to
    /// --epochs in all, exactly as if it had never stopped. Flags that would change the run
    /// are refused.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// With --resume: go on even though the data is not what the saved run trained on (its size
    /// or sha1 differs, or the file does not record it). The vocabulary must still be the run's.
    #[arg(long)]
    pub allow_changed_data: bool,
    /// Print a progress line (language models: with a free-running sample) every N epochs.
    #[arg(long, allow_negative_numbers = true, default_value_t = 10)]
    pub report_every: usize,
    /// Tokens generated for each prediction of a language model (default 50).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::run_args::generation_length)]
    pub predict_len: Option<usize>,
    /// List the presets and exit.
    #[arg(long)]
    pub list_presets: bool,
}

/// The data a spec names, loaded: the engine does no I/O.
pub(crate) enum Loaded {
    Text(String),
    Zip(Vec<u8>),
    Generated,
}

impl Loaded {
    pub(crate) fn read(spec: &RunSpec) -> Result<Self> {
        Ok(match spec.source() {
            DataSource::TimeMachine => Self::Text(Hub::from_env().read_text(Dataset::TimeMachine)?),
            DataSource::FraEng => Self::Zip(Hub::from_env().read(Dataset::FraEng)?),
            DataSource::Toy(..) | DataSource::Recall(_) => Self::Generated,
            DataSource::Text(path) => {
                let what = if spec.is_seq2seq() {
                    "fra-eng, a toy task, or a UTF-8 file of source<TAB>target lines"
                } else {
                    "a UTF-8 text file, or timemachine"
                };
                let bytes = std::fs::read(&path).with_context(|| format!("reading --data {path} (give {what})"))?;
                Self::Text(rnnplay_data::text::utf8(bytes, &path)?)
            }
        })
    }

    pub(crate) fn data(&self) -> RunData<'_> {
        match self {
            Self::Text(text) => RunData::Text(text),
            Self::Zip(zip) => RunData::FraEngZip(zip),
            Self::Generated => RunData::Generated,
        }
    }
}

/// The run `--resume` names, read and checked before anything is built: flags may only repeat
/// its values (`check_outputs` keeps `--save` off it), and `--epochs` (the epochs in all) must be
/// more than it has trained. Returns the saved run and its spec with the epochs to reach.
fn saved_run(args: &TrainArgs, path: &std::path::Path) -> Result<(SavedRun, RunSpec)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading --resume {}", path.display()))?;
    let saved = SavedRun::from_bytes(&bytes).with_context(|| format!("--resume {}", path.display()))?;
    let saved = if args.allow_changed_data { saved.allow_changed_data() } else { saved };
    let spec = args.run.resumed_spec(saved.spec())?;
    let done = saved.epochs_done();
    if spec.epochs <= done {
        bail!(
            "the run in {} has trained {done} epochs; give --epochs N with N more than {done}, the epochs in all",
            path.display()
        );
    }
    Ok((saved, spec))
}

/// The files a run reads that no output may replace: the data file a spec names, and the dataset
/// hub's cached files (whichever dataset the run uses).
pub(crate) fn input_files(spec: &RunSpec) -> Vec<(&'static str, PathBuf)> {
    let hub = Hub::from_env();
    let mut inputs: Vec<(&'static str, PathBuf)> = match spec.source() {
        DataSource::Text(path) => vec![("--data", PathBuf::from(path))],
        _ => Vec::new(),
    };
    inputs.extend(Dataset::ALL.map(|dataset| ("the dataset cache's", hub.path(dataset))));
    inputs
}

/// Checks the output flags before a long run (`outputs::check_paths`: regular, writable files
/// that are neither an input nor each other), the plot's format, and the report interval.
fn check_outputs(args: &TrainArgs, spec: &RunSpec) -> Result<()> {
    let mut inputs = input_files(spec);
    inputs.extend(args.resume.clone().map(|path| ("--resume", path)));
    let inputs: Vec<(&str, &std::path::Path)> = inputs.iter().map(|(flag, path)| (*flag, path.as_path())).collect();
    let outputs: Vec<(&str, &std::path::Path)> =
        [("--save", args.save.as_deref()), ("--metrics", args.metrics.as_deref()), ("--plot", args.plot.as_deref())]
            .into_iter()
            .filter_map(|(flag, path)| path.map(|p| (flag, p)))
            .collect();
    check_paths(&inputs, &outputs)?;
    if let Some(plot) = &args.plot {
        crate::plot::check_plot_path(plot)?;
    }
    if args.report_every == 0 {
        bail!("--report-every must be at least 1");
    }
    Ok(())
}

/// One `--metrics` line.
fn metrics_line(spec: &RunSpec, report: &EpochReport, tokens_per_s: f64, seconds: f64) -> serde_json::Value {
    let common = serde_json::json!({
        "epoch": report.epoch, "lr": report.lr, "grad_norm": report.grad_norm,
        "tokens_per_s": tokens_per_s, "seconds": seconds, "accuracy": report.accuracy,
    });
    let mut line = match spec.is_seq2seq() {
        true => serde_json::json!({
            "per_token_ce": report.value, "d2l_loss": report.d2l_loss,
            "scheduled_sampling": report.scheduled_sampling,
            // A toy task's held-out accuracy at each output position, after the last epoch.
            "accuracy_by_position": report.accuracy_by_position,
            // And its exact match by source length: [length, share] pairs.
            "exact_by_length": report.exact_by_length,
            // Their mean BLEU and mean score (1/L^0.75)·log P, translated with --beam.
            "bleu": report.bleu, "score": report.score,
        }),
        // reach[k]: the gradient of a window's last prediction at the state k steps earlier.
        false => serde_json::json!({
            "perplexity": report.value, "valid_perplexity": report.valid_perplexity,
            "reach": report.reach,
        }),
    };
    if let (Some(line), serde_json::Value::Object(common)) = (line.as_object_mut(), common) {
        line.extend(common);
    }
    line
}

/// After a lost GPU: saves the run's host copy of its last finished epoch to `--save` (the
/// device's own weights are gone) and says how to go on on the CPU.
fn after_device_lost(session: &Session, args: &TrainArgs) -> Result<String> {
    let Some((done, bytes)) = session.host_checkpoint() else {
        return Ok(match &args.resume {
            Some(resume) => format!(
                "; no epoch of this run finished, and {} is as it was: continue on the CPU with \
                 `rnnplay train --resume {} --backend cpu`",
                resume.display(),
                resume.display()
            ),
            None => "; no epoch finished: train again with --backend cpu".to_string(),
        });
    };
    Ok(match &args.save {
        Some(path) => {
            write_atomically("--save", path, bytes)?;
            format!(
                "; the weights after epoch {done} are saved in {}: continue on the CPU with \
                 `rnnplay train --resume {} --backend cpu`",
                path.display(),
                path.display()
            )
        }
        None => format!(
            "; without --save the weights after epoch {done} could not be kept: train again with \
             --save F (and --backend cpu to stay off the GPU)"
        ),
    })
}

pub fn run(args: &TrainArgs) -> Result<()> {
    if args.list_presets {
        println!("{}", describe_presets());
        return Ok(());
    }
    let (saved, spec) = match &args.resume {
        Some(path) => saved_run(args, path).map(|(saved, spec)| (Some(saved), spec))?,
        None => (None, args.run.spec()?),
    };
    if args.allow_changed_data && args.resume.is_none() {
        bail!("--allow-changed-data applies with --resume F: it lets a saved run go on with other data");
    }
    check_outputs(args, &spec)?;
    if spec.is_seq2seq() && args.predict_len.is_some() {
        bail!("--predict-len applies to language models; an encoder-decoder translates until <eos> (or num_steps)");
    }
    let predict_len = args.predict_len.unwrap_or(50);
    let loaded = Loaded::read(&spec)?;
    if let (Some(saved), Some(path)) = (&saved, &args.resume) {
        saved.check_data(loaded.data()).map_err(|err| {
            anyhow::anyhow!(
                "--resume {}: {err}. Restore the data it trained on, or pass --allow-changed-data to go on with this data",
                path.display()
            )
        })?;
    }
    let options = EngineOptions::from_env()?;
    let (backend, speeds): (Rc<dyn Backend>, _) =
        pollster::block_on(backend_for_run(&args.backend.name, &options, &spec, loaded.data(), &wall_clock()))
            .context("opening the backend")?;
    let info = backend.info();
    let mut session: Session = match &saved {
        Some(saved) => saved.build(&backend, loaded.data(), &options, spec.epochs)?,
        None => spec.build(&backend, loaded.data(), &options)?,
    };
    for note in session.notes() {
        crate::terminal::warn(note);
    }
    let first_epoch = session.epochs_done() + 1;
    // Tells this run's --metrics lines from other runs' in the same file.
    let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut metrics_file = match &args.metrics {
        Some(path) => {
            let mut file = open_to_append("--metrics", path)?;
            // A run's first line says what ran (the page imports the file as a run); several
            // runs may share a file, each line carrying its run's id.
            let head = serde_json::json!({
                "run": run_id, "spec": spec, "backend": format!("{:?}", info.kind).to_lowercase(),
                "adapter": info.adapter, "first_epoch": first_epoch,
            });
            writeln!(file, "{head}").context("writing --metrics")?;
            Some(file)
        }
        None => None,
    };
    if !args.json {
        println!("{}", printable(&spec.describe()));
        println!(
            "data: {}; backend {:?} ({})",
            printable(&crate::summary::describe_data(&session)),
            info.kind,
            info.adapter
        );
        if !speeds.is_empty() {
            println!(
                "backend auto: {} on this model (a few minibatches each) → training on the {}",
                describe_speeds(&speeds),
                if info.kind == BackendKind::Cpu {
                    "CPU (--backend gpu forces the GPU)"
                } else {
                    "GPU (--backend cpu forces the CPU)"
                }
            );
        }
        if first_epoch > 1 {
            println!("resuming after epoch {} of the saved run", first_epoch - 1);
        }
    }
    let bar = crate::progress::epoch_bar(args.json, spec.epochs)?;
    bar.set_position(session.epochs_done() as u64);
    let started = Instant::now();
    let (mut tokens, mut curve, mut valid_curve, mut last) = (0usize, Vec::new(), Vec::new(), None);
    while !session.finished() {
        let report = match pollster::block_on(session.step()) {
            Ok(None) => continue,
            Ok(Some(report)) => report,
            Err(err @ EngineError::Diverged { .. }) => {
                bar.abandon();
                let mut saved = String::new();
                if let Some(path) = &args.save {
                    write_atomically("--save", path, &pollster::block_on(session.checkpoint_bytes(last.as_ref()))?)?;
                    saved = match session.epochs_done() {
                        0 => format!("; the initial weights (no epoch finished) are saved in {}", path.display()),
                        done => format!("; the weights after epoch {done} are saved in {}", path.display()),
                    };
                }
                bail!("{err}{saved}");
            }
            Err(err @ EngineError::DeviceLost(_)) => {
                bar.abandon();
                let epoch = session.device_lost_in().unwrap_or(session.epochs_done() + 1);
                bail!("epoch {epoch}: {err}{}", after_device_lost(&session, args)?);
            }
            Err(err) => return Err(err).with_context(|| format!("epoch {}", session.epochs_done() + 1)),
        };
        tokens += report.tokens;
        curve.push(report.value);
        valid_curve.extend(report.valid_perplexity);
        let seconds = started.elapsed().as_secs_f64();
        let tokens_per_s = tokens as f64 / seconds;
        if let Some(file) = metrics_file.as_mut() {
            let mut line = metrics_line(&spec, &report, tokens_per_s, seconds);
            line["run"] = run_id.into();
            writeln!(file, "{line}").context("writing --metrics")?;
        }
        let (name, value) = crate::summary::value_name(&spec, report.value);
        let valid_text = report.valid_perplexity.map(|v| format!(", valid {v:.2}")).unwrap_or_default();
        bar.set_message(format!("{name} {value}{valid_text}, {tokens_per_s:.0} tokens/s"));
        bar.inc(1);
        if !args.json && (report.epoch % args.report_every == 0 || report.epoch == spec.epochs) {
            let line = crate::summary::report_line(&session, &report, tokens_per_s, predict_len)?;
            crate::progress::report(&bar, line);
        }
        last = Some(report);
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let last = last.context("no epoch ran")?;
    if let Some(path) = &args.save {
        write_atomically("--save", path, &pollster::block_on(session.checkpoint_bytes(Some(&last)))?)?;
    }
    if let Some(path) = &args.plot {
        let (name, _) = crate::summary::value_name(&spec, 0.0);
        let title = format!("{} on {}", spec.model, spec.data);
        crate::plot::curve_plot(path, &title, name, first_epoch as u32, &curve, &valid_curve)?;
    }
    let outcome = Outcome {
        session: &session,
        last,
        valid_curve: &valid_curve,
        tokens_per_s: tokens as f64 / seconds,
        seconds,
        backend: &backend,
        speeds: &speeds,
        save: args.save.as_deref(),
        predict_len,
    };
    crate::summary::print(&outcome, args.json)
}
