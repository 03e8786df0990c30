//! One interface for the kinds of run — a language model (`language.rs`) and an
//! encoder–decoder (`encoder_decoder.rs`): [`TaskTraining`]. The session steps, splits over
//! workers, saves and resumes a run through it without asking which kind it is; what differs
//! between the kinds — their minibatches, how a step trains on one, what an epoch reports, the
//! checkpoint they write, where their random streams stand — is each kind's implementation. A
//! third kind is one more implementation (and its views in the hosts).

use super::shard::Shard;
use super::spec::RunSpec;
use rnnplay_engine::error::{EngineError, Result};
use rnnplay_engine::options::EngineOptions;
use rnnplay_engine::param::Param;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;

/// The result of a task's asynchronous part (a read-back), boxed so that the session can hold
/// either kind of run behind one trait.
pub(crate) type TaskFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// What the session sets for an epoch: its learning rate, its scheduled-sampling probability
/// (encoder–decoders), the seed of its scheduled-sampling coins, and whether it is the run's
/// last (a toy task scores its held-out pairs then).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EpochSettings {
    pub(crate) lr: f32,
    pub(crate) sampling: f32,
    pub(crate) coin_seed: u64,
    pub(crate) last: bool,
}

/// What one finished epoch measured, for either task.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// The epoch just finished, counting from 1.
    pub epoch: usize,
    /// The learning rate it trained with.
    pub lr: f32,
    /// Language models: perplexity; encoder–decoders: per-token cross-entropy.
    pub value: f32,
    /// The mean pre-clip global gradient norm.
    pub grad_norm: f32,
    /// Language models: the gradient's reach after the epoch — for k = 0 … num_steps − 1, the
    /// mean ‖∂ℓ_T/∂h_{T−k}‖ of the last prediction of each window of a fixed batch, h the top
    /// layer's state k steps earlier (`rnnplay_engine::inspect::gradient_reach`); empty for
    /// encoder–decoders.
    pub reach: Vec<f32>,
    pub tokens: usize,
    pub batches: usize,
    /// The validation perplexity, when the spec holds part of the corpus out.
    pub valid_perplexity: Option<f32>,
    /// The share of held-out examples answered exactly: the recall task's records whose key
    /// the model recalls after the marker (each epoch), an encoder–decoder's held-out pairs (toy tasks, fra-eng) translated exactly
    /// (after the run's last epoch).
    pub accuracy: Option<f32>,
    /// An encoder–decoder's held-out accuracy at each output position, free-running (after the run's
    /// last epoch; `HeldOutScore::by_position`); empty otherwise.
    pub accuracy_by_position: Vec<f32>,
    /// An encoder–decoder's held-out exact match by source length, (length, share), shortest
    /// first (after the run's last epoch; `HeldOutScore::by_length`); empty otherwise.
    pub exact_by_length: Vec<(usize, f32)>,
    /// An encoder–decoder's held-out pairs after the run's last epoch, translated with the spec's
    /// beam: their mean BLEU (k = 2) and mean score (1/L^α)·log P (`HeldOutScore`).
    pub bleu: Option<f32>,
    pub score: Option<f32>,
    /// Encoder–decoders: d2l's printed loss (per-token CE / num_steps).
    pub d2l_loss: Option<f32>,
    /// Encoder–decoders: the scheduled-sampling probability it trained with.
    pub scheduled_sampling: Option<f32>,
}

/// Where a stepped run stands inside its epoch: the minibatches not trained yet and what the
/// trained ones counted.
pub(super) struct EpochCursor<B> {
    pub(super) pending: VecDeque<B>,
    batches: usize,
    tokens: usize,
}

impl<B> EpochCursor<B> {
    pub(super) fn new() -> Self {
        Self { pending: VecDeque::new(), batches: 0, tokens: 0 }
    }

    /// True between epochs: the next step must start one.
    pub(super) fn between_epochs(&self) -> bool {
        self.batches == 0 && self.pending.is_empty()
    }

    /// The next minibatch, or `InvalidArgument(empty)` when the data gives none.
    pub(super) fn next(&mut self, empty: &str) -> Result<B> {
        self.pending.pop_front().ok_or_else(|| EngineError::InvalidArgument(empty.into()))
    }

    /// Counts a trained minibatch; at the epoch's end, returns (batches, tokens) of the epoch
    /// and resets the counts for the next one.
    pub(super) fn trained(&mut self, tokens: usize) -> Option<(usize, usize)> {
        self.batches += 1;
        self.tokens += tokens;
        if !self.pending.is_empty() {
            return None;
        }
        let counts = (self.batches, self.tokens);
        (self.batches, self.tokens) = (0, 0);
        Some(counts)
    }

    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    pub(super) fn progress(&self) -> (usize, usize) {
        (self.batches, self.batches + self.pending.len())
    }

    /// Forgets the epoch in progress.
    pub(super) fn clear(&mut self) {
        *self = Self::new();
    }
}

/// What a kind of run does that another does not.
pub(crate) trait TaskTraining {
    /// The model's parameters.
    fn params(&self) -> &[Param];
    /// Fused layers and plan replay as the host's options say.
    fn set_execution(&mut self, options: &EngineOptions);
    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    fn progress(&self) -> (usize, usize);
    /// Forgets the epoch in progress (after a divergence).
    fn drop_epoch(&mut self);
    /// Trains the next minibatch — the epoch begun first when one ended — in one submit, and
    /// returns the tokens it predicted.
    fn train_next(&mut self, epoch: &EpochSettings) -> Result<usize>;
    /// Counts a trained minibatch of `tokens`; after the epoch's last, reads the epoch's sums
    /// back and reports (its `epoch` and `lr` are the session's to fill).
    fn end_batch(&mut self, epoch: EpochSettings, tokens: usize) -> TaskFuture<'_, Option<EpochReport>>;
    /// Data parallelism: forward and backward on `shard`'s rows of the next minibatch, nothing
    /// updated; then this worker's share read back (`StepCore::read_share`), and the whole
    /// minibatch's tokens.
    fn share(&mut self, epoch: EpochSettings, shard: Shard) -> TaskFuture<'_, (Vec<f32>, usize)>;
    /// Data parallelism: the workers' summed shares clipped and applied (`StepCore::apply_sum`).
    fn apply_sum(&mut self, sum: &[f32]) -> Result<()>;
    /// How many values a share holds.
    fn share_len(&mut self) -> Result<usize>;
    /// The model as checkpoint bytes, with `extra` metadata and the last epoch's value.
    fn checkpoint<'a>(
        &'a self,
        spec: &'a RunSpec,
        extra: BTreeMap<String, String>,
        last: Option<&'a EpochReport>,
    ) -> TaskFuture<'a, Vec<u8>>;
    /// The trainer's position: steps taken (they seed dropout) and epochs begun.
    fn position(&self) -> (u32, usize);
    /// The optimizer's state, read back, for a resumable checkpoint.
    fn optimizer_state(&self) -> TaskFuture<'_, rnnplay_engine::optim::OptimizerState>;
    /// Continues a saved run: its optimizer state and position.
    fn restore(&mut self, optimizer: &rnnplay_engine::optim::OptimizerState, position: (u32, usize)) -> Result<()>;
    /// Where the random streams that order the data stand: the training data's and (language
    /// models with a validation split) the validation data's.
    fn streams(&self) -> (u128, Option<u128>);
    /// Puts the streams back where [`TaskTraining::streams`] said they stood; `valid` must
    /// match whether the run has a validation split.
    fn set_streams(&mut self, data: u128, valid: Option<u128>) -> Result<()>;
}

/// A run's data that cannot be trained on, or a stream that does not fit, as the session's error.
pub(super) fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

/// Data that cannot be trained on (an empty corpus, an archive that does not parse, …) is a bad
/// argument to the run; the data crate's message names the problem and the fix.
pub(super) fn from_data<T>(result: rnnplay_data::Result<T>) -> Result<T> {
    result.map_err(|e| invalid(e.to_string()))
}
