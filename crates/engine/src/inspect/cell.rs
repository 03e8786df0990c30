//! One step of a layer's cell with its numbers: the state it starts from (h, and the LSTM's c,
//! at position t − 1; zeros at 0), every gate and candidate at t, and the state it ends in —
//! with each vector's equation as the model computes it (PyTorch's for `torch.nn` layers, d2l's
//! for the scratch models), so a student can follow how h_{t−1} and x_t become h_t. The values
//! are the inspection's ([`Inspection`]), equal to PyTorch's; `rnnplay inspect --cell` and the
//! page's cell view both show this.

use super::Inspection;
use crate::nn::{CellKind, ModelConfig};
use serde::{Deserialize, Serialize};

/// One vector of a cell step: its name (`h_prev`, `c_prev`, a gate's or candidate's name, `c`,
/// `h`) and one value per unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellVector {
    pub name: String,
    pub values: Vec<f32>,
}

impl Inspection {
    /// The vectors of one step of `layer`'s cell at `position`, in reading order: the state
    /// before (`h_prev`, `c_prev`), the gates and candidates in the model's order, then `c` and
    /// `h`. Empty for a layer or position the inspection does not have.
    pub fn cell_step(&self, layer: usize, position: usize) -> Vec<CellVector> {
        let hidden = self.hidden;
        let at = |values: &[f32], t: usize| values.get(t * hidden..(t + 1) * hidden).map(<[f32]>::to_vec);
        let signals: Vec<_> = self.signals.iter().filter(|s| s.layer == layer).collect();
        if signals.is_empty() || position >= self.tokens.len() {
            return Vec::new();
        }
        let vector =
            |name: &str, values: Option<Vec<f32>>| CellVector { name: name.into(), values: values.unwrap_or_default() };
        let mut step = Vec::new();
        for (state, prev) in [("h", "h_prev"), ("c", "c_prev")] {
            if let Some(signal) = signals.iter().find(|s| s.name == state) {
                let before = match position {
                    0 => Some(vec![0.0; hidden]),
                    t => at(&signal.values, t - 1),
                };
                step.push(vector(prev, before));
            }
        }
        for signal in signals.iter().filter(|s| !matches!(s.name.as_str(), "h" | "c")) {
            step.push(vector(&signal.name, at(&signal.values, position)));
        }
        for name in ["c", "h"] {
            if let Some(signal) = signals.iter().find(|s| s.name == name) {
                step.push(vector(name, at(&signal.values, position)));
            }
        }
        step
    }
}

/// The equation that computes vector `name` of a cell step in a model of `config`, in plain
/// text (⊙ elementwise, σ the logistic sigmoid, x the step's input, h₋₁ and c₋₁ the state
/// before); `None` for a name the model does not compute.
pub fn cell_equation(config: &ModelConfig, name: &str) -> Option<&'static str> {
    if config.bidirectional {
        // A bidirectional layer shows only its joined output (no gates: it has two sets).
        return match name {
            "h_prev" => Some("[h→, h←] at the previous position (zeros before the first)"),
            "h" => Some(
                "[h→, h←]: the forward state, which has read the window up to here, beside the reverse \
                 state, which has read it from its end back to here — the next token included",
            ),
            _ => None,
        };
    }
    let equation = match (config.cell, config.scratch, name) {
        (_, _, "h_prev") => "h₋₁: the hidden state after the previous position (zeros before the first)",
        (_, _, "c_prev") => "c₋₁: the memory cell after the previous position (zeros before the first)",
        (CellKind::Rnn, false, "h") => "h = tanh(W_ih x + b_ih + W_hh h₋₁ + b_hh)",
        (CellKind::Rnn, true, "h") => "H = tanh(X W_xh + H₋₁ W_hh + b_h)",
        (CellKind::Gru, false, "r") => "r = σ(W_ir x + b_ir + W_hr h₋₁ + b_hr)",
        (CellKind::Gru, false, "z") => "z = σ(W_iz x + b_iz + W_hz h₋₁ + b_hz)",
        (CellKind::Gru, false, "n") => "n = tanh(W_in x + b_in + r ⊙ (W_hn h₋₁ + b_hn))",
        (CellKind::Gru, false, "h") => "h = (1 − z) ⊙ n + z ⊙ h₋₁",
        (CellKind::Gru, true, "z") => "Z = σ(X W_xz + H₋₁ W_hz + b_z)",
        (CellKind::Gru, true, "r") => "R = σ(X W_xr + H₋₁ W_hr + b_r)",
        (CellKind::Gru, true, "h_tilde") => "H̃ = tanh(X W_xh + (R ⊙ H₋₁) W_hh + b_h)",
        (CellKind::Gru, true, "h") => "H = Z ⊙ H₋₁ + (1 − Z) ⊙ H̃",
        (CellKind::Lstm, false, "i") => "i = σ(W_ii x + b_ii + W_hi h₋₁ + b_hi)",
        (CellKind::Lstm, false, "f") => "f = σ(W_if x + b_if + W_hf h₋₁ + b_hf)",
        (CellKind::Lstm, false, "g") => "g = tanh(W_ig x + b_ig + W_hg h₋₁ + b_hg)",
        (CellKind::Lstm, false, "o") => "o = σ(W_io x + b_io + W_ho h₋₁ + b_ho)",
        (CellKind::Lstm, false, "c") => "c = f ⊙ c₋₁ + i ⊙ g",
        (CellKind::Lstm, false, "h") => "h = o ⊙ tanh(c)",
        (CellKind::Lstm, true, "i") => "I = σ(X W_xi + H₋₁ W_hi + b_i)",
        (CellKind::Lstm, true, "f") => "F = σ(X W_xf + H₋₁ W_hf + b_f)",
        (CellKind::Lstm, true, "o") => "O = σ(X W_xo + H₋₁ W_ho + b_o)",
        (CellKind::Lstm, true, "c_tilde") => "C̃ = tanh(X W_xc + H₋₁ W_hc + b_c)",
        (CellKind::Lstm, true, "c") => "C = F ⊙ C₋₁ + I ⊙ C̃",
        (CellKind::Lstm, true, "h") => "H = O ⊙ tanh(C)",
        _ => return None,
    };
    Some(equation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, CpuBackend};
    use crate::inspect::inspect;
    use crate::nn::LanguageModel;
    use std::rc::Rc;

    /// Every vector of every model's step has an equation and one value per unit; the state
    /// before is the previous position's (zeros at 0); a GRU's h follows from its own z, n and
    /// h₋₁, an LSTM's c and h from i, f, g, o and c₋₁.
    #[test]
    fn a_step_holds_every_vector_with_its_equation_and_the_cells_arithmetic() {
        let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
        let tokens = [1u32, 4, 2, 5, 3];
        for (cell, scratch) in [
            (CellKind::Rnn, false),
            (CellKind::Rnn, true),
            (CellKind::Gru, false),
            (CellKind::Gru, true),
            (CellKind::Lstm, false),
            (CellKind::Lstm, true),
        ] {
            let config = ModelConfig::new(cell, scratch, 7, 6);
            let model = LanguageModel::new(&backend, &config, 5).unwrap();
            let seen = pollster::block_on(inspect(&model, &tokens, 1)).unwrap();
            let what = config.model_name();
            assert!(seen.cell_step(0, tokens.len()).is_empty(), "{what}: past the passage");
            assert!(seen.cell_step(1, 2).is_empty(), "{what}: no second layer");
            for position in [0, 3] {
                let step = seen.cell_step(0, position);
                let get = |name: &str| &step.iter().find(|v| v.name == name).unwrap().values;
                for v in &step {
                    assert_eq!(v.values.len(), 6, "{what} {}", v.name);
                    assert!(cell_equation(&config, &v.name).is_some(), "{what}: no equation for {}", v.name);
                }
                let h_before = seen.signal(0, "h").unwrap().values.get((position.max(1) - 1) * 6..position.max(1) * 6);
                let expected_prev = if position == 0 { vec![0.0; 6] } else { h_before.unwrap().to_vec() };
                assert_eq!(get("h_prev"), &expected_prev, "{what} at {position}");
                let close = |a: f32, b: f32| (a - b).abs() <= 1e-5;
                match (cell, scratch) {
                    (CellKind::Gru, false) => {
                        for u in 0..6 {
                            let (z, n, prev) = (get("z")[u], get("n")[u], get("h_prev")[u]);
                            assert!(close(get("h")[u], (1.0 - z) * n + z * prev), "{what} unit {u}");
                        }
                    }
                    (CellKind::Lstm, false) => {
                        for u in 0..6 {
                            let c = get("f")[u] * get("c_prev")[u] + get("i")[u] * get("g")[u];
                            assert!(close(get("c")[u], c), "{what} unit {u}: c");
                            assert!(close(get("h")[u], get("o")[u] * c.tanh()), "{what} unit {u}: h");
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
