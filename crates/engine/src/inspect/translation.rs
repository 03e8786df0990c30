//! Inspection of an encoder–decoder on one translation, teacher-forced on a reference: the
//! encoder's states over the source, the decoder's states and gates over the target, the
//! decoder's most likely next tokens at every target position, and for one target position the
//! gradient of its loss with respect to each source token's embedding — how much each source
//! word matters to that prediction.
//!
//! The probes are the language models' (`super`): the encoder's stack pushes its probes first,
//! then the decoder's, so the two are told apart by where the encoder's end.

use super::{candidates, check_len, input_saliency, read_signals, retain_inputs, Candidate, Signal};
use crate::error::{EngineError, Result};
use crate::nn::Seq2Seq;
use crate::tape::{Probe, Tape, Var};
use crate::tensor::Tensor;
use crate::translate::{encode_on_tape, OnTape};
use serde::{Deserialize, Serialize};

/// What an encoder–decoder computed over a source sentence and a teacher-forced target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationInspection {
    pub source: Vec<u32>,
    /// The decoder's inputs: `<bos>` then the reference without its last token.
    pub target_in: Vec<u32>,
    pub layers: usize,
    pub hidden: usize,
    /// The encoder's signals over the source (h and the GRU gates r, z, n per layer).
    pub encoder: Vec<Signal>,
    /// The decoder's signals over the target inputs.
    pub decoder: Vec<Signal>,
    /// Per target position: the most likely next tokens (at least the asked-for top k).
    pub next: Vec<Vec<Candidate>>,
    /// With attention, per target position the weights over the source's valid tokens (each
    /// row sums to 1); empty for the plain decoder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<Vec<f32>>,
}

/// What [`probed`] ran.
struct Probed {
    tape: Tape,
    logits: Var,
    /// How many probes the encoder pushed.
    split: usize,
    /// The decoder's attention weights per target position (batch 1: one row each).
    attention: Vec<Tensor>,
}

/// Runs encoder and decoder on a probing tape in evaluation mode, over `source` whose first
/// `valid` ids are the sentence (the rest padding, which attention does not read).
fn probed(model: &Seq2Seq, source: &[u32], valid: usize, target_in: &[u32]) -> Result<Probed> {
    let vocabularies = (model.config().src_vocab_size, model.config().tgt_vocab_size);
    for (ids, vocab, what) in [(source, vocabularies.0, "source"), (target_in, vocabularies.1, "target")] {
        check_len(ids.len(), what)?;
        crate::generate::check_ids(ids, vocab, what)?;
    }
    let OnTape { mut tape, state, memory } = encode_on_tape(model, source, valid, true)?;
    let split = tape.probes().len();
    let dec_in = Tensor::from_u32(tape.backend(), &[target_in.len(), 1], target_in)?;
    let decoded = model.decode(&mut tape, &dec_in, state, &memory)?;
    Ok(Probed { tape, logits: decoded.logits, split, attention: decoded.attention })
}

/// The encoder's and decoder's signals over `source` and `target_in`, and the decoder's most
/// likely next tokens (at least `top_k`) at each target position.
pub async fn inspect_translation(
    model: &Seq2Seq,
    source: &[u32],
    source_valid: usize,
    target_in: &[u32],
    top_k: usize,
) -> Result<TranslationInspection> {
    let Probed { mut tape, logits, split, attention } = probed(model, source, source_valid, target_in)?;
    let (layers, hidden) = (model.config().num_layers, model.config().decoder_width());
    let probes = tape.probes().to_vec();
    let encoder = read_signals(&mut tape, &probes[..split], source.len(), hidden).await?;
    let decoder = read_signals(&mut tape, &probes[split..], target_in.len(), hidden).await?;
    let vocab = model.config().tgt_vocab_size;
    let keep = top_k.max(super::CANDIDATES).min(vocab);
    let values = tape.value(logits).to_vec().await?;
    let next = values.chunks_exact(vocab).map(|row| candidates(row, keep)).collect();
    let mut weights = Vec::with_capacity(attention.len());
    for row in &attention {
        let mut w = row.to_vec().await?;
        w.truncate(source_valid.clamp(1, source.len()));
        weights.push(w);
    }
    Ok(TranslationInspection {
        source: source.to_vec(),
        target_in: target_in.to_vec(),
        layers,
        hidden,
        encoder,
        decoder,
        next,
        attention: weights,
    })
}

/// ‖∂ loss_t / ∂ e_s‖ for every source token s, e_s its embedding row, where loss_t is the
/// cross-entropy of `label` at target position `position` (teacher-forced on `target_in`).
pub async fn translation_connectivity(
    model: &Seq2Seq,
    source: &[u32],
    source_valid: usize,
    target_in: &[u32],
    position: usize,
    label: u32,
) -> Result<Vec<f32>> {
    if position >= target_in.len() {
        return Err(EngineError::InvalidArgument(format!(
            "target position {position} is past the target's {} tokens (positions count from 0)",
            target_in.len()
        )));
    }
    if label as usize >= model.config().tgt_vocab_size {
        return Err(EngineError::InvalidArgument(format!("label {label} is outside the target vocabulary")));
    }
    let Probed { mut tape, logits, split, .. } = probed(model, source, source_valid, &target_in[..=position])?;
    let row = tape.slice(logits, 0, position, 1)?;
    let label = Tensor::from_u32(tape.backend(), &[1], &[label])?;
    let loss = tape.softmax_cross_entropy(row, &label)?;
    let encoder_probes: Vec<Probe> = tape.probes()[..split].to_vec();
    retain_inputs(&mut tape, &encoder_probes);
    tape.backward(loss)?;
    input_saliency(&tape, &encoder_probes, source.len()).await
}
