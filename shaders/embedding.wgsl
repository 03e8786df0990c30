// Row gather (embedding lookup, one-hot input times a matrix) and its scatter-add gradient.
//
// Bindings: 0 params (uniform), 1 source (read, f32), 2 indices (read, u32), 3 dest (read_write).
//   gather       dest[i, c] = source[indices[i], c]; one thread per output element, 256 per
//                workgroup, 2-D grid flattened with `num_workgroups`. Out-of-range indices give 0.
//   scatter_add  dest[indices[i], c] += source[i, c] for i in order; one thread per column c
//                (256 per workgroup), so no two threads touch the same element and the sum is
//                deterministic without float atomics (which WebGPU lacks).

struct Params {
    num_indices: u32,
    dim: u32,
    table_rows: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> dest: array<f32>;

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= p.num_indices * p.dim) {
        return;
    }
    let row = indices[i / p.dim];
    let c = i % p.dim;
    if (row < p.table_rows) {
        dest[i] = source[row * p.dim + c];
    } else {
        dest[i] = 0.0;
    }
}

@compute @workgroup_size(256)
fn scatter_add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= p.dim) {
        return;
    }
    for (var i = 0u; i < p.num_indices; i = i + 1u) {
        let row = indices[i];
        if (row < p.table_rows) {
            let t = row * p.dim + c;
            dest[t] = dest[t] + source[i * p.dim + c];
        }
    }
}
