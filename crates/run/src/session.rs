//! [`Session`]: a built run, stepped one minibatch at a time — what the page drives between
//! frames, what `rnnplay train` loops over, what the benchmark times and the tests build. It
//! owns the epoch bookkeeping every host needs: the learning-rate schedule and the
//! scheduled-sampling ramp set before each epoch, the validation pass after it, and divergence
//! handling (the run stops, names the epoch and keeps the last good weights).

use super::data::{DataFingerprint, RunData};
use super::encoder_decoder::{unknown_words_note, Seq2SeqRun};
use super::language::LanguageRun;
use super::shard::Shard;
use super::spec::{RunSpec, Task};
use super::task::{EpochReport, EpochSettings, TaskTraining};
use rnnplay_engine::backend::{Backend, BackendKind};
use rnnplay_engine::checkpoint::Checkpoint;
use rnnplay_engine::error::{EngineError, Result};
use rnnplay_engine::nn::LanguageModel;
use rnnplay_engine::optim::{LrSchedule, Optimizer};
use rnnplay_engine::options::EngineOptions;
use rnnplay_engine::param::Param;
use rnnplay_engine::tensor::Tensor;
use std::rc::Rc;

/// The kind of run a session trains: its half that differs by kind (`task.rs`).
pub(crate) enum TaskRun {
    Language(LanguageRun),
    Seq2Seq(Seq2SeqRun),
}

impl TaskRun {
    /// The run behind the interface every kind implements.
    pub(crate) fn training(&self) -> &dyn TaskTraining {
        match self {
            TaskRun::Language(run) => run,
            TaskRun::Seq2Seq(run) => run,
        }
    }

    pub(crate) fn training_mut(&mut self) -> &mut dyn TaskTraining {
        match self {
            TaskRun::Language(run) => run,
            TaskRun::Seq2Seq(run) => run,
        }
    }
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

impl RunSpec {
    /// Builds the run on `backend` from the data the host loaded for [`RunSpec::source`], with
    /// fused layers and plan replay as `options` say. A spec that does not
    /// [`validate`](RunSpec::validate) is an error naming its first problem.
    pub fn build(&self, backend: &Rc<dyn Backend>, data: RunData, options: &EngineOptions) -> Result<Session> {
        self.check()?;
        let (run, notes) = match self.task() {
            Task::LanguageModel => {
                let corpus = self.corpus(data)?;
                let model = LanguageModel::new(backend, &self.model_config(corpus.vocab.len())?, self.seed)?;
                let run = self.language_run(backend, model, corpus.tokens, corpus.vocab)?;
                (TaskRun::Language(run), self.data_notes(data))
            }
            Task::EncoderDecoder => {
                let run = self.seq2seq_run(backend, data)?;
                let notes = unknown_words_note(&run.data, self.min_freq).into_iter().collect();
                (TaskRun::Seq2Seq(run), notes)
            }
        };
        let mut session = Session::new(self.clone(), run, data.fingerprint(), options)?;
        session.notes = notes;
        Ok(session)
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

    pub(super) fn optimizer(&self) -> Result<Optimizer> {
        Optimizer::by_name(&self.optimizer, self.lr)?.with_weight_decay(self.weight_decay)
    }
}

impl Session {
    fn new(spec: RunSpec, mut run: TaskRun, data: DataFingerprint, options: &EngineOptions) -> Result<Self> {
        let schedule = spec.schedule().map_err(invalid)?;
        run.training_mut().set_execution(options);
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

    /// The language model's run, if this is one.
    pub fn language(&self) -> Option<&LanguageRun> {
        let TaskRun::Language(run) = &self.run else { return None };
        Some(run)
    }

    /// The encoder–decoder's run, if this is one.
    pub fn seq2seq(&self) -> Option<&Seq2SeqRun> {
        let TaskRun::Seq2Seq(run) = &self.run else { return None };
        Some(run)
    }

    /// The model's parameters.
    pub fn params(&self) -> &[Param] {
        self.run.training().params()
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
        self.run.training().progress()
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
        let (epoch, settings) = (self.epochs_done + 1, self.epoch_settings());
        let finished = match self.run.training_mut().train_next(&settings) {
            Ok(tokens) => {
                self.tokens_trained += tokens;
                self.run.training_mut().end_batch(settings, tokens).await
            }
            Err(err) => Err(err),
        };
        self.end_step(finished, epoch, settings.lr).await
    }

    /// What the epoch in progress (or the next) trains with: its learning rate, scheduled-
    /// sampling probability and the seed of its coins.
    pub(super) fn epoch_settings(&self) -> EpochSettings {
        let epoch = self.epochs_done as u64 + 1;
        EpochSettings {
            lr: self.lr(),
            sampling: self.scheduled_sampling(),
            coin_seed: self.spec.seed.wrapping_add(epoch),
            last: epoch as usize == self.spec.epochs,
        }
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

    /// Puts the weights after the last finished epoch back (on divergence); the epoch in
    /// progress is dropped.
    fn restore_last_good(&mut self) -> Result<()> {
        for (kept, param) in self.last_good.iter().zip(self.params()) {
            param.value().copy_from(kept)?;
        }
        self.run.training_mut().drop_epoch();
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
        self.run.training().checkpoint(&self.spec, extra, last).await
    }
}
