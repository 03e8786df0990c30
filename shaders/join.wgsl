// Concatenation along any dimension in one dispatch, and its gradient. Up to four parts, part
// k a (rows × cols[k]) block lying at column offset[k] of each of the `rows` rows of `whole`,
// (rows × whole_stride):
//   join2, join3, join4:    whole[r · whole_stride + offset[k] + c] = part_k[r · cols[k] + c]
//   split2, split3, split4: part_k[r · cols[k] + c] (+)= whole[r · whole_stride + offset[k] + c],
//                           accumulating where bit k of `accumulate` is set
// for r < rows, c < cols[k]. One entry point per part count: WGSL cannot index bindings, and an
// entry point binds only what it uses. Several parts never share a buffer (the tape groups them
// so), so no two threads write one element.
// Bindings: 0 params (uniform), 1 whole, 2–5 parts 0–3 (read_write: a join writes the whole, a
// split the parts).
// 256 threads per workgroup, one element of one part each; x and y (flattened with
// `num_workgroups`) over the largest part's elements, z over the parts.

struct Params {
    rows: u32,
    whole_stride: u32,
    accumulate: u32,
    pad: u32,
    cols: vec4<u32>,
    offset: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> whole: array<f32>;
@group(0) @binding(2) var<storage, read_write> part0: array<f32>;
@group(0) @binding(3) var<storage, read_write> part1: array<f32>;
@group(0) @binding(4) var<storage, read_write> part2: array<f32>;
@group(0) @binding(5) var<storage, read_write> part3: array<f32>;

/// One thread's element: its part, its index in the part and in the whole.
struct At {
    valid: bool,
    part: u32,
    element: u32,
    whole: u32,
}

fn locate(gid: vec3<u32>, groups: vec3<u32>) -> At {
    var at: At;
    at.part = gid.z;
    at.element = gid.x + gid.y * groups.x * 256u;
    let cols = p.cols[at.part];
    at.valid = at.element < p.rows * cols;
    if (at.valid) {
        at.whole = (at.element / cols) * p.whole_stride + p.offset[at.part] + at.element % cols;
    }
    return at;
}

/// A split's new value of a part's element that held `old`.
fn split_value(at: At, old: f32) -> f32 {
    let value = whole[at.whole];
    return select(value, old + value, ((p.accumulate >> at.part) & 1u) != 0u);
}

@compute @workgroup_size(256)
fn join2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = locate(gid, groups);
    if (!at.valid) {
        return;
    }
    switch at.part {
        case 0u: { whole[at.whole] = part0[at.element]; }
        default: { whole[at.whole] = part1[at.element]; }
    }
}

@compute @workgroup_size(256)
fn join3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = locate(gid, groups);
    if (!at.valid) {
        return;
    }
    switch at.part {
        case 0u: { whole[at.whole] = part0[at.element]; }
        case 1u: { whole[at.whole] = part1[at.element]; }
        default: { whole[at.whole] = part2[at.element]; }
    }
}

@compute @workgroup_size(256)
fn join4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = locate(gid, groups);
    if (!at.valid) {
        return;
    }
    switch at.part {
        case 0u: { whole[at.whole] = part0[at.element]; }
        case 1u: { whole[at.whole] = part1[at.element]; }
        case 2u: { whole[at.whole] = part2[at.element]; }
        default: { whole[at.whole] = part3[at.element]; }
    }
}

@compute @workgroup_size(256)
fn split2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = locate(gid, groups);
    if (!at.valid) {
        return;
    }
    switch at.part {
        case 0u: { part0[at.element] = split_value(at, part0[at.element]); }
        default: { part1[at.element] = split_value(at, part1[at.element]); }
    }
}

@compute @workgroup_size(256)
fn split3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = locate(gid, groups);
    if (!at.valid) {
        return;
    }
    switch at.part {
        case 0u: { part0[at.element] = split_value(at, part0[at.element]); }
        case 1u: { part1[at.element] = split_value(at, part1[at.element]); }
        default: { part2[at.element] = split_value(at, part2[at.element]); }
    }
}

@compute @workgroup_size(256)
fn split4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let at = locate(gid, groups);
    if (!at.valid) {
        return;
    }
    switch at.part {
        case 0u: { part0[at.element] = split_value(at, part0[at.element]); }
        case 1u: { part1[at.element] = split_value(at, part1[at.element]); }
        case 2u: { part2[at.element] = split_value(at, part2[at.element]); }
        default: { part3[at.element] = split_value(at, part3[at.element]); }
    }
}
