// Matrix multiply: c (+)= op(a) · op(b), op(a) m×k, op(b) k×n, c m×n, row-major.
//
// Transposes are folded into strides computed on the host: element (i, q) of op(a) is
// a[a_offset + i * a_row_stride + q * a_col_stride], element (q, j) of op(b) is
// b[b_offset + q * b_row_stride + j * b_col_stride].
//
// Bindings: 0 params (uniform), 1 a (read), 2 b (read), 3 c (read_write).
// Entry points and workgroup layouts:
//   matmul_naive      16×16 threads, one output each; grid (ceil(n/16), ceil(m/16))
//   matmul_blocked4x4 8×8 threads, a 4×4 block of outputs each from registers, no workgroup
//                     memory (fast on CPU-like adapters); grid (ceil(n/32), ceil(m/32))
//   matmul_tiled16    16×16 threads, 16×16 tiles of a and b staged in workgroup memory
//                     (fast on discrete GPUs); grid (ceil(n/16), ceil(m/16))

// Params and binding 0 come from matmul_params.wgsl.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store_c(row: u32, col: u32, value: f32) {
    let index = p.c_offset + row * p.n + col;
    if (p.accumulate != 0u) {
        c[index] = c[index] + value;
    } else {
        c[index] = value;
    }
}

@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let row = gid.y;
    if (row >= p.m || col >= p.n) {
        return;
    }
    var acc = 0.0;
    for (var q = 0u; q < p.k; q = q + 1u) {
        acc = acc + a[p.a_offset + row * p.a_row_stride + q * p.a_col_stride]
            * b[p.b_offset + q * p.b_row_stride + col * p.b_col_stride];
    }
    store_c(row, col, acc);
}

@compute @workgroup_size(8, 8)
fn matmul_blocked4x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    // Clamp out-of-range rows and columns to the last valid one so the inner loop has no
    // branches; their results are simply not stored.
    let last_row = p.m - 1u;
    let last_col = p.n - 1u;
    let a_off = p.a_offset + vec4<u32>(
        min(row0, last_row) * p.a_row_stride,
        min(row0 + 1u, last_row) * p.a_row_stride,
        min(row0 + 2u, last_row) * p.a_row_stride,
        min(row0 + 3u, last_row) * p.a_row_stride,
    );
    let b_off = p.b_offset + vec4<u32>(
        min(col0, last_col) * p.b_col_stride,
        min(col0 + 1u, last_col) * p.b_col_stride,
        min(col0 + 2u, last_col) * p.b_col_stride,
        min(col0 + 3u, last_col) * p.b_col_stride,
    );
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < p.k; q = q + 1u) {
        let qa = q * p.a_col_stride;
        let qb = q * p.b_row_stride;
        let bv = vec4<f32>(b[qb + b_off.x], b[qb + b_off.y], b[qb + b_off.z], b[qb + b_off.w]);
        acc0 = acc0 + a[a_off.x + qa] * bv;
        acc1 = acc1 + a[a_off.y + qa] * bv;
        acc2 = acc2 + a[a_off.z + qa] * bv;
        acc3 = acc3 + a[a_off.w + qa] * bv;
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = row0 + i;
        if (row < p.m) {
            for (var j = 0u; j < 4u; j = j + 1u) {
                let col = col0 + j;
                if (col < p.n) {
                    store_c(row, col, rows[i][j]);
                }
            }
        }
    }
}

var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn matmul_tiled16(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let row = gid.y;
    let col = gid.x;
    var acc = 0.0;
    let tiles = (p.k + 15u) / 16u;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let a_col = t * 16u + lid.x;
        let b_row = t * 16u + lid.y;
        var a_value = 0.0;
        if (row < p.m && a_col < p.k) {
            a_value = a[p.a_offset + row * p.a_row_stride + a_col * p.a_col_stride];
        }
        var b_value = 0.0;
        if (b_row < p.k && col < p.n) {
            b_value = b[p.b_offset + b_row * p.b_row_stride + col * p.b_col_stride];
        }
        tile_a[lid.y][lid.x] = a_value;
        tile_b[lid.y][lid.x] = b_value;
        workgroupBarrier();
        for (var q = 0u; q < 16u; q = q + 1u) {
            acc = acc + tile_a[lid.y][q] * tile_b[q][lid.x];
        }
        workgroupBarrier();
    }
    if (row < p.m && col < p.n) {
        store_c(row, col, acc);
    }
}
