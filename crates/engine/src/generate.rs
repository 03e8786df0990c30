//! What a trained language model predicts, two ways:
//!
//! - free-running ([`generate`], d2l's `predict_ch8`): warm the state up on a prefix, then feed
//!   each predicted token back as the next input;
//! - teacher-forced ([`teacher_forced`]): feed the true text and read the next-token
//!   distribution at every position.
//!
//! Side by side they show how far the model's own mistakes carry it away from the data.

use crate::error::{EngineError, Result};
use crate::nn::LanguageModel;
use crate::tape::Tape;
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the next token is picked from the logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decoding {
    /// The most likely token (d2l's `argmax`).
    Greedy,
    /// A draw from `softmax(logits / temperature)`, from a seeded generator.
    Sample { temperature: f32, seed: u64 },
}

impl Decoding {
    /// `temperature` 0 (or none) is greedy; a positive one samples.
    pub fn from_temperature(temperature: Option<f32>, seed: u64) -> Result<Self> {
        match temperature {
            None => Ok(Self::Greedy),
            Some(0.0) => Ok(Self::Greedy),
            Some(t) if t.is_finite() && t > 0.0 => Ok(Self::Sample { temperature: t, seed }),
            Some(t) => Err(EngineError::InvalidArgument(format!(
                "temperature {t} must be a finite number ≥ 0 (0 picks the most likely token)"
            ))),
        }
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// softmax(logits / temperature), computed stably in f64.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> =
        logits.iter().map(|&l| ((f64::from(l) - f64::from(max)) / f64::from(temperature)).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// Free-running generation: `prefix` warms the state up (its tokens are fed, not predicted),
/// then `num_preds` tokens are picked by `decoding`, each fed back as the next input. Returns
/// the prefix followed by the generated tokens.
pub async fn generate(model: &LanguageModel, prefix: &[u32], num_preds: usize, decoding: Decoding) -> Result<Vec<u32>> {
    check_tokens(model, prefix, 1, "prefix")?;
    let backend = model.backend().clone();
    let vocab = model.vocab_size();
    let mut rng = match decoding {
        Decoding::Sample { seed, .. } => Some(ChaCha8Rng::seed_from_u64(seed)),
        Decoding::Greedy => None,
    };
    let mut output = prefix.to_vec();
    let mut state = model.begin_state(&backend, 1)?;
    let mut feed: Vec<u32> = prefix.to_vec();
    for _ in 0..num_preds {
        let mut tape = Tape::new(&backend, 0);
        tape.set_training(false);
        let inputs = Tensor::from_u32(&backend, &[feed.len(), 1], &feed)?;
        let (logits, new_state) = model.forward(&mut tape, &inputs, &state)?;
        state = new_state.iter().map(|v| tape.detach(*v)).collect();
        let last = tape.slice(logits, 0, feed.len() - 1, 1)?;
        let values = tape.value(last).to_vec().await?;
        let next = match (decoding, rng.as_mut()) {
            (Decoding::Sample { temperature, .. }, Some(rng)) => sample(&softmax(&values[..vocab], temperature), rng),
            _ => argmax(&values[..vocab]),
        };
        output.push(next as u32);
        feed = vec![next as u32];
    }
    Ok(output)
}

/// A draw from a discrete distribution.
fn sample(probabilities: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut u: f64 = rng.random();
    for (i, &p) in probabilities.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    probabilities.len() - 1
}

/// The model's view of one position of a text it is fed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeacherForcedStep {
    /// The true next token.
    pub truth: u32,
    /// The most likely next token given the true prefix.
    pub predicted: u32,
    /// The probability the model gave the true token.
    pub p_truth: f32,
}

/// Teacher-forced predictions over a text.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherForced {
    /// One entry per predicted position: tokens[1..].
    pub steps: Vec<TeacherForcedStep>,
    /// exp(mean −log p(truth)).
    pub perplexity: f32,
    /// Fraction of positions where the argmax is the true token.
    pub accuracy: f32,
}

/// Feeds `tokens[..n-1]` from a zero state and reads, at every position, the distribution of
/// the next token: one forward pass and one read-back.
pub async fn teacher_forced(model: &LanguageModel, tokens: &[u32]) -> Result<TeacherForced> {
    check_tokens(model, tokens, 2, "teacher-forced text")?;
    let backend = model.backend().clone();
    let vocab = model.vocab_size();
    let feed = &tokens[..tokens.len() - 1];
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    let inputs = Tensor::from_u32(&backend, &[feed.len(), 1], feed)?;
    let state = model.begin_state(&backend, 1)?;
    let (logits, _) = model.forward(&mut tape, &inputs, &state)?;
    let values = tape.value(logits).to_vec().await?;
    let steps: Vec<TeacherForcedStep> = values
        .chunks_exact(vocab)
        .zip(&tokens[1..])
        .map(|(row, &truth)| TeacherForcedStep {
            truth,
            predicted: argmax(row) as u32,
            p_truth: softmax(row, 1.0)[truth as usize] as f32,
        })
        .collect();
    let mean_nll =
        steps.iter().map(|s| -f64::from(s.p_truth.max(f32::MIN_POSITIVE)).ln()).sum::<f64>() / steps.len() as f64;
    let correct = steps.iter().filter(|s| s.predicted == s.truth).count();
    Ok(TeacherForced { perplexity: mean_nll.exp() as f32, accuracy: correct as f32 / steps.len() as f32, steps })
}

pub(crate) fn check_tokens(model: &LanguageModel, tokens: &[u32], min: usize, what: &str) -> Result<()> {
    if tokens.len() < min {
        return Err(EngineError::InvalidArgument(format!(
            "the {what} has {} token(s); give at least {min}",
            tokens.len()
        )));
    }
    check_ids(tokens, model.vocab_size(), what)
}

/// Every id of `tokens` below `vocab`.
pub(crate) fn check_ids(tokens: &[u32], vocab: usize, what: &str) -> Result<()> {
    match tokens.iter().find(|&&t| t as usize >= vocab) {
        Some(&bad) => Err(EngineError::InvalidArgument(format!(
            "the {what} holds token id {bad}, outside the model's vocabulary of {vocab}"
        ))),
        None => Ok(()),
    }
}
