//! A language model's run: d2l's `train_ch8` on a corpus — char or word tokens, minibatches by
//! random or sequential partitioning (the state carried and detached: truncated BPTT), a
//! validation split, the gradient's reach measured after each epoch — as a [`TaskTraining`].

use super::data::RunData;
use super::shard::Shard;
use super::spec::{DataSource, RunSpec, Task};
use super::task::{from_data, invalid, EpochCursor, EpochReport, EpochSettings, TaskFuture, TaskTraining};
use rnnplay_data::recall::{recall_text, records_in, MARKER};
use rnnplay_data::{Batch, BatchIter, Corpus, TokenKind, Vocab};
use rnnplay_engine::backend::Backend;
use rnnplay_engine::checkpoint::Checkpoint;
use rnnplay_engine::error::Result;
use rnnplay_engine::generate::teacher_forced;
use rnnplay_engine::inspect::gradient_reach;
use rnnplay_engine::nn::LanguageModel;
use rnnplay_engine::optim::OptimizerState;
use rnnplay_engine::options::EngineOptions;
use rnnplay_engine::param::Param;
use rnnplay_engine::train::Trainer;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Tokens of the corpus's start kept for the teacher-forced passage.
const SAMPLE_TOKENS: usize = 200;

/// The recall task's characters when the spec keeps no `max_tokens`.
const RECALL_TOKENS: usize = 20_000;
/// Held-out records the recall task scores each epoch.
const RECALL_HELD_OUT: usize = 100;
/// The seed of the held-out records' keys: not one a run's own text is drawn from (0–4 in the
/// lessons), so they are new records, the same for every run.
const RECALL_HELD_OUT_SEED: u64 = 1_000_003;

/// The recall task's held-out records (keys from another seed than the training text's) and
/// the marker's id: each epoch, the share of markers after which the model's most likely next
/// letter, predicted from the letters before it, is the record's key.
struct RecallCheck {
    tokens: Vec<u32>,
    marker: u32,
    /// A record's letters: key, fillers, marker, key.
    record: usize,
}

impl RecallCheck {
    fn new(lag: usize, vocab: &Vocab) -> Self {
        let text = recall_text(lag, RECALL_HELD_OUT, RECALL_HELD_OUT_SEED);
        let tokens = text.chars().map(|c| vocab.index(&c.to_string())).collect();
        Self { tokens, marker: vocab.index(&MARKER.to_string()), record: lag + 3 }
    }

    async fn accuracy(&self, model: &LanguageModel) -> Result<f32> {
        if model.config().bidirectional {
            return self.accuracy_record_by_record(model).await;
        }
        // One pass over the whole text: a one-direction model's prediction at each marker
        // reads only the letters before it.
        let forced = teacher_forced(model, &self.tokens).await?;
        // steps[i] predicts tokens[i + 1] from tokens[..=i].
        let after_marker: Vec<bool> = (forced.steps.iter().zip(&self.tokens))
            .filter(|(_, &fed)| fed == self.marker)
            .map(|(step, _)| step.predicted == step.truth)
            .collect();
        Ok(after_marker.iter().filter(|&&hit| hit).count() as f32 / after_marker.len().max(1) as f32)
    }

    /// A bidirectional model reading the whole text would read each key it is asked for (its
    /// reverse direction starts past it), so each record is a window of its own, from its key
    /// to its marker, all records in one batch: the prediction after the marker then comes
    /// from the letters before it, as a language model's must.
    async fn accuracy_record_by_record(&self, model: &LanguageModel) -> Result<f32> {
        let records: Vec<&[u32]> = self.tokens.chunks_exact(self.record).collect();
        let (steps, batch) = (self.record - 1, records.len());
        // Time-major: step t of every record, then step t + 1.
        let ids: Vec<u32> = (0..steps).flat_map(|t| records.iter().map(move |r| r[t])).collect();
        let backend = model.backend().clone();
        let mut tape = rnnplay_engine::Tape::new(&backend, 0);
        tape.set_training(false);
        let inputs = rnnplay_engine::Tensor::from_u32(&backend, &[steps, batch], &ids)?;
        let state = model.begin_state(&backend, batch)?;
        let (logits, _) = model.forward(&mut tape, &inputs, &state)?;
        let vocab = model.vocab_size();
        let last = tape.value(logits).to_vec().await?.split_off((steps - 1) * batch * vocab);
        let hits = last
            .chunks_exact(vocab)
            .zip(&records)
            .filter(|(row, r)| rnnplay_engine::generate::argmax(row) as u32 == r[steps])
            .count();
        Ok(hits as f32 / batch.max(1) as f32)
    }
}

/// A language model's run.
pub struct LanguageRun {
    pub model: LanguageModel,
    pub vocab: Vocab,
    pub token_kind: TokenKind,
    /// Tokens trained on and held out for validation.
    pub train_tokens: usize,
    pub valid_tokens: usize,
    pub(super) trainer: Trainer,
    pub(super) batches: BatchIter,
    pub(super) valid: Option<BatchIter>,
    /// The first tokens of the training corpus (the teacher-forced passage).
    sample: Vec<u32>,
    /// The recall task's held-out records, scored each epoch.
    recall: Option<RecallCheck>,
    /// The fixed minibatch the gradient's reach is measured on after each epoch.
    probe: Batch,
    cursor: EpochCursor<Batch>,
}

impl LanguageRun {
    /// The first `len` tokens of the training corpus (fewer if it is shorter).
    pub fn passage(&self, len: usize) -> &[u32] {
        &self.sample[..self.sample.len().min(len)]
    }
}

impl RunSpec {
    /// A language model's generated text (the recall task's, about `max_tokens` characters or
    /// [`RECALL_TOKENS`], its keys drawn from the seed), or `None` for a corpus the host loads.
    pub fn generated_text(&self) -> Option<String> {
        let DataSource::Recall(lag) = self.source() else { return None };
        let tokens = if self.max_tokens > 0 { self.max_tokens } else { RECALL_TOKENS };
        Some(recall_text(lag, records_in(lag, tokens), self.seed))
    }

    /// What the host should tell the user about the data before a long run trains on it: a
    /// corpus whose letters d2l's cleaning mostly drops.
    pub(super) fn data_notes(&self, data: RunData) -> Vec<String> {
        match (self.task(), data) {
            (Task::LanguageModel, RunData::Text(text)) => {
                let (kept, letters, dropped) = rnnplay_data::text::letters_kept(text);
                if kept * 2 >= letters {
                    return Vec::new();
                }
                let dropped: String = dropped.iter().map(|c| format!(" {c}")).collect();
                vec![format!(
                    "only {kept} of the {letters} letters of {} are a-z: d2l's cleaning keeps the letters a to z alone \
                     (lower-cased), so the others (e.g.{dropped}) become spaces and the model learns little but spaces; \
                     give an English text, or transliterate it first",
                    self.data
                )]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn corpus(&self, data: RunData) -> Result<Corpus> {
        if let Some(text) = self.generated_text() {
            return from_data(Corpus::from_text(&text, TokenKind::Char, None));
        }
        let RunData::Text(text) = data else {
            return Err(invalid(format!("a language model trains on text; load {} as text", self.data)));
        };
        let kind = self.token_kind().map_err(invalid)?;
        from_data(Corpus::from_text(text, kind, (self.max_tokens > 0).then_some(self.max_tokens))).map_err(|err| {
            match self.data_notes(data).first() {
                Some(note) => invalid(format!("{err}: {note}")),
                None => err,
            }
        })
    }

    pub(super) fn language_run(
        &self,
        backend: &Rc<dyn Backend>,
        model: LanguageModel,
        tokens: Vec<u32>,
        vocab: Vocab,
    ) -> Result<LanguageRun> {
        let sampling = self.sampling_kind().map_err(invalid)?;
        let valid_len = (tokens.len() as f32 * self.valid_fraction).round() as usize;
        let (train, valid) = tokens.split_at(tokens.len() - valid_len);
        let batches = BatchIter::new(train.to_vec(), self.batch_size, self.num_steps, sampling, self.seed)
            .map_err(|e| invalid(format!("the training split is too short for one minibatch: {e}")))?;
        let valid = match valid_len {
            0 => None,
            _ => Some(BatchIter::new(valid.to_vec(), self.batch_size, self.num_steps, sampling, self.seed).map_err(
                |e| invalid(format!("the validation split is too short for one minibatch ({e}); raise the validation fraction or the tokens kept")),
            )?),
        };
        let recall = match self.source() {
            DataSource::Recall(lag) => Some(RecallCheck::new(lag, &vocab)),
            _ => None,
        };
        // On the recall task each window of the reach's batch ends at a marker: its last
        // prediction is a recall, whose gradient must reach back to the key.
        let probe = batches.probe(recall.as_ref().map(|check| check.marker));
        Ok(LanguageRun {
            probe,
            recall,
            trainer: Trainer::new(backend, self.optimizer()?, self.clip)?,
            token_kind: self.token_kind().map_err(invalid)?,
            sample: train[..train.len().min(SAMPLE_TOKENS)].to_vec(),
            train_tokens: train.len(),
            valid_tokens: valid_len,
            model,
            vocab,
            batches,
            valid,
            cursor: EpochCursor::new(),
        })
    }
}

impl LanguageRun {
    /// The next minibatch, the epoch begun first when one ended.
    fn next_batch(&mut self, lr: f32) -> Result<Batch> {
        if self.cursor.between_epochs() {
            self.cursor.pending = self.batches.epoch().into();
            self.trainer.set_lr(lr)?;
            self.trainer.begin_epoch()?;
        }
        self.cursor.next("the corpus gives no minibatch; it is shorter than one batch")
    }
}

impl TaskTraining for LanguageRun {
    fn params(&self) -> &[Param] {
        self.model.params()
    }

    fn set_execution(&mut self, options: &EngineOptions) {
        self.model.set_fused_layers(options.fused_layers);
        self.trainer.set_plan_replay(options.plan_replay);
    }

    fn progress(&self) -> (usize, usize) {
        self.cursor.progress()
    }

    fn drop_epoch(&mut self) {
        self.cursor.clear();
    }

    fn train_next(&mut self, epoch: &EpochSettings) -> Result<usize> {
        let batch = self.next_batch(epoch.lr)?;
        self.trainer.train_batch(&self.model, &batch, self.batches.sampling())?;
        Ok(batch.batch_size * batch.num_steps)
    }

    fn end_batch(&mut self, epoch: EpochSettings, tokens: usize) -> TaskFuture<'_, Option<EpochReport>> {
        Box::pin(async move {
            let Some((batches, tokens)) = self.cursor.trained(tokens) else {
                return Ok(None);
            };
            let metrics = self.trainer.finish_epoch(batches, tokens).await?;
            let valid_perplexity = match self.valid.as_mut() {
                Some(valid) => Some(self.trainer.evaluate(&self.model, valid).await?),
                None => None,
            };
            let accuracy = match &self.recall {
                Some(check) => Some(check.accuracy(&self.model).await?),
                None => None,
            };
            Ok(Some(EpochReport {
                accuracy,
                epoch: 0,
                lr: epoch.lr,
                value: metrics.perplexity,
                grad_norm: metrics.grad_norm,
                reach: gradient_reach(&self.model, &self.probe).await?,
                tokens,
                batches,
                valid_perplexity,
                accuracy_by_position: Vec::new(),
                exact_by_length: Vec::new(),
                bleu: None,
                score: None,
                d2l_loss: None,
                scheduled_sampling: None,
            }))
        })
    }

    fn share(&mut self, epoch: EpochSettings, shard: Shard) -> TaskFuture<'_, (Vec<f32>, usize)> {
        Box::pin(async move {
            let batch = self.next_batch(epoch.lr)?;
            let rows = batch.rows(shard.rows(batch.batch_size));
            // Each row's loss is a mean over the batch's rows: a worker's share weighs its rows.
            let weight = rows.batch_size as f32 / batch.batch_size.max(1) as f32;
            let sampling = self.batches.sampling();
            self.trainer.backward_share(&self.model, &rows, sampling, &|step| shard.seed(step))?;
            let share = self.trainer.core_mut().read_share(self.model.params(), weight).await?;
            Ok((share, batch.batch_size * batch.num_steps))
        })
    }

    fn apply_sum(&mut self, sum: &[f32]) -> Result<()> {
        self.trainer.core_mut().apply_sum(self.model.params(), sum)
    }

    fn share_len(&mut self) -> Result<usize> {
        self.trainer.core_mut().share_len(self.model.params())
    }

    fn checkpoint<'a>(
        &'a self,
        _spec: &'a RunSpec,
        mut extra: BTreeMap<String, String>,
        last: Option<&'a EpochReport>,
    ) -> TaskFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let mut checkpoint = Checkpoint::capture(&self.model, &self.vocab, self.token_kind).await?;
            if let Some(last) = last {
                extra.insert("perplexity".into(), last.value.to_string());
            }
            checkpoint.extra = extra;
            checkpoint.to_bytes()
        })
    }

    fn position(&self) -> (u32, usize) {
        self.trainer.core().position()
    }

    fn optimizer_state(&self) -> TaskFuture<'_, OptimizerState> {
        Box::pin(self.trainer.core().optimizer().state())
    }

    fn restore(&mut self, optimizer: &OptimizerState, position: (u32, usize)) -> Result<()> {
        let params = self.model.params().to_vec();
        self.trainer.core_mut().restore(&params, optimizer, position)
    }

    fn streams(&self) -> (u128, Option<u128>) {
        (self.batches.rng_position(), self.valid.as_ref().map(BatchIter::rng_position))
    }

    fn set_streams(&mut self, data: u128, valid: Option<u128>) -> Result<()> {
        self.batches.set_rng_position(data);
        match (self.valid.as_mut(), valid) {
            (Some(split), Some(at)) => split.set_rng_position(at),
            (None, None) => {}
            _ => return Err(invalid("its validation position does not fit its spec")),
        }
        Ok(())
    }
}
