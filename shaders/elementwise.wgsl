// Element-wise kernels: fill, unary functions and their backward forms, binary ops, scaling,
// broadcast bias add, dropout.
//
// Bindings: 0 params (uniform), 1 x (read), 2 y (read), 3 out (read_write), 4 seed (read, u32;
// dropout only: the step's seed, kept on the device so a recorded step replays with new masks).
// Every entry point uses 256 threads per workgroup, one element per thread; large arrays are
// dispatched as a 2-D grid and flattened with `num_workgroups` (65535 groups per dimension).
//   fill              out[i] = alpha
//   unary             out[i] = f(x[i])                       (op: 0 tanh, 1 sigmoid, 2 relu)
//   unary_backward    out[i] (+)= y[i] · f'(x[i])            (x is the saved output or input)
//   binary            out[i] (+)= x[i] op y[i]               (op: 0 add, 1 sub, 2 mul)
//   scale             out[i] (+)= alpha · x[i]
//   scale_by_scalar   out[i] (+)= alpha · x[i] · y[0]
//   broadcast_scalar  out[i] (+)= alpha · y[0]
//   add_bias          out[i] = x[i] + y[i % cols]
//   dropout           out[i] (+)= x[i] · keep(mask_seed(seed[0], salt), i) / (1 - prob)

struct Params {
    len: u32,
    op: u32,
    accumulate: u32,
    alpha: f32,
    salt: u32,
    prob: f32,
    cols: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> seed: array<u32>;

fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 256u;
}

fn store(i: u32, value: f32) {
    if (p.accumulate != 0u) {
        out[i] = out[i] + value;
    } else {
        out[i] = value;
    }
}

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        out[i] = p.alpha;
    }
}

fn unary_forward(value: f32) -> f32 {
    switch p.op {
        case 0u: { return tanh(value); }
        case 1u: { return 1.0 / (1.0 + exp(-value)); }
        default: { return max(value, 0.0); }
    }
}

fn unary_derivative(saved: f32) -> f32 {
    switch p.op {
        case 0u: { return 1.0 - saved * saved; }
        case 1u: { return saved * (1.0 - saved); }
        default: { return select(0.0, 1.0, saved > 0.0); }
    }
}

@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        out[i] = unary_forward(x[i]);
    }
}

@compute @workgroup_size(256)
fn unary_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        store(i, y[i] * unary_derivative(x[i]));
    }
}

@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        var value: f32;
        switch p.op {
            case 0u: { value = x[i] + y[i]; }
            case 1u: { value = x[i] - y[i]; }
            default: { value = x[i] * y[i]; }
        }
        store(i, value);
    }
}

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        store(i, p.alpha * x[i]);
    }
}

@compute @workgroup_size(256)
fn scale_by_scalar(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        store(i, p.alpha * x[i] * y[0]);
    }
}

@compute @workgroup_size(256)
fn broadcast_scalar(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        store(i, p.alpha * y[0]);
    }
}

@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        out[i] = x[i] + y[i % p.cols];
    }
}

@compute @workgroup_size(256)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        let kept = dropout_uniform(dropout_mask_seed(seed[0], p.salt), i) >= p.prob;
        store(i, select(0.0, x[i] / (1.0 - p.prob), kept));
    }
}
