// Matrix multiply, register-blocked with vec4 loads: c (+)= a · b for a row-major m×k `a`
// and k×n `b` with k, n and the three offsets multiples of 4 and no transposes (the runtime falls back to
// matmul.wgsl's `matmul_blocked4x4` otherwise). Same `Params` as matmul.wgsl; it lives in its
// own file because its buffers are typed `array<vec4<f32>>`.
//
// Bindings: 0 params (uniform), 1 a (read), 2 b (read), 3 c (read_write).
// Entry point matmul_blocked4x4_vec4: 8×8 threads, each computes a 4×4 block of c from
// registers (four vec4 loads of a and four of b per 4 steps of k, 16 vec4 FMAs), no workgroup
// memory: the fast variant on CPU-like adapters. Grid (ceil(n/32), ceil(m/32)).

// Params and binding 0 come from matmul_params.wgsl.
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

fn store4(index: u32, value: vec4<f32>) {
    if (p.accumulate != 0u) {
        c[index] = c[index] + value;
    } else {
        c[index] = value;
    }
}

@compute @workgroup_size(8, 8)
fn matmul_blocked4x4_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col4 = gid.x; // column block: columns 4·col4 .. 4·col4 + 3
    let n4 = p.n / 4u;
    let k4 = p.k / 4u;
    if (row0 >= p.m || col4 >= n4) {
        return;
    }
    // Rows past the end are clamped to the last row; their results are not stored.
    let last = p.m - 1u;
    let a4 = p.a_offset / 4u;
    let b4 = p.b_offset / 4u + col4;
    let r0 = a4 + row0 * k4;
    let r1 = a4 + min(row0 + 1u, last) * k4;
    let r2 = a4 + min(row0 + 2u, last) * k4;
    let r3 = a4 + min(row0 + 3u, last) * k4;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        let b0 = b[(4u * q) * n4 + b4];
        let b1 = b[(4u * q + 1u) * n4 + b4];
        let b2 = b[(4u * q + 2u) * n4 + b4];
        let b3 = b[(4u * q + 3u) * n4 + b4];
        let a0 = a[r0 + q];
        let a1 = a[r1 + q];
        let a2 = a[r2 + q];
        let a3 = a[r3 + q];
        acc0 = acc0 + a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
        acc1 = acc1 + a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
        acc2 = acc2 + a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
        acc3 = acc3 + a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = row0 + i;
        if (row < p.m) {
            store4(p.c_offset / 4u + row * n4 + col4, rows[i]);
        }
    }
}

// Entry point matmul_blocked4x4_vec4_ta: c (+)= aᵀ · b for `a` stored k×m and `b` stored k×n,
// m, n and the offsets multiples of 4 (k any). Per step q one vec4 of a (four rows of the
// output) and one of b (four columns): an outer product, 4 vec4 FMAs. The weight gradients
// (`dW = xᵀ · dy`) take this path. Grid (ceil(n/32), ceil(m/32)).
@compute @workgroup_size(8, 8)
fn matmul_blocked4x4_vec4_ta(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row4 = gid.y; // output rows 4·row4 .. 4·row4 + 3
    let col4 = gid.x;
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    if (row4 >= m4 || col4 >= n4) {
        return;
    }
    let a4 = p.a_offset / 4u + row4;
    let b4 = p.b_offset / 4u + col4;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < p.k; q = q + 1u) {
        let av = a[a4 + q * m4];
        let bv = b[b4 + q * n4];
        acc0 = acc0 + av.x * bv;
        acc1 = acc1 + av.y * bv;
        acc2 = acc2 + av.z * bv;
        acc3 = acc3 + av.w * bv;
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        store4(p.c_offset / 4u + (4u * row4 + i) * n4 + col4, rows[i]);
    }
}

// Entry point matmul_blocked4x4_vec4_tb: c (+)= a · bᵀ for `a` stored m×k and `b` stored n×k,
// k, n and the offsets multiples of 4 (m any; rows past the end are clamped and not stored).
// Per 4 steps of k, four vec4 of a and four of b and 16 dot products. The input gradients
// through a transposed weight (`dx = dy · W`, W stored transposed) take this path.
// Grid (ceil(n/32), ceil(m/32)).
@compute @workgroup_size(8, 8)
fn matmul_blocked4x4_vec4_tb(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col4 = gid.x;
    let n4 = p.n / 4u;
    let k4 = p.k / 4u;
    if (row0 >= p.m || col4 >= n4) {
        return;
    }
    let last = p.m - 1u;
    let a4 = p.a_offset / 4u;
    let r0 = a4 + row0 * k4;
    let r1 = a4 + min(row0 + 1u, last) * k4;
    let r2 = a4 + min(row0 + 2u, last) * k4;
    let r3 = a4 + min(row0 + 3u, last) * k4;
    let b4 = p.b_offset / 4u + 4u * col4 * k4;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        let b0 = b[b4 + q];
        let b1 = b[b4 + k4 + q];
        let b2 = b[b4 + 2u * k4 + q];
        let b3 = b[b4 + 3u * k4 + q];
        let a0 = a[r0 + q];
        let a1 = a[r1 + q];
        let a2 = a[r2 + q];
        let a3 = a[r3 + q];
        acc0 = acc0 + vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
        acc1 = acc1 + vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
        acc2 = acc2 + vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
        acc3 = acc3 + vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = row0 + i;
        if (row < p.m) {
            store4(p.c_offset / 4u + row * n4 + col4, rows[i]);
        }
    }
}
