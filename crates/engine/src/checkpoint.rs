//! Checkpoints: safetensors files with PyTorch `state_dict` names and shapes (f32, little
//! endian), and in the metadata what is needed to use the model with no other input — the
//! model config, the vocabulary and the tokenizer — plus free-form entries (preset, epochs, …).
//!
//! A concise model's file loads into PyTorch with `model.load_state_dict(load_file(path))`.

use crate::backend::Backend;
use crate::error::{EngineError, Result};
use crate::nn::{LanguageModel, ModelConfig};
use rnnplay_data::{TokenKind, Vocab};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The metadata key naming this format; its value is the version.
const FORMAT_KEY: &str = "rnnplay";
const FORMAT_VERSION: &str = "1";

/// Everything a checkpoint holds, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub config: ModelConfig,
    pub vocab: Vocab,
    pub token_kind: TokenKind,
    /// (name, shape, values), sorted by name (the order safetensors stores them in).
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// Free-form metadata (preset, epochs, perplexity, …).
    pub extra: BTreeMap<String, String>,
}

fn invalid(what: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArgument(format!("not a usable rnnplay checkpoint: {what}"))
}

impl Checkpoint {
    /// Reads a model's parameters back from the device.
    pub async fn capture(model: &LanguageModel, vocab: &Vocab, token_kind: TokenKind) -> Result<Self> {
        let mut tensors = Vec::with_capacity(model.params().len());
        for param in model.params() {
            tensors.push((param.name().to_string(), param.value().shape().to_vec(), param.value().to_vec().await?));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        // A checkpoint keeps the tokens in order, not the corpus's token counts.
        let vocab = Vocab::from_tokens(vocab.tokens().to_vec());
        Ok(Self { config: model.config().clone(), vocab, token_kind, tensors, extra: BTreeMap::new() })
    }

    /// The safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<Vec<u8>> =
            self.tensors.iter().map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
        let views = self
            .tensors
            .iter()
            .zip(&bytes)
            .map(|((name, shape, _), data)| {
                TensorView::new(Dtype::F32, shape.clone(), data).map(|view| (name.clone(), view)).map_err(invalid)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut metadata: HashMap<String, String> = self.extra.clone().into_iter().collect();
        metadata.insert(FORMAT_KEY.into(), FORMAT_VERSION.into());
        metadata.insert("config".into(), serde_json::to_string(&self.config).map_err(invalid)?);
        metadata.insert("vocab".into(), serde_json::to_string(self.vocab.tokens()).map_err(invalid)?);
        metadata.insert("tokens".into(), self.token_kind.name().into());
        safetensors::serialize(views, Some(metadata)).map_err(invalid)
    }

    /// Parses safetensors bytes written by [`Checkpoint::to_bytes`]; a truncated file, another
    /// format, or tensors whose names or shapes do not fit the config are errors that say so.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| invalid(format!("{e} (truncated or not safetensors?)")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            metadata.get(key).ok_or_else(|| {
                invalid(format!("the metadata has no '{key}' entry (a safetensors file not written by rnnplay?)"))
            })
        };
        if get(FORMAT_KEY)? != FORMAT_VERSION {
            return Err(invalid(format!("format version {} (this rnnplay reads {FORMAT_VERSION})", get(FORMAT_KEY)?)));
        }
        let config: ModelConfig = serde_json::from_str(get("config")?).map_err(|e| invalid(format!("config: {e}")))?;
        config.validate()?;
        let tokens: Vec<String> = serde_json::from_str(get("vocab")?).map_err(|e| invalid(format!("vocab: {e}")))?;
        if tokens.len() != config.vocab_size {
            return Err(invalid(format!(
                "{} vocabulary tokens for a model of vocab size {}",
                tokens.len(),
                config.vocab_size
            )));
        }
        let token_kind = TokenKind::parse(get("tokens")?).map_err(invalid)?;
        let file = SafeTensors::deserialize(bytes).map_err(|e| invalid(format!("{e} (truncated file?)")))?;
        let mut tensors = Vec::new();
        for (name, view) in file.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(invalid(format!("tensor '{name}' is {:?}; rnnplay checkpoints hold f32", view.dtype())));
            }
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            tensors.push((name, view.shape().to_vec(), values));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let extra = metadata
            .into_iter()
            .filter(|(k, _)| ![FORMAT_KEY, "config", "vocab", "tokens"].contains(&k.as_str()))
            .collect();
        Ok(Self { config, vocab: Vocab::from_tokens(tokens), token_kind, tensors, extra })
    }

    /// Builds the model on `backend` with the checkpoint's weights. Every parameter the config
    /// calls for must be present with its exact shape.
    pub fn into_model(&self, backend: &Rc<dyn Backend>) -> Result<LanguageModel> {
        let model = LanguageModel::new(backend, &self.config, 0)?;
        let by_name: HashMap<&str, (&Vec<usize>, &Vec<f32>)> =
            self.tensors.iter().map(|(n, s, v)| (n.as_str(), (s, v))).collect();
        for param in model.params() {
            let (shape, values) = by_name.get(param.name()).ok_or_else(|| {
                invalid(format!("tensor '{}' of the {} model is missing", param.name(), self.config.model_name()))
            })?;
            if shape.as_slice() != param.value().shape() {
                return Err(invalid(format!(
                    "tensor '{}' has shape {shape:?}; the model needs {:?}",
                    param.name(),
                    param.value().shape()
                )));
            }
            param.value().write_f32(values)?;
        }
        if by_name.len() != model.params().len() {
            let known: Vec<&str> = model.params().iter().map(|p| p.name()).collect();
            let unknown: Vec<&&str> = by_name.keys().filter(|n| !known.contains(n)).collect();
            return Err(invalid(format!("unexpected tensors {unknown:?} for a {} model", self.config.model_name())));
        }
        Ok(model)
    }
}
