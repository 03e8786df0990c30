//! Fused recurrent layers: one tape node per layer per window, forward and backward
//! (shaders/recurrent.wgsl for the cells, matmul.wgsl for the rest).
//!
//! What cuDNN does, inside WebGPU's rules. The caller computes the input projections of all
//! time steps as one GEMM (`gi`, they do not depend on the state). The node then runs the time
//! loop as the backend's [`TimeLoop`] says:
//!
//! - per step, two dispatches: `h · W_hhᵀ` (a matmul reading the state block of the step,
//!   writing the step's block of `gh`) and the cell kernel (bias, gate arithmetic, new state).
//!   Backward mirrors it, per step from the last: the cell's backward kernel (pre-activation
//!   gradients and the element-wise part of the previous state's gradient) and
//!   `dh_prev += dgh · W_hh`;
//! - or the whole window in one dispatch each way (`shaders/recurrent_window.wgsl`: one
//!   workgroup per sequence runs every step, with the same buffers in and out).
//!
//! Either way one GEMM over all steps then gives `dW_hh` and one column sum `db_hh`. The unfused path in
//! `nn/recurrent.rs` builds the same equations from primitive ops, one node per operation, and
//! is the oracle these rules are tested against.
//!
//! d2l's scratch GRU ([`Tape::reset_gru_layer`]) applies its reset gate before the matmul, so
//! its step is two halves around a second product, (r ⊙ h) · W_hnᵀ: four dispatches per step
//! each way, or its own window kernels, and two GEMMs for `dW_hh` (see [`CellStep`]).
//!
//! The node's value is every state of the window, (S·(steps + 1)·batch, hidden): the h blocks
//! 0..=steps (block 0 is the initial state), then for the LSTM the c blocks. Outputs and final
//! states are slices of it; see [`CellStep`] for the layouts.

use super::ensure;
use crate::backend::CellKind;
use crate::backend::{CellStep, Kernel, TimeLoop, MAX_WINDOW_SEQUENCES};
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::Tensor;

/// Runs a window kernel as one dispatch, or as the per-step kernels it stands for
/// ([`Kernel::per_step`]; `into_h0` as there).
fn run_time_loop(tape: &Tape, window: Kernel, time_loop: TimeLoop, into_h0: bool) -> Result<()> {
    match time_loop {
        TimeLoop::Window => tape.run(window),
        TimeLoop::PerStep => {
            let steps = window.per_step(into_h0).expect("invariant: a window kernel has per-step kernels");
            steps.into_iter().try_for_each(|step| tape.run(step))
        }
    }
}

/// What the backward rule of a fused layer needs besides its inputs' values.
#[derive(Clone)]
pub(crate) struct RecurrentNode {
    pub cell: CellKind,
    /// d2l's GRU: the reset gate applies before the matmul ([`Tape::reset_gru_layer`]).
    pub reset_before: bool,
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
    /// (steps·batch, G·hidden) input projections, bias included.
    pub gi: Var,
    /// (G·hidden, hidden) recurrent weights and their (G·hidden) bias.
    pub w_hh: Var,
    pub b_hh: Var,
    /// Initial states (batch, hidden); `c0` only for the LSTM.
    pub h0: Var,
    pub c0: Option<Var>,
    /// Saved for backward: the recurrent projections without bias, and the activated gates.
    pub gh: Tensor,
    pub gates: Option<Tensor>,
    /// d2l's GRU: r ⊙ h_{t−1} of every step, (steps·batch, hidden), the input of W_hn's product.
    pub reset_h: Option<Tensor>,
    /// How the forward ran its time loop; the backward runs it the same way.
    pub time_loop: TimeLoop,
}

impl RecurrentNode {
    fn at(&self, step: usize) -> CellStep {
        let (cell, reset_before) = (self.cell, self.reset_before);
        CellStep { cell, reset_before, step, steps: self.steps, batch: self.batch, hidden: self.hidden }
    }
}

/// Copies `len` elements from `src` at `src_offset` to `dst` at `dst_offset`.
fn copy_block(
    tape: &Tape,
    src: &Tensor,
    src_offset: usize,
    dst: &Tensor,
    dst_offset: usize,
    len: usize,
    acc: bool,
) -> Result<()> {
    tape.run(Kernel::Copy2d {
        src: src.id(),
        dst: dst.id(),
        rows: 1,
        cols: len,
        src_stride: len,
        src_offset,
        dst_stride: len,
        dst_offset,
        accumulate: acc,
    })
}

impl Tape {
    /// A whole recurrent layer over a window of `steps` time steps, fused: from the input
    /// projections `gi` (steps·batch, G·H) with `b_ih` already added, the recurrent weights
    /// `w_hh` (G·H, H) and bias `b_hh` (G·H) in PyTorch's layout, and the initial state `h0`
    /// (batch, H) — and `c0` for the LSTM. Returns every state of the window, (S·(steps + 1)·batch,
    /// H): h blocks 0..=steps, then (LSTM) c blocks 0..=steps.
    #[allow(clippy::too_many_arguments)]
    pub fn recurrent_layer(
        &mut self,
        cell: CellKind,
        steps: usize,
        gi: Var,
        w_hh: Var,
        b_hh: Var,
        h0: Var,
        c0: Option<Var>,
    ) -> Result<Var> {
        self.fused_layer((cell, false), steps, gi, w_hh, b_hh, h0, c0)
    }

    /// [`Tape::recurrent_layer`] for d2l's GRU, whose reset gate scales h *before* its matmul:
    /// n = tanh(gi_n + (r ⊙ h_{t−1}) W_hnᵀ + b_n), with r and z as PyTorch's and every bias
    /// added to its pre-activation (so `b_hh` may hold all the gates' biases). The gate blocks
    /// are in PyTorch's order r, z, n.
    pub fn reset_gru_layer(&mut self, steps: usize, gi: Var, w_hh: Var, b_hh: Var, h0: Var) -> Result<Var> {
        self.fused_layer((CellKind::Gru, true), steps, gi, w_hh, b_hh, h0, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn fused_layer(
        &mut self,
        (cell, reset_before): (CellKind, bool),
        steps: usize,
        gi: Var,
        w_hh: Var,
        b_hh: Var,
        h0: Var,
        c0: Option<Var>,
    ) -> Result<Var> {
        let h0_shape = self.shape(h0).to_vec();
        ensure(h0_shape.len() == 2 && steps > 0, "recurrent layer", || {
            format!("initial state of shape {h0_shape:?} over {steps} steps; expected (batch, hidden) and steps > 0")
        })?;
        let (batch, hidden) = (h0_shape[0], h0_shape[1]);
        let rows = cell.gates() * hidden;
        let (gi_shape, w_shape, b_shape) =
            (self.shape(gi).to_vec(), self.shape(w_hh).to_vec(), self.shape(b_hh).to_vec());
        ensure(
            gi_shape == [steps * batch, rows] && w_shape == [rows, hidden] && b_shape == [rows],
            "recurrent layer",
            || {
                format!(
                "{} layer of {steps} steps, batch {batch}, hidden {hidden}: input projections {gi_shape:?} (expected [{}, {rows}]), W_hh {w_shape:?} (expected [{rows}, {hidden}]), b_hh {b_shape:?}",
                cell.name(),
                steps * batch
            )
            },
        )?;
        let c0_ok = match c0 {
            Some(c) => cell == CellKind::Lstm && self.shape(c) == h0_shape.as_slice(),
            None => cell != CellKind::Lstm,
        };
        ensure(c0_ok, "recurrent layer", || {
            format!("an initial memory cell of shape {h0_shape:?} is needed by the LSTM only")
        })?;

        let probe = CellStep { cell, reset_before, step: 0, steps, batch, hidden };
        let block = probe.block();
        let states = self.alloc(&[cell.state_count() * (steps + 1) * batch, hidden])?;
        copy_block(self, self.value(h0), 0, &states, 0, block, false)?;
        if let Some(c) = c0 {
            copy_block(self, self.value(c), 0, &states, probe.c_base(), block, false)?;
        }
        // W_hhᵀ once per window, so the per-step product is an untransposed (vec4) matmul.
        let w_t = self.alloc(&[hidden, rows])?;
        self.run(Kernel::Transpose { x: self.value(w_hh).id(), out: w_t.id(), rows, cols: hidden, accumulate: false })?;
        let w_t = if reset_before { self.reset_gru_blocks(&w_t, hidden)? } else { w_t };
        let gh = self.alloc(&[steps * batch, rows])?;
        let gates = match cell {
            CellKind::Rnn => None,
            _ => Some(self.alloc(&[steps * batch, rows])?),
        };
        let reset_h = if reset_before { Some(self.alloc(&[steps * batch, hidden])?) } else { None };
        let (gi_id, bias_id) = (self.value(gi).id(), self.value(b_hh).id());
        let time_loop = match self.backend.time_loop() {
            // One workgroup per sequence: a batch beyond one grid dimension takes the steps.
            TimeLoop::Window if batch <= MAX_WINDOW_SEQUENCES => TimeLoop::Window,
            _ => TimeLoop::PerStep,
        };
        let window = Kernel::RecurrentWindow {
            at: probe,
            gi: gi_id,
            w_t: w_t.id(),
            bias_hh: bias_id,
            states: states.id(),
            gates: gates.as_ref().map(Tensor::id),
            gh: gh.id(),
            reset_h: reset_h.as_ref().map(Tensor::id),
        };
        run_time_loop(self, window, time_loop, true)?;
        let node = RecurrentNode {
            cell,
            reset_before,
            steps,
            batch,
            hidden,
            gi,
            w_hh,
            b_hh,
            h0,
            c0,
            gh,
            gates,
            reset_h,
            time_loop,
        };
        let inputs: Vec<Var> = [gi, w_hh, b_hh, h0].into_iter().chain(c0).collect();
        Ok(self.record(states, Op::Recurrent(Box::new(node)), &inputs))
    }
}

impl Tape {
    /// d2l's GRU's blocked forward weights from W_hhᵀ (hidden, 3·hidden): W_h(r,z)ᵀ (hidden,
    /// 2·hidden) then W_hnᵀ (hidden, hidden), each contiguous, as the per-step matmuls read them.
    fn reset_gru_blocks(&mut self, w_t: &Tensor, hidden: usize) -> Result<Tensor> {
        let blocked = self.alloc(&[hidden, 3 * hidden])?;
        for (first, width, dst_offset) in [(0, 2 * hidden, 0), (2 * hidden, hidden, 2 * hidden * hidden)] {
            self.run(Kernel::Copy2d {
                src: w_t.id(),
                dst: blocked.id(),
                rows: hidden,
                cols: width,
                src_stride: 3 * hidden,
                src_offset: first,
                dst_stride: width,
                dst_offset,
                accumulate: false,
            })?;
        }
        Ok(blocked)
    }

    /// The activated gates a fused layer saved for backward, (steps·batch, G·hidden), given the
    /// layer's states var; `None` for the RNN (no gates) or a var no fused layer made.
    pub(crate) fn saved_gates(&self, states: Var) -> Option<Tensor> {
        match &self.nodes[states.0].op {
            Op::Recurrent(node) => node.gates.clone(),
            _ => None,
        }
    }
}

pub(super) fn backward(tape: &mut Tape, node: &RecurrentNode, dstates: &Tensor, states: &Tensor) -> Result<()> {
    let probe = node.at(0);
    let (batch, hidden, block) = (node.batch, node.hidden, probe.block());
    let rows = node.cell.gates() * hidden;
    // dgi goes straight into gi's gradient when that is a fresh buffer.
    let gi_target = tape.grad_target(node.gi)?;
    let dgi = match &gi_target {
        Some((grad, false)) => grad.clone(),
        _ => tape.alloc(&[node.steps * batch, rows])?,
    };
    let dgh = match node.cell {
        CellKind::Gru => Some(tape.alloc(&[node.steps * batch, rows])?),
        _ => None,
    };
    let dgh_all = dgh.as_ref().unwrap_or(&dgi).clone();
    let h0_needs_grad = tape.nodes[node.h0.0].needs_grad || node.c0.is_some_and(|c| tape.nodes[c.0].needs_grad);
    let w_hh = tape.value(node.w_hh).clone();
    let window = Kernel::RecurrentWindowBackward {
        at: probe,
        w_hh: w_hh.id(),
        gh: node.gh.id(),
        bias_hh: tape.value(node.b_hh).id(),
        states: states.id(),
        gates: node.gates.as_ref().map(Tensor::id),
        dstates: dstates.id(),
        dgi: dgi.id(),
        dgh: dgh.as_ref().map(Tensor::id),
    };
    run_time_loop(tape, window, node.time_loop, h0_needs_grad)?;
    if let Some((dw, acc)) = tape.grad_target(node.w_hh)? {
        // dW_hh = Σ_t dgh_tᵀ · h_{t-1}: one GEMM over the window (h blocks 0..steps). d2l's
        // GRU multiplies W_hn by r ⊙ h_{t−1}: its blocked dgh takes two, (r, z) rows and n rows.
        let weight_grad = |rows: usize, a_offset: usize, b: &Tensor, c_offset: usize| Kernel::Matmul {
            a: dgh_all.id(),
            b: b.id(),
            c: dw.id(),
            m: rows,
            k: node.steps * batch,
            n: hidden,
            trans_a: true,
            trans_b: false,
            accumulate: acc,
            offsets: [a_offset, 0, c_offset],
            variant: None,
        };
        match &node.reset_h {
            None => tape.run(weight_grad(rows, 0, states, 0))?,
            Some(reset_h) => {
                tape.run(weight_grad(2 * hidden, 0, states, 0))?;
                tape.run(weight_grad(hidden, probe.candidate_block(0), reset_h, 2 * hidden * hidden))?;
            }
        }
    }
    if let Some((db, acc)) = tape.grad_target(node.b_hh)? {
        // d2l's GRU adds every bias to its pre-activation: db is dgi's column sum.
        let pre_activations = if node.reset_before { &dgi } else { &dgh_all };
        tape.run(Kernel::ColumnSum {
            x: pre_activations.id(),
            out: db.id(),
            rows: node.steps * batch,
            cols: rows,
            accumulate: acc,
        })?;
    }
    if let Some((grad, true)) = &gi_target {
        tape.run(Kernel::Scale { x: dgi.id(), out: grad.id(), len: dgi.len(), alpha: 1.0, accumulate: true })?;
    }
    if let Some((dh0, acc)) = tape.grad_target(node.h0)? {
        copy_block(tape, dstates, 0, &dh0, 0, block, acc)?;
    }
    if let Some(c0) = node.c0 {
        if let Some((dc0, acc)) = tape.grad_target(c0)? {
            copy_block(tape, dstates, probe.c_base(), &dc0, 0, block, acc)?;
        }
    }
    Ok(())
}
