// The `sum` of reduce.wgsl with subgroup operations, for adapters where wgpu exposes them
// (native only: the browser's WebGPU backend does not; the runtime then uses reduce.wgsl). Same
// Params and bindings: 0 params (uniform), 1 x (read), 2 out (read_write).
//   sum_subgroup  one workgroup of 256 threads: each thread strides over x, `subgroupAdd`
//                 combines each subgroup's partial sums in registers, and thread 0 adds the
//                 subgroups' totals — one barrier instead of eight tree levels. Dispatch (1, 1, 1).

// Params and bindings 0..2 come from reduce_params.wgsl.

// One slot per subgroup; subgroups have at least 4 invocations, so 64 slots cover 256 threads.
var<workgroup> totals: array<f32, 64>;

@compute @workgroup_size(256)
fn sum_subgroup(
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) size: u32,
) {
    if (lid < 64u) {
        totals[lid] = 0.0;
    }
    workgroupBarrier();
    var acc = 0.0;
    for (var i = lid; i < p.len; i = i + 256u) {
        let value = x[i];
        acc = acc + select(value, value * value, p.squares != 0u);
    }
    let total = subgroupAdd(acc);
    // Invocations of a 1-D workgroup fill subgroups in order of their local index.
    if (lane == 0u) {
        totals[lid / size] = total;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var sum = 0.0;
        for (var s = 0u; s < 64u; s = s + 1u) {
            sum = sum + totals[s];
        }
        let value = p.scale * sum;
        if (p.accumulate != 0u) {
            out[p.out_index] = out[p.out_index] + value;
        } else {
            out[p.out_index] = value;
        }
    }
}
