//! The d2l presets of `rnnplay train` and the flags that override them.

use anyhow::{bail, Result};
use clap::Args;
use rnnplay_data::{Sampling, TokenKind};
use rnnplay_engine::nn::{CellKind, ModelConfig};

/// One preset per d2l section; every one uses d2l's classic settings: The Time Machine's first
/// 10 000 char tokens, batch 32, 35 steps, sequential partitioning, SGD, θ = 1, 500 epochs.
const PRESETS: &[(&str, &str, usize, usize, f32, &str)] = &[
    // name, model, hidden, layers, lr, d2l section
    ("d2l-rnn-scratch", "rnn-scratch", 512, 1, 1.0, "9.5 RNN from scratch"),
    ("d2l-rnn", "rnn", 256, 1, 1.0, "9.6 concise RNN"),
    ("d2l-gru-scratch", "gru-scratch", 256, 1, 1.0, "10.1 GRU from scratch"),
    ("d2l-gru", "gru", 256, 1, 1.0, "10.1 concise GRU"),
    ("d2l-lstm-scratch", "lstm-scratch", 256, 1, 1.0, "10.2 LSTM from scratch"),
    ("d2l-lstm", "lstm", 256, 1, 1.0, "10.2 concise LSTM"),
    ("d2l-deep-lstm", "lstm", 256, 2, 2.0, "10.3 deep RNN (2-layer LSTM, as d2l's classic edition)"),
    ("d2l-deep-gru", "gru", 256, 2, 2.0, "10.3 deep RNN (2-layer GRU, as d2l's current edition)"),
];

/// The names of all presets, for messages.
pub fn preset_names() -> String {
    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
}

/// `rnnplay train --list-presets` text.
pub fn describe_presets() -> String {
    PRESETS
        .iter()
        .map(|(name, model, hidden, layers, lr, section)| {
            format!("{name:<18} {model:<13} hidden {hidden:<4} layers {layers}  lr {lr}  d2l {section}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every setting of a run: a preset, then any flag overrides it.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// One of d2l-rnn-scratch, d2l-rnn, d2l-gru-scratch, d2l-gru, d2l-lstm-scratch, d2l-lstm,
    /// d2l-deep-lstm, d2l-deep-gru (see --list-presets).
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

/// (cell, scratch) of a model name.
pub fn parse_model(name: &str) -> Result<(CellKind, bool)> {
    let (cell, scratch) = match name.strip_suffix("-scratch") {
        Some(cell) => (cell, true),
        None => (name, false),
    };
    let cell = match cell {
        "rnn" => CellKind::Rnn,
        "gru" => CellKind::Gru,
        "lstm" => CellKind::Lstm,
        _ => bail!("unknown model '{name}'; use rnn, gru, lstm, rnn-scratch, gru-scratch or lstm-scratch"),
    };
    Ok((cell, scratch))
}

impl RunArgs {
    /// The preset with every given flag applied, checked.
    pub fn resolve(&self) -> Result<RunConfig> {
        let Some(&(name, model, hidden, layers, lr, _)) = PRESETS.iter().find(|p| p.0 == self.preset) else {
            bail!("unknown preset '{}'; available: {}", self.preset, preset_names());
        };
        let (cell, scratch) = parse_model(self.model.as_deref().unwrap_or(model))?;
        // The vocabulary size is known once the corpus is read; 1 stands in until then.
        let mut model = ModelConfig::new(cell, scratch, 1, self.hidden.unwrap_or(hidden));
        model.num_layers = self.layers.unwrap_or(if scratch { 1 } else { layers });
        model.dropout = self.dropout.unwrap_or(0.0);
        model.embedding_dim = self.embedding;
        let config = RunConfig {
            preset: name.to_string(),
            model,
            lr: self.lr.unwrap_or(lr),
            optimizer: self.optimizer.clone().unwrap_or_else(|| "sgd".into()),
            clip: self.clip.unwrap_or(1.0),
            batch_size: self.batch_size.unwrap_or(32),
            num_steps: self.num_steps.unwrap_or(35),
            sampling: match &self.sampling {
                Some(s) => Sampling::parse(s)?,
                None => Sampling::Sequential,
            },
            epochs: self.epochs.unwrap_or(500),
            max_tokens: match self.max_tokens {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(10_000),
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
