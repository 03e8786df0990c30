// Strided block copy: slicing and concatenation along any dimension, and their gradients.
//
// dst[r * dst_stride + dst_offset + c] (+)= src[r * src_stride + src_offset + c * src_col_stride],
// r < rows, c < cols. A src_col_stride of 1 copies blocks; a src_col_stride of the source's
// width with src_stride 1 transposes.
// Bindings: 0 params (uniform), 1 src (read), 2 dst (read_write).
// 256 threads per workgroup, one element each; 2-D grid flattened with `num_workgroups`.

struct Params {
    rows: u32,
    cols: u32,
    src_stride: u32,
    src_offset: u32,
    dst_stride: u32,
    dst_offset: u32,
    accumulate: u32,
    src_col_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn copy2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let c = i % p.cols;
    let value = src[r * p.src_stride + p.src_offset + c * p.src_col_stride];
    let dest = r * p.dst_stride + p.dst_offset + c;
    if (p.accumulate != 0u) {
        dst[dest] = dst[dest] + value;
    } else {
        dst[dest] = value;
    }
}
