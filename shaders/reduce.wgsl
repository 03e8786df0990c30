// Reductions.
//
// Bindings: 0 params (uniform), 1 x (read), 2 out (read_write).
//   sum         one workgroup of 256 threads: out[out_index] (+)= scale · Σ x[i] (or Σ x[i]² when
//               squares != 0). Each thread strides over x, then a tree reduction in workgroup
//               memory. Dispatch (1, 1, 1).
//   column_sum  one thread per column of a rows×cols x: out[c] (+)= Σ_r x[r, c]; 256 threads per
//               workgroup, grid (ceil(cols/256), 1, 1).
//   row_norm_mean one thread per block b < len of rows×cols values starting at x[offset]:
//               out[out_index + b] += scale · Σ_r ‖x block b, row r‖₂ (scale = 1/rows: the
//               batch mean of one time step's state-gradient norms). 64 threads per workgroup,
//               grid (ceil(len/64), 1, 1).

// Params and bindings 0..2 come from reduce_params.wgsl.

// workgroup_sum comes from workgroup_sum.wgsl.

@compute @workgroup_size(256)
fn sum(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.len; i = i + 256u) {
        let value = x[i];
        acc = acc + select(value, value * value, p.squares != 0u);
    }
    let total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        let value = p.scale * total;
        if (p.accumulate != 0u) {
            out[p.out_index] = out[p.out_index] + value;
        } else {
            out[p.out_index] = value;
        }
    }
}

@compute @workgroup_size(256)
fn column_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if (col >= p.cols) {
        return;
    }
    var acc = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        acc = acc + x[r * p.cols + col];
    }
    if (p.accumulate != 0u) {
        out[col] = out[col] + acc;
    } else {
        out[col] = acc;
    }
}

@compute @workgroup_size(64)
fn row_norm_mean(@builtin(global_invocation_id) gid: vec3<u32>) {
    let block = gid.x;
    if (block >= p.len) {
        return;
    }
    var total = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let start = p.offset + (block * p.rows + r) * p.cols;
        var squares = 0.0;
        for (var c = 0u; c < p.cols; c = c + 1u) {
            let value = x[start + c];
            squares = squares + value * value;
        }
        total = total + sqrt(squares);
    }
    out[p.out_index + block] = out[p.out_index + block] + p.scale * total;
}
