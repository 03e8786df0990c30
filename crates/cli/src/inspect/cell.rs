//! `rnnplay inspect --cell --position N`: one step of a layer's cell with its numbers — the
//! state it starts from (h, and c for an LSTM, at N − 1; zeros at 0), every gate and candidate
//! at N, and the state it ends in — so a student can follow how h_{t−1} and x_t become h_t.
//! The vectors and their equations are the engine's (`Inspection::cell_step`, equal to
//! PyTorch's); this file prints them.

use rnnplay_engine::inspect::{cell_equation, gate_meaning, CellVector};
use rnnplay_engine::nn::ModelConfig;
use serde_json::{json, Map, Value};

/// Units printed per vector in the terminal (`--json` has them all).
const SHOWN: usize = 12;

/// The step as JSON: `{"layer", "position", "input", "vectors": {name: [...]}}`.
pub(crate) fn to_json(step: &[CellVector], layer: usize, position: usize, input: &str) -> Value {
    let vectors: Map<String, Value> = step.iter().map(|v| (v.name.clone(), json!(v.values))).collect();
    json!({ "layer": layer + 1, "position": position, "input": input, "vectors": vectors })
}

/// The step for a terminal: one line per vector, its equation, its meaning and its first
/// units.
pub(crate) fn print(step: &[CellVector], layer: usize, position: usize, input: &str, config: &ModelConfig) {
    let model = config.model_name();
    let x = match layer {
        0 => format!("input {input:?}"),
        below => format!("token {input:?}; x is layer {below}'s h there"),
    };
    println!("\none step of layer {}'s {model} cell at position {position} ({x}):", layer + 1);
    for CellVector { name, values } in step {
        let meaning = match name.strip_suffix("_prev") {
            Some(state) => format!("{state} before the step (at position {})", position.saturating_sub(1)),
            None => format!("{} — {}", cell_equation(config, name).unwrap_or(name), gate_meaning(name)),
        };
        let shown: Vec<String> = values.iter().take(SHOWN).map(|v| format!("{v:+.3}")).collect();
        let more =
            if values.len() > SHOWN { format!(" … ({} units; --json has all)", values.len()) } else { String::new() };
        println!("  {name:<8} [{}]{more}", shown.join(" "));
        println!("  {:<8} {meaning}", "");
    }
}
