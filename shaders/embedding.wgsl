// Row gather (embedding lookup, one-hot input times a matrix) and its scatter-add gradient.
//
// Bindings: 0 params (uniform), 1 source (read, f32), 2 indices (read, u32), 3 dest (read_write).
// The table is (table_rows × dim), or with flag bit 0 stored transposed, (dim × table_rows): a
// PyTorch-layout weight whose columns a one-hot input picks.
//   gather       dest[i, c] = table[indices[i], c]; one thread per output element, 256 per
//                workgroup, 2-D grid flattened with `num_workgroups`. Out-of-range indices give 0.
//   scatter_add  table[indices[i], c] += source[i, c] for i in order; one thread per column c
//                (256 per workgroup), so no two threads touch the same element and the sum is
//                deterministic without float atomics (which WebGPU lacks). Without flag bit 1
//                (accumulate) the thread zeroes its column first.

struct Params {
    num_indices: u32,
    dim: u32,
    table_rows: u32,
    flags: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> dest: array<f32>;

fn table_index(row: u32, c: u32) -> u32 {
    if ((p.flags & 1u) != 0u) {
        return c * p.table_rows + row;
    }
    return row * p.dim + c;
}

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= p.num_indices * p.dim) {
        return;
    }
    let row = indices[i / p.dim];
    let c = i % p.dim;
    if (row < p.table_rows) {
        dest[i] = source[table_index(row, c)];
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
    if ((p.flags & 2u) == 0u) {
        for (var row = 0u; row < p.table_rows; row = row + 1u) {
            dest[table_index(row, c)] = 0.0;
        }
    }
    for (var i = 0u; i < p.num_indices; i = i + 1u) {
        let row = indices[i];
        if (row < p.table_rows) {
            let t = table_index(row, c);
            dest[t] = dest[t] + source[i * p.dim + c];
        }
    }
}
