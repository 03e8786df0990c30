//! A training run stepped one minibatch at a time: what the web page drives between browser
//! frames (so Pause takes effect within one batch), and the same steps `Trainer::train_epoch`
//! takes in one go.

use crate::error::{EngineError, Result};
use crate::nn::{LanguageModel, Seq2Seq};
use crate::tensor::Tensor;
use crate::train::{EpochMetrics, Trainer};
use crate::translate::{Seq2SeqEpoch, Seq2SeqTrainer};
use rand_chacha::ChaCha8Rng;
use rnnplay_data::translation::{epoch_rng, PairBatch, PairDataset};
use rnnplay_data::{Batch, BatchIter};
use std::collections::VecDeque;

/// A model, its trainer and its minibatches, with the position inside the current epoch.
pub struct Session {
    model: LanguageModel,
    trainer: Trainer,
    batches: BatchIter,
    /// The batches of the current epoch not trained yet.
    pending: VecDeque<Batch>,
    /// The detached state carried between batches (sequential sampling).
    state: Option<Vec<Tensor>>,
    epoch_batches: usize,
    epoch_tokens: usize,
    epochs_done: usize,
}

impl Session {
    pub fn new(model: LanguageModel, trainer: Trainer, batches: BatchIter) -> Self {
        Self {
            model,
            trainer,
            batches,
            pending: VecDeque::new(),
            state: None,
            epoch_batches: 0,
            epoch_tokens: 0,
            epochs_done: 0,
        }
    }

    pub fn model(&self) -> &LanguageModel {
        &self.model
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    pub fn epoch_progress(&self) -> (usize, usize) {
        (self.epoch_batches, self.epoch_batches + self.pending.len())
    }

    /// Trains one minibatch (one submit, no read-back). When it was the last of its epoch,
    /// reads the epoch's metrics back and returns them.
    pub async fn step(&mut self) -> Result<Option<EpochMetrics>> {
        if self.epoch_batches == 0 && self.pending.is_empty() {
            self.pending = self.batches.epoch().into();
            self.state = None;
            self.trainer.begin_epoch()?;
        }
        let batch = self.pending.pop_front().ok_or_else(|| {
            EngineError::InvalidArgument("the corpus gives no minibatch; it is shorter than one batch".into())
        })?;
        let sampling = self.batches.sampling();
        self.state = Some(self.trainer.train_batch(&self.model, &batch, self.state.as_deref(), sampling)?);
        self.epoch_batches += 1;
        self.epoch_tokens += batch.batch_size * batch.num_steps;
        if !self.pending.is_empty() {
            return Ok(None);
        }
        let (batches, tokens) = (self.epoch_batches, self.epoch_tokens);
        self.epoch_batches = 0;
        self.epoch_tokens = 0;
        let metrics = self.trainer.finish_epoch(batches, tokens).await?;
        self.epochs_done += 1;
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
    pending: VecDeque<PairBatch>,
    epoch_batches: usize,
    epoch_tokens: usize,
    epochs_done: usize,
}

impl Seq2SeqSession {
    pub fn new(model: Seq2Seq, trainer: Seq2SeqTrainer, data: PairDataset, batch_size: usize, seed: u64) -> Self {
        Self {
            model,
            trainer,
            data,
            batch_size,
            rng: epoch_rng(seed),
            pending: VecDeque::new(),
            epoch_batches: 0,
            epoch_tokens: 0,
            epochs_done: 0,
        }
    }

    pub fn model(&self) -> &Seq2Seq {
        &self.model
    }

    /// The pairs and vocabularies trained on.
    pub fn data(&self) -> &PairDataset {
        &self.data
    }

    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    pub fn epoch_progress(&self) -> (usize, usize) {
        (self.epoch_batches, self.epoch_batches + self.pending.len())
    }

    /// The trainer, to change the scheduled-sampling probability between epochs.
    pub fn trainer_mut(&mut self) -> &mut Seq2SeqTrainer {
        &mut self.trainer
    }

    /// Trains one minibatch; after the last of an epoch, reads its metrics back and returns them.
    pub async fn step(&mut self) -> Result<Option<Seq2SeqEpoch>> {
        if self.epoch_batches == 0 && self.pending.is_empty() {
            self.pending = self
                .data
                .epoch(self.batch_size, &mut self.rng)
                .map_err(|e| EngineError::InvalidArgument(e.to_string()))?
                .into();
            self.trainer.begin_epoch()?;
        }
        let batch = self
            .pending
            .pop_front()
            .ok_or_else(|| EngineError::InvalidArgument("the data set gives no minibatch".into()))?;
        self.trainer.train_batch(&self.model, &self.data.tgt_vocab, &batch)?;
        self.epoch_batches += 1;
        self.epoch_tokens += batch.target_tokens();
        if !self.pending.is_empty() {
            return Ok(None);
        }
        let (batches, tokens) = (self.epoch_batches, self.epoch_tokens);
        self.epoch_batches = 0;
        self.epoch_tokens = 0;
        let metrics = self.trainer.finish_epoch(batches, tokens, self.data.num_steps).await?;
        self.epochs_done += 1;
        Ok(Some(metrics))
    }
}
