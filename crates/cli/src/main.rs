//! `rnnplay`: the native command line and test harness.

mod bench;
mod bench_presets;
mod demo;
mod devices;
mod export;
mod inspect;
mod lessons;
mod lessons_check;
mod outputs;
mod plot;
mod predict;
mod progress;
mod run_args;
mod soak;
mod summary;
mod terminal;
mod tokens;
mod train;
mod translate;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Train recurrent networks on the GPU (wgpu) or the CPU reference backend.
#[derive(Parser)]
#[command(name = "rnnplay", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the GPU adapters wgpu can see, with their key limits, and the backend that
    /// RNNPLAY_BACKEND selects.
    Devices {
        /// Print one JSON object per adapter instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Train d2l's scratch RNN briefly on a generated text and print a prediction: a quick
    /// end-to-end check of the engine on the chosen backend.
    Demo {
        #[command(flatten)]
        backend: run_args::BackendArg,
        /// Training steps (minibatches of 8 windows of 16 characters).
        #[arg(long, allow_negative_numbers = true, default_value_t = 300)]
        steps: usize,
        /// Hidden units.
        #[arg(long, allow_negative_numbers = true, default_value_t = 64)]
        hidden: usize,
        #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
        seed: u64,
    },
    /// Train a d2l language model on The Time Machine (or any text), or an encoder-decoder on
    /// fra-eng or a toy task (--preset d2l-seq2seq, toy-reverse), and print predictions.
    Train(Box<train::TrainArgs>),
    /// Load a checkpoint and show its predictions: free-running from a prefix, and
    /// teacher-forced on a given text.
    Predict(predict::PredictArgs),
    /// Look inside a language-model checkpoint: every layer's hidden state and gates over a
    /// passage, the next-token probabilities, and with --position how far back a prediction
    /// reaches (the gradient of its loss with respect to each earlier input and state).
    Inspect(inspect::InspectArgs),
    /// The lessons: one per idea of d2l's recurrent chapters, with what to watch, the
    /// commands that run them and the outcome they claim (the page opens the same lessons at
    /// ?lesson=NAME); with --check, trains their runs and checks the claim.
    Lessons {
        /// Show (or check) only this lesson.
        name: Option<String>,
        /// Train the lesson's runs as the page sets them up and check its claim on what they
        /// recorded; fails if it does not hold on every seed.
        #[arg(long)]
        check: bool,
        /// With --check: the seeds to train each run with, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0")]
        seeds: Vec<u64>,
        /// With --check: gpu, cpu or auto (cpu: the page's fallback, the same numbers).
        #[arg(long, default_value = "cpu", value_parser = run_args::backend_name)]
        backend: String,
        /// Print one JSON object per lesson.
        #[arg(long)]
        json: bool,
    },
    /// Translate a sentence with an encoder-decoder checkpoint (free-running), and with
    /// --reference show the teacher-forced view and BLEU.
    Translate(translate::TranslateArgs),
    /// Write a PyTorch script that continues a language model's run from its checkpoint (the
    /// same model, data, clipping, optimizer and schedule; DistributedDataParallel with --ddp).
    Export(export::ExportArgs),
    /// Benchmarks: `rnnplay bench kernels` measures every matmul variant, `rnnplay bench
    /// presets` the training throughput of the d2l presets, `rnnplay bench soak` whether a long
    /// run's memory stays flat.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Training throughput of d2l presets: tokens/s, matmul GFLOP/s against the adapter's best
    /// GEMM, dispatches and submits per step, host time per step, peak buffer memory.
    Presets {
        /// Presets to measure (repeat the flag); default d2l-rnn-scratch, d2l-gru, d2l-lstm,
        /// d2l-seq2seq, d2l-seq2seq-attention.
        #[arg(long = "preset")]
        presets: Vec<String>,
        #[command(flatten)]
        backend: run_args::BackendArg,
        /// Minibatches trained before timing.
        #[arg(long, allow_negative_numbers = true, default_value_t = 2)]
        warmup: usize,
        /// Minibatches timed.
        #[arg(long, allow_negative_numbers = true, default_value_t = 10)]
        batches: usize,
        /// How recurrent layers run: window (fused, the time loop inside one kernel
        /// each way), steps (fused, two dispatches per time step), unfused (composed from
        /// primitive ops per time step); a comma-separated list of them, fused (window,steps)
        /// or all measures each in turn, with the first's speed-up over the others.
        #[arg(long, default_value = "window")]
        layers: String,
        /// Plan replay: on (steady steps replay their recorded kernels), off (every step is
        /// built again), or both, with what replay saves.
        #[arg(long, default_value = "on")]
        replay: String,
        /// Print one JSON object per preset (and per layer and replay mode).
        #[arg(long)]
        json: bool,
    },
    /// Trains one run for --minutes, sampling memory (resident set, the backend's live and
    /// pooled buffers) every --every seconds; fails if any of it grew after the warm-up.
    Soak(Box<soak::SoakArgs>),
    /// GFLOP/s of each matmul variant on square matrices, and which variant the runtime picks.
    Kernels {
        /// Matrix sizes to measure.
        #[arg(long, allow_negative_numbers = true, value_delimiter = ',', default_value = "64,128,256,512,1024")]
        sizes: Vec<usize>,
        /// Print one JSON object per (size, variant).
        #[arg(long)]
        json: bool,
    },
}

/// Errors are the user's to fix: their message and its causes, never a stack trace (even with
/// `RUST_BACKTRACE` set), and a failing exit status.
fn main() -> std::process::ExitCode {
    quiet_on_closed_pipe();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Messages quote file names and file contents: their control characters are escaped.
            eprintln!("Error: {}", terminal::escaped(&format!("{err:#}"), true));
            std::process::ExitCode::FAILURE
        }
    }
}

/// `rnnplay lessons | head` closes the pipe before everything is printed: end quietly, as
/// other command-line tools do, instead of panicking in `println!`. Rust ignores SIGPIPE so
/// that a write fails instead; its default action is to end the process without a message.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default action before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices { json } => devices::run(json),
        Command::Train(args) => train::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Lessons { name, check, seeds, backend, json } => {
            lessons::run(name.as_deref(), check, &seeds, &backend, json)
        }
        Command::Translate(args) => translate::run(&args),
        Command::Demo { backend, steps, hidden, seed } => {
            demo::run(&demo::DemoConfig { backend: backend.name, steps, hidden, seed })
        }
        Command::Bench { what: BenchCommand::Presets { presets, backend, warmup, batches, layers, replay, json } } => {
            let options = bench_presets::Options {
                warmup,
                batches,
                layers: rnnplay_run::bench::Layers::parse_list(&layers)
                    .map_err(|e| anyhow::anyhow!("--layers: {e}"))?,
                replay: bench_presets::Modes::parse("--replay", &replay, ["on", "off"])?,
                json,
            };
            bench_presets::presets(&presets, &backend.name, &options)
        }
        Command::Bench { what: BenchCommand::Soak(args) } => soak::run(&args),
        Command::Bench { what: BenchCommand::Kernels { sizes, json } } => {
            if sizes.iter().any(|&s| s == 0 || s > 8192) {
                anyhow::bail!("--sizes must be between 1 and 8192, got {sizes:?}");
            }
            bench::kernels(&sizes, json)
        }
    }
}
