//! d2l's recurrent language models "from scratch", each timestep a handful of tape ops.
//!
//! Input is one-hot: `one_hot(x)·W_x*` is the row gather of `W_x*`. Weights are N(0, 0.01²),
//! biases zero, as d2l's `get_params`. Equations (d2l, PyTorch edition):
//!
//! - RNN:  `H = tanh(X W_xh + H W_hh + b_h)`
//! - GRU:  `Z = σ(X W_xz + H W_hz + b_z)`, `R = σ(X W_xr + H W_hr + b_r)`,
//!   `H̃ = tanh(X W_xh + (R ⊙ H) W_hh + b_h)`, `H = Z ⊙ H + (1 - Z) ⊙ H̃`
//!   (computed as `H̃ + Z ⊙ (H - H̃)`; the reset gate applies *before* the matmul, as in d2l)
//! - LSTM: `I, F, O = σ(X W_x· + H W_h· + b_·)`, `C̃ = tanh(X W_xc + H W_hc + b_c)`,
//!   `C = F ⊙ C + I ⊙ C̃`, `H = O ⊙ tanh(C)`
//!
//! and the output `Y = H W_hq + b_q` at every step.

use crate::backend::Backend;
use crate::error::{EngineError, Result};
use crate::init::{Init, InitRng};
use crate::param::Param;
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;
use std::rc::Rc;

/// The recurrent cell of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Rnn,
    Gru,
    Lstm,
}

impl CellKind {
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Gru => "gru",
            CellKind::Lstm => "lstm",
        }
    }

    /// Number of (W_x, W_h, b) gate groups.
    fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }

    /// Number of state tensors (H, or H and C).
    pub fn state_count(self) -> usize {
        if self == CellKind::Lstm {
            2
        } else {
            1
        }
    }
}

/// A from-scratch model: gate parameters then the output layer.
pub struct ScratchModel {
    kind: CellKind,
    vocab_size: usize,
    hidden_size: usize,
    params: Vec<Param>,
}

/// The tape vars of one gate group.
struct Gate {
    w_x: Var,
    w_h: Var,
    b: Var,
}

impl ScratchModel {
    pub fn new(
        backend: &Rc<dyn Backend>,
        kind: CellKind,
        vocab_size: usize,
        hidden_size: usize,
        seed: u64,
    ) -> Result<Self> {
        if vocab_size == 0 || hidden_size == 0 {
            return Err(EngineError::InvalidArgument(format!(
                "vocab size ({vocab_size}) and hidden size ({hidden_size}) must be at least 1"
            )));
        }
        let mut rng = InitRng::new(seed);
        let normal = Init::Normal { std: 0.01 };
        let gate_names: &[&str] = match kind {
            CellKind::Rnn => &["h"],
            CellKind::Gru => &["z", "r", "h"],
            CellKind::Lstm => &["i", "f", "o", "c"],
        };
        let mut params = Vec::new();
        for gate in gate_names {
            params.push(Param::new(backend, format!("W_x{gate}"), &[vocab_size, hidden_size], normal, &mut rng)?);
            params.push(Param::new(backend, format!("W_h{gate}"), &[hidden_size, hidden_size], normal, &mut rng)?);
            params.push(Param::new(backend, format!("b_{gate}"), &[hidden_size], Init::Zeros, &mut rng)?);
        }
        params.push(Param::new(backend, "W_hq", &[hidden_size, vocab_size], normal, &mut rng)?);
        params.push(Param::new(backend, "b_q", &[vocab_size], Init::Zeros, &mut rng)?);
        Ok(Self { kind, vocab_size, hidden_size, params })
    }

    pub fn kind(&self) -> CellKind {
        self.kind
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Zero state for `batch` sequences: [H] or [H, C], each (batch, hidden).
    pub fn begin_state(&self, backend: &Rc<dyn Backend>, batch: usize) -> Result<Vec<Tensor>> {
        (0..self.kind.state_count()).map(|_| Tensor::zeros(backend, &[batch, self.hidden_size])).collect()
    }

    /// `x W_x + h W_h + b` for one gate.
    fn pre_activation(tape: &mut Tape, gate: &Gate, tokens: &Tensor, h: Var) -> Result<Var> {
        let x = tape.gather(gate.w_x, tokens)?;
        let hh = tape.matmul(h, gate.w_h)?;
        let sum = tape.add(x, hh)?;
        tape.add_bias(sum, gate.b)
    }

    /// Runs the model over `inputs` (per time step, the token ids of the batch) from `state`,
    /// returning logits of all steps stacked time-major, (steps·batch, vocab), and the new state.
    pub fn forward(&self, tape: &mut Tape, inputs: &[Tensor], state: &[Tensor]) -> Result<(Var, Vec<Var>)> {
        if state.len() != self.kind.state_count() {
            return Err(EngineError::InvalidArgument(format!(
                "{} needs {} state tensors, got {}",
                self.kind.name(),
                self.kind.state_count(),
                state.len()
            )));
        }
        let vars: Vec<Var> = self.params.iter().map(|p| tape.param(p)).collect();
        let gates: Vec<Gate> = (0..self.kind.gates())
            .map(|g| Gate { w_x: vars[3 * g], w_h: vars[3 * g + 1], b: vars[3 * g + 2] })
            .collect();
        let (w_hq, b_q) = (vars[vars.len() - 2], vars[vars.len() - 1]);
        let mut h = tape.constant(state[0].clone());
        let mut c = state.get(1).map(|c| tape.constant(c.clone()));
        let mut outputs = Vec::with_capacity(inputs.len());
        for tokens in inputs {
            match self.kind {
                CellKind::Rnn => {
                    let pre = Self::pre_activation(tape, &gates[0], tokens, h)?;
                    h = tape.tanh(pre)?;
                }
                CellKind::Gru => {
                    let z = Self::pre_activation(tape, &gates[0], tokens, h)?;
                    let z = tape.sigmoid(z)?;
                    let r = Self::pre_activation(tape, &gates[1], tokens, h)?;
                    let r = tape.sigmoid(r)?;
                    let reset_h = tape.mul(r, h)?;
                    let candidate = Self::pre_activation(tape, &gates[2], tokens, reset_h)?;
                    let candidate = tape.tanh(candidate)?;
                    let diff = tape.sub(h, candidate)?;
                    let keep = tape.mul(z, diff)?;
                    h = tape.add(candidate, keep)?;
                }
                CellKind::Lstm => {
                    let mut act = Vec::with_capacity(4);
                    for (g, gate) in gates.iter().enumerate() {
                        let pre = Self::pre_activation(tape, gate, tokens, h)?;
                        act.push(if g < 3 { tape.sigmoid(pre)? } else { tape.tanh(pre)? });
                    }
                    let cell = c.expect("invariant: an LSTM state has a memory cell");
                    let forget = tape.mul(act[1], cell)?;
                    let write = tape.mul(act[0], act[3])?;
                    let new_c = tape.add(forget, write)?;
                    let squashed = tape.tanh(new_c)?;
                    h = tape.mul(act[2], squashed)?;
                    c = Some(new_c);
                }
            }
            let y = tape.matmul(h, w_hq)?;
            outputs.push(tape.add_bias(y, b_q)?);
        }
        let logits = tape.concat(&outputs, 0)?;
        Ok((logits, std::iter::once(h).chain(c).collect()))
    }
}
