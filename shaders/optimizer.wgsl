// Parameter updates and global-norm clipping.
//
// Bindings: 0 params (uniform), 1 source (read), 2 dest (read_write), 3 moment1 (read_write),
// 4 moment2 (read_write), 5 scalars (read), 6 clip_norm, 7 clip_threshold (read: one element
// each). 256 threads per workgroup, one element each, 2-D grid flattened with `num_workgroups`.
//
// What changes during a run — the learning rate of a schedule, Adam's bias corrections, the
// clipping threshold — is read from `scalars`, a small buffer the host writes before the step,
// never from the uniform parameters: so a recorded step (plan replay) follows the schedule.
//   sgd         dest = param, source = grad, scalars = [lr]:
//               param -= lr · (grad / batch_size + weight_decay · param)
//   adam        dest = param, source = grad, moment1 = m, moment2 = v,
//               scalars = [lr, 1-β1^t, 1-β2^t]: PyTorch's Adam (weight decay added to the
//               gradient), or with `decoupled` its AdamW (param ·= 1 - lr · weight_decay first)
//   clip_scale  dest = grad, source = norm (one element), scalars = [θ]:
//               grad ·= min(1, θ / norm)
// With `clip` set, sgd and adam clip the gradient on the way in as clip_scale would
// (g · min(1, θ / norm) with norm = clip_norm[0], θ = clip_threshold[0]): one dispatch per
// parameter instead of two. Without it those bindings are not read (stand-ins are bound).
//   sqrt        dest[0] = sqrt(source[0]) (the global norm from the sum of squares)

struct Params {
    len: u32,
    batch_size: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: u32,
    clip: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> dest: array<f32>;
@group(0) @binding(3) var<storage, read_write> moment1: array<f32>;
@group(0) @binding(4) var<storage, read_write> moment2: array<f32>;
@group(0) @binding(5) var<storage, read> scalars: array<f32>;
@group(0) @binding(6) var<storage, read> clip_norm: array<f32>;
@group(0) @binding(7) var<storage, read> clip_threshold: array<f32>;

fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 256u;
}

/// Gradient element i, clipped when the update clips.
fn gradient(i: u32) -> f32 {
    let norm = clip_norm[0];
    let max_norm = clip_threshold[0];
    if (p.clip != 0u && norm > max_norm) {
        return source[i] * (max_norm / norm);
    }
    return source[i];
}

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        dest[i] = dest[i] - scalars[0] * (gradient(i) / p.batch_size + p.weight_decay * dest[i]);
    }
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len) {
        var w = dest[i];
        var coupled = p.weight_decay;
        if (p.decoupled != 0u) {
            w = w * (1.0 - scalars[0] * p.weight_decay);
            coupled = 0.0;
        }
        let g = gradient(i) + coupled * w;
        let m = p.beta1 * moment1[i] + (1.0 - p.beta1) * g;
        let v = p.beta2 * moment2[i] + (1.0 - p.beta2) * g * g;
        moment1[i] = m;
        moment2[i] = v;
        dest[i] = w - scalars[0] * (m / scalars[1]) / (sqrt(v / scalars[2]) + p.eps);
    }
}

@compute @workgroup_size(256)
fn clip_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    let norm = source[0];
    let max_norm = scalars[0];
    if (i < p.len && norm > max_norm) {
        dest[i] = dest[i] * (max_norm / norm);
    }
}

@compute @workgroup_size(1)
fn sqrt_scalar() {
    // `len` is always 1; reading it keeps the params binding in this entry point's layout.
    if (p.len > 0u) {
        dest[0] = sqrt(source[0]);
    }
}
