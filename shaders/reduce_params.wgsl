// The uniform parameters and bindings shared by reduce.wgsl and reduce_subgroup.wgsl; the host
// prepends this file to both (WGSL has no include).

struct Params {
    len: u32,
    rows: u32,
    cols: u32,
    out_index: u32,
    scale: f32,
    squares: u32,
    accumulate: u32,
    offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
