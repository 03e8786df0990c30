// Choosing the next decoder input on the device (scheduled sampling): for each row, the model's
// most likely token or the true one, by a coin drawn on the host. No read-back is needed, so a
// training step that feeds the model its own predictions stays one submit.
//
// Bindings: 0 params (uniform), 1 logits (read, f32, rows × classes), 2 truth (read, u32, rows),
//           3 coins (read, u32, rows), 4 out (read_write, u32, rows).
//   pick_tokens  out[r] = coins[r] != 0 ? argmax_c logits[r, c] (the first on ties) : truth[r];
//                one thread per row, 64 per workgroup, 2-D grid flattened with `num_workgroups`.

struct Params {
    rows: u32,
    classes: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> truth: array<u32>;
@group(0) @binding(3) var<storage, read> coins: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn pick_tokens(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let r = gid.x + gid.y * groups.x * 64u;
    if (r >= p.rows) {
        return;
    }
    if (coins[r] == 0u) {
        out[r] = truth[r];
        return;
    }
    let base = r * p.classes;
    var best = 0u;
    var best_value = logits[base];
    for (var c = 1u; c < p.classes; c = c + 1u) {
        let v = logits[base + c];
        if (v > best_value) {
            best = c;
            best_value = v;
        }
    }
    out[r] = best;
}
