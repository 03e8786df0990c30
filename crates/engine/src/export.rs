//! A run, continued elsewhere: [`pytorch_script`] writes a short PyTorch program (d2l's style,
//! `export_pytorch.py` filled in) that rebuilds a language model's run with `torch.nn` — the
//! same model, data pipeline, clipping, optimizer and schedule — loads the checkpoint's weights
//! (already PyTorch's names) and trains on, on one device or under `torchrun` with
//! DistributedDataParallel. For a run that outgrows a browser or one machine.

use crate::checkpoint::Checkpoint;
use crate::error::{EngineError, Result};
use crate::run::RunSpec;

const TEMPLATE: &str = include_str!("export_pytorch.py");

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
/// does not parse as a [`Checkpoint`].
pub fn pytorch_script(checkpoint: &Checkpoint, checkpoint_path: &str) -> Result<String> {
    let config = &checkpoint.config;
    let spec_text = checkpoint.extra.get("spec").ok_or_else(|| {
        invalid("the checkpoint has no run spec (an earlier rnnplay saved it): export needs the run's settings; train it again with this rnnplay")
    })?;
    let spec: RunSpec = serde_json::from_str(spec_text)
        .map_err(|e| invalid(format!("the checkpoint's run spec does not parse: {e}")))?;
    let epochs: usize = match checkpoint.extra.get("epochs") {
        Some(text) => text.parse().map_err(|_| invalid(format!("the checkpoint's epochs '{text}' is not a count")))?,
        None => 0,
    };
    let vocab: Vec<&str> = checkpoint.vocab.tokens().iter().map(String::as_str).collect();
    let script = TEMPLATE
        .replace("__DESCRIBE__", &docstring_safe(&spec.describe()))
        .replace("__CHECKPOINT_NAME__", &docstring_safe(checkpoint_path))
        .replace("__SPEC__", &json_literal(&spec)?)
        .replace("__CONFIG__", &json_literal(config)?)
        .replace("__VOCAB__", &json_literal(&vocab)?)
        .replace("__TOKENS__", &python_str(checkpoint.token_kind.name())?)
        .replace("__CHECKPOINT__", &python_str(checkpoint_path)?)
        .replace("__EPOCHS__", &epochs.to_string());
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::config::{CellKind, ModelConfig};
    use rnnplay_data::{TokenKind, Vocab};
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
    }
}
