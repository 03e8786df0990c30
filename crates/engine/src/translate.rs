//! Using a trained encoder–decoder: d2l's `predict_seq2seq` (greedy free-running decoding),
//! a teacher-forced view of a reference, and an example sentence as the hosts show it.

use crate::error::Result;
use crate::generate::{argmax, softmax};
use crate::nn::{Memory, Seq2Seq};
use crate::tape::{Tape, Var};
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
    /// How many of `ids` are the sentence and its `<eos>` (the rest is padding).
    pub valid: usize,
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
    let (ids, valid) = rnnplay_data::translation::truncate_pad(vocab, &tokens, num_steps);
    EncodedSource { ids, valid, unknown, truncated }
}

/// The valid length of a prepared source (`encode_source`), at least 1: its ids that are not
/// `<pad>`, as `truncate_pad` and the training batches count it. Source and target
/// vocabularies reserve the same tokens at the same ids (`Vocab::new` with `RESERVED`), so the
/// target vocabulary names the source's `<pad>` too.
pub(crate) fn source_valid(vocab: &Vocab, src_ids: &[u32]) -> u32 {
    let pad = vocab.index(RESERVED[0]);
    src_ids.iter().filter(|&&id| id != pad).count().max(1) as u32
}

/// One source sentence encoded on a new evaluation-mode tape: where decoding, teacher forcing
/// and the inspection (`probes`: the tape collects the layers' signals) all start.
pub(crate) struct OnTape {
    pub tape: Tape,
    /// The encoder's final state, (layers, 1, decoder width).
    pub state: Var,
    pub memory: Memory<Var>,
}

/// Encodes `src_ids`, of which the first `valid` (clamped to 1..=len, as the training batches
/// count it) are the sentence and its `<eos>`, the rest padding that attention does not read.
pub(crate) fn encode_on_tape(model: &Seq2Seq, src_ids: &[u32], valid: usize, probes: bool) -> Result<OnTape> {
    let backend = model.params()[0].value().backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    if probes {
        tape.enable_probes();
    }
    let src = Tensor::from_u32(&backend, &[src_ids.len(), 1], src_ids)?;
    let valid = Tensor::from_u32(&backend, &[1], &[valid.clamp(1, src_ids.len().max(1)) as u32])?;
    let (state, memory) = model.encode(&mut tape, &src, &valid)?;
    Ok(OnTape { tape, state, memory })
}

/// Where every free-running decoding of one sentence starts: the encoder's final state and
/// what the decoder reads, cut from the tape, and the source's valid length.
pub(crate) struct Start {
    pub state: Tensor,
    pub memory: Memory<Tensor>,
    pub valid: u32,
}

pub(crate) fn encoded(model: &Seq2Seq, vocab: &Vocab, src_ids: &[u32]) -> Result<Start> {
    let valid = source_valid(vocab, src_ids);
    let OnTape { tape, state, memory } = encode_on_tape(model, src_ids, valid as usize, false)?;
    Ok(Start { state: tape.detach(state), memory: memory.detach(&tape), valid })
}

/// What one decoder step computed for each sequence of a batch.
pub(crate) struct Step {
    /// (batch, V_tgt) logits, read back.
    pub logits: Vec<f32>,
    /// The new state (layers, batch, hidden).
    pub state: Tensor,
}

/// One decoder step in evaluation mode: feeds `tokens` (one per sequence) from `state`.
pub(crate) async fn decode_step(
    model: &Seq2Seq,
    state: &Tensor,
    memory: &Memory<Tensor>,
    tokens: &[u32],
) -> Result<Step> {
    let backend = model.params()[0].value().backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    let input = Tensor::from_u32(&backend, &[1, tokens.len()], tokens)?;
    let s = tape.constant(state.clone());
    let memory = memory.on(&mut tape);
    let decoded = model.decode(&mut tape, &input, s, &memory)?;
    Ok(Step { logits: tape.value(decoded.logits).to_vec().await?, state: tape.detach(decoded.state) })
}

/// Greedy free-running decoding: feed `<bos>`, then each predicted token, until `<eos>` or
/// `max_len` tokens. Returns the predicted target tokens (without `<eos>`).
pub async fn translate(model: &Seq2Seq, tgt_vocab: &Vocab, src_ids: &[u32], max_len: usize) -> Result<Vec<u32>> {
    let (bos, eos) = reserved(tgt_vocab);
    let Start { mut state, memory, .. } = encoded(model, tgt_vocab, src_ids)?;
    let mut output = Vec::new();
    let mut next = bos;
    for _ in 0..max_len {
        let step = decode_step(model, &state, &memory, &[next]).await?;
        next = argmax(&step.logits) as u32;
        state = step.state;
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

/// The decoder teacher-forced on `tokens` (target ids) after `<bos>`, in evaluation mode, the
/// source's first `valid` ids its sentence: its logits at each position (the last predicts
/// what follows `tokens`), (len + 1, V_tgt), and with attention each position's weights (1,
/// source steps).
async fn teacher_forced(
    model: &Seq2Seq,
    tgt_vocab: &Vocab,
    (src_ids, valid): (&[u32], usize),
    tokens: &[u32],
) -> Result<(Vec<f32>, Vec<Tensor>)> {
    let (dec_in, _) = teacher_forcing_ids(tgt_vocab, tokens);
    let OnTape { mut tape, state, memory } = encode_on_tape(model, src_ids, valid, false)?;
    let dec_in = Tensor::from_u32(tape.backend(), &[dec_in.len(), 1], &dec_in)?;
    let decoded = model.decode(&mut tape, &dec_in, state, &memory)?;
    Ok((tape.value(decoded.logits).to_vec().await?, decoded.attention))
}

/// Teacher-forced view of a reference translation: the probability the model gives each
/// reference token (then `<eos>`) when fed the true previous ones, and its top guess.
pub async fn teacher_forced_reference(
    model: &Seq2Seq,
    tgt_vocab: &Vocab,
    src_ids: &[u32],
    reference: &[u32],
) -> Result<Vec<(u32, u32, f32)>> {
    let (_, labels) = teacher_forcing_ids(tgt_vocab, reference);
    let valid = source_valid(tgt_vocab, src_ids) as usize;
    let (values, _) = teacher_forced(model, tgt_vocab, (src_ids, valid), reference).await?;
    let vocab = model.config().tgt_vocab_size;
    Ok(values
        .chunks_exact(vocab)
        .zip(&labels)
        .map(|(row, &truth)| (truth, argmax(row) as u32, softmax(row, 1.0)[truth as usize] as f32))
        .collect())
}

/// Where an attention decoder looked while writing `output` (target ids, as a translation
/// found them) from a source whose first `valid` ids are its sentence: for each output token
/// and the `<eos>` after it, its weights over those ids (each row sums to 1). Empty for a
/// decoder without attention. Feeding the output back teacher-forced repeats the free-running
/// steps that wrote it, so these are its weights.
async fn attention_weights(
    model: &Seq2Seq,
    tgt_vocab: &Vocab,
    (src_ids, valid): (&[u32], usize),
    output: &[u32],
) -> Result<Vec<Vec<f32>>> {
    let (_, attention) = teacher_forced(model, tgt_vocab, (src_ids, valid), output).await?;
    let mut rows = Vec::with_capacity(attention.len());
    for row in attention {
        let mut weights = row.to_vec().await?;
        weights.truncate(valid);
        rows.push(weights);
    }
    Ok(rows)
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
    /// With attention: where the decoder looked while writing the translation, a row per
    /// output word and `<eos>` over the source's words (`attention_weights`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionMap>,
}

/// Attention weights with the words they join: row i is output word i's weights over the
/// source words (each row sums to 1), and the last row the `<eos>`'s when the output ended
/// with one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttentionMap {
    pub source: Vec<String>,
    pub output: Vec<String>,
    pub weights: Vec<Vec<f32>>,
}

impl AttentionMap {
    /// Where an attention decoder looked while writing `output` from `src_ids` (`None` for a
    /// decoder without attention), with the words of both sides; `ended`: the output ended
    /// with `<eos>` (not at the length limit), whose row is kept.
    pub async fn of(
        model: &Seq2Seq,
        (src_vocab, tgt_vocab): (&Vocab, &Vocab),
        src_ids: &[u32],
        output: &[u32],
        ended: bool,
    ) -> Result<Option<AttentionMap>> {
        if model.config().attention.is_none() {
            return Ok(None);
        }
        let valid = source_valid(tgt_vocab, src_ids) as usize;
        let mut weights = attention_weights(model, tgt_vocab, (src_ids, valid), output).await?;
        if !ended {
            weights.truncate(output.len());
        }
        let source = src_ids[..valid.min(src_ids.len())].iter().map(|&i| src_vocab.token(i).to_string()).collect();
        let output = output
            .iter()
            .map(|&i| tgt_vocab.token(i).to_string())
            .chain(ended.then(|| RESERVED[2].to_string()))
            .collect();
        Ok(Some(AttentionMap { source, output, weights }))
    }
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
    // Greedy decoding stops at <eos> or after num_steps tokens.
    let ended = ids.len() < data.num_steps;
    let attention = AttentionMap::of(model, (&data.src_vocab, &data.tgt_vocab), &source.ids, &ids, ended).await?;
    Ok(TranslationExample {
        attention,
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
