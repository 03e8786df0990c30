// Fused recurrent layers over a whole window in one dispatch each way: the time loop runs
// inside the kernel. The rows of a minibatch are independent in the recurrence, so one
// workgroup per sequence b runs all its steps with only workgroup-level barriers (Diamos et
// al., "Persistent RNNs", without keeping the weights on chip: they are read from memory,
// which caches them). Per step a thread computes, for each of its units j, the recurrent
// projections of all gates (h_{t−1} · W_hhᵀ, written to `gh` as the per-step matmul writes
// them) and the cell; `storageBarrier` makes the new state visible to the workgroup before the
// next step reads it. The backward runs the steps from the last: the cell's backward per unit,
// a barrier, then each unit's share of dgh · W_hh added into the previous state's gradient.
// The numbers are the per-step path's (recurrent.wgsl plus matmuls) up to the order of the
// projections' sums; the gate arithmetic is cell_math.wgsl's, shared with it. The weight
// gradients stay one GEMM over the window, after the kernel.
//
// One workgroup of 64 threads per sequence (grid (batch, 1, 1)); thread l handles units
// l, l + 64, … Layouts as recurrent.wgsl's (row = step · batch + b):
//   gi, gh, gates, dgi, dgh   (steps · batch, G · hidden)
//   states, dstates           h blocks 0..=steps, then (LSTM) c blocks 0..=steps
//   w                         forward: W_hhᵀ (hidden, G · hidden); backward: W_hh (G · hidden, hidden)
//
// Bindings: 0 params (uniform), 1 gi, 2 w, 3 bias_hh (read), 4 states, 5 gates, 6 gh,
// 7 dstates, 8 dgi, 9 dgh, 10 reset_h (read_write). Each entry point uses only some of them,
// at most eight.
// Entry points: rnn_window, gru_window, lstm_window (forward: states blocks 1..=steps, gates,
// gh); rnn_window_backward, gru_window_backward, lstm_window_backward (from dstates holding the
// gradients of every state from outside the layer: dgi (and the GRU's dgh) written, the
// recurrence's share added into dstates blocks 0..steps); gru_reset_window and
// gru_reset_window_backward, the same for d2l's GRU, whose reset gate scales h before its
// matmul: two projections per step with a barrier between them, w and gh/dgh in its blocked
// layouts (CellStep in kernel.rs), r ⊙ h_{t−1} saved in reset_h (laid out as a state block).

struct Params {
    batch: u32,
    hidden: u32,
    steps: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gi: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias_hh: array<f32>;
@group(0) @binding(4) var<storage, read_write> states: array<f32>;
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;
@group(0) @binding(6) var<storage, read_write> gh: array<f32>;
@group(0) @binding(7) var<storage, read_write> dstates: array<f32>;
@group(0) @binding(8) var<storage, read_write> dgi: array<f32>;
@group(0) @binding(9) var<storage, read_write> dgh: array<f32>;
@group(0) @binding(10) var<storage, read_write> reset_h: array<f32>;

const THREADS: u32 = 64u;

/// Where sequence `b` is at step `t`: its h row in state block t (block t + 1 is `block`
/// later), its row of the per-step buffers, and the offset of the c blocks.
struct At {
    prev: u32,
    row: u32,
    block: u32,
    c_base: u32,
}

fn at(b: u32, t: u32, gate_count: u32) -> At {
    var a: At;
    a.block = p.batch * p.hidden;
    a.prev = t * a.block + b * p.hidden;
    a.row = (t * p.batch + b) * gate_count * p.hidden;
    a.c_base = (p.steps + 1u) * a.block;
    return a;
}

/// Unit j's recurrent projections h_{t−1} · W_hhᵀ for each gate (x, y, z, w), written to gh.
fn project(a: At, j: u32, gate_count: u32) -> vec4<f32> {
    let width = gate_count * p.hidden;
    var acc = vec4<f32>(0.0);
    for (var k = 0u; k < p.hidden; k = k + 1u) {
        let hk = states[a.prev + k];
        let col = k * width + j;
        acc.x = acc.x + hk * w[col];
        if (gate_count > 1u) {
            acc.y = acc.y + hk * w[col + p.hidden];
            acc.z = acc.z + hk * w[col + 2u * p.hidden];
        }
        if (gate_count > 3u) {
            acc.w = acc.w + hk * w[col + 3u * p.hidden];
        }
    }
    for (var g = 0u; g < gate_count; g = g + 1u) {
        gh[a.row + g * p.hidden + j] = acc[g];
    }
    return acc;
}

/// Unit k's share of the previous state's gradient from the recurrence, Σ_r d[r] · W_hh[r, k],
/// over the step's row of dgh (GRU) or dgi (RNN, LSTM: there they are the same).
fn recurrent_grad_dgh(a: At, k: u32, width: u32) -> f32 {
    var total = 0.0;
    for (var r = 0u; r < width; r = r + 1u) {
        total = total + dgh[a.row + r] * w[r * p.hidden + k];
    }
    return total;
}

fn recurrent_grad_dgi(a: At, k: u32, width: u32) -> f32 {
    var total = 0.0;
    for (var r = 0u; r < width; r = r + 1u) {
        total = total + dgi[a.row + r] * w[r * p.hidden + k];
    }
    return total;
}

@compute @workgroup_size(64)
fn rnn_window(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    for (var t = 0u; t < p.steps; t = t + 1u) {
        let a = at(wg.x, t, 1u);
        for (var j = lid; j < p.hidden; j = j + THREADS) {
            let acc = project(a, j, 1u);
            states[a.prev + a.block + j] = tanh(gi[a.row + j] + acc.x + bias_hh[j]);
        }
        storageBarrier();
    }
}

@compute @workgroup_size(64)
fn gru_window(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    for (var t = 0u; t < p.steps; t = t + 1u) {
        let a = at(wg.x, t, 3u);
        for (var j = lid; j < p.hidden; j = j + THREADS) {
            let acc = project(a, j, 3u);
            let ir = a.row + j;
            let iz = ir + p.hidden;
            let inn = iz + p.hidden;
            let out = gru_forward(
                gi[ir] + acc.x + bias_hh[j],
                gi[iz] + acc.y + bias_hh[p.hidden + j],
                gi[inn],
                acc.z + bias_hh[2u * p.hidden + j],
                states[a.prev + j],
            );
            states[a.prev + a.block + j] = out.w;
            gates[ir] = out.x;
            gates[iz] = out.y;
            gates[inn] = out.z;
        }
        storageBarrier();
    }
}

@compute @workgroup_size(64)
fn lstm_window(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    for (var t = 0u; t < p.steps; t = t + 1u) {
        let a = at(wg.x, t, 4u);
        for (var j = lid; j < p.hidden; j = j + THREADS) {
            let acc = project(a, j, 4u);
            let ii = a.row + j;
            let pre = vec4<f32>(
                gi[ii] + acc.x + bias_hh[j],
                gi[ii + p.hidden] + acc.y + bias_hh[p.hidden + j],
                gi[ii + 2u * p.hidden] + acc.z + bias_hh[2u * p.hidden + j],
                gi[ii + 3u * p.hidden] + acc.w + bias_hh[3u * p.hidden + j],
            );
            let out = lstm_forward(pre, states[a.c_base + a.prev + j]);
            states[a.c_base + a.prev + a.block + j] = out.c;
            states[a.prev + a.block + j] = out.h;
            for (var g = 0u; g < 4u; g = g + 1u) {
                gates[ii + g * p.hidden] = out.gates[g];
            }
        }
        storageBarrier();
    }
}

@compute @workgroup_size(64)
fn rnn_window_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    for (var i = 0u; i < p.steps; i = i + 1u) {
        let a = at(wg.x, p.steps - 1u - i, 1u);
        for (var j = lid; j < p.hidden; j = j + THREADS) {
            let h = states[a.prev + a.block + j];
            dgi[a.row + j] = dstates[a.prev + a.block + j] * (1.0 - h * h);
        }
        storageBarrier();
        for (var k = lid; k < p.hidden; k = k + THREADS) {
            dstates[a.prev + k] = dstates[a.prev + k] + recurrent_grad_dgi(a, k, p.hidden);
        }
    }
}

@compute @workgroup_size(64)
fn gru_window_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    for (var i = 0u; i < p.steps; i = i + 1u) {
        let a = at(wg.x, p.steps - 1u - i, 3u);
        for (var j = lid; j < p.hidden; j = j + THREADS) {
            let ir = a.row + j;
            let iz = ir + p.hidden;
            let inn = iz + p.hidden;
            let activated = vec3<f32>(gates[ir], gates[iz], gates[inn]);
            let dh = dstates[a.prev + a.block + j];
            let d = gru_backward(activated, states[a.prev + j], dh, gh[inn] + bias_hh[2u * p.hidden + j]);
            dgi[ir] = d.x;
            dgi[iz] = d.y;
            dgi[inn] = d.z;
            dgh[ir] = d.x;
            dgh[iz] = d.y;
            dgh[inn] = d.z * activated.x;
            dstates[a.prev + j] = dstates[a.prev + j] + dh * activated.y;
        }
        storageBarrier();
        for (var k = lid; k < p.hidden; k = k + THREADS) {
            dstates[a.prev + k] = dstates[a.prev + k] + recurrent_grad_dgh(a, k, 3u * p.hidden);
        }
    }
}

@compute @workgroup_size(64)
fn lstm_window_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    for (var i = 0u; i < p.steps; i = i + 1u) {
        let a = at(wg.x, p.steps - 1u - i, 4u);
        for (var j = lid; j < p.hidden; j = j + THREADS) {
            let ii = a.row + j;
            let activated = vec4<f32>(gates[ii], gates[ii + p.hidden], gates[ii + 2u * p.hidden], gates[ii + 3u * p.hidden]);
            let cell = a.c_base + a.prev + a.block + j;
            let c_prev = a.c_base + a.prev + j;
            let d = lstm_backward(activated, states[cell], states[c_prev], dstates[a.prev + a.block + j], dstates[cell]);
            for (var g = 0u; g < 4u; g = g + 1u) {
                dgi[ii + g * p.hidden] = d.dgi[g];
            }
            dstates[c_prev] = dstates[c_prev] + d.dc * activated.y;
        }
        storageBarrier();
        for (var k = lid; k < p.hidden; k = k + THREADS) {
            dstates[a.prev + k] = dstates[a.prev + k] + recurrent_grad_dgi(a, k, 4u * p.hidden);
        }
    }
}

/// d2l's GRU: sequence `b`'s row of the (r, z) block of gh/dgh at step `t`.
fn reset_gates_row(b: u32, t: u32) -> u32 {
    return (t * p.batch + b) * 2u * p.hidden;
}

/// d2l's GRU: the sequence's row of the n block of gh/dgh at the step of `a`, laid out as its
/// state after the (r, z) block.
fn reset_candidate_row(a: At) -> u32 {
    return p.steps * p.batch * 2u * p.hidden + a.prev;
}

@compute @workgroup_size(64)
fn gru_reset_window(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = p.hidden;
    for (var t = 0u; t < p.steps; t = t + 1u) {
        let a = at(wg.x, t, 3u);
        let rz = reset_gates_row(wg.x, t);
        let nrow = reset_candidate_row(a);
        // h_{t−1} · W_h(r,z)ᵀ, the gates and r ⊙ h_{t−1}.
        for (var j = lid; j < h; j = j + THREADS) {
            var acc = vec2<f32>(0.0);
            for (var k = 0u; k < h; k = k + 1u) {
                let hk = states[a.prev + k];
                acc = acc + hk * vec2<f32>(w[k * 2u * h + j], w[k * 2u * h + h + j]);
            }
            gh[rz + j] = acc.x;
            gh[rz + h + j] = acc.y;
            let r = sigmoid(gi[a.row + j] + acc.x + bias_hh[j]);
            let z = sigmoid(gi[a.row + h + j] + acc.y + bias_hh[h + j]);
            gates[a.row + j] = r;
            gates[a.row + h + j] = z;
            reset_h[a.prev + j] = r * states[a.prev + j];
        }
        storageBarrier();
        // (r ⊙ h_{t−1}) · W_hnᵀ, the candidate and the new state.
        for (var j = lid; j < h; j = j + THREADS) {
            var acc = 0.0;
            for (var k = 0u; k < h; k = k + 1u) {
                acc = acc + reset_h[a.prev + k] * w[2u * h * h + k * h + j];
            }
            gh[nrow + j] = acc;
            let n = tanh(gi[a.row + 2u * h + j] + acc + bias_hh[2u * h + j]);
            states[a.prev + a.block + j] = n + gates[a.row + h + j] * (states[a.prev + j] - n);
            gates[a.row + 2u * h + j] = n;
        }
        storageBarrier();
    }
}

@compute @workgroup_size(64)
fn gru_reset_window_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = p.hidden;
    for (var i = 0u; i < p.steps; i = i + 1u) {
        let t = p.steps - 1u - i;
        let a = at(wg.x, t, 3u);
        let rz = reset_gates_row(wg.x, t);
        let nrow = reset_candidate_row(a);
        // The candidate's half: dz, dn.
        for (var j = lid; j < h; j = j + THREADS) {
            let dh = dstates[a.prev + a.block + j];
            let z = gates[a.row + h + j];
            let d = reset_gru_candidate_backward(z, gates[a.row + 2u * h + j], states[a.prev + j], dh);
            dgi[a.row + h + j] = d.x;
            dgi[a.row + 2u * h + j] = d.y;
            dgh[rz + h + j] = d.x;
            dgh[nrow + j] = d.y;
            dstates[a.prev + j] = dstates[a.prev + j] + dh * z;
        }
        storageBarrier();
        // d(r ⊙ h_{t−1}) = dn · W_hn, then the gates' half: dr.
        for (var k = lid; k < h; k = k + THREADS) {
            var d_reset_h = 0.0;
            for (var r = 0u; r < h; r = r + 1u) {
                d_reset_h = d_reset_h + dgh[nrow + r] * w[(2u * h + r) * h + k];
            }
            let reset = gates[a.row + k];
            let dr = reset_gru_gates_backward(reset, states[a.prev + k], d_reset_h);
            dgi[a.row + k] = dr;
            dgh[rz + k] = dr;
            dstates[a.prev + k] = dstates[a.prev + k] + d_reset_h * reset;
        }
        storageBarrier();
        // d(r, z) · W_h(r,z) into the previous state's gradient.
        for (var k = lid; k < h; k = k + THREADS) {
            var total = 0.0;
            for (var r = 0u; r < 2u * h; r = r + 1u) {
                total = total + dgh[rz + r] * w[r * h + k];
            }
            dstates[a.prev + k] = dstates[a.prev + k] + total;
        }
    }
}
