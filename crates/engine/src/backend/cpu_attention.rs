//! The CPU reference of the attention kernels (shaders/attention.wgsl computes the same, one
//! thread per (query, key) or (query, column)). Keys and values are time-major: row
//! `s·batch + b` is key s of query b. Callers checked every buffer's length.

use super::kernel::{dropped, AttentionScoring, AttentionShape};

/// The dropout mask of the weights, as the kernels draw it: (p, the mask's seed) — the seed
/// already through `dropout_mask_seed`.
#[derive(Clone, Copy)]
pub(crate) struct Mask {
    pub p: f32,
    pub seed: u32,
}

/// Weight (b, s) worth `x` as the context applies it: dropped out by `mask` if there is one.
fn applied(mask: Option<Mask>, at: &AttentionShape, b: usize, s: usize, x: f32) -> f32 {
    match mask {
        Some(m) => dropped(x, m.seed, (b * at.steps + s) as u32, m.p),
        None => x,
    }
}

/// The score of a key past a query's valid length: d2l's `masked_softmax` value, whose
/// exponential is exactly 0 in f32 beside any unmasked score.
pub(crate) const MASKED_SCORE: f32 = -1e6;

/// Row `s·batch + b` of a time-major (steps·batch, width) buffer.
fn row<'a>(data: &'a [f32], at: &AttentionShape, s: usize, b: usize) -> &'a [f32] {
    let start = (s * at.batch + b) * at.width;
    &data[start..start + at.width]
}

/// `scores` (batch, steps): additive w_vᵀ tanh(q + k), or dot qᵀk / √width; masked keys
/// score [`MASKED_SCORE`].
pub(crate) fn scores(
    at: &AttentionShape,
    query: &[f32],
    keys: &[f32],
    w_v: &[f32],
    valid_lens: &[f32],
    scores: &mut [f32],
) {
    let scale = 1.0 / (at.width as f32).sqrt();
    for b in 0..at.batch {
        let q = &query[b * at.width..(b + 1) * at.width];
        // A valid length of 0 counts as 1: a row always attends to something.
        let valid = (valid_lens[b].to_bits() as usize).max(1);
        for s in 0..at.steps {
            let k = row(keys, at, s, b);
            scores[b * at.steps + s] = if s >= valid {
                MASKED_SCORE
            } else {
                match at.scoring {
                    AttentionScoring::Additive => (0..at.width).map(|j| w_v[j] * (q[j] + k[j]).tanh()).sum(),
                    AttentionScoring::Dot => q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale,
                }
            };
        }
    }
}

/// Row b's softmax of `scores`, into `out`.
fn softmax(scores: &[f32], out: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for (o, &x) in out.iter_mut().zip(scores) {
        *o = (x - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

/// `weights` = the softmax of each row of `scores`; `context`[b] = Σ_s a[b, s] · values
/// row (s, b), a the weights as `mask` applies them.
pub(crate) fn context(
    at: &AttentionShape,
    mask: Option<Mask>,
    scores: &[f32],
    values: &[f32],
    weights: &mut [f32],
    context: &mut [f32],
) {
    for b in 0..at.batch {
        let w = &mut weights[b * at.steps..(b + 1) * at.steps];
        softmax(&scores[b * at.steps..(b + 1) * at.steps], w);
        let out = &mut context[b * at.width..(b + 1) * at.width];
        out.fill(0.0);
        for (s, &ws) in w.iter().enumerate() {
            let a = applied(mask, at, b, s, ws);
            for (o, &v) in out.iter_mut().zip(row(values, at, s, b)) {
                *o += a * v;
            }
        }
    }
}

/// The weighted sum's backward: dweights[b, s] = Σ_j dcontext[b, j] · values row (s, b)[j],
/// through `mask`; dvalues row (s, b) += a[b, s] · dcontext[b].
pub(crate) fn sum_backward(
    at: &AttentionShape,
    mask: Option<Mask>,
    x: (&[f32], &[f32], &[f32]),
    dweights: &mut [f32],
    dvalues: &mut [f32],
) {
    let (weights, dcontext, values) = x;
    for b in 0..at.batch {
        let dc = &dcontext[b * at.width..(b + 1) * at.width];
        for s in 0..at.steps {
            let total = dc.iter().zip(row(values, at, s, b)).map(|(a, v)| a * v).sum();
            dweights[b * at.steps + s] = applied(mask, at, b, s, total);
            let a = applied(mask, at, b, s, weights[b * at.steps + s]);
            let start = (s * at.batch + b) * at.width;
            for (d, &g) in dvalues[start..start + at.width].iter_mut().zip(dc) {
                *d += a * g;
            }
        }
    }
}

/// What [`backward`] reads: dot scoring's keys are the values; additive scoring has `w_v`.
pub(crate) struct BackwardInputs<'a> {
    pub query: &'a [f32],
    pub keys: &'a [f32],
    pub weights: &'a [f32],
    pub dweights: &'a [f32],
    pub w_v: Option<&'a [f32]>,
}

/// Through the softmax and the scores, as the shader's thread (b, j) does: dquery and dkeys
/// are added to; additive scoring's `dw_v_rows` (batch, width) is written.
pub(crate) fn backward(
    at: &AttentionShape,
    x: &BackwardInputs,
    dquery: &mut [f32],
    dkeys: &mut [f32],
    mut dw_v_rows: Option<&mut [f32]>,
) {
    let scale = 1.0 / (at.width as f32).sqrt();
    for b in 0..at.batch {
        let w = &x.weights[b * at.steps..(b + 1) * at.steps];
        let dw = &x.dweights[b * at.steps..(b + 1) * at.steps];
        let sigma: f32 = w.iter().zip(dw).map(|(a, d)| a * d).sum();
        for j in 0..at.width {
            let q = x.query[b * at.width + j];
            let (mut dq, mut dwv) = (0.0, 0.0);
            for s in 0..at.steps {
                let ds = w[s] * (dw[s] - sigma);
                let at_row = (s * at.batch + b) * at.width + j;
                match x.w_v {
                    Some(w_v) => {
                        let f = (q + x.keys[at_row]).tanh();
                        let g = ds * w_v[j] * (1.0 - f * f);
                        dkeys[at_row] += g;
                        dq += g;
                        dwv += ds * f;
                    }
                    None => {
                        dkeys[at_row] += ds * q * scale;
                        dq += ds * x.keys[at_row] * scale;
                    }
                }
            }
            dquery[b * at.width + j] += dq;
            if let Some(rows) = dw_v_rows.as_deref_mut() {
                rows[b * at.width + j] = dwv;
            }
        }
    }
}
