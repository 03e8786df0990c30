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
}

/// Runs encoder and decoder on a probing tape in evaluation mode; returns the tape, the logits
/// and how many probes the encoder pushed.
fn probed(model: &Seq2Seq, source: &[u32], target_in: &[u32]) -> Result<(Tape, Var, usize)> {
    let vocabularies = (model.config().src_vocab_size, model.config().tgt_vocab_size);
    for (ids, vocab, what) in [(source, vocabularies.0, "source"), (target_in, vocabularies.1, "target")] {
        check_len(ids.len(), what)?;
        crate::generate::check_ids(ids, vocab, what)?;
    }
    let backend = model.params()[0].value().backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    tape.enable_probes();
    let src = Tensor::from_u32(&backend, &[source.len(), 1], source)?;
    let state = model.encode(&mut tape, &src)?;
    let encoder_probes = tape.probes().len();
    let context = model.context(&mut tape, state)?;
    let dec_in = Tensor::from_u32(&backend, &[target_in.len(), 1], target_in)?;
    let (logits, _) = model.decode(&mut tape, &dec_in, state, context)?;
    Ok((tape, logits, encoder_probes))
}

/// The encoder's and decoder's signals over `source` and `target_in`, and the decoder's most
/// likely next tokens (at least `top_k`) at each target position.
pub async fn inspect_translation(
    model: &Seq2Seq,
    source: &[u32],
    target_in: &[u32],
    top_k: usize,
) -> Result<TranslationInspection> {
    let (mut tape, logits, split) = probed(model, source, target_in)?;
    let (layers, hidden) = (model.config().num_layers, model.config().hidden_size);
    let probes = tape.probes().to_vec();
    let encoder = read_signals(&mut tape, &probes[..split], source.len(), hidden).await?;
    let decoder = read_signals(&mut tape, &probes[split..], target_in.len(), hidden).await?;
    let vocab = model.config().tgt_vocab_size;
    let keep = top_k.max(super::CANDIDATES).min(vocab);
    let values = tape.value(logits).to_vec().await?;
    let next = values.chunks_exact(vocab).map(|row| candidates(row, keep)).collect();
    Ok(TranslationInspection {
        source: source.to_vec(),
        target_in: target_in.to_vec(),
        layers,
        hidden,
        encoder,
        decoder,
        next,
    })
}

/// ‖∂ loss_t / ∂ e_s‖ for every source token s, e_s its embedding row, where loss_t is the
/// cross-entropy of `label` at target position `position` (teacher-forced on `target_in`).
pub async fn translation_connectivity(
    model: &Seq2Seq,
    source: &[u32],
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
    let (mut tape, logits, split) = probed(model, source, &target_in[..=position])?;
    let row = tape.slice(logits, 0, position, 1)?;
    let label = Tensor::from_u32(tape.backend(), &[1], &[label])?;
    let loss = tape.softmax_cross_entropy(row, &label)?;
    let encoder_probes: Vec<Probe> = tape.probes()[..split].to_vec();
    retain_inputs(&mut tape, &encoder_probes);
    tape.backward(loss)?;
    input_saliency(&tape, &encoder_probes, source.len()).await
}
