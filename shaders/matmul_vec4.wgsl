// Matrix multiply, register-blocked with vec4 loads, no workgroup memory: the fast variant on
// CPU-like adapters. c (+)= op(a) · op(b) for row-major operands whose dimensions read along
// are multiples of 4, as are the three offsets (the runtime falls back to matmul.wgsl's
// `matmul_blocked4x4` otherwise). Same `Params` as matmul.wgsl; it lives in its own file
// because its buffers are typed `array<vec4<f32>>`.
//
// Bindings: 0 params (uniform), 1 a (read), 2 b (read), 3 c (read_write).
// Entry point matmul_blocked4x4_vec4 (no transposes; k and n multiples of 4): 8×8 threads,
// each computes a 4×8 block of c from registers — per 4 steps of k, four vec4 loads of a and
// eight of b, 32 vec4 FMAs (measured ~1.2–1.4× the 4×4 block at 512³ on lavapipe; 2×4 was
// slower, and 4×8 did not pay for the transposed entries below). Grid (ceil(n/64), ceil(m/32)).

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

/// Stores a thread's 4×8 block: rows row0.. (those inside m), column blocks col4 (xs) and
/// col4 + 1 (ys, when inside n).
fn store_rows(row0: u32, col4: u32, xs: array<vec4<f32>, 4>, ys: array<vec4<f32>, 4>) {
    let n4 = p.n / 4u;
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = row0 + i;
        if (row < p.m) {
            store4(p.c_offset / 4u + row * n4 + col4, xs[i]);
            if (col4 + 1u < n4) {
                store4(p.c_offset / 4u + row * n4 + col4 + 1u, ys[i]);
            }
        }
    }
}

@compute @workgroup_size(8, 8)
fn matmul_blocked4x4_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col4 = gid.x * 2u; // column blocks col4 and col4 + 1: columns 4·col4 .. 4·col4 + 7
    let n4 = p.n / 4u;
    let k4 = p.k / 4u;
    if (row0 >= p.m || col4 >= n4) {
        return;
    }
    // Rows and the second column block past the end are clamped; their results are not stored.
    let last = p.m - 1u;
    let c1 = min(col4 + 1u, n4 - 1u);
    let a4 = p.a_offset / 4u;
    let b4 = p.b_offset / 4u;
    let r0 = a4 + row0 * k4;
    let r1 = a4 + min(row0 + 1u, last) * k4;
    let r2 = a4 + min(row0 + 2u, last) * k4;
    let r3 = a4 + min(row0 + 3u, last) * k4;
    var x0 = vec4<f32>(0.0);
    var x1 = vec4<f32>(0.0);
    var x2 = vec4<f32>(0.0);
    var x3 = vec4<f32>(0.0);
    var y0 = vec4<f32>(0.0);
    var y1 = vec4<f32>(0.0);
    var y2 = vec4<f32>(0.0);
    var y3 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        let o = b4 + 4u * q * n4;
        let b0 = b[o + col4];
        let b1 = b[o + n4 + col4];
        let b2 = b[o + 2u * n4 + col4];
        let b3 = b[o + 3u * n4 + col4];
        let d0 = b[o + c1];
        let d1 = b[o + n4 + c1];
        let d2 = b[o + 2u * n4 + c1];
        let d3 = b[o + 3u * n4 + c1];
        let a0 = a[r0 + q];
        let a1 = a[r1 + q];
        let a2 = a[r2 + q];
        let a3 = a[r3 + q];
        x0 = x0 + a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
        x1 = x1 + a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
        x2 = x2 + a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
        x3 = x3 + a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
        y0 = y0 + a0.x * d0 + a0.y * d1 + a0.z * d2 + a0.w * d3;
        y1 = y1 + a1.x * d0 + a1.y * d1 + a1.z * d2 + a1.w * d3;
        y2 = y2 + a2.x * d0 + a2.y * d1 + a2.z * d2 + a2.w * d3;
        y3 = y3 + a3.x * d0 + a3.y * d1 + a3.z * d2 + a3.w * d3;
    }
    store_rows(row0, col4, array<vec4<f32>, 4>(x0, x1, x2, x3), array<vec4<f32>, 4>(y0, y1, y2, y3));
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
