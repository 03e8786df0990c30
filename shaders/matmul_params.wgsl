// The uniform parameters shared by matmul.wgsl and matmul_vec4.wgsl; the host prepends this
// file to both (WGSL has no include). Element (i, q) of op(a) is
// a[a_offset + i * a_row_stride + q * a_col_stride]; element (q, j) of op(b) is
// b[b_offset + q * b_row_stride + j * b_col_stride]; c starts c_offset elements into its buffer
// (the offsets let a fused recurrent layer multiply one time step's block of a window buffer).

struct Params {
    m: u32,
    k: u32,
    n: u32,
    accumulate: u32,
    a_row_stride: u32,
    a_col_stride: u32,
    b_row_stride: u32,
    b_col_stride: u32,
    a_offset: u32,
    b_offset: u32,
    c_offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
