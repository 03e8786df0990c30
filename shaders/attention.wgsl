// Attention over a recurrent encoder's outputs (d2l 11.4), one decoder step at a time: scores,
// masked softmax and context forward; the weighted sum's backward, then the softmax's and the
// scores'. crates/engine/src/backend/cpu_attention.rs is the reference; ops/attention.rs the
// tape op.
//
// Layouts (row = s · batch + b, time-major as the encoder writes them):
//   query, dquery, dcontext, context, dw_v_rows   (batch, width)
//   keys, values, dkeys, dvalues                  (steps · batch, width)
//   scores, weights, dweights                     (batch, steps)
//   valid_lens                                    (batch) u32: keys at or past it are masked
//                                                 (0 counts as 1)
// Dot scoring's keys are the values: its kernels read them from binding 4 and its dkeys are
// the dvalues.
//
// Dropout of the weights (d2l's attention classes, in training): with p.prob > 0 the context
// applies weight (b, s) as a = w · keep / (1 − prob), keep drawn from dropout_mask.wgsl's hash
// at index b · steps + s (the mask the dropout kernel draws over the (batch, steps) weights),
// and the sum's backward draws the same mask: dweights through it, dvalues from a. `weights`
// stay whole, for the views and the softmax's backward.
//
// Bindings: 0 params (uniform), 1 query, 2 keys, 3 w_v, 4 values, 5 valid_lens (u32),
// 6 scores, 7 weights, 8 dcontext, 9 dweights (read), 10 out_a, 11 out_b, 12 out_c
// (read_write), 13 seed (read, u32: the step's seed, for dropout). Each entry point uses only
// some of them, at most eight storage buffers (WebGPU's default limit).
// Entry points (2-D grid flattened with `num_workgroups`, 64 threads a workgroup):
//   scores_additive, scores_dot     one thread per (b, s): out_a = scores
//   context                         one thread per (b, j): out_a = weights (thread j = 0
//                                   writes row b), out_b = context
//   sum_backward                    one thread per (b, s): out_a = dweights (written), out_b =
//                                   dvalues (row (s, b), added to)
//   backward_additive, backward_dot one thread per (b, j): out_a = dquery, out_b = dkeys (both
//                                   added to), additive: out_c = dw_v_rows (written)

struct Params {
    batch: u32,
    steps: u32,
    width: u32,
    salt: u32,
    prob: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
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
@group(0) @binding(13) var<storage, read> seed: array<u32>;

/// d2l's masked_softmax value; its exponential is exactly 0 beside any unmasked score.
const MASKED: f32 = -1e6;

fn thread(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

/// Weight (b, s) worth `x` as the context applies it: dropped out when prob > 0.
fn applied(b: u32, s: u32, x: f32) -> f32 {
    if (p.prob == 0.0) {
        return x;
    }
    let kept = dropout_uniform(dropout_mask_seed(seed[0], p.salt), b * p.steps + s) >= p.prob;
    return select(0.0, x / (1.0 - p.prob), kept);
}

/// Element j of key/value row (s, b).
fn at_row(s: u32, b: u32, j: u32) -> u32 {
    return (s * p.batch + b) * p.width + j;
}

/// A thread's cell of a (batch, cols) grid: (index, b, column); b = p.batch past the grid.
fn cell(gid: vec3<u32>, nwg: vec3<u32>, cols: u32) -> vec3<u32> {
    let index = thread(gid, nwg);
    if (index >= p.batch * cols) {
        return vec3<u32>(index, p.batch, 0u);
    }
    return vec3<u32>(index, index / cols, index % cols);
}

/// Writes d2l's mask for thread (b, s) of the scores when key s is at or past query b's valid
/// length (0 counts as 1, so a row always has a key); returns whether the thread is done (that,
/// or past the grid).
fn masked_or_outside(c: vec3<u32>) -> bool {
    if (c.y >= p.batch) {
        return true;
    }
    if (c.z >= max(valid_lens[c.y], 1u)) {
        out_a[c.x] = MASKED;
        return true;
    }
    return false;
}

@compute @workgroup_size(64)
fn scores_additive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = cell(gid, nwg, p.steps);
    if (masked_or_outside(c)) {
        return;
    }
    var total = 0.0;
    for (var j = 0u; j < p.width; j = j + 1u) {
        total = total + w_v[j] * tanh(query[c.y * p.width + j] + keys[at_row(c.z, c.y, j)]);
    }
    out_a[c.x] = total;
}

@compute @workgroup_size(64)
fn scores_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = cell(gid, nwg, p.steps);
    if (masked_or_outside(c)) {
        return;
    }
    var total = 0.0;
    for (var j = 0u; j < p.width; j = j + 1u) {
        total = total + query[c.y * p.width + j] * values[at_row(c.z, c.y, j)];
    }
    out_a[c.x] = total / sqrt(f32(p.width));
}

@compute @workgroup_size(64)
fn context(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = cell(gid, nwg, p.width);
    if (c.y >= p.batch) {
        return;
    }
    let row = c.y * p.steps;
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
        if (c.z == 0u) {
            out_a[row + s] = w;
        }
        sum = sum + applied(c.y, s, w) * values[at_row(s, c.y, c.z)];
    }
    out_b[c.x] = sum;
}

@compute @workgroup_size(64)
fn sum_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = cell(gid, nwg, p.steps);
    if (c.y >= p.batch) {
        return;
    }
    let a = applied(c.y, c.z, weights[c.x]);
    var total = 0.0;
    for (var j = 0u; j < p.width; j = j + 1u) {
        let r = at_row(c.z, c.y, j);
        let dc = dcontext[c.y * p.width + j];
        total = total + dc * values[r];
        out_b[r] = out_b[r] + a * dc;
    }
    out_a[c.x] = applied(c.y, c.z, total);
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
    let c = cell(gid, nwg, p.width);
    if (c.y >= p.batch) {
        return;
    }
    let sigma = weighted_dweights(c.y);
    let q = query[c.x];
    var dq = 0.0;
    var dwv = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let w = weights[c.y * p.steps + s];
        let ds = w * (dweights[c.y * p.steps + s] - sigma);
        let r = at_row(s, c.y, c.z);
        let f = tanh(q + keys[r]);
        let g = ds * w_v[c.z] * (1.0 - f * f);
        out_b[r] = out_b[r] + g;
        dq = dq + g;
        dwv = dwv + ds * f;
    }
    out_a[c.x] = out_a[c.x] + dq;
    out_c[c.x] = dwv;
}

@compute @workgroup_size(64)
fn backward_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = cell(gid, nwg, p.width);
    if (c.y >= p.batch) {
        return;
    }
    let sigma = weighted_dweights(c.y);
    let q = query[c.x];
    let scale = 1.0 / sqrt(f32(p.width));
    var dq = 0.0;
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let w = weights[c.y * p.steps + s];
        let ds = w * (dweights[c.y * p.steps + s] - sigma);
        let r = at_row(s, c.y, c.z);
        dq = dq + ds * values[r] * scale;
        out_b[r] = out_b[r] + ds * q * scale;
    }
    out_a[c.x] = out_a[c.x] + dq;
}
