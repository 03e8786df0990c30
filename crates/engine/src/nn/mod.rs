//! Language models. `scratch` holds d2l's from-scratch recurrent models written with primitive
//! ops (the teaching path); `recurrent` the concise layers with PyTorch's layout, stackable and
//! with dropout and embeddings. [`LanguageModel`] is either, built from a [`ModelConfig`].

pub mod config;
pub mod recurrent;
pub mod scratch;
pub mod seq2seq;

pub use crate::backend::AttentionScoring;
pub use config::{parse_model_name, CellKind, ModelConfig};
pub use recurrent::RecurrentModel;
pub use scratch::ScratchModel;
pub use seq2seq::{Decoded, Memory, Seq2Seq, Seq2SeqConfig};

use crate::backend::Backend;
use crate::error::{EngineError, Result};
use crate::param::Param;
use crate::tape::{Tape, Var};
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

/// A recurrent language model: token ids in, next-token logits out.
pub enum LanguageModel {
    Scratch(ScratchModel),
    Concise(RecurrentModel),
}

impl LanguageModel {
    /// A model of `config` with fresh parameters drawn from `seed`.
    pub fn new(backend: &Rc<dyn Backend>, config: &ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        if config.scratch {
            Ok(Self::Scratch(ScratchModel::new(backend, config.cell, config.vocab_size, config.hidden_size, seed)?))
        } else {
            Ok(Self::Concise(RecurrentModel::new(backend, config, seed)?))
        }
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            Self::Scratch(m) => m.config(),
            Self::Concise(m) => m.config(),
        }
    }

    /// Runs the layers fused or composed from primitive ops (see
    /// [`RecurrentModel::set_fused_layers`], [`ScratchModel::set_fused_layers`]).
    pub fn set_fused_layers(&self, fused: bool) {
        match self {
            Self::Scratch(m) => m.set_fused_layers(fused),
            Self::Concise(m) => m.set_fused_layers(fused),
        }
    }

    /// Whether the model runs fused layers.
    pub fn fused_layers(&self) -> bool {
        match self {
            Self::Scratch(m) => m.fused_layers(),
            Self::Concise(m) => m.fused_layers(),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.config().vocab_size
    }

    /// The parameters in a fixed order (PyTorch's `state_dict` order for concise models).
    pub fn params(&self) -> &[Param] {
        match self {
            Self::Scratch(m) => m.params(),
            Self::Concise(m) => m.params(),
        }
    }

    /// The backend the parameters live on.
    pub fn backend(&self) -> &Rc<dyn Backend> {
        self.params()[0].value().backend()
    }

    /// Zero recurrent state for `batch` sequences.
    pub fn begin_state(&self, backend: &Rc<dyn Backend>, batch: usize) -> Result<Vec<Tensor>> {
        match self {
            Self::Scratch(m) => m.begin_state(backend, batch),
            Self::Concise(m) => m.begin_state(backend, batch),
        }
    }

    /// Logits (steps·batch, vocab), time-major, for u32 `inputs` of shape (steps, batch), and
    /// the state after the last step.
    pub fn forward(&self, tape: &mut Tape, inputs: &Tensor, state: &[Tensor]) -> Result<(Var, Vec<Var>)> {
        match self {
            Self::Scratch(m) => m.forward(tape, inputs, state),
            Self::Concise(m) => m.forward(tape, inputs, state),
        }
    }
}

/// (steps, batch) of a u32 input tensor.
pub(crate) fn input_dims(inputs: &Tensor) -> Result<(usize, usize)> {
    match (inputs.dtype(), inputs.shape()) {
        (DType::U32, &[steps, batch]) => Ok((steps, batch)),
        (dtype, shape) => Err(EngineError::ShapeMismatch {
            op: "model forward",
            detail: format!("inputs must be u32 token ids of shape (steps, batch), got {dtype:?} {shape:?}"),
        }),
    }
}

/// Checks that `state` has the cell's number of tensors, each of `shape`.
pub(crate) fn check_state(config: &ModelConfig, state: &[Tensor], shape: &[usize]) -> Result<()> {
    let count = config.cell.state_count();
    if state.len() != count || state.iter().any(|s| s.shape() != shape) {
        let got: Vec<&[usize]> = state.iter().map(Tensor::shape).collect();
        return Err(EngineError::ShapeMismatch {
            op: "model forward",
            detail: format!("{} needs {count} state tensor(s) of shape {shape:?}, got {got:?}", config.model_name()),
        });
    }
    Ok(())
}
