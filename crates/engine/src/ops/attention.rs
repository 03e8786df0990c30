//! Attention over a recurrent encoder's outputs, one decoder step (shaders/attention.wgsl): one
//! tape node for scores, masked softmax and context, two dispatches forward. Backward is two
//! dispatches and, for additive scores, a column sum for w_v — where composing it from
//! primitive ops would take a broadcast add, tanh, a matmul, a mask, a softmax and a batched
//! matmul, each with its own node and buffers.
//!
//! In training the node drops out the weights before the sum, as d2l's attention classes do
//! (`self.dropout(self.attention_weights)`): the kernels draw the mask where they need it, so
//! dropout adds no dispatch.
//!
//! The projections around it are ordinary tape matmuls: additive attention's `W_q q` per step
//! and `W_k k` once for all keys (they do not change while decoding), as d2l's
//! `AdditiveAttention` computes them.

use super::ensure;
use crate::backend::{AdditiveGrads, AttentionScoring, AttentionShape, Kernel, WeightDropout};
use crate::error::Result;
use crate::tape::{Op, Tape, Var};
use crate::tensor::{DType, Tensor};

/// How the node scores: additive with its projected keys and w_v, or dot against the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scores {
    /// d2l's `AdditiveAttention`: `keys` = W_k k (steps·batch, width), time-major; `w_v` the
    /// (1, width) weight of its `w_v` layer. The query is W_q q.
    Additive { keys: Var, w_v: Var },
    /// d2l's `DotProductAttention`: the values are the keys.
    Dot,
}

/// What the backward rule of an attention node needs besides its inputs' values.
#[derive(Clone)]
pub(crate) struct AttentionNode {
    pub at: AttentionShape,
    pub query: Var,
    pub values: Var,
    pub scores: Scores,
    /// The weights the forward computed, (batch, steps), before dropout.
    pub weights: Tensor,
    /// The mask the forward dropped the weights by, in training.
    pub dropout: Option<WeightDropout>,
}

impl Tape {
    /// One step of attention: `query` (batch, width) attends over `values` (steps·batch, width),
    /// time-major as a recurrent layer writes them, keys at or past `valid_lens[b]` (u32,
    /// batch) masked as d2l's `masked_softmax` does. In training mode the weights are dropped
    /// out with probability `dropout` before the weighted sum (inverted dropout, as
    /// [`Tape::dropout`]). Returns the context (batch, width) and the attention weights (batch,
    /// steps) before dropout, which views read and which carry no gradient.
    pub fn attention(
        &mut self,
        query: Var,
        values: Var,
        scores: Scores,
        valid_lens: &Tensor,
        dropout: f32,
    ) -> Result<(Var, Tensor)> {
        ensure((0.0..1.0).contains(&dropout), "attention", || {
            format!("dropout probability {dropout} is outside [0, 1)")
        })?;
        let (q, v) = (self.shape(query).to_vec(), self.shape(values).to_vec());
        ensure(q.len() == 2 && v.len() == 2 && q[1] == v[1] && q[0] > 0, "attention", || {
            format!("the query must be (batch, width) and the values (steps·batch, width), got {q:?} and {v:?}")
        })?;
        let (batch, width) = (q[0], q[1]);
        ensure(v[0] % batch == 0 && v[0] > 0, "attention", || {
            format!("{} value rows are not a whole number of steps of {batch} queries", v[0])
        })?;
        ensure(valid_lens.dtype() == DType::U32 && valid_lens.len() == batch, "attention", || {
            format!("valid lengths must be {batch} u32 values, got {:?} {:?}", valid_lens.dtype(), valid_lens.shape())
        })?;
        let steps = v[0] / batch;
        let (scoring, keys, w_v) = match scores {
            Scores::Additive { keys, w_v } => {
                let (k, w) = (self.shape(keys).to_vec(), self.shape(w_v).to_vec());
                ensure(k == v && w.iter().product::<usize>() == width, "attention", || {
                    format!(
                        "additive keys must be shaped as the values {v:?} and w_v hold {width}, got {k:?} and {w:?}"
                    )
                })?;
                (AttentionScoring::Additive, keys, Some(w_v))
            }
            Scores::Dot => (AttentionScoring::Dot, values, None),
        };
        let at = AttentionShape { scoring, batch, steps, width };
        let raw = self.alloc(&[batch, steps])?;
        self.run(Kernel::AttentionScores {
            at,
            query: self.value(query).id(),
            keys: self.value(keys).id(),
            w_v: w_v.map(|w| self.value(w).id()),
            valid_lens: valid_lens.id(),
            scores: raw.id(),
        })?;
        let weights = self.alloc(&[batch, steps])?;
        let context = self.alloc(&[batch, width])?;
        let dropout = match self.is_training() && dropout > 0.0 {
            true => {
                let (seed, salt) = self.next_dropout_mask()?;
                Some(WeightDropout { p: dropout, seed, salt })
            }
            false => None,
        };
        self.run(Kernel::AttentionContext {
            at,
            scores: raw.id(),
            values: self.value(values).id(),
            weights: weights.id(),
            context: context.id(),
            dropout,
        })?;
        let mut inputs = vec![query, values];
        inputs.extend(w_v.iter().chain(matches!(scores, Scores::Additive { .. }).then_some(&keys)));
        let node = AttentionNode { at, query, values, scores, weights: weights.clone(), dropout };
        Ok((self.record(context, Op::Attention(Box::new(node)), &inputs), weights))
    }
}

pub(super) fn backward(tape: &mut Tape, node: &AttentionNode, dcontext: &Tensor) -> Result<()> {
    let at = node.at;
    // The kernels add into every gradient they write; inputs that need none get scratch.
    let target = |tape: &mut Tape, var: Var| -> Result<Tensor> {
        match tape.grad_target_zeroed(var)? {
            Some(grad) => Ok(grad),
            None => tape.alloc(tape.shape(var)),
        }
    };
    let dweights = tape.alloc(&[at.batch, at.steps])?;
    let values = tape.value(node.values).clone();
    let dvalues = target(tape, node.values)?;
    tape.run(Kernel::AttentionSumBackward {
        at,
        dcontext: dcontext.id(),
        values: values.id(),
        weights: node.weights.id(),
        dweights: dweights.id(),
        dvalues: dvalues.id(),
        dropout: node.dropout,
    })?;
    let dquery = target(tape, node.query)?;
    // Dot scores' keys are the values: their gradient goes where the values' went.
    let (keys, dkeys, additive) = match node.scores {
        Scores::Additive { keys, w_v } => {
            let dkeys = target(tape, keys)?;
            let rows = tape.alloc(&[at.batch, at.width])?;
            (tape.value(keys).clone(), dkeys, Some((w_v, rows)))
        }
        Scores::Dot => (values, dvalues, None),
    };
    tape.run(Kernel::AttentionBackward {
        at,
        query: tape.value(node.query).id(),
        keys: keys.id(),
        weights: node.weights.id(),
        dweights: dweights.id(),
        dquery: dquery.id(),
        dkeys: dkeys.id(),
        additive: additive
            .as_ref()
            .map(|(w_v, rows)| AdditiveGrads { w_v: tape.value(*w_v).id(), dw_v_rows: rows.id() }),
    })?;
    if let Some((w_v, rows)) = additive {
        if let Some(dw_v) = tape.grad_target_zeroed(w_v)? {
            tape.run(Kernel::ColumnSum {
                x: rows.id(),
                out: dw_v.id(),
                rows: at.batch,
                cols: at.width,
                accumulate: true,
            })?;
        }
    }
    Ok(())
}
