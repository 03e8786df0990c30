//! Checkpoints: safetensors files with PyTorch `state_dict` names and shapes (f32, little
//! endian), and in the metadata what is needed to use the model with no other input — the
//! model config and the vocabularies (and the tokenizer of a language model) — plus free-form
//! entries (preset, epochs, …).
//!
//! Two kinds share the format, told apart by the metadata entry `kind`: a language model
//! ([`Checkpoint`]; files without `kind` are language models, as the first version wrote them)
//! and an encoder–decoder ([`Seq2SeqCheckpoint`]). A concise model's file loads into PyTorch
//! with `model.load_state_dict(load_file(path))`.

use crate::backend::Backend;
use crate::error::{EngineError, Result};
use crate::nn::config::MAX_SENTENCE_STEPS;
use crate::nn::{LanguageModel, ModelConfig, Seq2Seq, Seq2SeqConfig};
use crate::param::Param;
use rnnplay_data::translation::RESERVED;
use rnnplay_data::{TokenKind, Vocab};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The metadata key naming this format; its value is the version.
const FORMAT_KEY: &str = "rnnplay";
const FORMAT_VERSION: &str = "1";
const LANGUAGE_MODEL: &str = "language-model";
const SEQ2SEQ: &str = "seq2seq";

/// The most epochs a run may have: what `RunSpec::validate` allows, and what a checkpoint, a
/// saved run, a kept run or a metrics file may claim.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Weights larger than this make every prediction saturate (one token at probability 1).
const SATURATING_WEIGHT: f32 = 1_000.0;

/// (name, shape, values), sorted by name (the order safetensors stores them in).
pub type NamedTensors = Vec<(String, Vec<usize>, Vec<f32>)>;

fn invalid(what: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArgument(format!("not a usable rnnplay checkpoint: {what}"))
}

/// Reads parameters back from the device, sorted by name.
async fn capture_params(params: &[Param]) -> Result<NamedTensors> {
    let mut tensors = Vec::with_capacity(params.len());
    for param in params {
        tensors.push((param.name().to_string(), param.value().shape().to_vec(), param.value().to_vec().await?));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(tensors)
}

/// The safetensors bytes of `tensors` with `metadata` (the format entry added).
fn serialize(tensors: &NamedTensors, mut metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|view| (name.clone(), view)).map_err(invalid)
        })
        .collect::<Result<Vec<_>>>()?;
    metadata.insert(FORMAT_KEY.into(), FORMAT_VERSION.into());
    safetensors::serialize(views, Some(metadata)).map_err(invalid)
}

/// A parsed file: its metadata and its f32 tensors sorted by name.
struct Parsed {
    metadata: HashMap<String, String>,
    tensors: NamedTensors,
}

/// The keys of a safetensors header (a JSON object) and of its `__metadata__` object, in order,
/// duplicates kept: the parser keeps only the last of two equal keys, so they are looked for
/// here.
#[derive(Default)]
struct HeaderKeys {
    tensors: Vec<String>,
    metadata: Vec<String>,
}

impl<'de> serde::Deserialize<'de> for HeaderKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Names(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Names {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                struct Visit;
                impl<'de> serde::de::Visitor<'de> for Visit {
                    type Value = Names;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> std::result::Result<Names, A::Error> {
                        let mut keys = Vec::new();
                        while let Some(key) = map.next_key::<String>()? {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            keys.push(key);
                        }
                        Ok(Names(keys))
                    }
                }
                deserializer.deserialize_map(Visit)
            }
        }
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = HeaderKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a safetensors header")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<HeaderKeys, A::Error> {
                let mut keys = HeaderKeys::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "__metadata__" {
                        keys.metadata.extend(map.next_value::<Names>()?.0);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        keys.tensors.push(key);
                    }
                }
                Ok(keys)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// The first name that occurs twice in `names`.
fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|name| !seen.insert(name.as_str())).map(String::as_str)
}

/// Refuses a header that names a tensor or a metadata entry twice.
fn check_unique_keys(bytes: &[u8]) -> Result<()> {
    let length = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
    let Some(header) = length.and_then(|n| bytes.get(8..8usize.checked_add(n)?)) else { return Ok(()) };
    let keys: HeaderKeys = serde_json::from_slice(header).map_err(|e| invalid(format!("its header: {e}")))?;
    if let Some(name) = first_duplicate(&keys.tensors) {
        return Err(invalid(format!("it names tensor '{name}' twice")));
    }
    if let Some(key) = first_duplicate(&keys.metadata) {
        return Err(invalid(format!("its metadata has two '{key}' entries")));
    }
    Ok(())
}

/// What a model's weights say about its predictions before it runs: all zero (every prediction
/// uniform), or so large that every prediction saturates.
fn weight_warnings(tensors: &NamedTensors) -> Vec<String> {
    let largest = tensors
        .iter()
        .flat_map(|(name, _, values)| values.iter().map(move |v| (v.abs(), name)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match largest {
        Some((0.0, _)) => vec!["every weight is zero: every prediction is uniform (this model has not been trained)".into()],
        Some((size, name)) if size > SATURATING_WEIGHT => vec![format!(
            "it holds weights as large as {size:.3e} (in '{name}'): its predictions saturate (one token at probability 1, \
             the rest 0), which no trained model does; was the file edited, or did its run blow up?"
        )],
        _ => Vec::new(),
    }
}

impl Parsed {
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| invalid(format!("{e} (truncated or not safetensors?)")))?;
        check_unique_keys(bytes)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let parsed = Self { metadata, tensors: Vec::new() };
        if parsed.get(FORMAT_KEY)? != FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {} (this rnnplay reads {FORMAT_VERSION})",
                parsed.get(FORMAT_KEY)?
            )));
        }
        let file = SafeTensors::deserialize(bytes).map_err(|e| invalid(format!("{e} (truncated file?)")))?;
        let mut tensors = Vec::new();
        for (name, view) in file.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(invalid(format!("tensor '{name}' is {:?}; rnnplay checkpoints hold f32", view.dtype())));
            }
            let values: Vec<f32> =
                view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if let Some(at) = values.iter().position(|v| !v.is_finite()) {
                return Err(invalid(format!(
                    "tensor '{name}' holds {} at index {at}: the weights are broken (a run that diverges saves its last good weights instead)",
                    values[at]
                )));
            }
            tensors.push((name, view.shape().to_vec(), values));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { tensors, ..parsed })
    }

    fn get(&self, key: &str) -> Result<&String> {
        self.metadata.get(key).ok_or_else(|| {
            invalid(format!("the metadata has no '{key}' entry (a safetensors file not written by rnnplay?)"))
        })
    }

    fn kind(&self) -> &str {
        self.metadata.get("kind").map_or(LANGUAGE_MODEL, String::as_str)
    }

    fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.get(key)?).map_err(|e| invalid(format!("{key}: {e}")))
    }

    /// A vocabulary: `size` distinct tokens, `<unk>` first, and every one of `reserved`.
    fn vocab(&self, key: &str, size: usize, reserved: &[&str]) -> Result<Vocab> {
        let tokens: Vec<String> = self.json(key)?;
        if tokens.len() != size {
            return Err(invalid(format!("{} {key} tokens for a model whose vocabulary size is {size}", tokens.len())));
        }
        if let Some(token) = first_duplicate(&tokens) {
            return Err(invalid(format!("its {key} holds the token {token:?} twice")));
        }
        if tokens.first().map(String::as_str) != Some("<unk>") {
            return Err(invalid(format!("its {key} does not start with <unk>")));
        }
        if let Some(missing) = reserved.iter().find(|&&token| !tokens.iter().any(|t| t == token)) {
            return Err(invalid(format!(
                "its {key} lacks {missing}, which an encoder-decoder needs to start, end and pad sentences"
            )));
        }
        Ok(Vocab::from_tokens(tokens))
    }

    /// The free-form `epochs` entry, when there is one, must be a count of epochs.
    fn check_epochs(&self) -> Result<()> {
        match self.metadata.get("epochs") {
            Some(text) if !text.trim().parse::<usize>().is_ok_and(|n| n <= MAX_EPOCHS) => {
                Err(invalid(format!("its metadata says it trained {text:?} epochs (a count from 0 to {MAX_EPOCHS})")))
            }
            _ => Ok(()),
        }
    }

    /// The metadata entries that are not the format's own.
    fn extra(self, own: &[&str]) -> (BTreeMap<String, String>, NamedTensors) {
        let extra = self
            .metadata
            .into_iter()
            .filter(|(k, _)| k != FORMAT_KEY && k != "kind" && !own.contains(&k.as_str()))
            .collect();
        (extra, self.tensors)
    }
}

/// Checks, before a model is built (and its parameters allocated), that the file's tensors hold
/// exactly as many values as a model of its config has: a config edited to a huge size is
/// refused here, whatever it would allocate.
fn check_param_count(tensors: &NamedTensors, expected: Option<usize>, model_name: &str) -> Result<()> {
    let held: usize = tensors.iter().map(|(_, _, values)| values.len()).sum();
    match expected {
        Some(expected) if expected == held => Ok(()),
        Some(expected) => Err(invalid(format!(
            "its tensors hold {held} values, and a {model_name} model of its config has {expected}: the config and the weights disagree"
        ))),
        None => Err(invalid(format!("its config describes a {model_name} model too large to count"))),
    }
}

/// Writes every tensor into the parameter of its name; each must be present with its exact
/// shape, and nothing else may be there.
pub fn load_params(params: &[Param], tensors: &NamedTensors, model_name: &str) -> Result<()> {
    let by_name: HashMap<&str, (&Vec<usize>, &Vec<f32>)> =
        tensors.iter().map(|(n, s, v)| (n.as_str(), (s, v))).collect();
    for param in params {
        let (shape, values) = by_name
            .get(param.name())
            .ok_or_else(|| invalid(format!("tensor '{}' of the {model_name} model is missing", param.name())))?;
        if shape.as_slice() != param.value().shape() {
            return Err(invalid(format!(
                "tensor '{}' has shape {shape:?}; the model needs {:?}",
                param.name(),
                param.value().shape()
            )));
        }
        param.value().write_f32(values)?;
    }
    if by_name.len() != params.len() {
        let known: Vec<&str> = params.iter().map(|p| p.name()).collect();
        let unknown: Vec<&&str> = by_name.keys().filter(|n| !known.contains(n)).collect();
        return Err(invalid(format!("unexpected tensors {unknown:?} for a {model_name} model")));
    }
    Ok(())
}

/// A language model's checkpoint, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub config: ModelConfig,
    pub vocab: Vocab,
    pub token_kind: TokenKind,
    /// (name, shape, values), sorted by name (the order safetensors stores them in).
    pub tensors: NamedTensors,
    /// Free-form metadata (preset, epochs, perplexity, …).
    pub extra: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Reads a model's parameters back from the device.
    pub async fn capture(model: &LanguageModel, vocab: &Vocab, token_kind: TokenKind) -> Result<Self> {
        let tensors = capture_params(model.params()).await?;
        // A checkpoint keeps the tokens in order, not the corpus's token counts.
        let vocab = Vocab::from_tokens(vocab.tokens().to_vec());
        Ok(Self { config: model.config().clone(), vocab, token_kind, tensors, extra: BTreeMap::new() })
    }

    /// The safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut metadata: HashMap<String, String> = self.extra.clone().into_iter().collect();
        metadata.insert("kind".into(), LANGUAGE_MODEL.into());
        metadata.insert("config".into(), serde_json::to_string(&self.config).map_err(invalid)?);
        metadata.insert("vocab".into(), serde_json::to_string(self.vocab.tokens()).map_err(invalid)?);
        metadata.insert("tokens".into(), self.token_kind.name().into());
        serialize(&self.tensors, metadata)
    }

    /// Parses safetensors bytes written by [`Checkpoint::to_bytes`]; a truncated file, another
    /// format or an encoder–decoder's checkpoint are errors that say so.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let parsed = Parsed::from_bytes(bytes)?;
        if parsed.kind() != LANGUAGE_MODEL {
            return Err(invalid(format!("it holds a {} model, not a language model", parsed.kind())));
        }
        let config: ModelConfig = parsed.json("config")?;
        config.validate()?;
        parsed.check_epochs()?;
        let vocab = parsed.vocab("vocab", config.vocab_size, &[])?;
        let token_kind = TokenKind::parse(parsed.get("tokens")?).map_err(invalid)?;
        let (extra, tensors) = parsed.extra(&["config", "vocab", "tokens"]);
        Ok(Self { config, vocab, token_kind, tensors, extra })
    }

    /// What its weights say about its predictions, for the host to show before using it.
    pub fn warnings(&self) -> Vec<String> {
        weight_warnings(&self.tensors)
    }

    /// Builds the model on `backend` with the checkpoint's weights. Every parameter the config
    /// calls for must be present with its exact shape.
    pub fn into_model(&self, backend: &Rc<dyn Backend>) -> Result<LanguageModel> {
        check_param_count(&self.tensors, self.config.param_count(), &self.config.model_name())?;
        let model = LanguageModel::new(backend, &self.config, 0)?;
        load_params(model.params(), &self.tensors, &self.config.model_name())?;
        Ok(model)
    }
}

/// An encoder–decoder's checkpoint, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Seq2SeqCheckpoint {
    pub config: Seq2SeqConfig,
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    /// The sentence length the model was trained on (inputs are truncated or padded to it).
    pub num_steps: usize,
    pub tensors: NamedTensors,
    pub extra: BTreeMap<String, String>,
}

impl Seq2SeqCheckpoint {
    pub async fn capture(model: &Seq2Seq, src_vocab: &Vocab, tgt_vocab: &Vocab, num_steps: usize) -> Result<Self> {
        Ok(Self {
            config: model.config().clone(),
            src_vocab: Vocab::from_tokens(src_vocab.tokens().to_vec()),
            tgt_vocab: Vocab::from_tokens(tgt_vocab.tokens().to_vec()),
            num_steps,
            tensors: capture_params(model.params()).await?,
            extra: BTreeMap::new(),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut metadata: HashMap<String, String> = self.extra.clone().into_iter().collect();
        metadata.insert("kind".into(), SEQ2SEQ.into());
        metadata.insert("config".into(), serde_json::to_string(&self.config).map_err(invalid)?);
        metadata.insert("src_vocab".into(), serde_json::to_string(self.src_vocab.tokens()).map_err(invalid)?);
        metadata.insert("tgt_vocab".into(), serde_json::to_string(self.tgt_vocab.tokens()).map_err(invalid)?);
        metadata.insert("num_steps".into(), self.num_steps.to_string());
        serialize(&self.tensors, metadata)
    }

    /// Parses an encoder–decoder's checkpoint; a language model's is an error that says so.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let parsed = Parsed::from_bytes(bytes)?;
        if parsed.kind() != SEQ2SEQ {
            return Err(invalid(format!("it holds a {} model, not an encoder-decoder", parsed.kind())));
        }
        let config: Seq2SeqConfig = parsed.json("config")?;
        config.validate()?;
        parsed.check_epochs()?;
        let src_vocab = parsed.vocab("src_vocab", config.src_vocab_size, &RESERVED)?;
        let tgt_vocab = parsed.vocab("tgt_vocab", config.tgt_vocab_size, &RESERVED)?;
        let num_steps: usize = parsed.json("num_steps")?;
        if num_steps == 0 || num_steps > MAX_SENTENCE_STEPS {
            return Err(invalid(format!(
                "num_steps is {num_steps} (a sentence length from 1 to {MAX_SENTENCE_STEPS})"
            )));
        }
        let (extra, tensors) = parsed.extra(&["config", "src_vocab", "tgt_vocab", "num_steps"]);
        Ok(Self { config, src_vocab, tgt_vocab, num_steps, tensors, extra })
    }

    /// What its weights say about its predictions, for the host to show before using it.
    pub fn warnings(&self) -> Vec<String> {
        weight_warnings(&self.tensors)
    }

    pub fn into_model(&self, backend: &Rc<dyn Backend>) -> Result<Seq2Seq> {
        check_param_count(&self.tensors, self.config.param_count(), "seq2seq")?;
        let model = Seq2Seq::new(backend, &self.config, 0)?;
        load_params(model.params(), &self.tensors, "seq2seq")?;
        Ok(model)
    }
}
