//! A run, continued elsewhere: [`pytorch_script`] writes a short PyTorch program (d2l's style,
//! `export_pytorch.py` filled in) that rebuilds a language model's run with `torch.nn` — the
//! same model, data pipeline, clipping, optimizer and schedule — loads the checkpoint's weights
//! (already PyTorch's names) and trains on, on one device or under `torchrun` with
//! DistributedDataParallel; [`pytorch_seq2seq_script`] does the same for the encoder–decoder
//! (`export_pytorch_seq2seq.py`). Both share `export_common.py` (safetensors, clipping, the
//! schedules). For a run that outgrows a browser or one machine.

use crate::{DataSource, RunSpec};
use rnnplay_engine::checkpoint::{Checkpoint, Seq2SeqCheckpoint};
use rnnplay_engine::error::{EngineError, Result};
use std::collections::BTreeMap;

const TEMPLATE: &str = include_str!("export_pytorch.py");
const SEQ2SEQ_TEMPLATE: &str = include_str!("export_pytorch_seq2seq.py");
const COMMON: &str = include_str!("export_common.py");

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

/// A Python string literal holding `text` (a JSON string is one).
fn python_str(text: &str) -> Result<String> {
    serde_json::to_string(text).map_err(|e| invalid(e.to_string()))
}

/// A Python string literal holding `value` as JSON (the script `json.loads` it).
fn json_literal<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    python_str(&serde_json::to_string(value).map_err(|e| invalid(e.to_string()))?)
}

/// `text` made safe inside a triple-quoted docstring.
fn docstring_safe(text: &str) -> String {
    text.replace('\\', "/").replace('"', "'")
}

/// The PyTorch script that continues the run saved in `checkpoint`, which the script will load
/// from `checkpoint_path` unless told otherwise. The checkpoint must carry its run's spec
/// (every checkpoint `rnnplay train` and the page save does); it holds a language model — a
/// concise one (`torch.nn.RNN`/`GRU`/`LSTM`, any layers, embedding or one-hot) or d2l's
/// from-scratch one (its equations, its parameter names). An encoder–decoder's checkpoint
/// does not parse as a [`Checkpoint`]: see [`pytorch_seq2seq_script`].
pub fn pytorch_script(checkpoint: &Checkpoint, checkpoint_path: &str) -> Result<String> {
    let (spec, epochs) = run_of(&checkpoint.extra)?;
    let vocab: Vec<&str> = checkpoint.vocab.tokens().iter().map(String::as_str).collect();
    let mut values = common_values(&spec, epochs, checkpoint_path)?;
    values.extend([
        ("__CONFIG__", json_literal(&checkpoint.config)?),
        ("__VOCAB__", json_literal(&vocab)?),
        ("__TOKENS__", python_str(checkpoint.token_kind.name())?),
        ("__TEXT__", json_literal(&spec.generated_text())?),
    ]);
    Ok(substitute(&with_common(TEMPLATE), &values))
}

/// The PyTorch script that continues the encoder–decoder run saved in `checkpoint` (which must
/// carry its spec): d2l's GRU `EncoderDecoder` with the checkpoint's names, its vocabularies and
/// sentence length, and the run's pairs — a toy task's are generated again here from the spec's
/// seed and carried in the script; fra-eng and `source<TAB>target` files are read by it.
pub fn pytorch_seq2seq_script(checkpoint: &Seq2SeqCheckpoint, checkpoint_path: &str) -> Result<String> {
    let (spec, epochs) = run_of(&checkpoint.extra)?;
    let pairs = match spec.source() {
        DataSource::Toy(task, lengths) => {
            Some(crate::encoder_decoder::toy_pairs(task, lengths, spec.num_examples, spec.seed)?.0)
        }
        _ => None,
    };
    let mut values = common_values(&spec, epochs, checkpoint_path)?;
    values.extend([
        ("__CONFIG__", json_literal(&checkpoint.config)?),
        ("__SRC_VOCAB__", json_literal(checkpoint.src_vocab.tokens())?),
        ("__TGT_VOCAB__", json_literal(checkpoint.tgt_vocab.tokens())?),
        ("__NUM_STEPS__", checkpoint.num_steps.to_string()),
        ("__PAIRS__", json_literal(&pairs)?),
    ]);
    Ok(substitute(&with_common(SEQ2SEQ_TEMPLATE), &values))
}

/// The run a checkpoint's metadata describes: its spec and the epochs it trained.
fn run_of(extra: &BTreeMap<String, String>) -> Result<(RunSpec, usize)> {
    let spec_text = extra.get("spec").ok_or_else(|| {
        invalid("the checkpoint has no run spec (an earlier rnnplay saved it): export needs the run's settings; train it again with this rnnplay")
    })?;
    let spec: RunSpec = serde_json::from_str(spec_text)
        .map_err(|e| invalid(format!("the checkpoint's run spec does not parse: {e}")))?;
    let epochs: usize = match extra.get("epochs") {
        Some(text) => text.parse().map_err(|_| invalid(format!("the checkpoint's epochs '{text}' is not a count")))?,
        None => 0,
    };
    Ok((spec, epochs))
}

/// `template` with the code every script shares in place of `__COMMON__` (before the run's
/// values go in, so that the shared code's own keys are filled too).
fn with_common(template: &str) -> String {
    substitute(template, &[("__COMMON__", COMMON.trim_end().to_string())])
}

/// What every script states about its run.
fn common_values(spec: &RunSpec, epochs: usize, checkpoint_path: &str) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("__DESCRIBE__", docstring_safe(&spec.describe())),
        ("__CHECKPOINT_NAME__", docstring_safe(checkpoint_path)),
        ("__SPEC__", json_literal(spec)?),
        ("__CHECKPOINT__", python_str(checkpoint_path)?),
        ("__EPOCHS__", epochs.to_string()),
    ])
}

/// `template` with each `__KEY__` replaced by its value in one pass, so that a value that
/// happens to contain a key (a file named `__SPEC__`) is left as it is.
fn substitute(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(at) = rest.find("__") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match values.iter().find(|(key, _)| tail.starts_with(key)) {
            Some((key, value)) => {
                out.push_str(value);
                rest = &tail[key.len()..];
            }
            None => {
                out.push_str("__");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnnplay_data::{TokenKind, Vocab};
    use rnnplay_engine::nn::config::{CellKind, ModelConfig};
    use std::collections::BTreeMap;

    fn checkpoint(scratch: bool, spec: Option<&RunSpec>) -> Checkpoint {
        let mut extra = BTreeMap::new();
        if let Some(spec) = spec {
            extra.insert("spec".to_string(), serde_json::to_string(spec).unwrap());
            extra.insert("epochs".to_string(), "3".to_string());
        }
        Checkpoint {
            config: ModelConfig::new(CellKind::Gru, scratch, 3, 4),
            vocab: Vocab::from_tokens(vec!["<unk>".into(), "a".into(), "\"b\\".into()]),
            token_kind: TokenKind::Char,
            tensors: Vec::new(),
            extra,
        }
    }

    #[test]
    fn the_script_carries_the_run_and_refuses_what_it_cannot_write() {
        let mut spec = RunSpec::preset("d2l-gru").unwrap();
        spec.data = "my \"odd\" file.txt".into();
        let script = pytorch_script(&checkpoint(false, Some(&spec)), "runs/gru.safetensors").unwrap();
        assert!(!script.contains("__SPEC__") && !script.contains("__VOCAB__") && !script.contains("__EPOCHS__"));
        assert!(script.contains("EPOCHS_DONE = 3"));
        assert!(script.contains("CHECKPOINT = \"runs/gru.safetensors\""));
        // The JSON travels as a Python string literal, quotes and backslashes escaped.
        let line = script.lines().find(|l| l.starts_with("VOCAB = ")).unwrap();
        assert!(line.contains(r#"\"\\\"b\\\\\""#), "{line}");

        assert!(pytorch_script(&checkpoint(true, Some(&spec)), "x").is_ok(), "d2l's from-scratch models export too");
        let no_spec = pytorch_script(&checkpoint(false, None), "x").unwrap_err().to_string();
        assert!(no_spec.contains("no run spec"), "{no_spec}");
        // A value holding a key stays as it is.
        spec.data = "__SPEC__ and __CONFIG__".into();
        let script = pytorch_script(&checkpoint(false, Some(&spec)), "__EPOCHS__.safetensors").unwrap();
        assert!(script.contains(r#"\"data\":\"__SPEC__ and __CONFIG__\""#), "the spec's data name was rewritten");
        assert!(script.contains("CHECKPOINT = \"__EPOCHS__.safetensors\""));
        assert!(script.contains("def read_safetensors(path):") && !script.contains("__COMMON__"));
    }

    #[test]
    fn an_encoder_decoder_script_carries_a_toy_tasks_pairs() {
        use rnnplay_engine::nn::Seq2SeqConfig;
        let mut spec = RunSpec::preset("toy-reverse").unwrap();
        spec.num_examples = 50;
        let config = Seq2SeqConfig {
            src_vocab_size: 3,
            tgt_vocab_size: 4,
            embed_size: 2,
            hidden_size: 2,
            num_layers: 1,
            dropout: 0.0,
            attention: None,
            bidirectional: false,
        };
        let vocab = |tokens: &[&str]| Vocab::from_tokens(tokens.iter().map(|t| t.to_string()).collect());
        let mut extra = BTreeMap::new();
        extra.insert("spec".to_string(), serde_json::to_string(&spec).unwrap());
        let checkpoint = Seq2SeqCheckpoint {
            config,
            src_vocab: vocab(&["<unk>", "<pad>", "a"]),
            tgt_vocab: vocab(&["<unk>", "<pad>", "<bos>", "<eos>"]),
            num_steps: 7,
            tensors: Vec::new(),
            extra,
        };
        let script = pytorch_seq2seq_script(&checkpoint, "toy.safetensors").unwrap();
        assert!(script.contains("NUM_STEPS = 7") && script.contains("EPOCHS_DONE = 0"));
        let pairs = script.lines().find(|l| l.starts_with("PAIRS = ")).unwrap();
        let (source, _) =
            crate::encoder_decoder::toy_pairs(rnnplay_data::toy::ToyTask::Reverse, (3, 5), 50, spec.seed).unwrap();
        let first = serde_json::to_string(&source[0]).unwrap().replace('"', "\\\"");
        assert!(pairs.contains(&first), "{first} in {}", &pairs[..200.min(pairs.len())]);
        spec.data = "fra-eng".into();
        let mut fra = checkpoint;
        fra.extra.insert("spec".to_string(), serde_json::to_string(&spec).unwrap());
        let script = pytorch_seq2seq_script(&fra, "fra.safetensors").unwrap();
        assert!(script.contains("PAIRS = json.loads(\"null\")"));
    }
}
