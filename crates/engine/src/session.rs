//! A training run stepped one minibatch at a time: what the web page drives between browser
//! frames (so Pause takes effect within one batch), and the same steps `Trainer::train_epoch`
//! takes in one go.

use crate::error::{EngineError, Result};
use crate::nn::{LanguageModel, Seq2Seq};
use crate::train::{EpochMetrics, Trainer};
use crate::translate::{Seq2SeqEpoch, Seq2SeqTrainer};
use rand_chacha::ChaCha8Rng;
use rnnplay_data::translation::{epoch_rng, PairBatch, PairDataset};
use rnnplay_data::{Batch, BatchIter};
use std::collections::VecDeque;

/// Where a stepped run stands inside its epoch: the minibatches not trained yet, what the
/// trained ones counted, and the epochs completed. Both kinds of session keep one.
struct EpochCursor<B> {
    pending: VecDeque<B>,
    batches: usize,
    tokens: usize,
    epochs_done: usize,
}

impl<B> EpochCursor<B> {
    fn new() -> Self {
        Self { pending: VecDeque::new(), batches: 0, tokens: 0, epochs_done: 0 }
    }

    /// True between epochs: the next step must start one.
    fn between_epochs(&self) -> bool {
        self.batches == 0 && self.pending.is_empty()
    }

    /// The next minibatch, or `InvalidArgument(empty)` when the data gives none.
    fn next(&mut self, empty: &str) -> Result<B> {
        self.pending.pop_front().ok_or_else(|| EngineError::InvalidArgument(empty.into()))
    }

    /// Counts a trained minibatch; at the epoch's end, returns (batches, tokens) of the epoch
    /// and resets the counts for the next one.
    fn trained(&mut self, tokens: usize) -> Option<(usize, usize)> {
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
    fn progress(&self) -> (usize, usize) {
        (self.batches, self.batches + self.pending.len())
    }
}

/// A model, its trainer and its minibatches, with the position inside the current epoch.
pub struct Session {
    model: LanguageModel,
    trainer: Trainer,
    batches: BatchIter,
    cursor: EpochCursor<Batch>,
}

impl Session {
    pub fn new(model: LanguageModel, trainer: Trainer, batches: BatchIter) -> Self {
        Self { model, trainer, batches, cursor: EpochCursor::new() }
    }

    pub fn model(&self) -> &LanguageModel {
        &self.model
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.cursor.epochs_done
    }

    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    pub fn epoch_progress(&self) -> (usize, usize) {
        self.cursor.progress()
    }

    /// Trains one minibatch (one submit, no read-back). When it was the last of its epoch,
    /// reads the epoch's metrics back and returns them.
    pub async fn step(&mut self) -> Result<Option<EpochMetrics>> {
        if self.cursor.between_epochs() {
            self.cursor.pending = self.batches.epoch().into();
            self.trainer.begin_epoch()?;
        }
        let batch = self.cursor.next("the corpus gives no minibatch; it is shorter than one batch")?;
        let sampling = self.batches.sampling();
        self.trainer.train_batch(&self.model, &batch, sampling)?;
        let Some((batches, tokens)) = self.cursor.trained(batch.batch_size * batch.num_steps) else {
            return Ok(None);
        };
        let metrics = self.trainer.finish_epoch(batches, tokens).await?;
        self.cursor.epochs_done += 1;
        Ok(Some(metrics))
    }
}

/// An encoder–decoder training run stepped one minibatch at a time, like [`Session`]; epochs
/// are shuffled by a generator seeded once, as `rnnplay train` does.
pub struct Seq2SeqSession {
    model: Seq2Seq,
    trainer: Seq2SeqTrainer,
    data: PairDataset,
    batch_size: usize,
    rng: ChaCha8Rng,
    cursor: EpochCursor<PairBatch>,
}

impl Seq2SeqSession {
    pub fn new(model: Seq2Seq, trainer: Seq2SeqTrainer, data: PairDataset, batch_size: usize, seed: u64) -> Self {
        Self { model, trainer, data, batch_size, rng: epoch_rng(seed), cursor: EpochCursor::new() }
    }

    pub fn model(&self) -> &Seq2Seq {
        &self.model
    }

    /// The pairs and vocabularies trained on.
    pub fn data(&self) -> &PairDataset {
        &self.data
    }

    pub fn epochs_done(&self) -> usize {
        self.cursor.epochs_done
    }

    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    pub fn epoch_progress(&self) -> (usize, usize) {
        self.cursor.progress()
    }

    /// The trainer, to change the scheduled-sampling probability between epochs.
    pub fn trainer_mut(&mut self) -> &mut Seq2SeqTrainer {
        &mut self.trainer
    }

    /// Trains one minibatch; after the last of an epoch, reads its metrics back and returns them.
    pub async fn step(&mut self) -> Result<Option<Seq2SeqEpoch>> {
        if self.cursor.between_epochs() {
            self.cursor.pending = self.data.epoch(self.batch_size, &mut self.rng)?.into();
            self.trainer.begin_epoch()?;
        }
        let batch = self.cursor.next("the data set gives no minibatch")?;
        self.trainer.train_batch(&self.model, &self.data.tgt_vocab, &batch)?;
        let Some((batches, tokens)) = self.cursor.trained(batch.target_tokens()) else {
            return Ok(None);
        };
        let metrics = self.trainer.finish_epoch(batches, tokens, self.data.num_steps).await?;
        self.cursor.epochs_done += 1;
        Ok(Some(metrics))
    }
}
