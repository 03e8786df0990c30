// The gate arithmetic of one unit of a GRU or LSTM cell, forward and backward, as pure
// functions of their inputs: shared by the per-step kernels (recurrent.wgsl) and the
// whole-window ones (recurrent_window.wgsl), so both compute the same numbers in the same order.
// crates/engine/src/backend/cpu_cells.rs is the reference. Gate order is PyTorch's (GRU r, z, n;
// LSTM i, f, g, o).

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

/// GRU forward from r's and z's pre-activations (gi + gh + b_hh), the input part of n and
/// `ghn_b` = W_hn h + b_hn: (r, z, n, new h).
fn gru_forward(r_pre: f32, z_pre: f32, gi_n: f32, ghn_b: f32, h_prev: f32) -> vec4<f32> {
    let r = sigmoid(r_pre);
    let z = sigmoid(z_pre);
    let n = tanh(gi_n + r * ghn_b);
    return vec4<f32>(r, z, n, n + z * (h_prev - n));
}

/// GRU backward from the activated gates (r, z, n), the previous state, the new state's
/// gradient and `ghn_b`: the pre-activation gradients (dr, dz, dn). The recurrent projection
/// of n gets dn · r; the previous state's element-wise share is dh · z.
fn gru_backward(gates: vec3<f32>, h_prev: f32, dh: f32, ghn_b: f32) -> vec3<f32> {
    let r = gates.x;
    let z = gates.y;
    let n = gates.z;
    let dn = dh * (1.0 - z) * (1.0 - n * n);
    let dz = dh * (h_prev - n) * z * (1.0 - z);
    let dr = dn * ghn_b * r * (1.0 - r);
    return vec3<f32>(dr, dz, dn);
}

/// d2l's GRU (reset before its matmul), the candidate's half backward: the pre-activation
/// gradients (dz, dn) from z, n, the previous state and the new state's gradient. The previous
/// state's element-wise share is dh · z.
fn reset_gru_candidate_backward(z: f32, n: f32, h_prev: f32, dh: f32) -> vec2<f32> {
    return vec2<f32>(dh * (h_prev - n) * z * (1.0 - z), dh * (1.0 - z) * (1.0 - n * n));
}

/// d2l's GRU, the gates' half backward: r's pre-activation gradient from d(r ⊙ h_{t−1}). The
/// previous state's share is d(r ⊙ h_{t−1}) · r.
fn reset_gru_gates_backward(r: f32, h_prev: f32, d_reset_h: f32) -> f32 {
    return d_reset_h * h_prev * r * (1.0 - r);
}

struct LstmStep {
    /// The activated gates (i, f, g, o).
    gates: vec4<f32>,
    c: f32,
    h: f32,
}

/// LSTM forward from the four pre-activations (gi + gh + b_hh) and the previous memory cell.
fn lstm_forward(pre: vec4<f32>, c_prev: f32) -> LstmStep {
    var out: LstmStep;
    out.gates = vec4<f32>(sigmoid(pre.x), sigmoid(pre.y), tanh(pre.z), sigmoid(pre.w));
    out.c = out.gates.y * c_prev + out.gates.x * out.gates.z;
    out.h = out.gates.w * tanh(out.c);
    return out;
}

struct LstmGrads {
    /// The pre-activation gradients (di, df, dg, do).
    dgi: vec4<f32>,
    /// The memory cell's complete gradient; the previous cell's share is dc · f.
    dc: f32,
}

/// LSTM backward from the activated gates, the memory cell and the previous one, and the
/// gradients of the new h and c (c's from the step after).
fn lstm_backward(gates: vec4<f32>, c: f32, c_prev: f32, dh: f32, dc_after: f32) -> LstmGrads {
    let i = gates.x;
    let f = gates.y;
    let g = gates.z;
    let o = gates.w;
    let squashed = tanh(c);
    var out: LstmGrads;
    out.dc = dc_after + dh * o * (1.0 - squashed * squashed);
    out.dgi = vec4<f32>(
        out.dc * g * i * (1.0 - i),
        out.dc * c_prev * f * (1.0 - f),
        out.dc * i * (1.0 - g * g),
        dh * squashed * o * (1.0 - o),
    );
    return out;
}
