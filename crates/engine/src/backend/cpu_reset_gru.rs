//! The CPU reference of d2l's GRU cell halves (`Kernel::ResetGruCell`,
//! `Kernel::ResetGruCellBackward`; `shaders/recurrent.wgsl`): the reset gate scales h before
//! its matmul, so a step is two halves around the product (r ⊙ h) · W_hnᵀ. Same formulas in the
//! same order as the shader; layouts on [`CellStep`]. As in `cpu_cells.rs`, each call handles a
//! range of the batch's sequences, and a sequence writes only its own rows.

// The loops index several rows with one unit index, like the shader they mirror.
#![allow(clippy::needless_range_loop)]

use super::cpu_cells::{BackwardInputs, BackwardOutputs};
use super::cpu_math::{sigmoid, tanh};
use super::cpu_pool::SharedMut;
use super::kernel::{CellStep, ResetGruHalf};
use std::ops::Range;

/// Where sequence `b`'s rows lie at `at.step`.
struct Rows {
    /// Its (3·hidden) row of `gi`, `gates`, `dgi`.
    row: usize,
    /// Its (2·hidden) row of the (r, z) block of `gh`/`dgh`.
    gates: usize,
    /// Its (hidden) row of the n block of `gh`/`dgh`.
    candidate: usize,
    /// Its h row in state block `step`, and of `reset_h` at the step.
    prev: usize,
}

fn rows(at: &CellStep, b: usize) -> Rows {
    let h = at.hidden;
    Rows {
        row: (at.step * at.batch + b) * 3 * h,
        gates: at.gates_block(at.step) + b * 2 * h,
        candidate: at.candidate_block(at.step) + b * h,
        prev: at.step * at.block() + b * h,
    }
}

/// What a forward half reads.
pub(super) struct ForwardInputs<'a> {
    pub gi: &'a [f32],
    pub gh: &'a [f32],
    pub bias: &'a [f32],
}

/// What a forward half writes (and the candidate's half reads of z).
#[derive(Clone, Copy)]
pub(super) struct ForwardOutputs {
    pub states: SharedMut,
    pub gates: SharedMut,
    pub reset_h: SharedMut,
}

/// Forward `half` of step `at.step` for the batch's `sequences`.
///
/// # Safety
/// The buffers cover the window (`states` `at.states_len()`, `gates` `at.gates_len()`,
/// `reset_h` steps·batch·hidden), and other threads touch only other sequences of them.
pub(super) unsafe fn forward(
    at: &CellStep,
    half: ResetGruHalf,
    sequences: Range<usize>,
    x: &ForwardInputs,
    out: ForwardOutputs,
) {
    let (h, block) = (at.hidden, at.block());
    for b in sequences {
        let at_b = rows(at, b);
        // SAFETY: sequence b's rows, inside the lengths the caller vouched for; the previous
        // state is read and nothing else of the state blocks is touched but the new one.
        let (previous, saved) = unsafe { (out.states.slice(at_b.prev, h), out.gates.slice_mut(at_b.row, 3 * h)) };
        let (r_out, rest) = saved.split_at_mut(h);
        let (z_out, n_out) = rest.split_at_mut(h);
        let gi = &x.gi[at_b.row..][..3 * h];
        match half {
            ResetGruHalf::Gates => {
                // SAFETY: as above.
                let reset_h = unsafe { out.reset_h.slice_mut(at_b.prev, h) };
                let gh = &x.gh[at_b.gates..][..2 * h];
                for j in 0..h {
                    let r = sigmoid(gi[j] + gh[j] + x.bias[j]);
                    let z = sigmoid(gi[h + j] + gh[h + j] + x.bias[h + j]);
                    r_out[j] = r;
                    z_out[j] = z;
                    reset_h[j] = r * previous[j];
                }
            }
            ResetGruHalf::Candidate => {
                // SAFETY: as above: block step + 1 of sequence b.
                let next = unsafe { out.states.slice_mut(at_b.prev + block, h) };
                let gh = &x.gh[at_b.candidate..][..h];
                for j in 0..h {
                    let n = tanh(gi[2 * h + j] + gh[j] + x.bias[2 * h + j]);
                    next[j] = n + z_out[j] * (previous[j] - n);
                    n_out[j] = n;
                }
            }
        }
    }
}

/// Backward `half` of step `at.step` for the batch's `sequences` (`x.bias` unused; `x.gh`'s
/// n block holds d(r ⊙ h) for the gates' half).
///
/// # Safety
/// The buffers cover the window (`dstates` `at.states_len()`, `dgi` and `dgh`
/// `at.gates_len()`), and other threads touch only other sequences of them.
pub(super) unsafe fn backward(
    at: &CellStep,
    half: ResetGruHalf,
    sequences: Range<usize>,
    x: &BackwardInputs,
    out: BackwardOutputs,
) {
    let (h, block) = (at.hidden, at.block());
    for b in sequences {
        let at_b = rows(at, b);
        let previous = &x.states[at_b.prev..][..h];
        let saved = &x.gates[at_b.row..][..3 * h];
        // SAFETY: sequence b's rows, inside the lengths the caller vouched for; none overlap.
        let (d_prev, dgi) = unsafe { (out.dstates.slice_mut(at_b.prev, h), out.dgi.slice_mut(at_b.row, 3 * h)) };
        match half {
            ResetGruHalf::Candidate => {
                // SAFETY: as above.
                let (d_next, dgh_z, dgh_n) = unsafe {
                    (
                        out.dstates.slice(at_b.prev + block, h),
                        out.dgh.slice_mut(at_b.gates + h, h),
                        out.dgh.slice_mut(at_b.candidate, h),
                    )
                };
                for j in 0..h {
                    let (dh, z, n) = (d_next[j], saved[h + j], saved[2 * h + j]);
                    let dz = dh * (previous[j] - n) * z * (1.0 - z);
                    let dn = dh * (1.0 - z) * (1.0 - n * n);
                    (dgi[h + j], dgi[2 * h + j]) = (dz, dn);
                    (dgh_z[j], dgh_n[j]) = (dz, dn);
                    d_prev[j] += dh * z;
                }
            }
            ResetGruHalf::Gates => {
                // SAFETY: as above.
                let dgh_r = unsafe { out.dgh.slice_mut(at_b.gates, h) };
                let d_reset_h = &x.gh[at_b.candidate..][..h];
                for j in 0..h {
                    let (d_rh, r) = (d_reset_h[j], saved[j]);
                    let dr = d_rh * previous[j] * r * (1.0 - r);
                    dgi[j] = dr;
                    dgh_r[j] = dr;
                    d_prev[j] += d_rh * r;
                }
            }
        }
    }
}
