//! Beam search for a trained encoder–decoder (d2l § 10.8 "Beam Search"), and forcing the
//! output's start.
//!
//! At every step each of the (at most) k kept hypotheses is extended by every target token, and
//! the k extensions of highest log-probability log P(y₁ … y_t | x) are kept; an extension that
//! ends with `<eos>` is finished and leaves the beam. When no hypothesis is left, or after
//! `max_len` steps, the answer is the candidate — finished, or still open at the end — of highest
//! d2l's score (1 / L^α) · log P, L its length counting the `<eos>` it ended with (so never 0)
//! and α the length penalty (0: the most probable candidate; larger α favours longer ones).
//! With k = 1 this is greedy decoding, token for token (`translate::translate`).
//!
//! A finished hypothesis takes its slot with it, so the beam narrows as hypotheses finish (the
//! usual early stop; d2l § 10.8 instead keeps k open and scores every kept prefix too, which
//! would make k = 1 differ from greedy decoding).
//!
//! A forced prefix is fed to the decoder before the search: its tokens are the output's first,
//! whatever the model would have chosen, and their log-probabilities count in every candidate's
//! score. The hypotheses of a step run as one batch: one decoder step a step, its logits and
//! states read back, the kept rows' states uploaded for the next.

use crate::error::{EngineError, Result};
use crate::nn::{Memory, Seq2Seq};
use crate::tensor::Tensor;
use crate::translate::{decode_step, encoded, reserved, Start};
use rnnplay_data::translation::RESERVED;
use rnnplay_data::Vocab;

/// The unknown-word token, which no output is forced to say.
const UNK_TOKEN: &str = "<unk>";

/// The most hypotheses a search keeps (a bound on the batch of one decoder step).
pub const MAX_BEAM: usize = 64;

/// d2l § 10.8's length penalty α.
pub const D2L_LENGTH_PENALTY: f32 = 0.75;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamSettings {
    /// Hypotheses kept per step, k ≥ 1 (1: greedy).
    pub beam: usize,
    /// α in (1 / L^α) · log P.
    pub length_penalty: f32,
    /// The most tokens an output has (`<eos>` not counted), prefix included.
    pub max_len: usize,
}

/// One extension the search considered at a step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BeamNode {
    /// The hypothesis it extends: its index among the previous step's kept nodes (0 at the first
    /// step, which extends `<bos>` and the prefix).
    pub parent: usize,
    pub token: u32,
    /// log P of the whole hypothesis so far, this token included.
    pub log_p: f64,
    /// Whether it was kept (among the step's k most probable); the others are shown pruned.
    pub kept: bool,
}

/// What a search found, and how.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BeamResult {
    /// The chosen output (without `<eos>`), prefix included.
    pub tokens: Vec<u32>,
    /// Its log P and its score (1 / L^α) · log P.
    pub log_p: f64,
    pub score: f64,
    /// The forced prefix's tokens.
    pub prefix: Vec<u32>,
    /// Per search step: the kept nodes first (in order of log P), then the best pruned ones (up to
    /// k of them), for drawing the search as a tree.
    pub steps: Vec<Vec<BeamNode>>,
    /// The chosen output's node at each step (indices into `steps[t]`), for highlighting it.
    pub path: Vec<usize>,
}

impl BeamResult {
    /// The tokens of the hypothesis that node `index` of step `step` ends (after the prefix),
    /// found by walking its parents back.
    pub fn hypothesis(&self, mut step: usize, mut index: usize) -> Vec<u32> {
        let mut tokens = Vec::new();
        while let Some(node) = self.steps.get(step).and_then(|nodes| nodes.get(index)) {
            tokens.push(node.token);
            if step == 0 {
                break;
            }
            (step, index) = (step - 1, node.parent);
        }
        tokens.reverse();
        tokens
    }

    /// Whether the chosen output ended with `<eos>` (of `tgt_vocab`, the search's), rather than
    /// at the length limit.
    pub fn ended(&self, tgt_vocab: &Vocab) -> bool {
        let (_, eos) = reserved(tgt_vocab);
        let end = self.path.len().checked_sub(1).zip(self.path.last());
        end.and_then(|(step, &index)| self.steps.get(step)?.get(index)).is_some_and(|node| node.token == eos)
    }
}

/// The ids of a forced start's words (split on spaces), each one the model can write: in the
/// target vocabulary, and not `<pad>`, `<bos>`, `<eos>` or `<unk>`. The message of a refused word
/// says what to give instead.
pub fn start_ids(tgt_vocab: &Vocab, words: &str) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    for word in words.split(' ').filter(|w| !w.is_empty()) {
        let reserved = RESERVED.contains(&word) || word == UNK_TOKEN;
        let id = tgt_vocab.get(word).filter(|_| !reserved);
        let Some(id) = id else {
            let why = if reserved {
                "is a reserved token, not a word the output can start with".to_string()
            } else if word.chars().count() > 1 && word.chars().all(|c| tgt_vocab.get(&c.to_string()).is_some()) {
                format!("is not in the model's target vocabulary, whose tokens are single symbols: separate them with spaces ({})", word.chars().map(String::from).collect::<Vec<_>>().join(" "))
            } else {
                "is not in the model's target vocabulary; start with words it knows".to_string()
            };
            return Err(EngineError::InvalidArgument(format!("'{word}' {why}")));
        };
        ids.push(id);
    }
    Ok(ids)
}

/// log softmax of one row, in f64.
fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let total: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
    let log_total = total.ln() + max;
    row.iter().map(|&v| v as f64 - log_total).collect()
}

/// An open hypothesis: its tokens after the prefix, log P, and the node that ends it.
#[derive(Clone)]
struct Open {
    tokens: Vec<u32>,
    log_p: f64,
    node: Option<usize>,
}

/// A candidate for the answer: tokens, log P, length L, and its node path's last step and index.
struct Candidate {
    tokens: Vec<u32>,
    log_p: f64,
    length: usize,
    end: Option<(usize, usize)>,
}

/// Beam search from `src_ids`, the output starting with `prefix` (target ids; may be empty).
pub async fn beam_search(
    model: &Seq2Seq,
    tgt_vocab: &Vocab,
    src_ids: &[u32],
    prefix: &[u32],
    settings: BeamSettings,
) -> Result<BeamResult> {
    let BeamSettings { beam, length_penalty, max_len } = settings;
    if !(1..=MAX_BEAM).contains(&beam) {
        return Err(EngineError::InvalidArgument(format!("the beam size must be 1 to {MAX_BEAM} (got {beam})")));
    }
    if !length_penalty.is_finite() || length_penalty < 0.0 {
        return Err(EngineError::InvalidArgument(format!(
            "the length penalty α must be a finite number ≥ 0 (got {length_penalty}); d2l uses 0.75"
        )));
    }
    if prefix.len() >= max_len {
        return Err(EngineError::InvalidArgument(format!(
            "the forced start has {} tokens, leaving no room in the {max_len} an output may have; force fewer",
            prefix.len()
        )));
    }
    let backend = model.params()[0].value().backend().clone();
    let (bos, eos) = reserved(tgt_vocab);
    let vocab = model.config().tgt_vocab_size;
    let Start { mut state, memory, valid } = encoded(model, tgt_vocab, src_ids)?;
    let (layers, hidden) = (model.config().num_layers, model.config().decoder_width());

    // Feed <bos> and the prefix to the one starting hypothesis, counting the prefix's log P.
    let mut prefix_log_p = 0.0;
    let mut logits: Vec<f32> = Vec::new();
    for &token in std::iter::once(&bos).chain(prefix) {
        if !logits.is_empty() {
            prefix_log_p += log_softmax(&logits)[token as usize];
        }
        let step = decode_step(model, &state, &memory, &[token]).await?;
        logits = step.logits;
        state = step.state;
    }
    let mut states = state.to_vec().await?;
    let mut open = vec![Open { tokens: Vec::new(), log_p: prefix_log_p, node: None }];
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut steps: Vec<Vec<BeamNode>> = Vec::new();
    let mut rows = logits;
    let mut repeated: Option<(usize, Memory<Tensor>)> = None;
    for step in 0..max_len - prefix.len() {
        // Every extension of every open hypothesis, most probable first (ties: the earlier
        // hypothesis, then the lower token — as greedy's argmax takes the first maximum).
        let mut extensions: Vec<(f64, usize, u32)> = Vec::with_capacity(open.len() * vocab);
        for (i, hyp) in open.iter().enumerate() {
            let logp = log_softmax(&rows[i * vocab..(i + 1) * vocab]);
            extensions.extend(logp.iter().enumerate().map(|(v, &lp)| (hyp.log_p + lp, i, v as u32)));
        }
        extensions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let shown = extensions.len().min(2 * beam);
        let mut nodes = Vec::with_capacity(shown);
        let mut next_open = Vec::new();
        let mut parents = Vec::new();
        for (rank, &(log_p, i, token)) in extensions[..shown].iter().enumerate() {
            let kept = rank < beam;
            nodes.push(BeamNode { parent: open[i].node.unwrap_or(0), token, log_p, kept });
            if !kept {
                continue;
            }
            let mut tokens = open[i].tokens.clone();
            if token == eos {
                let length = prefix.len() + tokens.len() + 1;
                candidates.push(Candidate { tokens, log_p, length, end: Some((step, rank)) });
            } else {
                tokens.push(token);
                next_open.push(Open { tokens, log_p, node: Some(rank) });
                parents.push(i);
            }
        }
        steps.push(nodes);
        if next_open.is_empty() {
            open = next_open;
            break;
        }
        // One decoder step for the kept hypotheses, each from its parent's state.
        let k = next_open.len();
        let mut batch_state = vec![0.0f32; layers * k * hidden];
        let rows_before = open.len();
        for layer in 0..layers {
            for (j, &parent) in parents.iter().enumerate() {
                let from = (layer * rows_before + parent) * hidden;
                let to = (layer * k + j) * hidden;
                batch_state[to..to + hidden].copy_from_slice(&states[from..from + hidden]);
            }
        }
        open = next_open;
        if step + 1 == max_len - prefix.len() {
            break;
        }
        let last: Vec<u32> =
            open.iter().map(|h| *h.tokens.last().expect("invariant: an open hypothesis has a token")).collect();
        let batch_state = Tensor::from_f32(&backend, &[layers, k, hidden], &batch_state)?;
        // The memory repeated for the k hypotheses, made again only when k changes.
        if repeated.as_ref().map(|(copies, _)| *copies) != Some(k) {
            repeated = Some((k, memory.repeat(k, valid)?));
        }
        let (_, batch_memory) = repeated.as_ref().expect("invariant: made just above");
        let step = decode_step(model, &batch_state, batch_memory, &last).await?;
        rows = step.logits;
        states = step.state.to_vec().await?;
    }
    // Hypotheses still open when the length ran out are candidates too, without an <eos>.
    let last_step = steps.len().saturating_sub(1);
    for hyp in open {
        let length = (prefix.len() + hyp.tokens.len()).max(1);
        candidates.push(Candidate {
            length,
            end: hyp.node.map(|n| (last_step, n)),
            tokens: hyp.tokens,
            log_p: hyp.log_p,
        });
    }
    let score = |c: &Candidate| c.log_p / (c.length as f64).powf(f64::from(length_penalty));
    // The first of equal scores: the one found first (greedy's, when k = 1).
    let best = candidates
        .iter()
        .enumerate()
        .fold(None::<(usize, f64)>, |best, (i, c)| match best {
            Some((_, s)) if s >= score(c) => best,
            _ => Some((i, score(c))),
        })
        .map(|(i, _)| &candidates[i])
        .expect("invariant: a search of at least one step has a candidate");
    // The chosen output's node at each step, walking parents back from its end.
    let mut path = Vec::new();
    if let Some((mut step, mut index)) = best.end {
        loop {
            path.push(index);
            if step == 0 {
                break;
            }
            (step, index) = (step - 1, steps[step][index].parent);
        }
        path.reverse();
    }
    let mut tokens = prefix.to_vec();
    tokens.extend(&best.tokens);
    Ok(BeamResult { log_p: best.log_p, score: score(best), tokens, prefix: prefix.to_vec(), steps, path })
}
