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
//!
//! Each also runs as one fused recurrent layer (the default; [`ScratchModel::set_fused_layers`]):
//! the RNN and the LSTM through `Tape::recurrent_layer`, whose equations are PyTorch's with one
//! bias per gate and the LSTM's gates in another order; the GRU through `Tape::reset_gru_layer`,
//! the fused cell with the reset gate applied before the matmul, as d2l's. The gates' `W_x` side
//! by side are the layer's input table, their `W_h` side by side (transposed) its recurrent
//! weight, their biases its `b_hh`, and the outputs of every step go through `W_hq` in one GEMM.
//! The composed path is the reference the fused one is tested against (`tests/fused_layers.rs`).

use crate::backend::Backend;
use crate::error::Result;
use crate::init::{Init, InitRng};
use crate::nn::config::{CellKind, ModelConfig};
use crate::param::Param;
use crate::tape::{InputTable, Probe, Tape, Var};
use crate::tensor::Tensor;
use std::cell::Cell;
use std::rc::Rc;

/// A from-scratch model: gate parameters then the output layer.
pub struct ScratchModel {
    config: ModelConfig,
    params: Vec<Param>,
    /// Run as one fused layer where the cell allows it.
    fused: Cell<bool>,
}

/// The tape vars of one gate group.
struct Gate {
    /// `one_hot(X) W_x` for all steps, (steps·batch, hidden).
    x_all: Var,
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
        let config = ModelConfig::new(kind, true, vocab_size, hidden_size);
        config.validate()?;
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
        Ok(Self { config, params, fused: Cell::new(true) })
    }

    /// Chooses fused (the default) or composed from primitive ops.
    pub fn set_fused_layers(&self, fused: bool) {
        self.fused.set(fused);
    }

    /// Whether the model runs as one fused layer.
    pub fn fused_layers(&self) -> bool {
        self.fused.get()
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Zero state for `batch` sequences: [H] or [H, C], each (batch, hidden).
    pub fn begin_state(&self, backend: &Rc<dyn Backend>, batch: usize) -> Result<Vec<Tensor>> {
        let shape = [batch, self.config.hidden_size];
        (0..self.config.cell.state_count()).map(|_| Tensor::zeros(backend, &shape)).collect()
    }

    /// `x W_x + h W_h + b` for one gate at step `t`; `x W_x` of all steps was gathered at once.
    fn pre_activation(tape: &mut Tape, gate: &Gate, t: usize, batch: usize, h: Var) -> Result<Var> {
        let x = tape.slice(gate.x_all, 0, t * batch, batch)?;
        let hh = tape.matmul(h, gate.w_h)?;
        let sum = tape.add(x, hh)?;
        tape.add_bias(sum, gate.b)
    }

    /// Runs the model over `inputs`, u32 token ids of shape (steps, batch), from `state`,
    /// returning logits of all steps stacked time-major, (steps·batch, vocab), and the new state.
    pub fn forward(&self, tape: &mut Tape, inputs: &Tensor, state: &[Tensor]) -> Result<(Var, Vec<Var>)> {
        let (steps, batch) = super::input_dims(inputs)?;
        super::check_state(&self.config, state, &[batch, self.config.hidden_size])?;
        if self.fused_layers() {
            return self.forward_fused(tape, inputs, state, (steps, batch));
        }
        let flat_inputs = inputs.reshape(&[steps * batch])?;
        let vars: Vec<Var> = self.params.iter().map(|p| tape.param(p)).collect();
        let gates: Vec<Gate> = (0..self.config.cell.gates())
            .map(|g| {
                // one_hot(X)·W_x for every step: a row gather of W_x.
                let x_all = tape.gather(vars[3 * g], &flat_inputs)?;
                tape.probe(|| Probe::Input { rows: x_all, table: Some(InputTable::Rows(vars[3 * g])) });
                Ok(Gate { x_all, w_h: vars[3 * g + 1], b: vars[3 * g + 2] })
            })
            .collect::<Result<_>>()?;
        let (w_hq, b_q) = (vars[vars.len() - 2], vars[vars.len() - 1]);
        let mut h = tape.constant(state[0].clone());
        let mut c = state.get(1).map(|c| tape.constant(c.clone()));
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let named: Vec<(&'static str, Var)> = match self.config.cell {
                CellKind::Rnn => {
                    let pre = Self::pre_activation(tape, &gates[0], t, batch, h)?;
                    h = tape.tanh(pre)?;
                    Vec::new()
                }
                CellKind::Gru => {
                    let z = Self::pre_activation(tape, &gates[0], t, batch, h)?;
                    let z = tape.sigmoid(z)?;
                    let r = Self::pre_activation(tape, &gates[1], t, batch, h)?;
                    let r = tape.sigmoid(r)?;
                    let reset_h = tape.mul(r, h)?;
                    let candidate = Self::pre_activation(tape, &gates[2], t, batch, reset_h)?;
                    let candidate = tape.tanh(candidate)?;
                    let diff = tape.sub(h, candidate)?;
                    let keep = tape.mul(z, diff)?;
                    h = tape.add(candidate, keep)?;
                    vec![("z", z), ("r", r), ("h_tilde", candidate)]
                }
                CellKind::Lstm => {
                    let mut act = Vec::with_capacity(4);
                    for (g, gate) in gates.iter().enumerate() {
                        let pre = Self::pre_activation(tape, gate, t, batch, h)?;
                        act.push(if g < 3 { tape.sigmoid(pre)? } else { tape.tanh(pre)? });
                    }
                    let cell = c.expect("invariant: an LSTM state has a memory cell");
                    let forget = tape.mul(act[1], cell)?;
                    let write = tape.mul(act[0], act[3])?;
                    let new_c = tape.add(forget, write)?;
                    let squashed = tape.tanh(new_c)?;
                    h = tape.mul(act[2], squashed)?;
                    c = Some(new_c);
                    vec![("i", act[0]), ("f", act[1]), ("o", act[2]), ("c_tilde", act[3])]
                }
            };
            tape.probe(|| Probe::Step { layer: 0, h, c, gates: named });
            let y = tape.matmul(h, w_hq)?;
            outputs.push(tape.add_bias(y, b_q)?);
        }
        let logits = tape.concat(&outputs, 0)?;
        Ok((logits, std::iter::once(h).chain(c).collect()))
    }

    /// [`ScratchModel::forward`] as one fused layer (see the module's doc).
    fn forward_fused(
        &self,
        tape: &mut Tape,
        inputs: &Tensor,
        state: &[Tensor],
        (steps, batch): (usize, usize),
    ) -> Result<(Var, Vec<Var>)> {
        let cell = self.config.cell;
        let vars: Vec<Var> = self.params.iter().map(|p| tape.param(p)).collect();
        // The fused cell's gate columns are PyTorch's (GRU r, z, n; LSTM i, f, g, o); d2l's
        // gates are z, r, h̃ and i, f, o, c — h̃ is PyTorch's n, c its g.
        let (order, names): (&[usize], &'static [&'static str]) = match cell {
            CellKind::Rnn => (&[0], &[]),
            CellKind::Gru => (&[1, 0, 2], &["r", "z", "h_tilde"]),
            CellKind::Lstm => (&[0, 1, 3, 2], &["i", "f", "c_tilde", "o"]),
        };
        let side_by_side = |tape: &mut Tape, which: usize, dim: usize| -> Result<Var> {
            let parts: Vec<Var> = order.iter().map(|g| vars[3 * g + which]).collect();
            if parts.len() == 1 {
                Ok(parts[0])
            } else {
                tape.concat(&parts, dim)
            }
        };
        // one_hot(X)·[W_x…] for every step: a row gather of the gates' tables side by side.
        let table = side_by_side(tape, 0, 1)?;
        let x_all = tape.gather(table, &inputs.reshape(&[steps * batch])?)?;
        tape.probe(|| Probe::Input { rows: x_all, table: Some(InputTable::Rows(table)) });
        let w_h = side_by_side(tape, 1, 1)?;
        let w_hh = tape.transpose(w_h)?;
        let bias = side_by_side(tape, 2, 0)?;
        let h0 = tape.constant(state[0].clone());
        let c0 = state.get(1).map(|c| tape.constant(c.clone()));
        let states = match cell {
            CellKind::Gru => tape.reset_gru_layer(steps, x_all, w_hh, bias, h0)?,
            _ => tape.recurrent_layer(cell, steps, x_all, w_hh, bias, h0, c0)?,
        };
        let gates = tape.saved_gates(states).map(|g| (g, names));
        tape.probe(|| Probe::Window { layer: 0, steps, states, gates });
        let rows = steps * batch;
        let outputs = tape.slice(states, 0, batch, rows)?;
        let h = tape.slice(states, 0, rows, batch)?;
        let c = match c0 {
            Some(_) => Some(tape.slice(states, 0, rows + batch + rows, batch)?),
            None => None,
        };
        let (w_hq, b_q) = (vars[vars.len() - 2], vars[vars.len() - 1]);
        let y = tape.matmul(outputs, w_hq)?;
        let logits = tape.add_bias(y, b_q)?;
        Ok((logits, std::iter::once(h).chain(c).collect()))
    }
}
