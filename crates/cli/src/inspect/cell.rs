//! `rnnplay inspect --cell --position N`: one step of a layer's cell with its numbers — the
//! state it starts from (h, and c for an LSTM, at N − 1; zeros at 0), every gate and candidate
//! at N, and the state it ends in — so a student can follow how h_{t−1} and x_t become h_t.
//! The vectors are the inspection's (`rnnplay_engine::inspect`, equal to PyTorch's).

use rnnplay_engine::inspect::{gate_meaning, Inspection};
use serde_json::{json, Map, Value};

/// Units printed per vector in the terminal (`--json` has them all).
const SHOWN: usize = 12;

/// The vectors of one step of `layer`'s cell at `position`, in reading order: the state before
/// (`h_prev`, `c_prev`), the gates and candidates in the model's order, then `c` and `h`.
pub(crate) fn cell_step(seen: &Inspection, layer: usize, position: usize) -> Vec<(String, Vec<f32>)> {
    let hidden = seen.hidden;
    let at = |values: &[f32], t: usize| values[t * hidden..(t + 1) * hidden].to_vec();
    let signals: Vec<_> = seen.signals.iter().filter(|s| s.layer == layer).collect();
    let before = |name: &str| {
        signals.iter().find(|s| s.name == name).map(|s| match position {
            0 => vec![0.0; hidden],
            t => at(&s.values, t - 1),
        })
    };
    let mut step = Vec::new();
    for name in ["h", "c"] {
        if let Some(values) = before(name) {
            step.push((format!("{name}_prev"), values));
        }
    }
    for signal in signals.iter().filter(|s| !matches!(s.name.as_str(), "h" | "c")) {
        step.push((signal.name.clone(), at(&signal.values, position)));
    }
    for name in ["c", "h"] {
        if let Some(signal) = signals.iter().find(|s| s.name == name) {
            step.push((name.to_string(), at(&signal.values, position)));
        }
    }
    step
}

/// The step as JSON: `{"layer", "position", "input", "vectors": {name: [...]}}`.
pub(crate) fn to_json(step: &[(String, Vec<f32>)], layer: usize, position: usize, input: &str) -> Value {
    let vectors: Map<String, Value> = step.iter().map(|(name, values)| (name.clone(), json!(values))).collect();
    json!({ "layer": layer + 1, "position": position, "input": input, "vectors": vectors })
}

/// The step for a terminal: one line per vector, its meaning and its first units.
pub(crate) fn print(step: &[(String, Vec<f32>)], layer: usize, position: usize, input: &str, model: &str) {
    println!("\none step of layer {}'s {model} cell at position {position} (input {input:?}):", layer + 1);
    for (name, values) in step {
        let meaning = match name.strip_suffix("_prev") {
            Some(state) => format!("{state} before the step (at position {})", position.saturating_sub(1)),
            None => gate_meaning(name).to_string(),
        };
        let shown: Vec<String> = values.iter().take(SHOWN).map(|v| format!("{v:+.3}")).collect();
        let more =
            if values.len() > SHOWN { format!(" … ({} units; --json has all)", values.len()) } else { String::new() };
        println!("  {name:<8} [{}]{more}", shown.join(" "));
        println!("  {:<8} {meaning}", "");
    }
}
