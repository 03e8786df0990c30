//! Using a trained encoder–decoder: d2l's `predict_seq2seq` (greedy free-running decoding),
//! a teacher-forced view of a reference, and an example sentence as the hosts show it.

use crate::error::Result;
use crate::generate::{argmax, softmax};
use crate::nn::Seq2Seq;
use crate::tape::Tape;
use crate::tensor::Tensor;
use rnnplay_data::translation::RESERVED;
use rnnplay_data::Vocab;

/// Ids of the reserved target tokens.
pub(crate) fn reserved(vocab: &Vocab) -> (u32, u32) {
    (vocab.index(RESERVED[1]), vocab.index(RESERVED[2]))
}

/// A source sentence prepared for the encoder: ids with `<eos>`, truncated or padded to
/// `num_steps`, and what was lost on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedSource {
    pub ids: Vec<u32>,
    /// Tokens not in the source vocabulary (fed as `<unk>`).
    pub unknown: Vec<String>,
    /// Tokens cut because the sentence (with `<eos>`) is longer than num_steps.
    pub truncated: usize,
}

/// d2l's `predict_seq2seq` preparation: tokens split on spaces, `<eos>` appended, truncated or
/// padded to `num_steps`.
pub fn encode_source(vocab: &Vocab, sentence: &str, num_steps: usize) -> EncodedSource {
    let tokens: Vec<String> = sentence.split(' ').filter(|t| !t.is_empty()).map(String::from).collect();
    let unknown = tokens.iter().filter(|t| vocab.get(t).is_none()).cloned().collect();
    let truncated = (tokens.len() + 1).saturating_sub(num_steps);
    let (ids, _) = rnnplay_data::translation::truncate_pad(vocab, &tokens, num_steps);
    EncodedSource { ids, unknown, truncated }
}

/// The encoder's final state over `src_ids` (one sentence) and the decoder's context from it,
/// computed in evaluation mode: where every decoding starts.
pub(crate) fn encoded(model: &Seq2Seq, src_ids: &[u32]) -> Result<(Tensor, Tensor)> {
    let backend = model.params()[0].value().backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    let src = Tensor::from_u32(&backend, &[src_ids.len(), 1], src_ids)?;
    let state = model.encode(&mut tape, &src)?;
    let context = model.context(&mut tape, state)?;
    Ok((tape.detach(state), tape.detach(context)))
}

/// Greedy free-running decoding: feed `<bos>`, then each predicted token, until `<eos>` or
/// `max_len` tokens. Returns the predicted target tokens (without `<eos>`).
pub async fn translate(model: &Seq2Seq, tgt_vocab: &Vocab, src_ids: &[u32], max_len: usize) -> Result<Vec<u32>> {
    let backend = model.params()[0].value().backend().clone();
    let (bos, eos) = reserved(tgt_vocab);
    let (mut state, context) = encoded(model, src_ids)?;
    let mut output = Vec::new();
    let mut next = bos;
    for _ in 0..max_len {
        let mut tape = Tape::new(&backend, 0);
        tape.set_training(false);
        let input = Tensor::from_u32(&backend, &[1, 1], &[next])?;
        let (s, c) = (tape.constant(state.clone()), tape.constant(context.clone()));
        let (logits, new_state) = model.decode(&mut tape, &input, s, c)?;
        next = argmax(&tape.value(logits).to_vec().await?) as u32;
        state = tape.detach(new_state);
        if next == eos {
            break;
        }
        output.push(next);
    }
    Ok(output)
}

/// The decoder's inputs and labels for teacher forcing on `reference` (target ids): `<bos>`
/// then the reference, and the reference then `<eos>`.
pub fn teacher_forcing_ids(tgt_vocab: &Vocab, reference: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let (bos, eos) = reserved(tgt_vocab);
    let inputs = std::iter::once(bos).chain(reference.iter().copied()).collect();
    let labels = reference.iter().copied().chain(std::iter::once(eos)).collect();
    (inputs, labels)
}

/// Teacher-forced view of a reference translation: the probability the model gives each
/// reference token (then `<eos>`) when fed the true previous ones, and its top guess.
pub async fn teacher_forced_reference(
    model: &Seq2Seq,
    tgt_vocab: &Vocab,
    src_ids: &[u32],
    reference: &[u32],
) -> Result<Vec<(u32, u32, f32)>> {
    let backend = model.params()[0].value().backend().clone();
    let (dec_in, labels) = teacher_forcing_ids(tgt_vocab, reference);
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    let src = Tensor::from_u32(&backend, &[src_ids.len(), 1], src_ids)?;
    let dec_in = Tensor::from_u32(&backend, &[dec_in.len(), 1], &dec_in)?;
    let logits = model.forward(&mut tape, &src, &dec_in)?;
    let values = tape.value(logits).to_vec().await?;
    let vocab = model.config().tgt_vocab_size;
    Ok(values
        .chunks_exact(vocab)
        .zip(&labels)
        .map(|(row, &truth)| (truth, argmax(row) as u32, softmax(row, 1.0)[truth as usize] as f32))
        .collect())
}

/// One example sentence as the hosts show it: the free-running translation with its BLEU
/// against the reference (k = 2, as d2l), and the teacher-forced view of the reference.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranslationExample {
    pub src: String,
    pub reference: String,
    pub translation: String,
    pub bleu: f64,
    /// (reference token or `<eos>`, p(token), the model's top guess there).
    pub teacher_forced: Vec<(String, f32, String)>,
}

/// Translates `src` with `model` and compares it with `reference`, both in `data`'s vocabularies.
pub async fn translation_example(
    model: &Seq2Seq,
    data: &rnnplay_data::translation::PairDataset,
    src: &str,
    reference: &str,
) -> Result<TranslationExample> {
    let source = encode_source(&data.src_vocab, src, data.num_steps);
    let ids = translate(model, &data.tgt_vocab, &source.ids, data.num_steps).await?;
    let translation = ids.iter().map(|&i| data.tgt_vocab.token(i)).collect::<Vec<_>>().join(" ");
    let reference_ids: Vec<u32> = reference.split(' ').map(|t| data.tgt_vocab.index(t)).collect();
    let forced = teacher_forced_reference(model, &data.tgt_vocab, &source.ids, &reference_ids).await?;
    Ok(TranslationExample {
        src: src.to_string(),
        reference: reference.to_string(),
        bleu: rnnplay_data::translation::bleu(&translation, reference, 2),
        translation,
        teacher_forced: forced
            .iter()
            .map(|&(truth, top, p)| (data.tgt_vocab.token(truth).to_string(), p, data.tgt_vocab.token(top).to_string()))
            .collect(),
    })
}
