//! The flags of `rnnplay train` that describe a run: a preset, then any flag overrides it. They
//! map onto the engine's `RunSpec` (flag `--some-key` is the spec's field `some_key`), which
//! checks every value and says what is wrong in the same words the page uses.

use anyhow::{bail, Result};
use clap::Args;
use rnnplay_engine::presets::{PRESETS, SEQ2SEQ_PRESETS};
use rnnplay_engine::run::{DataSource, FieldError, RunSpec};

/// The most tokens one prediction generates.
pub const MAX_GENERATED: usize = 100_000;

/// Parses a count of tokens to generate: 1 to [`MAX_GENERATED`].
pub fn generation_length(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_GENERATED).contains(&n) => Ok(n),
        _ => Err(format!("'{text}' is not a length from 1 to {MAX_GENERATED} tokens")),
    }
}

/// Parses a flag's number that must fit an f32, with `RunSpec::set`'s check and words.
pub fn f32_value(text: &str) -> Result<f32, String> {
    rnnplay_engine::run::spec::parse_number(text).map(|value| value as f32)
}

/// The backends a command can open.
const BACKENDS: [&str; 3] = ["auto", "gpu", "cpu"];

/// Parses `--backend` (or `RNNPLAY_BACKEND`).
fn backend_name(text: &str) -> Result<String, String> {
    match BACKENDS.iter().find(|&&name| name == text.trim()) {
        Some(name) => Ok(name.to_string()),
        None => Err("--backend (or RNNPLAY_BACKEND) must be auto, gpu or cpu".into()),
    }
}

/// `--backend`, shared by every command that opens a backend.
#[derive(Args, Debug, Clone)]
pub struct BackendArg {
    /// gpu, cpu or auto: the GPU when an adapter exists (train: time a few minibatches on both
    /// and take the faster). Default: RNNPLAY_BACKEND, else auto.
    #[arg(long = "backend", id = "backend", value_name = "BACKEND", env = "RNNPLAY_BACKEND", default_value = "auto", value_parser = backend_name)]
    pub name: String,
}

/// The preset of a run that names none.
pub const DEFAULT_PRESET: &str = "d2l-gru";

/// `rnnplay train --list-presets` text.
pub fn describe_presets() -> String {
    PRESETS
        .iter()
        .map(|p| {
            format!(
                "{:<18} {:<13} hidden {:<4} layers {}  lr {}  d2l {}",
                p.name, p.model, p.hidden, p.layers, p.lr, p.section
            )
        })
        .chain(SEQ2SEQ_PRESETS.iter().map(|p| {
            format!(
                "{:<18} {:<13} hidden {:<4} layers {}  lr {}  {} on {}",
                p.name, "seq2seq", p.hidden, p.layers, p.lr, p.section, p.data
            )
        }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every setting of a run: a preset, then any flag overrides it. Values stay text here (a
/// negative number too), so that `RunSpec::set` and `validate` judge every one of them and the
/// message names the flag.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Language models: d2l-rnn-scratch, d2l-rnn, d2l-gru-scratch, d2l-gru, d2l-lstm-scratch,
    /// d2l-lstm, d2l-deep-lstm, d2l-deep-gru; encoder-decoders: d2l-seq2seq, toy-reverse
    /// (see --list-presets). Default: d2l-gru.
    #[arg(long, allow_negative_numbers = true)]
    pub preset: Option<String>,
    /// rnn, gru, lstm (PyTorch-layout layers) or rnn-scratch, gru-scratch, lstm-scratch (d2l's).
    #[arg(long, allow_negative_numbers = true)]
    pub model: Option<String>,
    /// Language models: `timemachine` (default; from the dataset hub) or a UTF-8 text file.
    /// Encoder-decoders: `fra-eng` (default for d2l-seq2seq), a toy task (`reverse`, `copy`,
    /// `sort-digits`, `add`) or a file of `source<TAB>target` lines.
    #[arg(long, allow_negative_numbers = true)]
    pub data: Option<String>,
    /// Hidden units per layer.
    #[arg(long, allow_negative_numbers = true)]
    pub hidden: Option<String>,
    /// Stacked recurrent layers (concise models).
    #[arg(long, allow_negative_numbers = true)]
    pub layers: Option<String>,
    /// Dropout between stacked layers, in [0, 1).
    #[arg(long, allow_negative_numbers = true)]
    pub dropout: Option<String>,
    /// Embedding width instead of one-hot input (concise models).
    #[arg(long, allow_negative_numbers = true)]
    pub embedding: Option<String>,
    /// The learning rate.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<String>,
    /// Learning-rate schedule: none, step:STEP_SIZE:GAMMA (PyTorch's StepLR, per epoch) or
    /// cosine[:WARMUP] (linear warm-up epochs, then cosine annealing).
    #[arg(long, allow_negative_numbers = true)]
    pub lr_schedule: Option<String>,
    /// sgd (d2l's) or adam.
    #[arg(long, allow_negative_numbers = true)]
    pub optimizer: Option<String>,
    /// Global-norm clipping threshold θ.
    #[arg(long, allow_negative_numbers = true)]
    pub clip: Option<String>,
    /// Sequences per minibatch.
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<String>,
    /// Time steps per minibatch (the truncated-BPTT length; encoder-decoders: the padded
    /// sentence length).
    #[arg(long, allow_negative_numbers = true)]
    pub num_steps: Option<String>,
    /// sequential (state carried and detached: truncated BPTT) or random (state reset per batch).
    #[arg(long, allow_negative_numbers = true)]
    pub sampling: Option<String>,
    /// Epochs in all.
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<String>,
    /// Keep the first N tokens of the corpus (0: all).
    #[arg(long, allow_negative_numbers = true)]
    pub max_tokens: Option<String>,
    /// char or word tokens.
    #[arg(long, allow_negative_numbers = true)]
    pub tokens: Option<String>,
    /// Hold out this fraction of the tokens (the end of the corpus) and report its perplexity.
    #[arg(long, allow_negative_numbers = true)]
    pub valid_fraction: Option<String>,
    /// Encoder-decoders: sentence pairs to read (fra-eng) or generate (toy tasks).
    #[arg(long, allow_negative_numbers = true)]
    pub num_examples: Option<String>,
    /// Encoder-decoders: words rarer than this become <unk> in the vocabularies (d2l: 2).
    #[arg(long, allow_negative_numbers = true)]
    pub min_freq: Option<String>,
    /// Encoder-decoders: scheduled sampling — the probability of feeding the decoder its own
    /// previous prediction instead of the true token, rising linearly from 0 in the first epoch
    /// to this value in the last (default 0: pure teacher forcing, as d2l).
    #[arg(long, allow_negative_numbers = true)]
    pub scheduled_sampling: Option<String>,
    /// Seeds the initial weights, the minibatch order and dropout (default 0).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<String>,
}

/// The flag that sets a spec field.
fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

/// A spec problem in the CLI's words: the flag, then the engine's message.
fn flag_error(error: &FieldError) -> String {
    format!("{}: {}", flag(error.field), error.message)
}

impl RunArgs {
    /// (spec field, value) of every flag given but `--preset`.
    fn overrides(&self) -> Vec<(&'static str, &str)> {
        [
            ("model", &self.model),
            ("data", &self.data),
            ("hidden", &self.hidden),
            ("layers", &self.layers),
            ("dropout", &self.dropout),
            ("embedding", &self.embedding),
            ("lr", &self.lr),
            ("lr_schedule", &self.lr_schedule),
            ("optimizer", &self.optimizer),
            ("clip", &self.clip),
            ("batch_size", &self.batch_size),
            ("num_steps", &self.num_steps),
            ("sampling", &self.sampling),
            ("epochs", &self.epochs),
            ("max_tokens", &self.max_tokens),
            ("tokens", &self.tokens),
            ("valid_fraction", &self.valid_fraction),
            ("num_examples", &self.num_examples),
            ("min_freq", &self.min_freq),
            ("scheduled_sampling", &self.scheduled_sampling),
            ("seed", &self.seed),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.as_deref().map(|v| (field, v)))
        .collect()
    }

    /// `spec` with every given flag (but `--preset`) set on it; a value that does not parse is
    /// named with its flag.
    fn apply(&self, spec: &mut RunSpec) -> Result<()> {
        for (field, value) in self.overrides() {
            if !spec.applies(field) {
                let (what, instead) = if spec.is_seq2seq() {
                    ("language models", "use --num-examples, --data")
                } else {
                    ("encoder-decoder presets (d2l-seq2seq, toy-reverse)", "see --list-presets")
                };
                bail!("{} applies to {what}, not to --preset {} ({instead})", flag(field), spec.preset);
            }
            spec.set(field, value).map_err(|e| anyhow::anyhow!(flag_error(&e)))?;
            // A file is recorded by its absolute path: a saved run then finds it again from any
            // directory, and its messages say which file it was.
            if let DataSource::Text(path) = spec.source() {
                if let Ok(absolute) = std::path::absolute(&path).map(|p| p.display().to_string()) {
                    if std::path::Path::new(&path).is_file() {
                        spec.data = absolute;
                    }
                }
            }
        }
        Ok(())
    }

    /// The preset with every given flag applied, checked: every bad value is named, with its
    /// flag, in one message.
    pub fn spec(&self) -> Result<RunSpec> {
        let mut spec = RunSpec::preset(self.preset.as_deref().unwrap_or(DEFAULT_PRESET))
            .map_err(|e| anyhow::anyhow!(flag_error(&e)))?;
        self.apply(&mut spec)?;
        let problems = spec.validate();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(flag_error).collect::<Vec<_>>().join("\n"));
        }
        Ok(spec)
    }

    /// The spec of a run resumed from `saved`: its own, with `--epochs` (the epochs in all) if
    /// given. Any other flag must repeat the saved value exactly; one that would change the run
    /// is refused, naming it.
    pub fn resumed_spec(&self, saved: &RunSpec) -> Result<RunSpec> {
        let mut asked = saved.clone();
        self.apply(&mut asked)?;
        let mut changing: Vec<String> = self
            .overrides()
            .into_iter()
            .filter(|&(field, _)| field != "epochs" && asked.get(field) != saved.get(field))
            .map(|(field, _)| flag(field))
            .collect();
        if self.preset.as_deref().is_some_and(|name| name != saved.preset) {
            changing.insert(0, flag("preset"));
        }
        if !changing.is_empty() {
            bail!(
                "--resume continues the saved run exactly as it was; {} would change it (drop {}, or train a new run)",
                changing.join(", "),
                if changing.len() == 1 { "it" } else { "them" }
            );
        }
        let problems = asked.validate();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(flag_error).collect::<Vec<_>>().join("\n"));
        }
        Ok(asked)
    }
}
