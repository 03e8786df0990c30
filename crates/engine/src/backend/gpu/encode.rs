//! Translates a [`Kernel`] into a dispatch: which shader family and entry point, the uniform
//! parameter words (in the order of that shader's `Params` struct), the storage bindings and
//! the grid. Each family here is one file of the `rnnplay-shaders` crate (`shaders/` at the top
//! of the repository).

use super::super::kernel::{
    AttentionShape, CellStep, JoinPart, Kernel, MatmulPick, MatmulVariant, ResetGruHalf, WeightDropout, JOIN_PARTS,
    MAX_WINDOW_SEQUENCES, NORM_GROUP, SGD_GROUP,
};
use super::super::BufId;
use crate::backend::CellKind;
use crate::error::{EngineError, Result};

/// A shader family: one file of `shaders/` (`rnnplay_shaders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    Matmul,
    MatmulVec4,
    Elementwise,
    Reduce,
    Shape,
    Embedding,
    Loss,
    Optimizer,
    Sampling,
    Recurrent,
    RecurrentWindow,
    Attention,
    Join,
    /// Compiled only on devices opened with `Features::SUBGROUP`.
    ReduceSubgroup,
}

impl Family {
    pub(crate) fn source(self) -> &'static str {
        match self {
            Family::Matmul => rnnplay_shaders::MATMUL,
            Family::MatmulVec4 => rnnplay_shaders::MATMUL_VEC4,
            Family::Elementwise => rnnplay_shaders::ELEMENTWISE,
            Family::Reduce => rnnplay_shaders::REDUCE,
            Family::Shape => rnnplay_shaders::SHAPE,
            Family::Embedding => rnnplay_shaders::EMBEDDING,
            Family::Loss => rnnplay_shaders::LOSS,
            Family::Optimizer => rnnplay_shaders::OPTIMIZER,
            Family::Sampling => rnnplay_shaders::SAMPLING,
            Family::Recurrent => rnnplay_shaders::RECURRENT,
            Family::RecurrentWindow => rnnplay_shaders::RECURRENT_WINDOW,
            Family::Attention => rnnplay_shaders::ATTENTION,
            Family::Join => rnnplay_shaders::JOIN,
            Family::ReduceSubgroup => rnnplay_shaders::REDUCE_SUBGROUP,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Matmul => "matmul",
            Family::MatmulVec4 => "matmul_vec4",
            Family::Elementwise => "elementwise",
            Family::Reduce => "reduce",
            Family::Shape => "shape",
            Family::Embedding => "embedding",
            Family::Loss => "loss",
            Family::Optimizer => "optimizer",
            Family::Sampling => "sampling",
            Family::Recurrent => "recurrent",
            Family::RecurrentWindow => "recurrent_window",
            Family::Attention => "attention",
            Family::Join => "join",
            Family::ReduceSubgroup => "reduce_subgroup",
        }
    }
}

/// Everything needed to record one dispatch.
#[derive(Debug)]
pub(crate) struct DispatchSpec {
    pub family: Family,
    pub entry: &'static str,
    /// The `Params` uniform as 32-bit words (u32 or f32 bits).
    pub params: Vec<u32>,
    /// (binding index, buffer) for bindings 1.. of the entry point.
    pub bindings: Vec<(u32, BufId)>,
    pub grid: [u32; 3],
}

/// Most workgroups a dispatch may have in one dimension (WebGPU's default limit).
const MAX_GROUPS_PER_DIM: u32 = 65_535;

fn to_u32(value: usize, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| EngineError::InvalidArgument(format!("{what} = {value} does not fit in 32 bits")))
}

/// Grid for `len` elements with `per_group` threads per workgroup, laid out in 2-D when the
/// group count exceeds the per-dimension limit (the shaders flatten it with `num_workgroups`).
fn grid_1d(len: usize, per_group: usize) -> Result<[u32; 3]> {
    let groups = to_u32(len.div_ceil(per_group).max(1), "workgroup count")?;
    let x = groups.min(MAX_GROUPS_PER_DIM);
    let y = groups.div_ceil(x);
    if y > MAX_GROUPS_PER_DIM {
        return Err(EngineError::InvalidArgument(format!("{len} elements are too many for one dispatch")));
    }
    Ok([x, y, 1])
}

fn grid_2d(cols: usize, rows: usize, cols_per_group: usize, rows_per_group: usize) -> Result<[u32; 3]> {
    let x = to_u32(cols.div_ceil(cols_per_group).max(1), "workgroup count")?;
    let y = to_u32(rows.div_ceil(rows_per_group).max(1), "workgroup count")?;
    if x > MAX_GROUPS_PER_DIM || y > MAX_GROUPS_PER_DIM {
        return Err(EngineError::InvalidArgument(format!(
            "a {rows}×{cols} matmul output is too large for one dispatch"
        )));
    }
    Ok([x, y, 1])
}

fn flag(value: bool) -> u32 {
    u32::from(value)
}

/// Builds the dispatch of `kernel`; `matmul` picks the variant of a matmul that names none;
/// `subgroups` says whether kernels with subgroup operations may be used.
pub(crate) fn encode(kernel: &Kernel, matmul: MatmulPick, subgroups: bool) -> Result<DispatchSpec> {
    use Family::*;
    let w = |v: usize, what: &str| to_u32(v, what);
    let f = f32::to_bits;
    let spec = |family, entry, params: Vec<u32>, bindings: Vec<(u32, BufId)>, grid| DispatchSpec {
        family,
        entry,
        params,
        bindings,
        grid,
    };
    Ok(match *kernel {
        Kernel::Matmul { a, b, c, m, k, n, trans_a, trans_b, accumulate, offsets, variant } => {
            let (a_row, a_col) = if trans_a { (1, m) } else { (k, 1) };
            let (b_row, b_col) = if trans_b { (1, k) } else { (n, 1) };
            let params = vec![
                w(m, "m")?,
                w(k, "k")?,
                w(n, "n")?,
                flag(accumulate),
                w(a_row, "stride")?,
                w(a_col, "stride")?,
                w(b_row, "stride")?,
                w(b_col, "stride")?,
                w(offsets[0], "offset")?,
                w(offsets[1], "offset")?,
                w(offsets[2], "offset")?,
                0,
            ];
            // The vec4 kernels read whole vec4s along the dimensions each operand is stored by.
            let aligned = n % 4 == 0 && offsets.iter().all(|offset| offset % 4 == 0);
            let vec4_entry = match (trans_a, trans_b) {
                (false, false) if aligned && k % 4 == 0 => Some("matmul_blocked4x4_vec4"),
                (true, false) if aligned && m % 4 == 0 => Some("matmul_blocked4x4_vec4_ta"),
                (false, true) if aligned && k % 4 == 0 => Some("matmul_blocked4x4_vec4_tb"),
                _ => None,
            };
            let (family, entry, grid) = match (variant.unwrap_or_else(|| matmul.variant_for(m, n)), vec4_entry) {
                (MatmulVariant::Naive, _) => (Matmul, "matmul_naive", grid_2d(n, m, 16, 16)?),
                (MatmulVariant::Blocked4x4, Some(entry)) => {
                    // The untransposed kernel covers 64 columns per workgroup, the others 32.
                    let cols = if entry == "matmul_blocked4x4_vec4" { 64 } else { 32 };
                    (MatmulVec4, entry, grid_2d(n, m, cols, 32)?)
                }
                (MatmulVariant::Blocked4x4, None) => (Matmul, "matmul_blocked4x4", grid_2d(n, m, 32, 32)?),
                (MatmulVariant::Tiled16, _) => (Matmul, "matmul_tiled16", grid_2d(n, m, 16, 16)?),
            };
            spec(family, entry, params, vec![(1, a), (2, b), (3, c)], grid)
        }
        Kernel::RecurrentCell { at, .. } | Kernel::RecurrentCellBackward { at, .. } if at.reset_before => {
            return Err(EngineError::InvalidArgument(
                "d2l's GRU (reset before its matmul) runs as the two halves of Kernel::ResetGruCell, not as one cell"
                    .into(),
            ))
        }
        Kernel::RecurrentCell { at, gi, gh, bias_hh, states, gates } => {
            let entry = match at.cell {
                CellKind::Rnn => "rnn_cell",
                CellKind::Gru => "gru_cell",
                CellKind::Lstm => "lstm_cell",
            };
            let mut bindings = vec![(1, gi), (2, gh), (3, bias_hh), (4, states)];
            bindings.extend(gates.map(|g| (5, g)));
            spec(Recurrent, entry, cell_params(&at)?, bindings, grid_1d(at.block(), 64)?)
        }
        Kernel::RecurrentCellBackward { at, gh, bias_hh, states, gates, dstates, dgi, dgh } => {
            let (entry, mut bindings) = match at.cell {
                CellKind::Rnn => ("rnn_cell_backward", vec![]),
                CellKind::Gru => ("gru_cell_backward", vec![(2, gh), (3, bias_hh)]),
                CellKind::Lstm => ("lstm_cell_backward", vec![]),
            };
            bindings.extend([(4, states), (6, dstates), (7, dgi)]);
            bindings.extend(gates.map(|g| (5, g)));
            bindings.extend(dgh.map(|g| (8, g)));
            spec(Recurrent, entry, cell_params(&at)?, bindings, grid_1d(at.block(), 64)?)
        }
        Kernel::ResetGruCell { at, half, gi, gh, bias_hh, states, gates, reset_h } => {
            let entry = match half {
                ResetGruHalf::Gates => "gru_reset_gates",
                ResetGruHalf::Candidate => "gru_reset_candidate",
            };
            let mut bindings = vec![(1, gi), (2, gh), (3, bias_hh), (4, states), (5, gates)];
            bindings.extend((half == ResetGruHalf::Gates).then_some((9, reset_h)));
            spec(Recurrent, entry, cell_params(&at)?, bindings, grid_1d(at.block(), 64)?)
        }
        Kernel::ResetGruCellBackward { at, half, gh, states, gates, dstates, dgi, dgh } => {
            let entry = match half {
                ResetGruHalf::Gates => "gru_reset_gates_backward",
                ResetGruHalf::Candidate => "gru_reset_candidate_backward",
            };
            let mut bindings = vec![(4, states), (5, gates), (6, dstates), (7, dgi), (8, dgh)];
            bindings.extend((half == ResetGruHalf::Gates).then_some((2, gh)));
            spec(Recurrent, entry, cell_params(&at)?, bindings, grid_1d(at.block(), 64)?)
        }
        Kernel::RecurrentWindow { at, gi, w_t, bias_hh, states, gates, gh, reset_h } => {
            kernel.check_window_buffers()?;
            let entry = match at.cell {
                CellKind::Rnn => "rnn_window",
                CellKind::Gru if at.reset_before => "gru_reset_window",
                CellKind::Gru => "gru_window",
                CellKind::Lstm => "lstm_window",
            };
            let mut bindings = vec![(1, gi), (2, w_t), (3, bias_hh), (4, states), (6, gh)];
            bindings.extend(gates.map(|g| (5, g)));
            bindings.extend(reset_h.map(|r| (10, r)));
            spec(RecurrentWindow, entry, window_params(&at)?, bindings, window_grid(&at)?)
        }
        Kernel::RecurrentWindowBackward { at, w_hh, gh, bias_hh, states, gates, dstates, dgi, dgh } => {
            kernel.check_window_buffers()?;
            let (entry, mut bindings) = match at.cell {
                CellKind::Rnn => ("rnn_window_backward", vec![]),
                CellKind::Gru if at.reset_before => ("gru_reset_window_backward", vec![]),
                CellKind::Gru => ("gru_window_backward", vec![(6, gh), (3, bias_hh)]),
                CellKind::Lstm => ("lstm_window_backward", vec![]),
            };
            bindings.extend([(2, w_hh), (4, states), (7, dstates), (8, dgi)]);
            bindings.extend(gates.map(|g| (5, g)));
            bindings.extend(dgh.map(|g| (9, g)));
            spec(RecurrentWindow, entry, window_params(&at)?, bindings, window_grid(&at)?)
        }
        Kernel::Fill { out, len, value } => spec(
            Elementwise,
            "fill",
            elementwise(len, 0, false, f(value), 0, 0.0, 1)?,
            vec![(3, out)],
            grid_1d(len, 256)?,
        ),
        Kernel::Unary { op, x, y, len } => spec(
            Elementwise,
            "unary",
            elementwise(len, op.code(), false, 0, 0, 0.0, 1)?,
            vec![(1, x), (3, y)],
            grid_1d(len, 256)?,
        ),
        Kernel::UnaryBackward { op, saved, dy, dx, len, accumulate } => spec(
            Elementwise,
            "unary_backward",
            elementwise(len, op.code(), accumulate, 0, 0, 0.0, 1)?,
            vec![(1, saved), (2, dy), (3, dx)],
            grid_1d(len, 256)?,
        ),
        Kernel::Binary { op, a, b, out, len, accumulate } => spec(
            Elementwise,
            "binary",
            elementwise(len, op.code(), accumulate, 0, 0, 0.0, 1)?,
            vec![(1, a), (2, b), (3, out)],
            grid_1d(len, 256)?,
        ),
        Kernel::Scale { x, out, len, alpha, accumulate } => spec(
            Elementwise,
            "scale",
            elementwise(len, 0, accumulate, f(alpha), 0, 0.0, 1)?,
            vec![(1, x), (3, out)],
            grid_1d(len, 256)?,
        ),
        Kernel::ScaleByScalar { x: Some(x), s, out, len, alpha, accumulate } => spec(
            Elementwise,
            "scale_by_scalar",
            elementwise(len, 0, accumulate, f(alpha), 0, 0.0, 1)?,
            vec![(1, x), (2, s), (3, out)],
            grid_1d(len, 256)?,
        ),
        Kernel::ScaleByScalar { x: None, s, out, len, alpha, accumulate } => spec(
            Elementwise,
            "broadcast_scalar",
            elementwise(len, 0, accumulate, f(alpha), 0, 0.0, 1)?,
            vec![(2, s), (3, out)],
            grid_1d(len, 256)?,
        ),
        Kernel::AddBias { x, bias, out, rows, cols } => spec(
            Elementwise,
            "add_bias",
            elementwise(rows * cols, 0, false, 0, 0, 0.0, cols)?,
            vec![(1, x), (2, bias), (3, out)],
            grid_1d(rows * cols, 256)?,
        ),
        Kernel::Dropout { x, y, len, p, seed, salt, accumulate } => spec(
            Elementwise,
            "dropout",
            elementwise(len, 0, accumulate, 0, salt, p, 1)?,
            vec![(1, x), (3, y), (4, seed)],
            grid_1d(len, 256)?,
        ),
        Kernel::ColumnSum { x, out, rows, cols, accumulate } => spec(
            Reduce,
            "column_sum",
            vec![0, w(rows, "rows")?, w(cols, "cols")?, 0, f(1.0), 0, flag(accumulate), 0],
            vec![(1, x), (2, out)],
            grid_1d(cols, 256)?,
        ),
        Kernel::RowNormMean { x, offset, rows, cols, blocks, out, out_offset } => spec(
            Reduce,
            "row_norm_mean",
            vec![
                w(blocks, "blocks")?,
                w(rows, "rows")?,
                w(cols, "cols")?,
                w(out_offset, "out_offset")?,
                f(1.0 / rows.max(1) as f32),
                0,
                1,
                w(offset, "offset")?,
            ],
            vec![(1, x), (2, out)],
            grid_1d(blocks, 64)?,
        ),
        Kernel::Sum { x, out, out_index, len, scale, squares, accumulate } => spec(
            if subgroups { ReduceSubgroup } else { Reduce },
            if subgroups { "sum_subgroup" } else { "sum" },
            vec![w(len, "len")?, 0, 0, w(out_index, "index")?, f(scale), flag(squares), flag(accumulate), 0],
            vec![(1, x), (2, out)],
            [1, 1, 1],
        ),
        Kernel::Copy2d { src, dst, rows, cols, src_stride, src_offset, dst_stride, dst_offset, accumulate } => spec(
            Shape,
            "copy2d",
            vec![
                w(rows, "rows")?,
                w(cols, "cols")?,
                w(src_stride, "stride")?,
                w(src_offset, "offset")?,
                w(dst_stride, "stride")?,
                w(dst_offset, "offset")?,
                flag(accumulate),
                1,
            ],
            vec![(1, src), (2, dst)],
            grid_1d(rows * cols, 256)?,
        ),
        Kernel::Join { whole, rows, whole_stride, parts, split } => {
            let slots: Vec<JoinPart> = parts.iter().map_while(|slot| *slot).collect();
            let entry = match (split, slots.len()) {
                (false, 2) => "join2",
                (false, 3) => "join3",
                (false, 4) => "join4",
                (true, 2) => "split2",
                (true, 3) => "split3",
                (true, 4) => "split4",
                (_, count) => {
                    return Err(EngineError::InvalidArgument(format!(
                        "a join of {count} parts; it takes 2 to {JOIN_PARTS}"
                    )))
                }
            };
            let mut words = vec![w(rows, "rows")?, w(whole_stride, "stride")?, 0, 0];
            let (mut cols, mut offsets) = ([0; JOIN_PARTS], [0; JOIN_PARTS]);
            for (k, slot) in slots.iter().enumerate() {
                words[2] |= u32::from(split && slot.accumulate) << k;
                (cols[k], offsets[k]) = (w(slot.cols, "cols")?, w(slot.offset, "offset")?);
            }
            words.extend(cols.into_iter().chain(offsets));
            let mut bindings = vec![(1, whole)];
            bindings.extend(slots.iter().zip(2..).map(|(slot, binding)| (binding, slot.buf)));
            let widest = slots.iter().map(|s| s.cols).max().unwrap_or(0);
            let [x, y, _] = grid_1d(rows * widest, 256)?;
            spec(Join, entry, words, bindings, [x, y, slots.len() as u32])
        }
        // The transpose is a copy whose source walks down columns: out row c is x column c.
        Kernel::Transpose { x, out, rows, cols, accumulate } => spec(
            Shape,
            "copy2d",
            vec![w(cols, "cols")?, w(rows, "rows")?, 1, 0, w(rows, "rows")?, 0, flag(accumulate), w(cols, "cols")?],
            vec![(1, x), (2, out)],
            grid_1d(rows * cols, 256)?,
        ),
        Kernel::AttentionScores { at, query, keys, w_v, valid_lens, scores } => {
            kernel.check_attention_scoring()?;
            let (entry, mut bindings) = match w_v {
                Some(w_v) => ("scores_additive", vec![(1, query), (2, keys), (3, w_v)]),
                None => ("scores_dot", vec![(1, query), (4, keys)]),
            };
            bindings.extend([(5, valid_lens), (10, scores)]);
            spec(Attention, entry, attention_params(&at, None)?, bindings, grid_1d(at.batch * at.steps, 64)?)
        }
        Kernel::AttentionContext { at, scores, values, weights, context, dropout } => spec(
            Attention,
            "context",
            attention_params(&at, dropout)?,
            // Without dropout the shader never reads the seed; the scores stand in for it.
            vec![(4, values), (6, scores), (10, weights), (11, context), (13, dropout.map_or(scores, |d| d.seed))],
            grid_1d(at.batch * at.width, 64)?,
        ),
        Kernel::AttentionSumBackward { at, dcontext, values, weights, dweights, dvalues, dropout } => spec(
            Attention,
            "sum_backward",
            attention_params(&at, dropout)?,
            vec![
                (4, values),
                (7, weights),
                (8, dcontext),
                (10, dweights),
                (11, dvalues),
                (13, dropout.map_or(weights, |d| d.seed)),
            ],
            grid_1d(at.batch * at.steps, 64)?,
        ),
        Kernel::AttentionBackward { at, query, keys, weights, dweights, dquery, dkeys, additive } => {
            kernel.check_attention_scoring()?;
            let mut bindings = vec![(1, query), (7, weights), (9, dweights), (10, dquery), (11, dkeys)];
            let entry = match additive {
                Some(a) => {
                    bindings.extend([(2, keys), (3, a.w_v), (12, a.dw_v_rows)]);
                    "backward_additive"
                }
                None => {
                    bindings.push((4, keys));
                    "backward_dot"
                }
            };
            spec(Attention, entry, attention_params(&at, None)?, bindings, grid_1d(at.batch * at.width, 64)?)
        }
        Kernel::PickTokens { logits, truth, coins, out, rows, classes } => spec(
            Sampling,
            "pick_tokens",
            vec![w(rows, "rows")?, w(classes, "classes")?, 0, 0],
            vec![(1, logits), (2, truth), (3, coins), (4, out)],
            grid_1d(rows, 64)?,
        ),
        Kernel::Gather { table, indices, out, num_indices, dim, table_rows, transposed } => spec(
            Embedding,
            "gather",
            vec![w(num_indices, "indices")?, w(dim, "dim")?, w(table_rows, "rows")?, u32::from(transposed)],
            vec![(1, table), (2, indices), (3, out)],
            grid_1d(num_indices * dim, 256)?,
        ),
        Kernel::ScatterAdd { grad_out, indices, grad_table, num_indices, dim, table_rows, transposed, accumulate } => {
            spec(
                Embedding,
                "scatter_add",
                vec![
                    w(num_indices, "indices")?,
                    w(dim, "dim")?,
                    w(table_rows, "rows")?,
                    u32::from(transposed) | u32::from(accumulate) << 1,
                ],
                vec![(1, grad_out), (2, indices), (3, grad_table)],
                grid_1d(dim, 256)?,
            )
        }
        Kernel::SoftmaxCrossEntropy { logits, labels, weights, row_loss, dlogits, rows, classes, grad_scale } => spec(
            Loss,
            "softmax_cross_entropy",
            vec![w(rows, "rows")?, w(classes, "classes")?, flag(weights.is_some()), f(grad_scale)],
            // Without weights the shader never reads binding 3; the logits stand in for it.
            vec![(1, logits), (2, labels), (3, weights.unwrap_or(logits)), (4, row_loss), (5, dlogits)],
            grid_1d(rows, 64)?,
        ),
        Kernel::GradNorm { grads, clip, norm, first, last } => {
            let Some((stand_in, _)) = grads[0] else {
                return Err(EngineError::InvalidArgument("a gradient norm of no gradients".into()));
            };
            let lens = grads.map(|g| g.map_or(0, |(_, len)| len));
            let words = optimizer(&lens, 1.0, [0.0; 4], false, false, flag(first) | flag(last) << 1)?;
            let mut bindings: Vec<(u32, BufId)> =
                GRAD_SLOTS.iter().zip(grads).map(|(&slot, g)| (slot, g.map_or(stand_in, |(id, _)| id))).collect();
            bindings.extend([(14, clip.state), (15, norm)]);
            spec(Optimizer, "grad_norm", words, bindings, [1, 1, 1])
        }
        Kernel::ClipScale { grad, len, clip } => spec(
            Optimizer,
            "clip_scale",
            optimizer(&[len], 1.0, [0.0; 4], false, false, 0)?,
            vec![(2, grad), (6, clip.state)],
            grid_1d(len, 256)?,
        ),
        Kernel::SgdUpdate { params, lr, batch_size, weight_decay, clip } => {
            let slots: Vec<_> = params.iter().map_while(|slot| *slot).collect();
            let lens: Vec<usize> = slots.iter().map(|s| s.len).collect();
            let words = optimizer(&lens, batch_size, [0.0, 0.0, 0.0, weight_decay], false, clip.is_some(), 0)?;
            let mut bindings = vec![(5, lr), (6, clip.map_or(lr, |c| c.state))];
            for (slot, (grad_binding, param_binding)) in slots.iter().zip(GRAD_SLOTS.iter().zip(PARAM_SLOTS)) {
                bindings.extend([(*grad_binding, slot.grad), (param_binding, slot.param)]);
            }
            let entry = match slots.len() {
                1 => "sgd",
                2 => "sgd2",
                3 => "sgd3",
                _ => return Err(EngineError::InvalidArgument("an SGD update of no parameters".into())),
            };
            spec(Optimizer, entry, words, bindings, grid_1d(lens.iter().copied().max().unwrap_or(0), 256)?)
        }
        Kernel::AdamUpdate { param, grad, m, v, len, beta1, beta2, eps, weight_decay, decoupled, scalars, clip } => {
            let words = optimizer(&[len], 1.0, [beta1, beta2, eps, weight_decay], decoupled, clip.is_some(), 0)?;
            let bindings =
                vec![(1, grad), (2, param), (3, m), (4, v), (5, scalars), (6, clip.map_or(scalars, |c| c.state))];
            spec(Optimizer, "adam", words, bindings, grid_1d(len, 256)?)
        }
    })
}

/// The `Params` of shaders/attention.wgsl: dropout probability 0 draws no mask.
fn attention_params(at: &AttentionShape, dropout: Option<WeightDropout>) -> Result<Vec<u32>> {
    let (p, salt) = dropout.map_or((0.0, 0), |d| (d.p, d.salt));
    Ok(vec![
        to_u32(at.batch, "batch")?,
        to_u32(at.steps, "steps")?,
        to_u32(at.width, "width")?,
        salt,
        p.to_bits(),
        0,
        0,
        0,
    ])
}

/// The clipping bindings of an update: its norm and θ, or without clipping `stand_in` (a
/// read-only buffer of the same dispatch, never read).
/// shaders/optimizer.wgsl's bindings of the gradients and parameters of a group, by slot.
const GRAD_SLOTS: [u32; NORM_GROUP] = [1, 7, 9, 11, 12, 13];
const PARAM_SLOTS: [u32; SGD_GROUP] = [2, 8, 10];

/// The `Params` of shaders/recurrent_window.wgsl.
fn window_params(at: &CellStep) -> Result<Vec<u32>> {
    Ok(vec![to_u32(at.batch, "batch")?, to_u32(at.hidden, "hidden")?, to_u32(at.steps, "steps")?, 0])
}

/// One workgroup per sequence: the batch must fit one grid dimension (the tape takes the
/// per-step path beyond it).
fn window_grid(at: &CellStep) -> Result<[u32; 3]> {
    if at.batch > MAX_WINDOW_SEQUENCES {
        return Err(EngineError::InvalidArgument(format!(
            "a recurrent window runs one workgroup per sequence; {} sequences exceed {MAX_WINDOW_SEQUENCES}",
            at.batch
        )));
    }
    Ok([to_u32(at.batch, "batch")?, 1, 1])
}

/// The `Params` of shaders/recurrent.wgsl.
fn cell_params(at: &CellStep) -> Result<Vec<u32>> {
    Ok(vec![
        to_u32(at.batch, "batch")?,
        to_u32(at.hidden, "hidden")?,
        to_u32(at.step, "step")?,
        to_u32(at.steps, "steps")?,
    ])
}

#[allow(clippy::too_many_arguments)]
fn elementwise(
    len: usize,
    op: u32,
    accumulate: bool,
    alpha_bits: u32,
    seed: u32,
    prob: f32,
    cols: usize,
) -> Result<Vec<u32>> {
    Ok(vec![to_u32(len, "len")?, op, flag(accumulate), alpha_bits, seed, prob.to_bits(), to_u32(cols, "cols")?, 0])
}

/// The `Params` of shaders/optimizer.wgsl; `adam` = [beta1, beta2, eps, weight_decay] (sgd
/// reads the weight decay alone), `decoupled`: AdamW's. The learning rate and θ are not here:
/// the kernels read them from device buffers.
/// The `Params` of shaders/optimizer.wgsl: the slots' lengths (the first slot's, then up to
/// five more), SGD's batch size, Adam's β1, β2, ε and the weight decay, and the flags.
fn optimizer(
    lens: &[usize],
    batch_size: f32,
    adam: [f32; 4],
    decoupled: bool,
    clip: bool,
    flags: u32,
) -> Result<Vec<u32>> {
    let len = |slot: usize| to_u32(lens.get(slot).copied().unwrap_or(0), "len");
    let mut words = vec![len(0)?, batch_size.to_bits()];
    words.extend(adam.iter().map(|v| v.to_bits()));
    words.extend([flag(decoupled), flag(clip)]);
    for slot in 1..NORM_GROUP {
        words.push(len(slot)?);
    }
    words.extend([flags, 0, 0]);
    Ok(words)
}
