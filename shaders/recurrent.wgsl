// Fused recurrent cells: the gate arithmetic of one time step of an RNN(tanh), GRU or LSTM
// layer in one dispatch, forward and backward. The matmuls around them (the input projections
// of the whole window, `h · W_hhᵀ` per step, `dgh · W_hh` per step, the weight gradients of the
// window) are matmul.wgsl's; see crates/engine/src/ops/recurrent.rs for the whole layer.
//
// One thread per (sequence b, unit j): grid_1d(batch · hidden, 64), flattened with
// `num_workgroups`. Layouts (G = gates: RNN 1, GRU 3 in the order r, z, n, LSTM 4 in the order
// i, f, g, o; row = step · batch + b):
//   gi, gh, gates, dgi, dgh   (steps · batch, G · hidden)
//   states, dstates           h blocks 0..=steps, then (LSTM) c blocks 0..=steps, each
//                             (batch, hidden); block t is the state after t steps
// gh holds h · W_hhᵀ without the bias, which the cell adds.
//
// Bindings: 0 params (uniform), 1 gi, 2 gh, 3 bias_hh (read), 4 states, 5 gates, 6 dstates,
// 7 dgi, 8 dgh, 9 reset_h (read_write). Each entry point uses only some of them.
// Entry points:
//   rnn_cell, gru_cell, lstm_cell                              forward of step `step`
//   rnn_cell_backward, gru_cell_backward, lstm_cell_backward   backward of step `step`:
//     reads the complete gradient of state block step + 1, writes dgi (and the GRU's dgh),
//     adds the element-wise part of the previous state's gradient into block `step`.
//   gru_reset_gates, gru_reset_candidate                      d2l's GRU (reset before its matmul),
//   gru_reset_candidate_backward, gru_reset_gates_backward    a step's two halves each way; its
//     gh and dgh are blocked ((r, z) rows, then n rows: CellStep in kernel.rs), and r ⊙ h_{t−1}
//     is saved in reset_h (steps · batch, hidden). The gates' half backward reads d(r ⊙ h_{t−1})
//     from gh's n block.

struct Params {
    batch: u32,
    hidden: u32,
    step: u32,
    steps: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gi: array<f32>;
@group(0) @binding(2) var<storage, read> gh: array<f32>;
@group(0) @binding(3) var<storage, read> bias_hh: array<f32>;
@group(0) @binding(4) var<storage, read_write> states: array<f32>;
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;
@group(0) @binding(6) var<storage, read_write> dstates: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgi: array<f32>;
@group(0) @binding(8) var<storage, read_write> dgh: array<f32>;
@group(0) @binding(9) var<storage, read_write> reset_h: array<f32>;

/// Where one thread works: `b` and `j` and the indices derived from them.
struct Cell {
    valid: bool,
    j: u32,
    /// First element of this row in the (steps · batch, G · hidden) buffers.
    row: u32,
    /// Element (b, j) of state block `step` (the previous state); block step + 1 is `block` later.
    prev: u32,
    block: u32,
    /// Offset of the c blocks in `states`.
    c_base: u32,
}

fn locate(gid: vec3<u32>, nwg: vec3<u32>, gate_count: u32) -> Cell {
    var cell: Cell;
    let index = gid.x + gid.y * nwg.x * 64u;
    let block = p.batch * p.hidden;
    cell.valid = index < block;
    let b = index / p.hidden;
    cell.j = index % p.hidden;
    cell.row = (p.step * p.batch + b) * gate_count * p.hidden;
    cell.block = block;
    cell.prev = p.step * block + index;
    cell.c_base = (p.steps + 1u) * block;
    return cell;
}

/// Index of gate `g` of this thread's unit in the (steps · batch, G · hidden) buffers.
fn gate(c: Cell, g: u32) -> u32 {
    return c.row + g * p.hidden + c.j;
}

@compute @workgroup_size(64)
fn rnn_cell(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 1u);
    if (!c.valid) {
        return;
    }
    states[c.prev + c.block] = tanh(gi[gate(c, 0u)] + gh[gate(c, 0u)] + bias_hh[c.j]);
}

@compute @workgroup_size(64)
fn rnn_cell_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 1u);
    if (!c.valid) {
        return;
    }
    let h = states[c.prev + c.block];
    dgi[gate(c, 0u)] = dstates[c.prev + c.block] * (1.0 - h * h);
}

@compute @workgroup_size(64)
fn gru_cell(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 3u);
    if (!c.valid) {
        return;
    }
    let ir = gate(c, 0u);
    let iz = gate(c, 1u);
    let inn = gate(c, 2u);
    let out = gru_forward(
        gi[ir] + gh[ir] + bias_hh[c.j],
        gi[iz] + gh[iz] + bias_hh[p.hidden + c.j],
        gi[inn],
        gh[inn] + bias_hh[2u * p.hidden + c.j],
        states[c.prev],
    );
    states[c.prev + c.block] = out.w;
    gates[ir] = out.x;
    gates[iz] = out.y;
    gates[inn] = out.z;
}

@compute @workgroup_size(64)
fn gru_cell_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 3u);
    if (!c.valid) {
        return;
    }
    let ir = gate(c, 0u);
    let iz = gate(c, 1u);
    let inn = gate(c, 2u);
    let activated = vec3<f32>(gates[ir], gates[iz], gates[inn]);
    let dh = dstates[c.prev + c.block];
    let d = gru_backward(activated, states[c.prev], dh, gh[inn] + bias_hh[2u * p.hidden + c.j]);
    dgi[ir] = d.x;
    dgi[iz] = d.y;
    dgi[inn] = d.z;
    dgh[ir] = d.x;
    dgh[iz] = d.y;
    dgh[inn] = d.z * activated.x;
    dstates[c.prev] = dstates[c.prev] + dh * activated.y;
}

@compute @workgroup_size(64)
fn lstm_cell(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 4u);
    if (!c.valid) {
        return;
    }
    let ii = gate(c, 0u);
    let i_f = gate(c, 1u);
    let ig = gate(c, 2u);
    let io = gate(c, 3u);
    let pre = vec4<f32>(
        gi[ii] + gh[ii] + bias_hh[c.j],
        gi[i_f] + gh[i_f] + bias_hh[p.hidden + c.j],
        gi[ig] + gh[ig] + bias_hh[2u * p.hidden + c.j],
        gi[io] + gh[io] + bias_hh[3u * p.hidden + c.j],
    );
    let out = lstm_forward(pre, states[c.c_base + c.prev]);
    states[c.c_base + c.prev + c.block] = out.c;
    states[c.prev + c.block] = out.h;
    gates[ii] = out.gates.x;
    gates[i_f] = out.gates.y;
    gates[ig] = out.gates.z;
    gates[io] = out.gates.w;
}

@compute @workgroup_size(64)
fn lstm_cell_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 4u);
    if (!c.valid) {
        return;
    }
    let ii = gate(c, 0u);
    let i_f = gate(c, 1u);
    let ig = gate(c, 2u);
    let io = gate(c, 3u);
    let activated = vec4<f32>(gates[ii], gates[i_f], gates[ig], gates[io]);
    let cell = c.c_base + c.prev + c.block;
    let d = lstm_backward(activated, states[cell], states[c.c_base + c.prev], dstates[c.prev + c.block], dstates[cell]);
    dgi[ii] = d.dgi.x;
    dgi[i_f] = d.dgi.y;
    dgi[ig] = d.dgi.z;
    dgi[io] = d.dgi.w;
    dstates[c.c_base + c.prev] = dstates[c.c_base + c.prev] + d.dc * activated.y;
}

/// Where a thread of d2l's GRU works in the blocked gh and dgh: its unit's r in the (r, z)
/// block (z is `hidden` later), and its n, which lies as its state does (`c.prev`) after the
/// (r, z) block. `reset_h` lies as the state too.
struct ResetRows {
    gates: u32,
    candidate: u32,
}

fn reset_rows(c: Cell) -> ResetRows {
    var r: ResetRows;
    let b = (c.prev - p.step * c.block) / p.hidden;
    r.gates = (p.step * p.batch + b) * 2u * p.hidden + c.j;
    r.candidate = p.steps * p.batch * 2u * p.hidden + c.prev;
    return r;
}

@compute @workgroup_size(64)
fn gru_reset_gates(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 3u);
    if (!c.valid) {
        return;
    }
    let at = reset_rows(c);
    let r = sigmoid(gi[gate(c, 0u)] + gh[at.gates] + bias_hh[c.j]);
    let z = sigmoid(gi[gate(c, 1u)] + gh[at.gates + p.hidden] + bias_hh[p.hidden + c.j]);
    gates[gate(c, 0u)] = r;
    gates[gate(c, 1u)] = z;
    reset_h[c.prev] = r * states[c.prev];
}

@compute @workgroup_size(64)
fn gru_reset_candidate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 3u);
    if (!c.valid) {
        return;
    }
    let at = reset_rows(c);
    let n = tanh(gi[gate(c, 2u)] + gh[at.candidate] + bias_hh[2u * p.hidden + c.j]);
    states[c.prev + c.block] = n + gates[gate(c, 1u)] * (states[c.prev] - n);
    gates[gate(c, 2u)] = n;
}

@compute @workgroup_size(64)
fn gru_reset_candidate_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 3u);
    if (!c.valid) {
        return;
    }
    let at = reset_rows(c);
    let dh = dstates[c.prev + c.block];
    let z = gates[gate(c, 1u)];
    let d = reset_gru_candidate_backward(z, gates[gate(c, 2u)], states[c.prev], dh);
    dgi[gate(c, 1u)] = d.x;
    dgi[gate(c, 2u)] = d.y;
    dgh[at.gates + p.hidden] = d.x;
    dgh[at.candidate] = d.y;
    dstates[c.prev] = dstates[c.prev] + dh * z;
}

@compute @workgroup_size(64)
fn gru_reset_gates_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = locate(gid, nwg, 3u);
    if (!c.valid) {
        return;
    }
    let at = reset_rows(c);
    let d_reset_h = gh[at.candidate];
    let r = gates[gate(c, 0u)];
    let dr = reset_gru_gates_backward(r, states[c.prev], d_reset_h);
    dgi[gate(c, 0u)] = dr;
    dgh[at.gates] = dr;
    dstates[c.prev] = dstates[c.prev] + d_reset_h * r;
}
