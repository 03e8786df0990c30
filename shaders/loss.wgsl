// Softmax cross-entropy, forward and backward in one pass.
//
// For row r of a rows×classes `logits`, with w = weights[r] (or 1 when has_weights == 0):
//   row_loss[r] = w · (logsumexp(logits[r]) - logits[r, labels[r]])
//   dlogits[r]  = (softmax(logits[r]) - onehot(labels[r])) · w · grad_scale
// A weight of 0 masks a padded position out of both. The mean over tokens is taken by the
// `sum` kernel over row_loss.
// Bindings: 0 params (uniform), 1 logits (read), 2 labels (read, u32), 3 weights (read),
// 4 row_loss (read_write), 5 dlogits (read_write). One thread per row, 64 per workgroup.

struct Params {
    rows: u32,
    classes: u32,
    has_weights: u32,
    grad_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(64)
fn softmax_cross_entropy(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.classes;
    var max_logit = logits[base];
    for (var c = 1u; c < p.classes; c = c + 1u) {
        max_logit = max(max_logit, logits[base + c]);
    }
    var total = 0.0;
    for (var c = 0u; c < p.classes; c = c + 1u) {
        total = total + exp(logits[base + c] - max_logit);
    }
    let log_sum = max_logit + log(total);
    let label = labels[r];
    var weight = 1.0;
    if (p.has_weights != 0u) {
        weight = weights[r];
    }
    var dest = log_sum;
    if (label < p.classes) {
        dest = logits[base + label];
    }
    row_loss[r] = weight * (log_sum - dest);
    for (var c = 0u; c < p.classes; c = c + 1u) {
        let prob = exp(logits[base + c] - log_sum);
        let onehot = select(0.0, 1.0, c == label);
        dlogits[base + c] = (prob - onehot) * weight * p.grad_scale;
    }
}
