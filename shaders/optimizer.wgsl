// Parameter updates and global-norm clipping.
//
// Bindings: 0 params (uniform); gradients (read) 1, 7, 9, 11, 12, 13 — slots 0..5 of a group;
// parameters (read_write) 2, 8, 10 — slots 0..2; 3 moment1, 4 moment2 (read_write); 5 scalars
// (read); 6 clip (read: [θ, Σg², factor]); 14 clip_out (read_write: the same state, written by
// grad_norm); 15 norm_out (read_write: one element). 256 threads per workgroup, one element
// each, 2-D grid flattened with `num_workgroups`, except grad_norm (one workgroup).
//
// What changes during a run — the learning rate of a schedule, Adam's bias corrections, the
// clipping threshold — is read from storage the host writes before the step, never from the
// uniform parameters: so a recorded step (plan replay) follows the schedule.
//   grad_norm   clip_out[1] = Σ g² over the group's gradients (len0..len5; unused slots have
//               length 0 and a stand-in bound), plus clip_out[1] unless `first`; with `last`,
//               norm_out[0] = √clip_out[1] and clip_out[2] = min(1, θ / norm) (exactly 1 when
//               norm ≤ θ). One workgroup: a stride per thread, then a tree in workgroup memory.
//   sgd, sgd2, sgd3  the group's first 1, 2 or 3 parameters, scalars = [lr]:
//               param -= lr · (grad / batch_size + weight_decay · param)
//   adam        slot 0 with moment1 = m, moment2 = v, scalars = [lr, 1-β1^t, 1-β2^t]:
//               PyTorch's Adam (weight decay added to the gradient), or with `decoupled` its
//               AdamW (param ·= 1 - lr · weight_decay first)
//   clip_scale  slot 0's gradient ·= clip[2]
// With `clip` set, sgd and adam clip the gradient on the way in (g · clip[2]) as clip_scale
// would: one dispatch fewer per parameter. Without it, clip is not read (a stand-in is bound).

struct Params {
    len0: u32,
    batch_size: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: u32,
    clip: u32,
    len1: u32,
    len2: u32,
    len3: u32,
    len4: u32,
    len5: u32,
    // bit 0: first group of a norm, bit 1: last group.
    flags: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad0: array<f32>;
@group(0) @binding(2) var<storage, read_write> param0: array<f32>;
@group(0) @binding(3) var<storage, read_write> moment1: array<f32>;
@group(0) @binding(4) var<storage, read_write> moment2: array<f32>;
@group(0) @binding(5) var<storage, read> scalars: array<f32>;
@group(0) @binding(6) var<storage, read> clip: array<f32>;
@group(0) @binding(7) var<storage, read> grad1: array<f32>;
@group(0) @binding(8) var<storage, read_write> param1: array<f32>;
@group(0) @binding(9) var<storage, read> grad2: array<f32>;
@group(0) @binding(10) var<storage, read_write> param2: array<f32>;
@group(0) @binding(11) var<storage, read> grad3: array<f32>;
@group(0) @binding(12) var<storage, read> grad4: array<f32>;
@group(0) @binding(13) var<storage, read> grad5: array<f32>;
@group(0) @binding(14) var<storage, read_write> clip_out: array<f32>;
@group(0) @binding(15) var<storage, read_write> norm_out: array<f32>;

fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 256u;
}

/// A gradient element, clipped when the update clips.
fn clipped(g: f32) -> f32 {
    if (p.clip != 0u) {
        return g * clip[2];
    }
    return g;
}

fn sgd_step(w: f32, g: f32) -> f32 {
    return w - scalars[0] * (clipped(g) / p.batch_size + p.weight_decay * w);
}

fn sgd_slot0(i: u32) {
    if (i < p.len0) {
        param0[i] = sgd_step(param0[i], grad0[i]);
    }
}

fn sgd_slot1(i: u32) {
    if (i < p.len1) {
        param1[i] = sgd_step(param1[i], grad1[i]);
    }
}

fn sgd_slot2(i: u32) {
    if (i < p.len2) {
        param2[i] = sgd_step(param2[i], grad2[i]);
    }
}

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    sgd_slot0(flat_index(gid, groups));
}

@compute @workgroup_size(256)
fn sgd2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    sgd_slot0(i);
    sgd_slot1(i);
}

@compute @workgroup_size(256)
fn sgd3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    sgd_slot0(i);
    sgd_slot1(i);
    sgd_slot2(i);
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len0) {
        var w = param0[i];
        var coupled = p.weight_decay;
        if (p.decoupled != 0u) {
            w = w * (1.0 - scalars[0] * p.weight_decay);
            coupled = 0.0;
        }
        let g = clipped(grad0[i]) + coupled * w;
        let m = p.beta1 * moment1[i] + (1.0 - p.beta1) * g;
        let v = p.beta2 * moment2[i] + (1.0 - p.beta2) * g * g;
        moment1[i] = m;
        moment2[i] = v;
        param0[i] = w - scalars[0] * (m / scalars[1]) / (sqrt(v / scalars[2]) + p.eps);
    }
}

@compute @workgroup_size(256)
fn clip_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.len0) {
        param0[i] = param0[i] * clip[2];
    }
}

// workgroup_sum comes from workgroup_sum.wgsl.

@compute @workgroup_size(256)
fn grad_norm(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.len0; i = i + 256u) {
        acc = acc + grad0[i] * grad0[i];
    }
    for (var i = lid; i < p.len1; i = i + 256u) {
        acc = acc + grad1[i] * grad1[i];
    }
    for (var i = lid; i < p.len2; i = i + 256u) {
        acc = acc + grad2[i] * grad2[i];
    }
    for (var i = lid; i < p.len3; i = i + 256u) {
        acc = acc + grad3[i] * grad3[i];
    }
    for (var i = lid; i < p.len4; i = i + 256u) {
        acc = acc + grad4[i] * grad4[i];
    }
    for (var i = lid; i < p.len5; i = i + 256u) {
        acc = acc + grad5[i] * grad5[i];
    }
    var total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        if ((p.flags & 1u) == 0u) {
            total = total + clip_out[1];
        }
        clip_out[1] = total;
        if ((p.flags & 2u) != 0u) {
            let norm = sqrt(total);
            norm_out[0] = norm;
            clip_out[2] = select(1.0, clip_out[0] / norm, norm > clip_out[0]);
        }
    }
}
