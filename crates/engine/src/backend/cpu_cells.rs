//! The CPU reference of `shaders/recurrent.wgsl`: one time step of a fused RNN, GRU or LSTM
//! cell, forward and backward, with the same formulas in the same order as the shader, a row of
//! one sequence per inner loop (which the compiler vectorises). Layouts are documented on
//! [`CellStep`].
//!
//! Each call handles a range of the batch's sequences, so that the backend can hand ranges to
//! different threads: a sequence writes only its own rows of every output, and reads the states
//! of the previous step, which nobody writes during this step. The buffers a step writes are
//! therefore reached through [`SharedMut`] pointers, cut into one sequence's rows at a time.

// The loops index several rows with one unit index, like the shader they mirror.
#![allow(clippy::needless_range_loop)]

use super::cpu_math::{sigmoid, tanh};
use super::cpu_pool::SharedMut;
use super::kernel::CellStep;
use super::CellKind;
use std::ops::Range;

impl SharedMut {
    /// `len` elements from `start`, to read.
    ///
    /// # Safety
    /// They lie inside the buffer and no thread writes them while the slice lives.
    #[inline]
    pub(super) unsafe fn slice<'a>(self, start: usize, len: usize) -> &'a [f32] {
        unsafe { std::slice::from_raw_parts(self.ptr().add(start), len) }
    }

    /// `len` elements from `start`, to write.
    ///
    /// # Safety
    /// They lie inside the buffer and no other thread reads or writes them while the slice lives.
    #[inline]
    #[allow(clippy::mut_from_ref)] // the caller vouches that the elements are this slice's alone
    pub(super) unsafe fn slice_mut<'a>(self, start: usize, len: usize) -> &'a mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr().add(start), len) }
    }
}

/// Where sequence `b`'s rows lie at `at.step`.
struct Rows {
    /// Its (G·hidden) row of the per-step buffers (`gi`, `gh`, `gates`, `dgi`, `dgh`).
    gate: usize,
    /// Its h row in state block `step` (the previous state); block `step + 1` is `block`
    /// later, and the memory cells (LSTM) `c_base` later.
    prev: usize,
}

fn rows(at: &CellStep, b: usize) -> Rows {
    let width = at.cell.gates() * at.hidden;
    Rows { gate: (at.step * at.batch + b) * width, prev: at.step * at.block() + b * at.hidden }
}

/// Forward of one step for the batch's `sequences`: writes their rows of state block
/// `step + 1` and of the activated gates. Each loop runs along one row, so that it vectorises.
///
/// # Safety
/// `states` holds `at.states_len()` elements and `gates` (unless an RNN's) `at.gates_len()`,
/// and other threads touch only other sequences of them.
pub(super) unsafe fn forward(
    at: &CellStep,
    sequences: Range<usize>,
    gi: &[f32],
    gh: &[f32],
    bias: &[f32],
    states: SharedMut,
    gates: SharedMut,
) {
    let (h, block, c_base) = (at.hidden, at.block(), at.c_base());
    let width = at.cell.gates() * h;
    for b in sequences {
        let at_b = rows(at, b);
        let (gi, gh) = (&gi[at_b.gate..at_b.gate + width], &gh[at_b.gate..at_b.gate + width]);
        // Every row cut to exactly `h`, so that the loops below need no bounds checks.
        let gate = |g: usize| (&gi[g * h..][..h], &gh[g * h..][..h], &bias[g * h..][..h]);
        // SAFETY: these rows are sequence b's, inside the lengths the caller vouched for; the
        // previous state is read, the new one and the gates written, and they do not overlap.
        let (previous, next) = unsafe { (states.slice(at_b.prev, h), states.slice_mut(at_b.prev + block, h)) };
        match at.cell {
            CellKind::Rnn => {
                let (gi, gh, bias) = gate(0);
                for (((out, gi), gh), bias) in next.iter_mut().zip(gi).zip(gh).zip(bias) {
                    *out = tanh(gi + gh + bias);
                }
            }
            CellKind::Gru => {
                // SAFETY: as above.
                let saved = unsafe { gates.slice_mut(at_b.gate, width) };
                let (r_out, rest) = saved.split_at_mut(h);
                let (z_out, n_out) = rest.split_at_mut(h);
                let (next, previous, n_out) = (&mut next[..h], &previous[..h], &mut n_out[..h]);
                let ((gi_r, gh_r, b_r), (gi_z, gh_z, b_z), (gi_n, gh_n, b_n)) = (gate(0), gate(1), gate(2));
                for j in 0..h {
                    let r = sigmoid(gi_r[j] + gh_r[j] + b_r[j]);
                    let z = sigmoid(gi_z[j] + gh_z[j] + b_z[j]);
                    let n = tanh(gi_n[j] + r * (gh_n[j] + b_n[j]));
                    next[j] = n + z * (previous[j] - n);
                    r_out[j] = r;
                    z_out[j] = z;
                    n_out[j] = n;
                }
            }
            CellKind::Lstm => {
                // SAFETY: as above; the memory cells are the same rows `c_base` later.
                let (saved, c_prev, c_next) = unsafe {
                    (
                        gates.slice_mut(at_b.gate, width),
                        states.slice(c_base + at_b.prev, h),
                        states.slice_mut(c_base + at_b.prev + block, h),
                    )
                };
                let (i_out, rest) = saved.split_at_mut(h);
                let (f_out, rest) = rest.split_at_mut(h);
                let (g_out, o_out) = rest.split_at_mut(h);
                let (next, o_out) = (&mut next[..h], &mut o_out[..h]);
                let ((gi_i, gh_i, b_i), (gi_f, gh_f, b_f)) = (gate(0), gate(1));
                let ((gi_g, gh_g, b_g), (gi_o, gh_o, b_o)) = (gate(2), gate(3));
                for j in 0..h {
                    let i = sigmoid(gi_i[j] + gh_i[j] + b_i[j]);
                    let f = sigmoid(gi_f[j] + gh_f[j] + b_f[j]);
                    let g = tanh(gi_g[j] + gh_g[j] + b_g[j]);
                    let o = sigmoid(gi_o[j] + gh_o[j] + b_o[j]);
                    let cell = f * c_prev[j] + i * g;
                    c_next[j] = cell;
                    next[j] = o * tanh(cell);
                    (i_out[j], f_out[j], g_out[j], o_out[j]) = (i, f, g, o);
                }
            }
        }
    }
}

/// What a backward step reads (d2l's GRU's halves too, `cpu_reset_gru.rs`, without the bias).
pub(super) struct BackwardInputs<'a> {
    pub gh: &'a [f32],
    pub bias: &'a [f32],
    pub states: &'a [f32],
    pub gates: &'a [f32],
}

/// Where a backward step writes.
#[derive(Clone, Copy)]
pub(super) struct BackwardOutputs {
    pub dstates: SharedMut,
    pub dgi: SharedMut,
    /// The GRU's only.
    pub dgh: SharedMut,
}

/// Backward of one step for the batch's `sequences`: writes their `dgi` (and the GRU's `dgh`)
/// rows for the step and adds the element-wise part of the previous state's gradient into their
/// rows of block `step` of `dstates`.
///
/// # Safety
/// `dstates` holds `at.states_len()` elements, `dgi` and (GRU) `dgh` `at.gates_len()`, and
/// other threads touch only other sequences of them.
pub(super) unsafe fn backward(at: &CellStep, sequences: Range<usize>, x: &BackwardInputs, out: BackwardOutputs) {
    let (h, block, c_base) = (at.hidden, at.block(), at.c_base());
    let width = at.cell.gates() * h;
    for b in sequences {
        let at_b = rows(at, b);
        let saved = |g: usize| &x.gates[at_b.gate + g * h..][..h];
        let (previous, output) = (&x.states[at_b.prev..at_b.prev + h], &x.states[at_b.prev + block..][..h]);
        // SAFETY: these rows are sequence b's, inside the lengths the caller vouched for: the
        // gradient of the new state is read, that of the previous one updated, and the gate
        // gradients written; none overlap.
        let (d_next, d_prev, dgi) = unsafe {
            (
                out.dstates.slice(at_b.prev + block, h),
                out.dstates.slice_mut(at_b.prev, h),
                out.dgi.slice_mut(at_b.gate, width),
            )
        };
        match at.cell {
            CellKind::Rnn => {
                for ((dgi, dh), out) in dgi.iter_mut().zip(d_next).zip(output) {
                    *dgi = dh * (1.0 - out * out);
                }
            }
            CellKind::Gru => {
                // SAFETY: as above.
                let dgh = unsafe { out.dgh.slice_mut(at_b.gate, width) };
                let (dgi_r, rest) = dgi.split_at_mut(h);
                let (dgi_z, dgi_n) = rest.split_at_mut(h);
                let (dgh_r, rest) = dgh.split_at_mut(h);
                let (dgh_z, dgh_n) = rest.split_at_mut(h);
                let (dgi_n, dgh_n, d_next, d_prev) = (&mut dgi_n[..h], &mut dgh_n[..h], &d_next[..h], &mut d_prev[..h]);
                let previous = &previous[..h];
                let (r, z, n) = (saved(0), saved(1), saved(2));
                let (gh_n, b_n) = (&x.gh[at_b.gate + 2 * h..][..h], &x.bias[2 * h..3 * h]);
                for j in 0..h {
                    let (dh, r, z, n) = (d_next[j], r[j], z[j], n[j]);
                    let dn = dh * (1.0 - z) * (1.0 - n * n);
                    let dz = dh * (previous[j] - n) * z * (1.0 - z);
                    let dr = dn * (gh_n[j] + b_n[j]) * r * (1.0 - r);
                    (dgi_r[j], dgi_z[j], dgi_n[j]) = (dr, dz, dn);
                    (dgh_r[j], dgh_z[j], dgh_n[j]) = (dr, dz, dn * r);
                    d_prev[j] += dh * z;
                }
            }
            CellKind::Lstm => {
                let (c_prev, c_next) =
                    (&x.states[c_base + at_b.prev..][..h], &x.states[c_base + at_b.prev + block..][..h]);
                // SAFETY: as above; the memory cells' gradients are the same rows `c_base` later.
                let (dc_next, dc_prev) = unsafe {
                    (out.dstates.slice(c_base + at_b.prev + block, h), out.dstates.slice_mut(c_base + at_b.prev, h))
                };
                let (dgi_i, rest) = dgi.split_at_mut(h);
                let (dgi_f, rest) = rest.split_at_mut(h);
                let (dgi_g, dgi_o) = rest.split_at_mut(h);
                let (dgi_o, d_next, dc_next, dc_prev) =
                    (&mut dgi_o[..h], &d_next[..h], &dc_next[..h], &mut dc_prev[..h]);
                let (i, f, g, o) = (saved(0), saved(1), saved(2), saved(3));
                for j in 0..h {
                    let (dh, i, f, g, o) = (d_next[j], i[j], f[j], g[j], o[j]);
                    let squashed = tanh(c_next[j]);
                    let dc = dc_next[j] + dh * o * (1.0 - squashed * squashed);
                    dgi_i[j] = dc * g * i * (1.0 - i);
                    dgi_f[j] = dc * c_prev[j] * f * (1.0 - f);
                    dgi_g[j] = dc * i * (1.0 - g * g);
                    dgi_o[j] = dh * squashed * o * (1.0 - o);
                    dc_prev[j] += dc * f;
                }
            }
        }
    }
}
