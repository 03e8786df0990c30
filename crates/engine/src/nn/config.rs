//! What a language model is, in one serialisable value: enough to rebuild it from a checkpoint.

use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};

pub use crate::backend::CellKind;

/// (cell, scratch) of a model name: `rnn`, `gru`, `lstm` (PyTorch-layout layers) or
/// `rnn-scratch`, `gru-scratch`, `lstm-scratch` (d2l's from-scratch models).
pub fn parse_model_name(name: &str) -> Result<(CellKind, bool)> {
    let (cell, scratch) = match name.strip_suffix("-scratch") {
        Some(cell) => (cell, true),
        None => (name, false),
    };
    let cell = match cell {
        "rnn" => CellKind::Rnn,
        "gru" => CellKind::Gru,
        "lstm" => CellKind::Lstm,
        _ => {
            return Err(EngineError::InvalidArgument(format!(
                "unknown model '{name}'; use rnn, gru, lstm, rnn-scratch, gru-scratch or lstm-scratch"
            )))
        }
    };
    Ok((cell, scratch))
}

/// A language model's architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub cell: CellKind,
    /// d2l's from-scratch model (one layer, one-hot input, d2l's parameter names) instead of the
    /// PyTorch-layout layers.
    pub scratch: bool,
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// Stacked recurrent layers (PyTorch's `num_layers`).
    pub num_layers: usize,
    /// Dropout on the outputs of every layer but the last, in training mode (PyTorch's `dropout`).
    pub dropout: f32,
    /// Embedding width; `None` feeds one-hot vectors, as d2l does.
    pub embedding_dim: Option<usize>,
    /// Bidirectional layers (d2l 10.4, PyTorch's `bidirectional=True`): each layer also reads
    /// the window backwards, and the head sees both directions. Such a model sees the token it
    /// is asked to predict, so it is no language model; the `bidirectional` lesson shows it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bidirectional: bool,
}

impl ModelConfig {
    /// A one-layer model with one-hot input and no dropout: d2l's chapters 9–10 setting.
    pub fn new(cell: CellKind, scratch: bool, vocab_size: usize, hidden_size: usize) -> Self {
        Self {
            cell,
            scratch,
            vocab_size,
            hidden_size,
            num_layers: 1,
            dropout: 0.0,
            embedding_dim: None,
            bidirectional: false,
        }
    }

    /// 2 for bidirectional layers, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// The width of a layer's output and of its state: the hidden size times the directions.
    pub fn output_width(&self) -> usize {
        self.directions() * self.hidden_size
    }

    /// The model's name: `gru`, `gru-scratch`, ….
    pub fn model_name(&self) -> String {
        format!("{}{}", self.cell.name(), if self.scratch { "-scratch" } else { "" })
    }

    /// The number of parameter values a model of this config holds (what its checkpoint's
    /// tensors must add up to); `None` past `usize`. The same shapes as the models' constructors
    /// (a test builds every preset and compares).
    pub fn param_count(&self) -> Option<usize> {
        let (v, h, g) = (self.vocab_size, self.hidden_size, self.cell.gates());
        let mul = |a: usize, b: usize| a.checked_mul(b);
        if self.scratch {
            // Per gate W_x (V, H), W_h (H, H), b (H); then W_hq (H, V) and b_q (V).
            let per_gate = mul(v, h)?.checked_add(mul(h, h)?)?.checked_add(h)?;
            return mul(g, per_gate)?.checked_add(mul(h, v)?)?.checked_add(v);
        }
        let mut total = match self.embedding_dim {
            Some(e) => mul(v, e)?,
            None => 0,
        };
        let width = mul(self.directions(), h)?;
        for layer in 0..self.num_layers {
            let input = match (layer, self.embedding_dim) {
                (0, Some(e)) => e,
                (0, None) => v,
                _ => width,
            };
            total = total.checked_add(mul(self.directions(), layer_param_count(g, input, h)?)?)?;
        }
        total.checked_add(mul(v, width)?)?.checked_add(v)
    }

    /// Rejects sizes of zero or past the bounds below, a dropout outside [0, 1), and options a
    /// scratch model lacks.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(EngineError::InvalidArgument(message));
        check_sizes(&[
            ("vocabulary size", self.vocab_size, MAX_VOCAB),
            ("hidden size", self.hidden_size, MAX_WIDTH),
            ("number of layers", self.num_layers, MAX_LAYERS),
            ("embedding width", self.embedding_dim.unwrap_or(1), MAX_WIDTH),
        ])?;
        if self.vocab_size == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return invalid(format!(
                "vocab size ({}), hidden size ({}) and number of layers ({}) must be at least 1",
                self.vocab_size, self.hidden_size, self.num_layers
            ));
        }
        if self.embedding_dim == Some(0) {
            return invalid("the embedding width must be at least 1 (or unset for one-hot input)".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return invalid(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if self.scratch
            && (self.num_layers != 1 || self.dropout != 0.0 || self.embedding_dim.is_some() || self.bidirectional)
        {
            return invalid(format!(
                "{} is d2l's one-layer scratch model with one-hot input; for layers, dropout, an embedding or \
                 bidirectional layers use the concise model '{}'",
                self.model_name(),
                self.cell.name()
            ));
        }
        Ok(())
    }
}

/// The largest vocabulary, layer width and stack a model may have: far past any d2l model, and
/// what a file's config is checked against before anything is allocated.
pub const MAX_VOCAB: usize = 1 << 20;
pub const MAX_WIDTH: usize = 16_384;
pub const MAX_LAYERS: usize = 64;
/// The longest sentence (in tokens, `<eos>` included) an encoder–decoder trains on: the bound
/// of a run's `num_steps` and of the `num_steps` its checkpoint carries alike.
pub const MAX_SENTENCE_STEPS: usize = 10_000;

/// Each (what, value, most) with value above most is an error naming it.
pub(crate) fn check_sizes(sizes: &[(&str, usize, usize)]) -> Result<()> {
    match sizes.iter().find(|(_, value, most)| value > most) {
        Some((what, value, most)) => Err(EngineError::InvalidArgument(format!(
            "a {what} of {value} is more than rnnplay builds (at most {most})"
        ))),
        None => Ok(()),
    }
}

/// Parameters of one recurrent layer of `gates` gates: weight_ih (G·H, input), weight_hh
/// (G·H, H) and two biases (G·H).
pub(crate) fn layer_param_count(gates: usize, input: usize, hidden: usize) -> Option<usize> {
    let rows = gates.checked_mul(hidden)?;
    rows.checked_mul(input)?.checked_add(rows.checked_mul(hidden)?)?.checked_add(rows.checked_mul(2)?)
}
