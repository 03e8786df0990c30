//! Seeing inside a language model: what every layer computes over a passage, what it predicts
//! next, and how far back its predictions reach.
//!
//! - [`inspect`] runs a passage through the model in evaluation mode (batch 1, from a zero
//!   state) and reads, per time step and layer, the hidden state h (and the LSTM's memory cell
//!   c), the activated gates by name, and the next-token distribution. The values are the ones
//!   the training kernels compute — the fused cell kernels' saved gates, the scratch models'
//!   own gate ops — shown through the tape's probes, never computed a second way.
//! - [`connectivity`] differentiates the loss of one prediction (position t) with respect to
//!   every earlier input row and hidden state: ‖∂ loss_t / ∂ x_s‖ and ‖∂ loss_t / ∂ h_s‖ for
//!   s ≤ t, Distill's "memorization" view.
//! - [`gradient_reach`] is the connectivity of a batch's last predictions, k steps back,
//!   measured after every training epoch (`reach.rs`).
//! - [`Inspection::cell_step`] picks one step of a layer's cell out of an inspection, with
//!   [`cell_equation`] for each of its vectors (`cell.rs`).
//!
//! All run on either backend; one forward (and for the gradients one backward) pass and a few
//! read-backs. [`translation`] does the same for an encoder–decoder.

mod cell;
mod reach;
pub mod translation;

pub use cell::{cell_equation, CellVector};
pub use reach::{gradient_reach, reach_shares};

use crate::error::{EngineError, Result};
use crate::generate::{argmax, check_tokens, softmax};
use crate::nn::LanguageModel;
use crate::state_grads::{measure, probed_layers, watch_layer, GradWatch};
use crate::tape::{InputTable, Probe, Tape, Var};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest passage inspection takes, in tokens.
pub const MAX_PASSAGE: usize = 2000;

/// How many of the most likely next tokens each position keeps for reshaping by temperature
/// (all of them for a vocabulary this small or smaller, e.g. d2l's 28 characters).
pub const CANDIDATES: usize = 32;

/// One named signal of one layer over the passage: `values` is (steps, hidden), row t the
/// value after reading token t.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub layer: usize,
    /// `h`, `c` or a gate's name (see [`gate_meaning`]).
    pub name: String,
    pub values: Vec<f32>,
}

/// A possible next token: its id, its logit and its probability at temperature 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub token: u32,
    pub logit: f32,
    pub p: f32,
}

/// What a model computed over a passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub tokens: Vec<u32>,
    pub layers: usize,
    pub hidden: usize,
    /// Per layer: `h`, then `c` (LSTM), then the gates in the model's order.
    pub signals: Vec<Signal>,
    /// Per position: the most likely next tokens, most likely first — at least the asked-for
    /// top k, and up to [`CANDIDATES`] for [`at_temperature`].
    pub next: Vec<Vec<Candidate>>,
}

impl Inspection {
    /// The signal `name` of `layer`, if the model has it.
    pub fn signal(&self, layer: usize, name: &str) -> Option<&Signal> {
        self.signals.iter().find(|s| s.layer == layer && s.name == name)
    }

    /// The value of unit `unit` of a signal at every step.
    pub fn unit(&self, signal: &Signal, unit: usize) -> Vec<f32> {
        unit_values(&signal.values, self.hidden, unit)
    }

    /// The units of a signal ordered by how much they vary over the passage.
    pub fn units_by_variance(&self, signal: &Signal) -> Vec<usize> {
        units_by_variance(&signal.values, self.hidden)
    }
}

/// Unit `unit`'s value at every step of (steps, hidden) row-major `values` (0 past the end).
pub fn unit_values(values: &[f32], hidden: usize, unit: usize) -> Vec<f32> {
    values.chunks_exact(hidden.max(1)).map(|row| row.get(unit).copied().unwrap_or(0.0)).collect()
}

/// The units of (steps, hidden) row-major `values` ordered by how much they vary over the steps
/// (variance, largest first): the units that track something in the text come first. A view of
/// the units can order them with it.
pub fn units_by_variance(values: &[f32], hidden: usize) -> Vec<usize> {
    let mut scored: Vec<(usize, f32)> = (0..hidden).map(|u| (u, variance(&unit_values(values, hidden, u)))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(u, _)| u).collect()
}

fn variance(values: &[f32]) -> f32 {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n
}

/// A sentence on what a signal is, for captions and the terminal view.
pub fn gate_meaning(name: &str) -> &'static str {
    match name {
        "h" => "hidden state h: what the layer passes on (to the next step and the layer above)",
        "c" => "memory cell c: the LSTM's long-term store",
        "r" => "reset gate r: how much of the previous state the candidate sees",
        "z" => "update gate z: near 1 keeps the previous state, near 0 takes the candidate",
        "n" | "h_tilde" => "candidate state: the new content the update gate may let in",
        "i" => "input gate i: how much of the candidate is written into the cell",
        "f" => "forget gate f: how much of the cell is kept (1 keeps all)",
        "o" => "output gate o: how much of the cell is shown as h",
        "g" | "c_tilde" => "candidate cell: the new content the input gate may write",
        _ => "a signal of the layer",
    }
}

/// Probabilities of candidates with these `logits` at `temperature`, softmax(logit / T) over
/// the candidates (T = 0: all on the most likely): exact when they cover the vocabulary
/// (character models), else renormalized over the most likely [`CANDIDATES`] tokens.
pub fn at_temperature(logits: &[f32], temperature: f32) -> Vec<f32> {
    if temperature <= 0.0 {
        let best = argmax(logits);
        return (0..logits.len()).map(|i| if i == best { 1.0 } else { 0.0 }).collect();
    }
    softmax(logits, temperature).into_iter().map(|p| p as f32).collect()
}

/// A gradient magnitude mapped to [0, 1] for shading: log scale over the three decades below
/// `peak` (1 at the peak, 0 at a thousandth of it or less). Views shade with it.
pub fn log_level(value: f32, peak: f32) -> f32 {
    if peak > 0.0 && value > 0.0 {
        ((value / peak).log10() / 3.0 + 1.0).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// How far back one prediction reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connectivity {
    /// The predicting position t (0-based into the passage).
    pub position: usize,
    /// The token whose loss is differentiated: the passage's next token, or when t is its last
    /// position the model's most likely one (`target_is_truth` false).
    pub target: u32,
    pub target_is_truth: bool,
    /// ‖∂ loss_t / ∂ x_s‖ for s = 0..=t, x_s the one-hot input row (the embedding row for
    /// models with an embedding).
    pub saliency_x: Vec<f32>,
    /// Per layer, ‖∂ loss_t / ∂ h_s‖ for s = 0..=t.
    pub saliency_h: Vec<Vec<f32>>,
}

impl Connectivity {
    /// How many steps back the input signal reaches: the distance to the earliest input whose
    /// gradient is still at least 1% of the largest.
    pub fn reach(&self) -> usize {
        let peak = self.saliency_x.iter().copied().fold(0.0, f32::max);
        self.saliency_x.iter().position(|&v| peak > 0.0 && v >= 0.01 * peak).map_or(0, |s| self.position - s)
    }
}

fn check_passage(model: &LanguageModel, tokens: &[u32]) -> Result<()> {
    check_tokens(model, tokens, 1, "passage")?;
    check_len(tokens.len(), "passage")
}

/// Between 1 and [`MAX_PASSAGE`] tokens.
fn check_len(len: usize, what: &str) -> Result<()> {
    if len == 0 || len > MAX_PASSAGE {
        return Err(EngineError::InvalidArgument(format!(
            "the {what} has {len} tokens; inspection takes 1 to {MAX_PASSAGE}: give a shorter (or non-empty) text"
        )));
    }
    Ok(())
}

/// Runs `tokens` through the model in evaluation mode on a probing tape; returns the tape
/// and the logits (steps, vocab).
fn probed_forward(model: &LanguageModel, tokens: &[u32]) -> Result<(Tape, Var)> {
    let backend = model.backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    tape.enable_probes();
    let inputs = Tensor::from_u32(&backend, &[tokens.len(), 1], tokens)?;
    let state = model.begin_state(&backend, 1)?;
    let (logits, _) = model.forward(&mut tape, &inputs, &state)?;
    Ok((tape, logits))
}

/// A layer's signal as one (steps, hidden) matrix: rows cut from a fused layer's window, or
/// the per-step values of a composed layer joined on the device (one read-back each way).
enum Source {
    /// Blocks of rows, in time order: each `count` rows of `tensor` from row `first`, columns
    /// `col..col + hidden` of `width`. A fused layer's window is one block; a layer run one step
    /// at a time (the attention decoder's) a block per step.
    Rows(Vec<RowBlock>),
    Steps(Vec<Var>),
}

struct RowBlock {
    tensor: Tensor,
    first: usize,
    count: usize,
    width: usize,
    col: usize,
}

/// The signals the probes show, in [`Inspection::signals`] order, without their values.
fn sources(tape: &Tape, probes: &[Probe], hidden: usize) -> Vec<(usize, &'static str, Source)> {
    let mut out: Vec<(usize, &'static str, Source)> = Vec::new();
    let mut composed: BTreeMap<(usize, usize), (&'static str, Vec<Var>)> = BTreeMap::new();
    for probe in probes {
        match probe {
            Probe::Window { layer, steps: count, states, gates } => {
                let states = tape.value(*states).clone();
                let mut block = |name: &'static str, tensor: &Tensor, first: usize, width: usize, col: usize| {
                    let block = RowBlock { tensor: tensor.clone(), first, count: *count, width, col };
                    match out.iter_mut().find(|(l, n, _)| l == layer && *n == name) {
                        Some((_, _, Source::Rows(blocks))) => blocks.push(block),
                        _ => out.push((*layer, name, Source::Rows(vec![block]))),
                    }
                };
                block("h", &states, 1, hidden, 0);
                if states.shape()[0] == 2 * (count + 1) {
                    block("c", &states, count + 2, hidden, 0);
                }
                if let Some((tensor, names)) = gates {
                    let width = names.len() * hidden;
                    for (g, name) in names.iter().enumerate() {
                        block(name, tensor, 0, width, g * hidden);
                    }
                }
            }
            Probe::Output { layer, steps: count, rows } => {
                let block =
                    RowBlock { tensor: tape.value(*rows).clone(), first: 0, count: *count, width: hidden, col: 0 };
                out.push((*layer, "h", Source::Rows(vec![block])));
            }
            Probe::Step { layer, h, c, gates } => {
                let named = std::iter::once(("h", *h)).chain(c.map(|c| ("c", c))).chain(gates.iter().copied());
                for (order, (name, var)) in named.enumerate() {
                    composed.entry((*layer, order)).or_insert_with(|| (name, Vec::new())).1.push(var);
                }
            }
            Probe::Input { .. } => {}
        }
    }
    out.extend(composed.into_iter().map(|((layer, _), (name, vars))| (layer, name, Source::Steps(vars))));
    out
}

/// Reads a source as (steps, hidden) row-major values.
async fn read_source(tape: &mut Tape, source: Source, steps: usize, hidden: usize) -> Result<Vec<f32>> {
    match source {
        Source::Rows(blocks) => {
            let mut values = Vec::with_capacity(steps * hidden);
            for RowBlock { tensor, first, count, width, col } in blocks {
                let all = tensor.to_vec().await?;
                for t in 0..count {
                    let start = (first + t) * width + col;
                    values.extend_from_slice(all.get(start..start + hidden).ok_or_else(|| probe_mismatch(all.len()))?);
                }
            }
            if values.len() != steps * hidden {
                return Err(probe_mismatch(values.len()));
            }
            Ok(values)
        }
        Source::Steps(vars) => {
            let joined = tape.concat(&vars, 0)?;
            let values = tape.value(joined).to_vec().await?;
            if values.len() != steps * hidden {
                return Err(probe_mismatch(values.len()));
            }
            Ok(values)
        }
    }
}

fn probe_mismatch(len: usize) -> EngineError {
    EngineError::InvalidArgument(format!("inspection: a layer's probe holds {len} values, not the expected shape"))
}

/// h, c and the gates of every layer at every position of `tokens`, and the most likely next
/// tokens (at least `top_k`) at each position.
pub async fn inspect(model: &LanguageModel, tokens: &[u32], top_k: usize) -> Result<Inspection> {
    check_passage(model, tokens)?;
    let config = model.config().clone();
    let (steps, hidden) = (tokens.len(), config.output_width());
    let (mut tape, logits) = probed_forward(model, tokens)?;
    let probes = tape.probes().to_vec();
    let signals = read_signals(&mut tape, &probes, steps, hidden).await?;
    let vocab = model.vocab_size();
    let keep = top_k.max(CANDIDATES).min(vocab);
    let logits = tape.value(logits).to_vec().await?;
    let next = logits.chunks_exact(vocab).map(|row| candidates(row, keep)).collect();
    Ok(Inspection { tokens: tokens.to_vec(), layers: config.num_layers, hidden, signals, next })
}

/// Every signal `probes` show, (steps, hidden) each, per layer: h, c, then the gates.
async fn read_signals(tape: &mut Tape, probes: &[Probe], steps: usize, hidden: usize) -> Result<Vec<Signal>> {
    let mut signals = Vec::new();
    for (layer, name, source) in sources(tape, probes, hidden) {
        let values = read_source(tape, source, steps, hidden).await?;
        signals.push(Signal { layer, name: name.to_string(), values });
    }
    signals.sort_by_key(|s| s.layer);
    Ok(signals)
}

/// Keeps the gradients of the input rows the probes show, for [`input_saliency`].
fn retain_inputs(tape: &mut Tape, probes: &[Probe]) {
    for probe in probes {
        if let Probe::Input { rows, .. } = probe {
            tape.retain_grad(*rows);
        }
    }
}

/// The `keep` most likely tokens of one row of logits, most likely first.
fn candidates(row: &[f32], keep: usize) -> Vec<Candidate> {
    let p = softmax(row, 1.0);
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    order.into_iter().take(keep).map(|i| Candidate { token: i as u32, logit: row[i], p: p[i] as f32 }).collect()
}

/// The gradient of the loss of the prediction at `position` with respect to every earlier
/// input row and hidden state (see [`Connectivity`]). Only `tokens[..=position]` are run: a
/// prediction cannot depend on what follows it.
pub async fn connectivity(model: &LanguageModel, tokens: &[u32], position: usize) -> Result<Connectivity> {
    check_passage(model, tokens)?;
    if position >= tokens.len() {
        return Err(EngineError::InvalidArgument(format!(
            "position {position} is past the passage's {} tokens (positions count from 0)",
            tokens.len()
        )));
    }
    let (steps, hidden) = (position + 1, model.config().output_width());
    let (mut tape, logits) = probed_forward(model, &tokens[..steps])?;
    let last = tape.slice(logits, 0, position, 1)?;
    let (target, target_is_truth) = match tokens.get(steps) {
        Some(&truth) => (truth, true),
        None => (argmax(&tape.value(last).to_vec().await?) as u32, false),
    };
    let label = Tensor::from_u32(tape.backend(), &[1], &[target])?;
    let loss = tape.softmax_cross_entropy(last, &label)?;
    let probes = tape.probes().to_vec();
    retain_inputs(&mut tape, &probes);
    let states = watch_states(&mut tape, hidden);
    tape.backward(loss)?;
    let saliency_x = input_saliency(&tape, &probes, steps).await?;
    let saliency_h = state_saliency(&tape, &states, steps).await?;
    Ok(Connectivity { position, target, target_is_truth, saliency_x, saliency_h })
}

/// ‖∂ loss / ∂ x_s‖ per step from the input probes: a one-hot input's gradient is
/// `d(rows) · tableᵀ` summed over the probes (the scratch models gather one table per gate).
async fn input_saliency(tape: &Tape, probes: &[Probe], steps: usize) -> Result<Vec<f32>> {
    let inputs: Vec<(Var, Option<InputTable>)> = probes
        .iter()
        .filter_map(|p| match p {
            Probe::Input { rows, table } => Some((*rows, *table)),
            _ => None,
        })
        .collect();
    let mut per_step: Vec<Vec<f64>> = vec![Vec::new(); steps];
    for (rows, table) in inputs {
        let width = tape.shape(rows)[1];
        let grad = match tape.grad(rows) {
            Some(g) => g.to_vec().await?,
            None => vec![0.0; steps * width],
        };
        // The table as (values, vocabulary size, whether it is stored one column per token).
        let table = match table {
            Some(InputTable::Rows(t)) => Some((tape.value(t).to_vec().await?, tape.shape(t)[0], false)),
            Some(InputTable::Columns(t)) => Some((tape.value(t).to_vec().await?, tape.shape(t)[1], true)),
            None => None,
        };
        for (s, acc) in per_step.iter_mut().enumerate() {
            let row = &grad[s * width..(s + 1) * width];
            let contribution: Vec<f64> = match &table {
                // (d rows)_s · tableᵀ: one value per vocabulary entry.
                Some((values, vocab, columns)) => (0..*vocab)
                    .map(|v| {
                        let entry = |c: usize| if *columns { values[c * vocab + v] } else { values[v * width + c] };
                        row.iter().enumerate().map(|(c, a)| f64::from(a * entry(c))).sum()
                    })
                    .collect(),
                None => row.iter().map(|&a| f64::from(a)).collect(),
            };
            if acc.is_empty() {
                *acc = contribution;
            } else {
                acc.iter_mut().zip(contribution).for_each(|(a, c)| *a += c);
            }
        }
    }
    Ok(per_step.iter().map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt() as f32).collect())
}

/// Every probed layer's states, kept for [`state_saliency`] (before backward).
fn watch_states(tape: &mut Tape, hidden: usize) -> Vec<Vec<GradWatch>> {
    probed_layers(tape).into_iter().map(|layer| watch_layer(tape, layer, 1, hidden)).collect()
}

/// ‖∂ loss / ∂ h_s‖ per layer and step after backward: the training metric's measurement
/// (`state_grads::measure`) with a batch of one, one read-back per layer.
async fn state_saliency(tape: &Tape, layers: &[Vec<GradWatch>], steps: usize) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(layers.len());
    for watches in layers {
        let norms = Tensor::zeros(tape.backend(), &[steps])?;
        measure(tape, watches, &norms)?;
        out.push(norms.to_vec().await?);
    }
    Ok(out)
}
