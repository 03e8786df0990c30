//! Concise recurrent layers with PyTorch's equations, parameter names and shapes: d2l's
//! `RNNModel(nn.RNN | nn.GRU | nn.LSTM, vocab_size)` with an optional embedding and stacked layers.
//!
//! Per layer `l` the weights are `rnn.weight_ih_l{l}` (G·H, in), `rnn.weight_hh_l{l}` (G·H, H)
//! and the biases `rnn.bias_ih_l{l}`, `rnn.bias_hh_l{l}` (G·H), gate blocks stacked in PyTorch's
//! order; the head is `dense.weight` (V, H) and `dense.bias` (V). With `gi = x W_ihᵀ + b_ih` and
//! `gh = h W_hhᵀ + b_hh`:
//!
//! - RNN:  `h' = tanh(gi + gh)`
//! - GRU (r, z, n): `r = σ(gi_r + gh_r)`, `z = σ(gi_z + gh_z)`, `n = tanh(gi_n + r ⊙ gh_n)`,
//!   `h' = (1 - z) ⊙ n + z ⊙ h` — the reset gate applies to `W_hn h + b_hn`, after the matmul
//!   (unlike d2l's scratch GRU)
//! - LSTM (i, f, g, o): `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`
//!
//! `gi` does not depend on the state, so it is one matmul over all time steps of a layer (as
//! cuDNN does); only `gh` is computed step by step. One-hot input makes `gi` a row gather of
//! `W_ihᵀ`. Initialisation is PyTorch's: U(±1/√H) for the recurrent weights, U(±1/√H) for the
//! head (`kaiming_uniform_(a=√5)` on fan-in H), N(0, 1) for the embedding.
//!
//! Bidirectional layers (`bidirectional=True`) add `…_l{l}_reverse` weights after each layer's
//! own, read the window backwards with them, and join the two directions' outputs (2H wide,
//! the next layer's input and the head's); see [`run_stack`].

use crate::backend::Backend;
use crate::error::{EngineError, Result};
use crate::init::{Init, InitRng};
use crate::nn::config::{CellKind, ModelConfig};
use crate::param::Param;
use crate::tape::{InputTable, Probe, Tape, Var};
use crate::tensor::Tensor;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A stack of PyTorch-layout recurrent layers with a linear head.
pub struct RecurrentModel {
    config: ModelConfig,
    params: Vec<Param>,
    /// Layers run fused (see [`RecurrentModel::set_fused_layers`]).
    fused: Cell<bool>,
    /// Bidirectional layers' step orders.
    flips: Flips,
}

/// The vars of one layer's parameters.
pub(crate) struct LayerVars {
    w_ih: Var,
    w_hh: Var,
    b_ih: Var,
    b_hh: Var,
}

/// The vars of `count` layer directions (layers × directions, PyTorch's order: layer 0, its
/// reverse, layer 1, …), four each in `push_layer_params`'s order.
pub(crate) fn layer_vars(vars: &[Var], count: usize) -> Vec<LayerVars> {
    vars.chunks_exact(4).take(count).map(|c| LayerVars { w_ih: c[0], w_hh: c[1], b_ih: c[2], b_hh: c[3] }).collect()
}

/// Appends the parameters of layer `layer` (its reverse direction when `reverse`) with
/// PyTorch's names under `prefix` (`{prefix}.weight_ih_l{layer}`, `…_l{layer}_reverse`):
/// weights (G·H, input) and (G·H, H) drawn from `weight_init`, biases (G·H) from U(±1/√H) as
/// PyTorch does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_layer_params(
    params: &mut Vec<Param>,
    backend: &Rc<dyn Backend>,
    prefix: &str,
    (layer, reverse): (usize, bool),
    cell: CellKind,
    input: usize,
    hidden: usize,
    weight_init: Init,
    rng: &mut InitRng,
) -> Result<()> {
    let gate_rows = cell.gates() * hidden;
    let bound = 1.0 / (hidden as f32).sqrt();
    let bias_init = Init::Uniform { low: -bound, high: bound };
    let suffix = if reverse { "_reverse" } else { "" };
    let name = |what: &str| format!("{prefix}.{what}_l{layer}{suffix}");
    params.push(Param::new(backend, name("weight_ih"), &[gate_rows, input], weight_init, rng)?);
    params.push(Param::new(backend, name("weight_hh"), &[gate_rows, hidden], weight_init, rng)?);
    params.push(Param::new(backend, name("bias_ih"), &[gate_rows], bias_init, rng)?);
    params.push(Param::new(backend, name("bias_hh"), &[gate_rows], bias_init, rng)?);
    Ok(())
}

/// What the first layer of a stack reads.
#[derive(Clone, Copy)]
pub(crate) enum LayerInput<'a> {
    /// Dense rows (steps·batch, input), time-major.
    Dense(Var),
    /// Token ids (steps·batch): one-hot input, computed as a row gather of `W_ihᵀ`.
    OneHot(&'a Tensor),
}

/// The sizes of a stack run.
#[derive(Clone, Copy)]
pub(crate) struct StackShape {
    pub cell: CellKind,
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
    /// Dropout on the outputs of every layer but the last (training mode only).
    pub dropout: f32,
    /// 1, or 2 for bidirectional layers (d2l 10.4): a second set of weights reads the input
    /// from its last step to its first, and a layer's output and state are the two
    /// directions' side by side, (…, 2·hidden).
    pub directions: usize,
}

/// The row orders that flip a window's steps (row (t, b) ← row (steps − 1 − t, b), its own
/// inverse), one per (steps, batch), made once per model: an upload inside a training step
/// would keep plan replay from capturing it (`crate::replay`).
#[derive(Default)]
pub(crate) struct Flips(RefCell<Vec<((usize, usize), Tensor)>>);

impl Flips {
    /// The few shapes a model meets (a batch shape or two, the inspection's passages).
    const KEPT: usize = 8;

    fn get(&self, backend: &Rc<dyn Backend>, steps: usize, batch: usize) -> Result<Tensor> {
        if let Some((_, flip)) = self.0.borrow().iter().find(|(shape, _)| *shape == (steps, batch)) {
            return Ok(flip.clone());
        }
        let rows: Vec<u32> = (0..steps).rev().flat_map(|t| (0..batch).map(move |b| (t * batch + b) as u32)).collect();
        let flip = Tensor::from_u32(backend, &[steps * batch], &rows)?;
        let mut kept = self.0.borrow_mut();
        if kept.len() == Self::KEPT {
            kept.remove(0);
        }
        kept.push(((steps, batch), flip.clone()));
        Ok(flip)
    }
}

/// Runs stacked layers over `input` from `state` ([H] or [H, C], each (layers, batch,
/// directions·hidden): a bidirectional layer's forward then reverse state). Returns the top
/// layer's outputs (steps·batch, directions·hidden), time-major, and the final state in the
/// same layout as `state`. `layers` holds every layer's directions in PyTorch's order.
///
/// The reverse direction runs the same kernels on its inputs' steps in reverse order (a row
/// gather), and its outputs are put back in time order the same way; its final state is the
/// one after reading step 0. Like PyTorch without packed sequences (and d2l), it reads a
/// padded sequence's padding first.
pub(crate) fn run_stack(
    tape: &mut Tape,
    layers: &[LayerVars],
    input: LayerInput,
    state: &[Var],
    shape: StackShape,
    (fused, flips): (bool, &Flips),
) -> Result<(Var, Vec<Var>)> {
    let StackShape { steps, batch, hidden, dropout, directions, .. } = shape;
    let width = directions * hidden;
    let flip = match directions {
        2 => Some(flips.get(tape.backend(), steps, batch)?),
        _ => None,
    };
    let mut layer_input = input;
    let (mut final_h, mut final_c) = (Vec::new(), Vec::new());
    let mut top = None;
    let count = layers.len() / directions.max(1);
    for (index, directed) in layers.chunks_exact(directions.max(1)).enumerate() {
        let (mut outputs, mut hs, mut cs) = (Vec::new(), Vec::new(), Vec::new());
        for (direction, layer) in directed.iter().enumerate() {
            let reverse = direction == 1;
            // The input projections of all steps at once: the part that does not depend on the state.
            let gi_all = match layer_input {
                LayerInput::Dense(x) => {
                    if index == 0 && !reverse {
                        tape.probe(|| Probe::Input { rows: x, table: None });
                    }
                    tape.matmul_t(x, layer.w_ih, false, true)?
                }
                LayerInput::OneHot(ids) => {
                    let rows = tape.gather_columns(layer.w_ih, ids)?;
                    if !reverse {
                        tape.probe(|| Probe::Input { rows, table: Some(InputTable::Columns(layer.w_ih)) });
                    }
                    rows
                }
            };
            let mut gi_all = tape.add_bias(gi_all, layer.b_ih)?;
            if let (true, Some(flip)) = (reverse, &flip) {
                gi_all = tape.gather(gi_all, flip)?;
            }
            let initial = |tape: &mut Tape, s: Var| -> Result<Var> {
                let slice = tape.slice(s, 0, index, 1)?;
                let layer_state = tape.reshape(slice, &[batch, width])?;
                match directions {
                    1 => Ok(layer_state),
                    _ => tape.slice(layer_state, 1, direction * hidden, hidden),
                }
            };
            let h0 = initial(tape, state[0])?;
            let c0 = match state.get(1) {
                Some(&s) => Some(initial(tape, s)?),
                None => None,
            };
            // A bidirectional layer shows its joined output instead (below).
            let probe = directions == 1;
            let (mut output, h, c) = if fused {
                fused_layer(tape, index, layer, shape, gi_all, h0, c0, probe)?
            } else {
                unfused_layer(tape, index, layer, shape, gi_all, h0, c0, probe)?
            };
            if let (true, Some(flip)) = (reverse, &flip) {
                output = tape.gather(output, flip)?;
            }
            outputs.push(output);
            hs.push(h);
            cs.extend(c);
        }
        let mut output = side_by_side(tape, &outputs)?;
        if directions > 1 {
            tape.probe(|| Probe::Output { layer: index, steps, rows: output });
        }
        final_h.push(side_by_side(tape, &hs)?);
        if !cs.is_empty() {
            final_c.push(side_by_side(tape, &cs)?);
        }
        if index + 1 < count {
            output = tape.dropout(output, dropout)?;
        }
        layer_input = LayerInput::Dense(output);
        top = Some(output);
    }
    let top = top.ok_or_else(|| EngineError::InvalidArgument("a recurrent stack needs at least one layer".into()))?;
    let mut new_state = vec![stack_layers(tape, &final_h, batch, width)?];
    if !final_c.is_empty() {
        new_state.push(stack_layers(tape, &final_c, batch, width)?);
    }
    Ok((top, new_state))
}

/// The directions' values of a layer joined along the last dimension (one direction: itself).
fn side_by_side(tape: &mut Tape, parts: &[Var]) -> Result<Var> {
    match parts {
        [one] => Ok(*one),
        _ => tape.concat(parts, 1),
    }
}

/// The layer's outputs (steps·batch, hidden), final h and (LSTM) final c.
type LayerOutputs = (Var, Var, Option<Var>);

/// One layer as one fused node; outputs and final states are slices of its states. `probe`:
/// show the window to inspection.
#[allow(clippy::too_many_arguments)]
fn fused_layer(
    tape: &mut Tape,
    index: usize,
    layer: &LayerVars,
    w: StackShape,
    gi_all: Var,
    h0: Var,
    c0: Option<Var>,
    probe: bool,
) -> Result<LayerOutputs> {
    let states = tape.recurrent_layer(w.cell, w.steps, gi_all, layer.w_hh, layer.b_hh, h0, c0)?;
    if probe {
        let gates = tape.saved_gates(states).map(|g| (g, w.cell.gate_names()));
        tape.probe(|| Probe::Window { layer: index, steps: w.steps, states, gates });
    }
    let rows = w.steps * w.batch;
    let output = tape.slice(states, 0, w.batch, rows)?;
    let h = tape.slice(states, 0, rows, w.batch)?;
    let c = match c0 {
        Some(_) => Some(tape.slice(states, 0, rows + w.batch + rows, w.batch)?),
        None => None,
    };
    Ok((output, h, c))
}

/// One layer from primitive ops, step by step: `gh = h W_hhᵀ + b_hh`, then the cell's
/// equations (`cell_step`). `probe`: show every step to inspection.
#[allow(clippy::too_many_arguments)]
fn unfused_layer(
    tape: &mut Tape,
    index: usize,
    layer: &LayerVars,
    w: StackShape,
    gi_all: Var,
    h0: Var,
    c0: Option<Var>,
    probe: bool,
) -> Result<LayerOutputs> {
    let (mut h, mut c) = (h0, c0);
    let mut outputs = Vec::with_capacity(w.steps);
    for t in 0..w.steps {
        let gi = tape.slice(gi_all, 0, t * w.batch, w.batch)?;
        let gh = tape.matmul_t(h, layer.w_hh, false, true)?;
        let gh = tape.add_bias(gh, layer.b_hh)?;
        let gates;
        (h, c, gates) = cell_step(tape, w.cell, w.hidden, gi, gh, h, c)?;
        if probe {
            tape.probe(|| Probe::Step { layer: index, h, c, gates });
        }
        outputs.push(h);
    }
    Ok((tape.concat(&outputs, 0)?, h, c))
}

impl RecurrentModel {
    pub fn new(backend: &Rc<dyn Backend>, config: &ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        if config.scratch {
            return Err(EngineError::InvalidArgument("RecurrentModel builds concise models, not scratch ones".into()));
        }
        let mut rng = InitRng::new(seed);
        let (vocab, hidden) = (config.vocab_size, config.hidden_size);
        let bound = 1.0 / (hidden as f32).sqrt();
        let uniform = Init::Uniform { low: -bound, high: bound };
        let mut params = Vec::new();
        if let Some(dim) = config.embedding_dim {
            params.push(Param::new(backend, "embedding.weight", &[vocab, dim], Init::Normal { std: 1.0 }, &mut rng)?);
        }
        for layer in 0..config.num_layers {
            let input = match (layer, config.embedding_dim) {
                (0, Some(dim)) => dim,
                (0, None) => vocab,
                _ => config.output_width(),
            };
            for direction in 0..config.directions() {
                let at = (layer, direction == 1);
                push_layer_params(&mut params, backend, "rnn", at, config.cell, input, hidden, uniform, &mut rng)?;
            }
        }
        // PyTorch's Linear(directions·H, V) draws U(±1/√fan_in); a one-direction model's fan-in is H.
        let head_bound = 1.0 / (config.output_width() as f32).sqrt();
        let head = Init::Uniform { low: -head_bound, high: head_bound };
        params.push(Param::new(backend, "dense.weight", &[vocab, config.output_width()], head, &mut rng)?);
        params.push(Param::new(backend, "dense.bias", &[vocab], head, &mut rng)?);
        Ok(Self { config: config.clone(), params, fused: Cell::new(true), flips: Flips::default() })
    }

    /// Chooses how the layers run: fused (the default: one tape node per layer per window, two
    /// dispatches per time step each way, ops/recurrent.rs) or composed from primitive ops, one
    /// node per operation and time step — the oracle the fused kernels are tested against and
    /// the baseline the fused layers' speed-up is measured against. Set from
    /// `EngineOptions::fused_layers`.
    pub fn set_fused_layers(&self, fused: bool) {
        self.fused.set(fused);
    }

    /// Whether the layers run fused.
    pub fn fused_layers(&self) -> bool {
        self.fused.get()
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Zero state: [H] or [H, C], each (num_layers, batch, directions·hidden) — PyTorch's
    /// `h_0`/`c_0` with a layer's two directions side by side.
    pub fn begin_state(&self, backend: &Rc<dyn Backend>, batch: usize) -> Result<Vec<Tensor>> {
        let shape = [self.config.num_layers, batch, self.config.output_width()];
        (0..self.config.cell.state_count()).map(|_| Tensor::zeros(backend, &shape)).collect()
    }

    /// Runs the model over `inputs`, u32 token ids of shape (steps, batch), from `state`.
    /// Returns the logits of every step, (steps·batch, vocab) time-major, and the new state.
    pub fn forward(&self, tape: &mut Tape, inputs: &Tensor, state: &[Tensor]) -> Result<(Var, Vec<Var>)> {
        let config = &self.config;
        let (steps, batch) = super::input_dims(inputs)?;
        let hidden = config.hidden_size;
        super::check_state(config, state, &[config.num_layers, batch, config.output_width()])?;
        let vars: Vec<Var> = self.params.iter().map(|p| tape.param(p)).collect();
        let (embedding, rest) = match config.embedding_dim {
            Some(_) => (Some(vars[0]), &vars[1..]),
            None => (None, &vars[..]),
        };
        let layers = layer_vars(rest, config.num_layers * config.directions());
        let (dense_w, dense_b) = (vars[vars.len() - 2], vars[vars.len() - 1]);
        let flat_inputs = inputs.reshape(&[steps * batch])?;
        let input = match embedding {
            Some(table) => LayerInput::Dense(tape.gather(table, &flat_inputs)?),
            None => LayerInput::OneHot(&flat_inputs),
        };
        let states: Vec<Var> = state.iter().map(|s| tape.constant(s.clone())).collect();
        let shape = StackShape {
            cell: config.cell,
            steps,
            batch,
            hidden,
            dropout: config.dropout,
            directions: config.directions(),
        };
        let (top, new_state) = run_stack(tape, &layers, input, &states, shape, (self.fused.get(), &self.flips))?;
        let logits = tape.matmul_t(top, dense_w, false, true)?;
        let logits = tape.add_bias(logits, dense_b)?;
        Ok((logits, new_state))
    }
}

/// The new h, the LSTM's new c, and the activated gates by name (as [`CellKind::gate_names`]).
type CellOutputs = (Var, Option<Var>, Vec<(&'static str, Var)>);

/// One time step of a cell from the two pre-activations (batch, G·H).
fn cell_step(
    tape: &mut Tape,
    cell: CellKind,
    hidden: usize,
    gi: Var,
    gh: Var,
    h: Var,
    c: Option<Var>,
) -> Result<CellOutputs> {
    match cell {
        CellKind::Rnn => {
            let pre = tape.add(gi, gh)?;
            Ok((tape.tanh(pre)?, None, Vec::new()))
        }
        CellKind::Gru => {
            let gi_rz = tape.slice(gi, 1, 0, 2 * hidden)?;
            let gh_rz = tape.slice(gh, 1, 0, 2 * hidden)?;
            let rz = tape.add(gi_rz, gh_rz)?;
            let rz = tape.sigmoid(rz)?;
            let r = tape.slice(rz, 1, 0, hidden)?;
            let z = tape.slice(rz, 1, hidden, hidden)?;
            let gi_n = tape.slice(gi, 1, 2 * hidden, hidden)?;
            let gh_n = tape.slice(gh, 1, 2 * hidden, hidden)?;
            let reset = tape.mul(r, gh_n)?;
            let n = tape.add(gi_n, reset)?;
            let n = tape.tanh(n)?;
            // (1 - z) n + z h = n + z (h - n)
            let diff = tape.sub(h, n)?;
            let keep = tape.mul(z, diff)?;
            Ok((tape.add(n, keep)?, None, vec![("r", r), ("z", z), ("n", n)]))
        }
        CellKind::Lstm => {
            let gates = tape.add(gi, gh)?;
            let sig = tape.sigmoid(gates)?;
            let i = tape.slice(sig, 1, 0, hidden)?;
            let f = tape.slice(sig, 1, hidden, hidden)?;
            let o = tape.slice(sig, 1, 3 * hidden, hidden)?;
            let g = tape.slice(gates, 1, 2 * hidden, hidden)?;
            let g = tape.tanh(g)?;
            let cell = c.expect("invariant: an LSTM state has a memory cell");
            let forget = tape.mul(f, cell)?;
            let write = tape.mul(i, g)?;
            let new_c = tape.add(forget, write)?;
            let squashed = tape.tanh(new_c)?;
            Ok((tape.mul(o, squashed)?, Some(new_c), vec![("i", i), ("f", f), ("g", g), ("o", o)]))
        }
    }
}

/// Stacks per-layer (batch, hidden) values into (layers, batch, hidden).
fn stack_layers(tape: &mut Tape, per_layer: &[Var], batch: usize, hidden: usize) -> Result<Var> {
    let joined = tape.concat(per_layer, 0)?;
    tape.reshape(joined, &[per_layer.len(), batch, hidden])
}
