//! [`Session`]: a built run, stepped one minibatch at a time — what the page drives between
//! frames, what `rnnplay train` loops over, what the benchmark times and the tests build. It
//! owns the epoch bookkeeping every host needs: the learning-rate schedule and the
//! scheduled-sampling ramp set before each epoch, the validation pass after it, and divergence
//! handling (the run stops, names the epoch and keeps the last good weights).

use super::data::{DataFingerprint, RunData};
use super::shard::Shard;
use super::spec::{DataSource, RunSpec, Task, TOY_HELD_OUT, TOY_LENGTHS};
use crate::backend::{Backend, BackendKind};
use crate::checkpoint::{Checkpoint, Seq2SeqCheckpoint};
use crate::error::{EngineError, Result};
use crate::nn::{LanguageModel, Seq2Seq};
use crate::optim::{LrSchedule, Optimizer};
use crate::options::EngineOptions;
use crate::param::Param;
use crate::tensor::Tensor;
use crate::train::Trainer;
use crate::translate::Seq2SeqTrainer;
use rand_chacha::ChaCha8Rng;
use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{
    epoch_rng, pairs_from_file, preprocess_nmt, read_fra_eng, tokenize_nmt, Pair, PairBatch, PairDataset,
};
use rnnplay_data::{Batch, BatchIter, Corpus, TokenKind, Vocab};
use std::collections::VecDeque;
use std::rc::Rc;

/// d2l's example sentences and their references (fra-eng).
pub const D2L_EXAMPLES: [(&str, &str); 4] = [
    ("go .", "va !"),
    ("i lost .", "j'ai perdu ."),
    ("he's calm .", "il est calme ."),
    ("i'm home .", "je suis chez moi ."),
];

/// Tokens of the corpus's start kept for the teacher-forced passage.
const SAMPLE_TOKENS: usize = 200;

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
    /// Language models: the gradient through time — per time step of the window, the mean
    /// batch-mean ‖∂L/∂h_s‖ of the top layer before clipping (empty for encoder–decoders).
    pub through_time: Vec<f32>,
    pub tokens: usize,
    pub batches: usize,
    /// The validation perplexity, when the spec holds part of the corpus out.
    pub valid_perplexity: Option<f32>,
    /// Encoder–decoders: d2l's printed loss (per-token CE / num_steps).
    pub d2l_loss: Option<f32>,
    /// Encoder–decoders: the scheduled-sampling probability it trained with.
    pub scheduled_sampling: Option<f32>,
}

/// Where a stepped run stands inside its epoch: the minibatches not trained yet and what the
/// trained ones counted.
struct EpochCursor<B> {
    pending: VecDeque<B>,
    batches: usize,
    tokens: usize,
}

impl<B> EpochCursor<B> {
    fn new() -> Self {
        Self { pending: VecDeque::new(), batches: 0, tokens: 0 }
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

    /// Forgets the epoch in progress.
    fn clear(&mut self) {
        *self = Self::new();
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
    cursor: EpochCursor<Batch>,
}

impl LanguageRun {
    /// The first `len` tokens of the training corpus (fewer if it is shorter).
    pub fn passage(&self, len: usize) -> &[u32] {
        &self.sample[..self.sample.len().min(len)]
    }
}

/// An encoder–decoder's run.
pub struct Seq2SeqRun {
    pub model: Seq2Seq,
    /// The pairs and vocabularies trained on.
    pub data: PairDataset,
    /// Example (source, reference) pairs to show: d2l's four for fra-eng, held-out ones for toy
    /// tasks.
    pub examples: Vec<(String, String)>,
    /// Toy tasks: held-out pairs for the exact-match rate.
    pub held_out: Vec<Pair>,
    pub(super) trainer: Seq2SeqTrainer,
    batch_size: usize,
    pub(super) rng: ChaCha8Rng,
    cursor: EpochCursor<PairBatch>,
}

/// The task-specific half of a session.
pub enum TaskRun {
    Language(LanguageRun),
    Seq2Seq(Seq2SeqRun),
}

/// A run built from a [`RunSpec`], stepped one minibatch at a time.
pub struct Session {
    spec: RunSpec,
    schedule: LrSchedule,
    pub(super) run: TaskRun,
    pub(super) epochs_done: usize,
    /// Tokens predicted in training so far (every minibatch, finished epoch or not).
    pub(super) tokens_trained: usize,
    /// Epochs a resumed checkpoint says it had trained before this session.
    epochs_before: usize,
    /// The weights after the last finished epoch (or the initial ones): restored on divergence.
    last_good: Vec<Tensor>,
    /// The epoch that diverged, once one has.
    pub(super) diverged: Option<usize>,
    /// On a GPU backend, the checkpoint after the last finished epoch of this session, kept on
    /// the host with the epochs it holds: it survives the device ([`Session::host_checkpoint`]).
    host_copy: Option<(usize, Vec<u8>)>,
    /// The epoch in which the device was lost, once it has been.
    lost_in: Option<usize>,
    /// Data parallelism: which share of every minibatch this session trains (`data_parallel.rs`).
    pub(super) shard: Option<Shard>,
    /// Data parallelism: the whole minibatch's tokens, between this worker's share and the
    /// workers' sum.
    pub(super) awaiting_sum: Option<usize>,
    /// What the run trains on, recorded in a resumable checkpoint.
    pub(super) data: DataFingerprint,
    /// What the host should tell the user about the data ([`Session::notes`]).
    notes: Vec<String>,
}

/// The checkpoint metadata entry holding a resumable run's training state (`resume.rs`).
pub(crate) const TRAINING_KEY: &str = "training";

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

/// Data that cannot be trained on (an empty corpus, an archive that does not parse, …) is a bad
/// argument to the run; the data crate's message names the problem and the fix.
fn from_data<T>(result: rnnplay_data::Result<T>) -> Result<T> {
    result.map_err(|e| invalid(e.to_string()))
}

impl RunSpec {
    /// Builds the run on `backend` from the data the host loaded for [`RunSpec::source`], with
    /// fused layers and plan replay as `options` say. A spec that does not
    /// [`validate`](RunSpec::validate) is an error naming its first problem.
    pub fn build(&self, backend: &Rc<dyn Backend>, data: RunData, options: &EngineOptions) -> Result<Session> {
        self.check()?;
        let notes = self.data_notes(data);
        let run = match self.task() {
            Task::LanguageModel => {
                let corpus = self.corpus(data)?;
                let model = LanguageModel::new(backend, &self.model_config(corpus.vocab.len())?, self.seed)?;
                TaskRun::Language(self.language_run(backend, model, corpus.tokens, corpus.vocab)?)
            }
            Task::EncoderDecoder => TaskRun::Seq2Seq(self.seq2seq_run(backend, data)?),
        };
        let mut session = Session::new(self.clone(), run, data.fingerprint(), options)?;
        session.notes = notes;
        if let TaskRun::Seq2Seq(run) = &session.run {
            session.notes.extend(unknown_words_note(&run.data, self.min_freq));
        }
        Ok(session)
    }

    /// What the host should tell the user about the data before a long run trains on it: a
    /// corpus whose letters d2l's cleaning mostly drops.
    fn data_notes(&self, data: RunData) -> Vec<String> {
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

    /// A session that continues a language model's checkpoint: the architecture and tokenizer
    /// come from the checkpoint (the spec adopts them), the training values from the spec, and
    /// the text is encoded with the checkpoint's vocabulary (tokens it lacks become `<unk>`).
    pub fn resume(
        &self,
        backend: &Rc<dyn Backend>,
        checkpoint: &Checkpoint,
        data: RunData,
        options: &EngineOptions,
    ) -> Result<Session> {
        let mut spec = self.clone();
        spec.adopt_model(&checkpoint.config, checkpoint.token_kind);
        spec.check()?;
        let corpus = spec.corpus(data)?;
        let tokens = corpus.tokens.iter().map(|&id| checkpoint.vocab.index(corpus.vocab.token(id))).collect();
        let model = checkpoint.into_model(backend)?;
        let run = spec.language_run(backend, model, tokens, checkpoint.vocab.clone())?;
        let mut session = Session::new(spec, TaskRun::Language(run), data.fingerprint(), options)?;
        // Untrusted metadata: a count that does not parse, or an absurd one, is not shown.
        session.epochs_before =
            checkpoint.extra.get("epochs").and_then(|e| e.trim().parse().ok()).filter(|&e| e <= 1_000_000).unwrap_or(0);
        Ok(session)
    }

    /// The first problem of [`RunSpec::validate`] as an error.
    fn check(&self) -> Result<()> {
        match self.validate().into_iter().next() {
            Some(problem) => Err(invalid(problem.to_string())),
            None => Ok(()),
        }
    }

    fn optimizer(&self) -> Result<Optimizer> {
        Optimizer::by_name(&self.optimizer, self.lr)?.with_weight_decay(self.weight_decay)
    }

    fn corpus(&self, data: RunData) -> Result<Corpus> {
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

    fn language_run(
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
        Ok(LanguageRun {
            trainer: Trainer::new(backend, self.optimizer()?, self.clip)?.with_through_time(self.num_steps)?,
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

    fn seq2seq_run(&self, backend: &Rc<dyn Backend>, data: RunData) -> Result<Seq2SeqRun> {
        let (pairs, held_out) = match (self.source(), data) {
            (DataSource::FraEng, RunData::FraEngZip(zip)) => {
                let text = preprocess_nmt(&from_data(read_fra_eng(zip))?);
                (tokenize_nmt(&text, Some(self.num_examples)), Vec::new())
            }
            (DataSource::Toy(task), _) => toy_pairs(task, self.num_examples, self.seed)?,
            (DataSource::Text(name), RunData::Text(text)) => {
                (from_data(pairs_from_file(text, &name, self.num_examples))?, Vec::new())
            }
            (source, _) => return Err(invalid(format!("the data loaded does not fit {source:?}"))),
        };
        let examples = match self.source() {
            DataSource::FraEng => D2L_EXAMPLES.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect(),
            _ if !held_out.is_empty() => held_out.iter().take(4).map(|(s, t)| (s.join(" "), t.join(" "))).collect(),
            _ => pairs.iter().take(4).map(|(s, t)| (s.join(" "), t.join(" "))).collect(),
        };
        let dataset = from_data(PairDataset::new(&pairs, self.num_steps, self.min_freq))?;
        let config = self.seq2seq_config(dataset.src_vocab.len(), dataset.tgt_vocab.len());
        Ok(Seq2SeqRun {
            model: Seq2Seq::new(backend, &config, self.seed)?,
            trainer: Seq2SeqTrainer::new(backend, self.optimizer()?, self.clip)?,
            data: dataset,
            examples,
            held_out,
            batch_size: self.batch_size,
            rng: epoch_rng(self.seed),
            cursor: EpochCursor::new(),
        })
    }
}

/// A toy task's training pairs and held-out pairs that share no source with them.
/// A note when most words of either side became `<unk>` for being rarer than `min_freq`.
fn unknown_words_note(data: &PairDataset, min_freq: usize) -> Option<String> {
    let unknown = |rows: &[Vec<u32>], valid: &[usize]| -> (usize, usize) {
        let tokens = rows.iter().zip(valid).flat_map(|(row, &n)| &row[..n.saturating_sub(1)]);
        tokens.fold((0, 0), |(unk, all), &id| (unk + usize::from(id == rnnplay_data::vocab::UNK), all + 1))
    };
    let (src, tgt) = (unknown(&data.src, &data.src_valid), unknown(&data.tgt, &data.tgt_valid));
    let (side, (unk, all)) = if src.0 * tgt.1 >= tgt.0 * src.1 { ("source", src) } else { ("target", tgt) };
    (unk * 2 > all).then(|| {
        format!(
            "{unk} of the {all} {side} words occur fewer than min_freq = {min_freq} times and became <unk>: the model \
             cannot learn them; give more pairs, or a lower --min-freq"
        )
    })
}

pub(crate) fn toy_pairs(task: ToyTask, count: usize, seed: u64) -> Result<(Vec<Pair>, Vec<Pair>)> {
    let (min, max) = TOY_LENGTHS;
    let pairs = from_data(task.pairs(count, min, max, seed, &[]))?;
    let held_out = from_data(task.pairs(TOY_HELD_OUT, min, max, seed.wrapping_add(1_000_003), &pairs))?;
    Ok((pairs, held_out))
}

impl Session {
    fn new(spec: RunSpec, mut run: TaskRun, data: DataFingerprint, options: &EngineOptions) -> Result<Self> {
        let schedule = spec.schedule().map_err(invalid)?;
        match &mut run {
            TaskRun::Language(run) => {
                run.model.set_fused_layers(options.fused_layers);
                run.trainer.set_plan_replay(options.plan_replay);
            }
            TaskRun::Seq2Seq(run) => {
                run.model.set_fused_layers(options.fused_layers);
                run.trainer.set_plan_replay(options.plan_replay);
            }
        }
        let mut session = Self {
            spec,
            schedule,
            run,
            epochs_done: 0,
            tokens_trained: 0,
            epochs_before: 0,
            last_good: Vec::new(),
            diverged: None,
            host_copy: None,
            lost_in: None,
            shard: None,
            awaiting_sum: None,
            data,
            notes: Vec::new(),
        };
        session.keep_last_good()?;
        Ok(session)
    }

    /// Keeps a copy of the current weights, restored if a later epoch diverges.
    pub(super) fn keep_last_good(&mut self) -> Result<()> {
        self.last_good = self.params().iter().map(|p| p.value().deep_copy()).collect::<Result<_>>()?;
        Ok(())
    }

    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// What the host should tell the user about the data before training on it (the run still
    /// trains): most of a corpus's letters dropped by the cleaning, most words of a pair file
    /// rarer than `min_freq`.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn task(&self) -> &TaskRun {
        &self.run
    }

    /// The language model's run, if this is one.
    pub fn language(&self) -> Option<&LanguageRun> {
        match &self.run {
            TaskRun::Language(run) => Some(run),
            TaskRun::Seq2Seq(_) => None,
        }
    }

    /// The encoder–decoder's run, if this is one.
    pub fn seq2seq(&self) -> Option<&Seq2SeqRun> {
        match &self.run {
            TaskRun::Seq2Seq(run) => Some(run),
            TaskRun::Language(_) => None,
        }
    }

    /// The model's parameters.
    pub fn params(&self) -> &[Param] {
        match &self.run {
            TaskRun::Language(run) => run.model.params(),
            TaskRun::Seq2Seq(run) => run.model.params(),
        }
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Epochs the model had trained before this session: what a resumed checkpoint's metadata
    /// says (0 for a new model, or when the checkpoint does not say).
    pub fn epochs_before(&self) -> usize {
        self.epochs_before
    }

    /// Tokens predicted in training so far, counting every minibatch trained.
    pub fn tokens_trained(&self) -> usize {
        self.tokens_trained
    }

    /// True once every epoch of the spec has run, or the run diverged.
    pub fn finished(&self) -> bool {
        self.epochs_done >= self.spec.epochs || self.diverged.is_some()
    }

    /// (batches trained in the current epoch, batches in it); (0, 0) between epochs.
    pub fn epoch_progress(&self) -> (usize, usize) {
        match &self.run {
            TaskRun::Language(run) => run.cursor.progress(),
            TaskRun::Seq2Seq(run) => run.cursor.progress(),
        }
    }

    /// The learning rate of the epoch in progress (or the next one).
    pub fn lr(&self) -> f32 {
        self.schedule.lr_at(self.spec.lr, self.epochs_done, self.spec.epochs)
    }

    /// The scheduled-sampling probability of the epoch in progress (or the next one): 0 in the
    /// first epoch rising linearly to the spec's value in the last.
    pub fn scheduled_sampling(&self) -> f32 {
        self.spec.scheduled_sampling * self.epochs_done as f32 / (self.spec.epochs.max(1) - 1).max(1) as f32
    }

    /// Trains one minibatch (one submit, no read-back). After the last of an epoch, reads the
    /// epoch's metrics back (and evaluates the validation split) and returns them. If the epoch
    /// diverged, the weights after the previous epoch are restored and the error names the
    /// epoch; the session then refuses to step.
    pub async fn step(&mut self) -> Result<Option<EpochReport>> {
        if self.shard.is_some() {
            return Err(invalid("a session trained by several workers steps with share() and apply_sum()"));
        }
        self.check_steppable()?;
        let (lr, sampling) = (self.lr(), self.scheduled_sampling());
        let epoch = self.epochs_done + 1;
        let finished = match &mut self.run {
            TaskRun::Language(run) => Self::step_language(run, lr, &mut self.tokens_trained).await,
            TaskRun::Seq2Seq(run) => {
                Self::step_seq2seq(run, lr, sampling, epoch, self.spec.seed, &mut self.tokens_trained).await
            }
        };
        self.end_step(finished, epoch, lr).await
    }

    /// The error a session that stopped (diverged, or lost its device) gives a further step.
    pub(super) fn check_steppable(&self) -> Result<()> {
        if let Some(epoch) = self.diverged {
            return Err(invalid(format!(
                "the run diverged in epoch {epoch} and stopped; the weights after epoch {} are kept",
                epoch - 1
            )));
        }
        if let Some(epoch) = self.lost_in {
            return Err(EngineError::DeviceLost(format!("in epoch {epoch}; the run stopped")));
        }
        Ok(())
    }

    /// After a trained minibatch (`finished`: the epoch's report if it was the epoch's last):
    /// divergence restores the last good weights, a finished epoch is counted, its weights
    /// kept as the last good ones and, on a GPU, copied to the host.
    pub(super) async fn end_step(
        &mut self,
        finished: Result<Option<EpochReport>>,
        epoch: usize,
        lr: f32,
    ) -> Result<Option<EpochReport>> {
        let mut report = match finished {
            Ok(Some(report)) => report,
            Ok(None) => return Ok(None),
            Err(err @ EngineError::Diverged { .. }) => {
                self.diverged = Some(epoch);
                self.restore_last_good()?;
                return Err(err);
            }
            Err(err) => return Err(self.lost_device(err, epoch)),
        };
        report.epoch = epoch;
        report.lr = lr;
        self.epochs_done = epoch;
        for (kept, param) in self.last_good.iter().zip(self.params()) {
            kept.copy_from(param.value())?;
        }
        if self.on_gpu() {
            match self.checkpoint_bytes(Some(&report)).await {
                Ok(bytes) => self.host_copy = Some((epoch, bytes)),
                Err(err) => return Err(self.lost_device(err, epoch)),
            }
        }
        Ok(Some(report))
    }

    /// Notes a lost device (the session then refuses to step); any error passes through.
    pub(super) fn lost_device(&mut self, err: EngineError, epoch: usize) -> EngineError {
        if matches!(err, EngineError::DeviceLost(_)) {
            self.lost_in = Some(epoch);
        }
        err
    }

    /// Whether the run's weights live on a GPU (whose device can be lost): then it keeps a host
    /// copy of each finished epoch.
    pub fn on_gpu(&self) -> bool {
        self.params().first().is_some_and(|p| p.value().backend().info().kind == BackendKind::Gpu)
    }

    /// On a GPU backend, the checkpoint after the last epoch this session finished, as
    /// [`Session::checkpoint_bytes`] wrote it then (resumable with [`super::SavedRun`]), and
    /// the epochs it holds. It lives on the host, refreshed at each epoch's end, so that a lost
    /// device loses at most the epoch in progress. `None` on the CPU backend and before the
    /// first epoch ends.
    pub fn host_checkpoint(&self) -> Option<(usize, &[u8])> {
        self.host_copy.as_ref().map(|(epochs, bytes)| (*epochs, bytes.as_slice()))
    }

    /// The epoch in which the device was lost, if it was.
    pub fn device_lost_in(&self) -> Option<usize> {
        self.lost_in
    }

    async fn step_language(run: &mut LanguageRun, lr: f32, trained: &mut usize) -> Result<Option<EpochReport>> {
        let batch = Self::next_language_batch(run, lr)?;
        run.trainer.train_batch(&run.model, &batch, run.batches.sampling())?;
        let tokens = batch.batch_size * batch.num_steps;
        *trained += tokens;
        Self::end_language_batch(run, lr, tokens).await
    }

    /// The next minibatch, the epoch begun first when one ended.
    pub(super) fn next_language_batch(run: &mut LanguageRun, lr: f32) -> Result<Batch> {
        if run.cursor.between_epochs() {
            run.cursor.pending = run.batches.epoch().into();
            run.trainer.set_lr(lr)?;
            run.trainer.begin_epoch()?;
        }
        run.cursor.next("the corpus gives no minibatch; it is shorter than one batch")
    }

    /// Counts a trained minibatch of `tokens`; after the epoch's last, reads the epoch's
    /// metrics back, evaluates the validation split and reports.
    pub(super) async fn end_language_batch(
        run: &mut LanguageRun,
        lr: f32,
        tokens: usize,
    ) -> Result<Option<EpochReport>> {
        let Some((batches, tokens)) = run.cursor.trained(tokens) else {
            return Ok(None);
        };
        let metrics = run.trainer.finish_epoch(batches, tokens).await?;
        let valid_perplexity = match run.valid.as_mut() {
            Some(valid) => Some(run.trainer.evaluate(&run.model, valid).await?),
            None => None,
        };
        Ok(Some(EpochReport {
            epoch: 0,
            lr,
            value: metrics.perplexity,
            grad_norm: metrics.grad_norm,
            through_time: metrics.through_time,
            tokens,
            batches,
            valid_perplexity,
            d2l_loss: None,
            scheduled_sampling: None,
        }))
    }

    async fn step_seq2seq(
        run: &mut Seq2SeqRun,
        lr: f32,
        probability: f32,
        epoch: usize,
        seed: u64,
        trained: &mut usize,
    ) -> Result<Option<EpochReport>> {
        let batch = Self::next_pair_batch(run, lr, probability, seed.wrapping_add(epoch as u64))?;
        run.trainer.train_batch(&run.model, &run.data.tgt_vocab, &batch)?;
        *trained += batch.target_tokens();
        Self::end_pair_batch(run, lr, probability, batch.target_tokens()).await
    }

    /// The next minibatch of pairs, the epoch begun first (its scheduled-sampling coins
    /// seeded with `coin_seed`) when one ended.
    pub(super) fn next_pair_batch(
        run: &mut Seq2SeqRun,
        lr: f32,
        probability: f32,
        coin_seed: u64,
    ) -> Result<PairBatch> {
        if run.cursor.between_epochs() {
            run.cursor.pending = from_data(run.data.epoch(run.batch_size, &mut run.rng))?.into();
            run.trainer.set_lr(lr)?;
            run.trainer.set_scheduled_sampling(probability, coin_seed)?;
            run.trainer.begin_epoch()?;
        }
        run.cursor.next("the data set gives no minibatch")
    }

    /// Counts a trained minibatch of `tokens` target tokens; after the epoch's last, reads the
    /// epoch's metrics back and reports.
    pub(super) async fn end_pair_batch(
        run: &mut Seq2SeqRun,
        lr: f32,
        probability: f32,
        tokens: usize,
    ) -> Result<Option<EpochReport>> {
        let Some((batches, tokens)) = run.cursor.trained(tokens) else {
            return Ok(None);
        };
        let metrics = run.trainer.finish_epoch(batches, tokens, run.data.num_steps).await?;
        Ok(Some(EpochReport {
            epoch: 0,
            lr,
            value: metrics.per_token_ce,
            grad_norm: metrics.grad_norm,
            through_time: Vec::new(),
            tokens,
            batches,
            valid_perplexity: None,
            d2l_loss: Some(metrics.d2l_loss),
            scheduled_sampling: Some(probability),
        }))
    }

    /// Puts the weights after the last finished epoch back (on divergence); the epoch in
    /// progress is dropped.
    fn restore_last_good(&mut self) -> Result<()> {
        for (kept, param) in self.last_good.iter().zip(self.params()) {
            param.value().copy_from(kept)?;
        }
        match &mut self.run {
            TaskRun::Language(run) => run.cursor.clear(),
            TaskRun::Seq2Seq(run) => run.cursor.clear(),
        }
        self.awaiting_sum = None;
        self.params().first().map_or(Ok(()), |p| p.value().backend().flush())
    }

    /// Waits until everything submitted so far has run (one one-element read-back).
    pub async fn sync(&self) -> Result<()> {
        let Some(first) = self.params().first() else { return Ok(()) };
        first.value().backend().read(first.value().id(), 1).await.map(|_| ())
    }

    /// The model as a checkpoint (safetensors with PyTorch names), with the spec, the epochs
    /// trained and the last metric in its metadata; between epochs also with the training
    /// state that [`SavedRun`](super::SavedRun) resumes exactly. Between epochs on a GPU this is
    /// the host copy the epoch's end already made (no second read-back); after a lost device,
    /// the host copy is all there is.
    pub async fn checkpoint_bytes(&self, last: Option<&EpochReport>) -> Result<Vec<u8>> {
        if let Some((epochs, bytes)) = &self.host_copy {
            if (*epochs == self.epochs_done && self.resumable()) || self.lost_in.is_some() {
                return Ok(bytes.clone());
            }
        }
        let mut extra = std::collections::BTreeMap::new();
        if self.resumable() {
            extra.insert(TRAINING_KEY.to_string(), self.training_state().await?);
        }
        extra.insert("preset".to_string(), self.spec.preset.clone());
        extra.insert("spec".to_string(), serde_json::to_string(&self.spec).map_err(|e| invalid(e.to_string()))?);
        extra.insert("epochs".to_string(), self.epochs_done.to_string());
        extra.insert("seed".to_string(), self.spec.seed.to_string());
        match &self.run {
            TaskRun::Language(run) => {
                let mut checkpoint = Checkpoint::capture(&run.model, &run.vocab, run.token_kind).await?;
                if let Some(last) = last {
                    extra.insert("perplexity".into(), last.value.to_string());
                }
                checkpoint.extra = extra;
                checkpoint.to_bytes()
            }
            TaskRun::Seq2Seq(run) => {
                let data = &run.data;
                let mut checkpoint =
                    Seq2SeqCheckpoint::capture(&run.model, &data.src_vocab, &data.tgt_vocab, data.num_steps).await?;
                extra.insert("data".into(), self.spec.data.clone());
                if let Some(last) = last {
                    extra.insert("per_token_ce".into(), last.value.to_string());
                }
                checkpoint.extra = extra;
                checkpoint.to_bytes()
            }
        }
    }
}
