//! The flags of `rnnplay train` that describe a run: a preset, then any flag overrides it. They
//! map onto the engine's `RunSpec` (flag `--some-key` is the spec's field `some_key`), which
//! checks every value and says what is wrong in the same words the page uses.

use anyhow::{bail, Result};
use clap::Args;
use rnnplay_engine::presets::{PRESETS, SEQ2SEQ_PRESETS};
use rnnplay_engine::run::{FieldError, RunSpec};

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

/// Every setting of a run: a preset, then any flag overrides it.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Language models: d2l-rnn-scratch, d2l-rnn, d2l-gru-scratch, d2l-gru, d2l-lstm-scratch,
    /// d2l-lstm, d2l-deep-lstm, d2l-deep-gru; encoder-decoders: d2l-seq2seq, toy-reverse
    /// (see --list-presets). Default: d2l-gru.
    #[arg(long)]
    pub preset: Option<String>,
    /// rnn, gru, lstm (PyTorch-layout layers) or rnn-scratch, gru-scratch, lstm-scratch (d2l's).
    #[arg(long)]
    pub model: Option<String>,
    /// Language models: `timemachine` (default; from the dataset hub) or a UTF-8 text file.
    /// Encoder-decoders: `fra-eng` (default for d2l-seq2seq), a toy task (`reverse`, `copy`,
    /// `sort-digits`, `add`) or a file of `source<TAB>target` lines.
    #[arg(long)]
    pub data: Option<String>,
    /// Hidden units per layer.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Stacked recurrent layers (concise models).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Dropout between stacked layers, in [0, 1).
    #[arg(long)]
    pub dropout: Option<String>,
    /// Embedding width instead of one-hot input (concise models).
    #[arg(long)]
    pub embedding: Option<usize>,
    #[arg(long)]
    pub lr: Option<String>,
    /// Learning-rate schedule: none, step:STEP_SIZE:GAMMA (PyTorch's StepLR, per epoch) or
    /// cosine[:WARMUP] (linear warm-up epochs, then cosine annealing).
    #[arg(long)]
    pub lr_schedule: Option<String>,
    /// sgd (d2l's) or adam.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Global-norm clipping threshold θ.
    #[arg(long)]
    pub clip: Option<String>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Time steps per minibatch (the truncated-BPTT length; encoder-decoders: the padded
    /// sentence length).
    #[arg(long)]
    pub num_steps: Option<usize>,
    /// sequential (state carried and detached: truncated BPTT) or random (state reset per batch).
    #[arg(long)]
    pub sampling: Option<String>,
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Keep the first N tokens of the corpus (0: all).
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// char or word tokens.
    #[arg(long)]
    pub tokens: Option<String>,
    /// Hold out this fraction of the tokens (the end of the corpus) and report its perplexity.
    #[arg(long)]
    pub valid_fraction: Option<String>,
    /// Encoder-decoders: sentence pairs to read (fra-eng) or generate (toy tasks).
    #[arg(long)]
    pub num_examples: Option<usize>,
    /// Encoder-decoders: scheduled sampling — the probability of feeding the decoder its own
    /// previous prediction instead of the true token, rising linearly from 0 in the first epoch
    /// to this value in the last (default 0: pure teacher forcing, as d2l).
    #[arg(long)]
    pub scheduled_sampling: Option<String>,
    /// Seeds the initial weights, the minibatch order and dropout (default 0).
    #[arg(long)]
    pub seed: Option<u64>,
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
    /// The flags given that describe a run (a run resumed from a file must not get any).
    pub fn given(&self) -> Vec<String> {
        let preset = self.preset.as_ref().map(|_| flag("preset"));
        preset.into_iter().chain(self.overrides().into_iter().map(|(field, _)| flag(field))).collect()
    }

    /// (spec field, value) of every flag given.
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let text = |v: &Option<String>| v.clone();
        let count = |v: Option<usize>| v.map(|v| v.to_string());
        [
            ("model", text(&self.model)),
            ("data", text(&self.data)),
            ("hidden", count(self.hidden)),
            ("layers", count(self.layers)),
            ("dropout", text(&self.dropout)),
            ("embedding", count(self.embedding)),
            ("lr", text(&self.lr)),
            ("lr_schedule", text(&self.lr_schedule)),
            ("optimizer", text(&self.optimizer)),
            ("clip", text(&self.clip)),
            ("batch_size", count(self.batch_size)),
            ("num_steps", count(self.num_steps)),
            ("sampling", text(&self.sampling)),
            ("epochs", count(self.epochs)),
            ("max_tokens", count(self.max_tokens)),
            ("tokens", text(&self.tokens)),
            ("valid_fraction", text(&self.valid_fraction)),
            ("num_examples", count(self.num_examples)),
            ("scheduled_sampling", text(&self.scheduled_sampling)),
            ("seed", self.seed.map(|seed| seed.to_string())),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.map(|v| (field, v)))
        .collect()
    }

    /// The preset with every given flag applied, checked: every bad value is named, with its
    /// flag, in one message.
    pub fn spec(&self) -> Result<RunSpec> {
        let mut spec = RunSpec::preset(self.preset.as_deref().unwrap_or(DEFAULT_PRESET))
            .map_err(|e| anyhow::anyhow!(flag_error(&e)))?;
        for (field, value) in self.overrides() {
            if !spec.applies(field) {
                let (what, instead) = if spec.is_seq2seq() {
                    ("language models", "use --num-examples, --data")
                } else {
                    ("encoder-decoder presets (d2l-seq2seq, toy-reverse)", "see --list-presets")
                };
                bail!("{} applies to {what}, not to --preset {} ({instead})", flag(field), spec.preset);
            }
            spec.set(field, &value).map_err(|e| anyhow::anyhow!(flag_error(&e)))?;
        }
        let problems = spec.validate();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(flag_error).collect::<Vec<_>>().join("\n"));
        }
        Ok(spec)
    }
}
