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
// 7 dgi, 8 dgh (read_write). Each entry point uses only some of them.
// Entry points:
//   rnn_cell, gru_cell, lstm_cell                              forward of step `step`
//   rnn_cell_backward, gru_cell_backward, lstm_cell_backward   backward of step `step`:
//     reads the complete gradient of state block step + 1, writes dgi (and the GRU's dgh),
//     adds the element-wise part of the previous state's gradient into block `step`.

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

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

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
    let r = sigmoid(gi[ir] + gh[ir] + bias_hh[c.j]);
    let z = sigmoid(gi[iz] + gh[iz] + bias_hh[p.hidden + c.j]);
    let n = tanh(gi[inn] + r * (gh[inn] + bias_hh[2u * p.hidden + c.j]));
    let h = states[c.prev];
    states[c.prev + c.block] = n + z * (h - n);
    gates[ir] = r;
    gates[iz] = z;
    gates[inn] = n;
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
    let r = gates[ir];
    let z = gates[iz];
    let n = gates[inn];
    let h = states[c.prev];
    let dh = dstates[c.prev + c.block];
    let dn = dh * (1.0 - z) * (1.0 - n * n);
    let dz = dh * (h - n) * z * (1.0 - z);
    let dr = dn * (gh[inn] + bias_hh[2u * p.hidden + c.j]) * r * (1.0 - r);
    dgi[ir] = dr;
    dgi[iz] = dz;
    dgi[inn] = dn;
    dgh[ir] = dr;
    dgh[iz] = dz;
    dgh[inn] = dn * r;
    dstates[c.prev] = dstates[c.prev] + dh * z;
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
    let i = sigmoid(gi[ii] + gh[ii] + bias_hh[c.j]);
    let f = sigmoid(gi[i_f] + gh[i_f] + bias_hh[p.hidden + c.j]);
    let g = tanh(gi[ig] + gh[ig] + bias_hh[2u * p.hidden + c.j]);
    let o = sigmoid(gi[io] + gh[io] + bias_hh[3u * p.hidden + c.j]);
    let cell = f * states[c.c_base + c.prev] + i * g;
    states[c.c_base + c.prev + c.block] = cell;
    states[c.prev + c.block] = o * tanh(cell);
    gates[ii] = i;
    gates[i_f] = f;
    gates[ig] = g;
    gates[io] = o;
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
    let i = gates[ii];
    let f = gates[i_f];
    let g = gates[ig];
    let o = gates[io];
    let squashed = tanh(states[c.c_base + c.prev + c.block]);
    let dh = dstates[c.prev + c.block];
    let dc = dstates[c.c_base + c.prev + c.block] + dh * o * (1.0 - squashed * squashed);
    dgi[ii] = dc * g * i * (1.0 - i);
    dgi[i_f] = dc * states[c.c_base + c.prev] * f * (1.0 - f);
    dgi[ig] = dc * i * (1.0 - g * g);
    dgi[io] = dh * squashed * o * (1.0 - o);
    dstates[c.c_base + c.prev] = dstates[c.c_base + c.prev] + dc * f;
}
