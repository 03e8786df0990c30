//! The CPU reference of `shaders/recurrent.wgsl`: one time step of a fused RNN, GRU or LSTM
//! cell, forward and backward, with the same formulas in the same order as the shader, one
//! (sequence, unit) pair per loop iteration. Layouts are documented on [`CellStep`].

// The loops index several buffers with one computed index, like the shader they mirror.
#![allow(clippy::needless_range_loop)]

use super::cpu_math::{sigmoid, tanh};
use super::kernel::CellStep;
use super::CellKind;

/// The indices one (sequence, unit) pair works with at `at.step`.
struct Site {
    /// Index of gate 0 of this unit in the (steps·batch, G·hidden) buffers; gate g is at
    /// `gate + g·hidden`.
    gate: usize,
    /// Unit index (into the bias, per gate block).
    j: usize,
    /// Element of state block `step` (the previous state); block `step + 1` is `block` later.
    prev: usize,
}

fn sites(at: &CellStep) -> impl Iterator<Item = Site> + '_ {
    let gates = at.cell.gates();
    (0..at.block()).map(move |index| {
        let (b, j) = (index / at.hidden, index % at.hidden);
        Site { gate: (at.step * at.batch + b) * gates * at.hidden + j, j, prev: at.step * at.block() + index }
    })
}

/// Forward of one step: writes state block `step + 1` and the activated gates.
pub(super) fn forward(at: &CellStep, gi: &[f32], gh: &[f32], bias: &[f32], states: &mut [f32], gates: &mut [f32]) {
    let (h, block, c_base) = (at.hidden, at.block(), at.c_base());
    for s in sites(at) {
        let pre = |g: usize| gi[s.gate + g * h] + gh[s.gate + g * h] + bias[g * h + s.j];
        match at.cell {
            CellKind::Rnn => states[s.prev + block] = tanh(pre(0)),
            CellKind::Gru => {
                let r = sigmoid(pre(0));
                let z = sigmoid(pre(1));
                let n = tanh(gi[s.gate + 2 * h] + r * (gh[s.gate + 2 * h] + bias[2 * h + s.j]));
                let previous = states[s.prev];
                states[s.prev + block] = n + z * (previous - n);
                gates[s.gate] = r;
                gates[s.gate + h] = z;
                gates[s.gate + 2 * h] = n;
            }
            CellKind::Lstm => {
                let (i, f, g, o) = (sigmoid(pre(0)), sigmoid(pre(1)), tanh(pre(2)), sigmoid(pre(3)));
                let cell = f * states[c_base + s.prev] + i * g;
                states[c_base + s.prev + block] = cell;
                states[s.prev + block] = o * tanh(cell);
                for (k, value) in [i, f, g, o].into_iter().enumerate() {
                    gates[s.gate + k * h] = value;
                }
            }
        }
    }
}

/// What a backward step reads.
pub(super) struct BackwardInputs<'a> {
    pub gh: &'a [f32],
    pub bias: &'a [f32],
    pub states: &'a [f32],
    pub gates: &'a [f32],
}

/// Backward of one step: writes `dgi` (and the GRU's `dgh`) for the step and adds the
/// element-wise part of the previous state's gradient into block `step` of `dstates`.
pub(super) fn backward(at: &CellStep, x: &BackwardInputs, dstates: &mut [f32], dgi: &mut [f32], dgh: &mut [f32]) {
    let (h, block, c_base) = (at.hidden, at.block(), at.c_base());
    let (gates, states) = (x.gates, x.states);
    for s in sites(at) {
        let dh = dstates[s.prev + block];
        match at.cell {
            CellKind::Rnn => {
                let out = states[s.prev + block];
                dgi[s.gate] = dh * (1.0 - out * out);
            }
            CellKind::Gru => {
                let (r, z, n) = (gates[s.gate], gates[s.gate + h], gates[s.gate + 2 * h]);
                let previous = states[s.prev];
                let dn = dh * (1.0 - z) * (1.0 - n * n);
                let dz = dh * (previous - n) * z * (1.0 - z);
                let dr = dn * (x.gh[s.gate + 2 * h] + x.bias[2 * h + s.j]) * r * (1.0 - r);
                dgi[s.gate] = dr;
                dgi[s.gate + h] = dz;
                dgi[s.gate + 2 * h] = dn;
                dgh[s.gate] = dr;
                dgh[s.gate + h] = dz;
                dgh[s.gate + 2 * h] = dn * r;
                dstates[s.prev] += dh * z;
            }
            CellKind::Lstm => {
                let (i, f, g, o) = (gates[s.gate], gates[s.gate + h], gates[s.gate + 2 * h], gates[s.gate + 3 * h]);
                let squashed = tanh(states[c_base + s.prev + block]);
                let dc = dstates[c_base + s.prev + block] + dh * o * (1.0 - squashed * squashed);
                dgi[s.gate] = dc * g * i * (1.0 - i);
                dgi[s.gate + h] = dc * states[c_base + s.prev] * f * (1.0 - f);
                dgi[s.gate + 2 * h] = dc * i * (1.0 - g * g);
                dgi[s.gate + 3 * h] = dh * squashed * o * (1.0 - o);
                dstates[c_base + s.prev] += dc * f;
            }
        }
    }
}
