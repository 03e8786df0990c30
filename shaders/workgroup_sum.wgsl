
// The sum over a 256-invocation workgroup of one value per invocation, by a tree in workgroup
// memory. Every invocation must call it (it has barriers); each gets the total, and the last
// barrier lets a kernel call it again.
var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride >> 1u) {
        if (lid < stride) {
            partial[lid] = partial[lid] + partial[lid + stride];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
