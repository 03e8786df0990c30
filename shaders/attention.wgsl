// Attention over a recurrent encoder's outputs (d2l 11.4), one decoder step at a time: scores,
// masked softmax and context forward; the weights' gradient and the rest of the backward.
// crates/engine/src/backend/cpu_attention.rs is the reference; ops/attention.rs the tape op.
//
// Layouts (row = s · batch + b, time-major as the encoder writes them):
//   query, dquery, dcontext, context, dw_v_rows   (batch, width)
//   keys, values, dkeys, dvalues                  (steps · batch, width)
//   scores, weights, dweights                     (batch, steps)
//   valid_lens                                    (batch) u32: keys at or past it are masked
// Dot scoring's keys are the values (binding 2 is not used).
//
// Bindings: 0 params (uniform), 1 query, 2 keys, 3 w_v, 4 values, 5 valid_lens (u32),
// 6 scores, 7 weights, 8 dcontext, 9 dweights (read), 10 out_a, 11 out_b, 12 out_c,
// 13 out_d (read_write). Each entry point uses only some of them.
// Entry points (2-D grid flattened with `num_workgroups`, 64 threads a workgroup):
//   scores_additive, scores_dot    one thread per (b, s): out_a = scores
//   context                        one thread per (b, j): out_a = weights (thread j = 0 writes
//                                  row b), out_b = context
//   weights_backward               one thread per (b, s): out_a = dweights
//   backward_additive, backward_dot one thread per (b, j): out_a = dquery, out_b = dvalues
//                                  (added to), additive: out_c = dkeys (added to),
//                                  out_d = dw_v_rows (written)

struct Params {
    batch: u32,
    steps: u32,
    width: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> query: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<f32>;
@group(0) @binding(3) var<storage, read> w_v: array<f32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read> valid_lens: array<u32>;
@group(0) @binding(6) var<storage, read> scores: array<f32>;
@group(0) @binding(7) var<storage, read> weights: array<f32>;
@group(0) @binding(8) var<storage, read> dcontext: array<f32>;
@group(0) @binding(9) var<storage, read> dweights: array<f32>;
@group(0) @binding(10) var<storage, read_write> out_a: array<f32>;
@group(0) @binding(11) var<storage, read_write> out_b: array<f32>;
@group(0) @binding(12) var<storage, read_write> out_c: array<f32>;
@group(0) @binding(13) var<storage, read_write> out_d: array<f32>;

/// d2l's masked_softmax value; its exponential is exactly 0 beside any unmasked score.
const MASKED: f32 = -1e6;

fn thread(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

/// Element j of key/value row (s, b).
fn at_row(s: u32, b: u32, j: u32) -> u32 {
    return (s * p.batch + b) * p.width + j;
}

@compute @workgroup_size(64)
fn scores_additive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = thread(gid, nwg);
    if (index >= p.batch * p.steps) {
        return;
    }
    let b = index / p.steps;
    let s = index % p.steps;
    if (s >= valid_lens[b]) {
        out_a[index] = MASKED;
        return;
    }
    var total = 0.0;
    for (var j = 0u; j < p.width; j = j + 1u) {
        total = total + w_v[j] * tanh(query[b * p.width + j] + keys[at_row(s, b, j)]);
    }
    out_a[index] = total;
}

@compute @workgroup_size(64)
fn scores_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = thread(gid, nwg);
    if (index >= p.batch * p.steps) {
        return;
    }
    let b = index / p.steps;
    let s = index % p.steps;
    if (s >= valid_lens[b]) {
        out_a[index] = MASKED;
        return;
    }
    var total = 0.0;
    for (var j = 0u; j < p.width; j = j + 1u) {
        total = total + query[b * p.width + j] * values[at_row(s, b, j)];
    }
    out_a[index] = total / sqrt(f32(p.width));
}

@compute @workgroup_size(64)
fn context(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = thread(gid, nwg);
    if (index >= p.batch * p.width) {
        return;
    }
    let b = index / p.width;
    let j = index % p.width;
    let row = b * p.steps;
    var top = scores[row];
    for (var s = 1u; s < p.steps; s = s + 1u) {
        top = max(top, scores[row + s]);
    }
    var total = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        total = total + exp(scores[row + s] - top);
    }
    var sum = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let w = exp(scores[row + s] - top) / total;
        if (j == 0u) {
            out_a[row + s] = w;
        }
        sum = sum + w * values[at_row(s, b, j)];
    }
    out_b[index] = sum;
}

@compute @workgroup_size(64)
fn weights_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = thread(gid, nwg);
    if (index >= p.batch * p.steps) {
        return;
    }
    let b = index / p.steps;
    let s = index % p.steps;
    var total = 0.0;
    for (var j = 0u; j < p.width; j = j + 1u) {
        total = total + dcontext[b * p.width + j] * values[at_row(s, b, j)];
    }
    out_a[index] = total;
}

/// Σ_s w·dw of query b: the softmax backward's shared term.
fn weighted_dweights(b: u32) -> f32 {
    var sigma = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        sigma = sigma + weights[b * p.steps + s] * dweights[b * p.steps + s];
    }
    return sigma;
}

@compute @workgroup_size(64)
fn backward_additive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = thread(gid, nwg);
    if (index >= p.batch * p.width) {
        return;
    }
    let b = index / p.width;
    let j = index % p.width;
    let sigma = weighted_dweights(b);
    let q = query[index];
    let dc = dcontext[index];
    var dq = 0.0;
    var dwv = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let w = weights[b * p.steps + s];
        let ds = w * (dweights[b * p.steps + s] - sigma);
        let r = at_row(s, b, j);
        out_b[r] = out_b[r] + w * dc;
        let f = tanh(q + keys[r]);
        let g = ds * w_v[j] * (1.0 - f * f);
        out_c[r] = out_c[r] + g;
        dq = dq + g;
        dwv = dwv + ds * f;
    }
    out_a[index] = out_a[index] + dq;
    out_d[index] = dwv;
}

@compute @workgroup_size(64)
fn backward_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = thread(gid, nwg);
    if (index >= p.batch * p.width) {
        return;
    }
    let b = index / p.width;
    let j = index % p.width;
    let sigma = weighted_dweights(b);
    let q = query[index];
    let dc = dcontext[index];
    let scale = 1.0 / sqrt(f32(p.width));
    var dq = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let w = weights[b * p.steps + s];
        let ds = w * (dweights[b * p.steps + s] - sigma);
        let r = at_row(s, b, j);
        dq = dq + ds * values[r] * scale;
        out_b[r] = out_b[r] + w * dc + ds * q * scale;
    }
    out_a[index] = out_a[index] + dq;
}
