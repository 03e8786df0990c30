//! The d2l presets of `rnnplay train` and the flags that override them.

use anyhow::{bail, Result};
use clap::Args;
use rnnplay_data::{Sampling, TokenKind};
use rnnplay_engine::nn::{parse_model_name, ModelConfig};
use rnnplay_engine::presets::{preset, preset_names, PRESETS, SEQ2SEQ_PRESETS};

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
    /// (see --list-presets).
    #[arg(long, default_value = "d2l-gru")]
    pub preset: String,
    /// rnn, gru, lstm (PyTorch-layout layers) or rnn-scratch, gru-scratch, lstm-scratch (d2l's).
    #[arg(long)]
    pub model: Option<String>,
    /// Hidden units per layer.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Stacked recurrent layers (concise models).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Dropout between stacked layers, in [0, 1).
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Embedding width instead of one-hot input (concise models).
    #[arg(long)]
    pub embedding: Option<usize>,
    #[arg(long)]
    pub lr: Option<f32>,
    /// sgd (d2l's) or adam.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Global-norm clipping threshold θ.
    #[arg(long)]
    pub clip: Option<f32>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Time steps per minibatch (the truncated-BPTT length).
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
    pub valid_fraction: Option<f32>,
    /// Seeds the initial weights, the minibatch order and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A fully resolved configuration.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub preset: String,
    pub model: ModelConfig,
    pub lr: f32,
    pub optimizer: String,
    pub clip: f32,
    pub batch_size: usize,
    pub num_steps: usize,
    pub sampling: Sampling,
    pub epochs: usize,
    pub max_tokens: Option<usize>,
    pub tokens: TokenKind,
    pub valid_fraction: f32,
    pub seed: u64,
}

impl RunArgs {
    /// The preset with every given flag applied, checked.
    pub fn resolve(&self) -> Result<RunConfig> {
        let Some(preset) = preset(&self.preset) else {
            bail!("unknown preset '{}'; available: {}", self.preset, preset_names());
        };
        let (cell, scratch) = parse_model_name(self.model.as_deref().unwrap_or(preset.model))?;
        // The vocabulary size is known once the corpus is read; 1 stands in until then.
        let mut model = ModelConfig::new(cell, scratch, 1, self.hidden.unwrap_or(preset.hidden));
        model.num_layers = self.layers.unwrap_or(if scratch { 1 } else { preset.layers });
        model.dropout = self.dropout.unwrap_or(0.0);
        model.embedding_dim = self.embedding;
        let config = RunConfig {
            preset: preset.name.to_string(),
            model,
            lr: self.lr.unwrap_or(preset.lr),
            optimizer: self.optimizer.clone().unwrap_or_else(|| preset.optimizer.into()),
            clip: self.clip.unwrap_or(preset.clip),
            batch_size: self.batch_size.unwrap_or(preset.batch_size),
            num_steps: self.num_steps.unwrap_or(preset.num_steps),
            sampling: match &self.sampling {
                Some(s) => Sampling::parse(s)?,
                None => Sampling::Sequential,
            },
            epochs: self.epochs.unwrap_or(preset.epochs),
            max_tokens: match self.max_tokens.unwrap_or(preset.max_tokens) {
                0 => None,
                n => Some(n),
            },
            tokens: match &self.tokens {
                Some(t) => TokenKind::parse(t)?,
                None => TokenKind::Char,
            },
            valid_fraction: self.valid_fraction.unwrap_or(0.0),
            seed: self.seed,
        };
        config.check()?;
        Ok(config)
    }
}

impl RunConfig {
    fn check(&self) -> Result<()> {
        for (flag, value) in [
            ("--hidden", self.model.hidden_size),
            ("--layers", self.model.num_layers),
            ("--batch-size", self.batch_size),
            ("--num-steps", self.num_steps),
            ("--epochs", self.epochs),
        ] {
            if value == 0 {
                bail!("{flag} must be at least 1");
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("--lr {} must be a positive finite number (d2l uses 1 with SGD; try 0.005 with Adam)", self.lr);
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            bail!("--clip {} must be a positive finite number (d2l uses θ = 1)", self.clip);
        }
        if !(0.0..0.9).contains(&self.valid_fraction) {
            bail!("--valid-fraction {} must be in [0, 0.9)", self.valid_fraction);
        }
        if !["sgd", "adam"].contains(&self.optimizer.as_str()) {
            bail!("unknown --optimizer '{}'; use sgd or adam", self.optimizer);
        }
        if !(0.0..1.0).contains(&self.model.dropout) {
            bail!("--dropout {} must be in [0, 1)", self.model.dropout);
        }
        if self.model.scratch
            && (self.model.num_layers != 1 || self.model.dropout != 0.0 || self.model.embedding_dim.is_some())
        {
            bail!(
                "{} is d2l's one-layer scratch model with one-hot input; drop --layers/--dropout/--embedding or use --model {}",
                self.model.model_name(),
                self.model.cell.name()
            );
        }
        Ok(())
    }

    /// One line describing the run.
    pub fn describe(&self) -> String {
        let m = &self.model;
        let input = m.embedding_dim.map_or("one-hot".to_string(), |d| format!("embedding {d}"));
        format!(
            "{}: {} ({} layer(s), hidden {}, {input}, dropout {}), batch {} × {} steps, {:?} sampling, {} lr {}, θ {}, {} epochs",
            self.preset,
            m.model_name(),
            m.num_layers,
            m.hidden_size,
            m.dropout,
            self.batch_size,
            self.num_steps,
            self.sampling,
            self.optimizer,
            self.lr,
            self.clip,
            self.epochs
        )
    }
}
