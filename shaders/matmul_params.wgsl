// The uniform parameters shared by matmul.wgsl and matmul_vec4.wgsl; the host prepends this
// file to both (WGSL has no include). Element (i, q) of op(a) is
// a[i * a_row_stride + q * a_col_stride]; element (q, j) of op(b) is b[q * b_row_stride + j * b_col_stride].

struct Params {
    m: u32,
    k: u32,
    n: u32,
    accumulate: u32,
    a_row_stride: u32,
    a_col_stride: u32,
    b_row_stride: u32,
    b_col_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
