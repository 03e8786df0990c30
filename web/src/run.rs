//! The training loop of the page. One task owns the run (the session, the model, the corpus);
//! the controls talk to it only through signals, which it reads between minibatches. So the
//! page never freezes (the task yields to the browser after every batch), Pause takes effect
//! within one batch, and a Reset simply makes the old task stop.

use crate::browser;
use crate::settings::Settings;
use leptos::prelude::*;
use rnnplay_data::{BatchIter, Corpus, TokenKind, Vocab};
use rnnplay_engine::backend::Backend;
use rnnplay_engine::generate::{generate, teacher_forced, Decoding};
use rnnplay_engine::nn::LanguageModel;
use rnnplay_engine::session::Session;
use rnnplay_engine::train::{Optimizer, Trainer};
use rnnplay_engine::Checkpoint;
use std::rc::Rc;

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No run yet (or after Reset).
    Idle,
    Running,
    Paused,
    Finished,
    /// Stopped by an error (divergence, a device error); the model and chart are kept.
    Failed,
}

/// One point of the charts: the epoch's training value (perplexity for a language model, the
/// per-token cross-entropy for an encoder–decoder) and its mean pre-clip gradient norm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochPoint {
    pub epoch: usize,
    pub value: f32,
    pub grad_norm: f32,
}

/// What a job reports at the end of an epoch.
pub struct EpochReport {
    pub value: f32,
    pub grad_norm: f32,
    pub tokens: usize,
    pub batches: usize,
}

/// A run the loop can drive: a language model or an encoder–decoder.
pub trait Job {
    /// Trains one minibatch; at the end of an epoch, its report.
    async fn step(&mut self) -> Result<Option<EpochReport>, String>;
    fn epochs_done(&self) -> usize;
    fn epochs(&self) -> usize;
    /// (batches done in the current epoch, batches in it).
    fn epoch_progress(&self) -> (usize, usize);
    /// Computes the predictions and writes them into the page's signals.
    async fn predict(&self, ui: Ui) -> Result<(), String>;
    /// Offers the model as a checkpoint download.
    async fn save(&self) -> Result<(), String>;
    /// Called before each epoch's first batch (schedules).
    fn before_epoch(&mut self) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    /// Batches done in the current epoch, and its batch count.
    pub batch: usize,
    pub batches: usize,
    pub tokens_per_s: f64,
}

/// One position of the teacher-forced view.
#[derive(Debug, Clone, PartialEq)]
pub struct ForcedToken {
    pub truth: String,
    pub predicted: String,
    pub p_truth: f32,
}

/// What the model says now, both ways.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predictions {
    pub epoch: usize,
    /// The passage's first token, which both views start from.
    pub first: String,
    pub forced: Vec<ForcedToken>,
    pub forced_perplexity: f32,
    pub forced_accuracy: f32,
    /// The model feeding itself from the passage's first token, as long as the passage.
    pub passage_free_running: Vec<String>,
    /// The free-running continuation of the user's prefix.
    pub continuation: String,
}

/// The signals shared by the controls, the charts and the loop.
#[derive(Clone, Copy)]
pub struct Ui {
    pub phase: RwSignal<Phase>,
    pub curve: RwSignal<Vec<EpochPoint>>,
    pub progress: RwSignal<Progress>,
    pub predictions: RwSignal<Option<Predictions>>,
    /// Why the run stopped or could not start.
    pub run_error: RwSignal<Option<String>>,
    /// Commands: keep training; batches to step while paused; predictions and a save asked
    /// for; the run generation (Reset bumps it and the old loop ends).
    pub running: RwSignal<bool>,
    pub pending_steps: RwSignal<u32>,
    pub predict_requests: RwSignal<u32>,
    pub save_requests: RwSignal<u32>,
    pub generation: RwSignal<u64>,
    /// Free-running options.
    pub prefix: RwSignal<String>,
    pub length: RwSignal<usize>,
    pub temperature: RwSignal<f32>,
    /// The clipping threshold of the current run (drawn on the gradient-norm chart).
    pub clip: RwSignal<f32>,
    /// Encoder–decoder views: the example table, and the sentence to translate with its result.
    pub translations: RwSignal<Option<Vec<crate::seq2seq_run::TranslationRow>>>,
    pub sentence: RwSignal<String>,
    pub sentence_translation: RwSignal<String>,
}

impl Ui {
    pub fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Idle),
            curve: RwSignal::new(Vec::new()),
            progress: RwSignal::new(Progress::default()),
            predictions: RwSignal::new(None),
            run_error: RwSignal::new(None),
            running: RwSignal::new(false),
            pending_steps: RwSignal::new(0),
            predict_requests: RwSignal::new(0),
            save_requests: RwSignal::new(0),
            generation: RwSignal::new(0),
            prefix: RwSignal::new("time traveller".into()),
            length: RwSignal::new(50),
            temperature: RwSignal::new(0.0),
            clip: RwSignal::new(1.0),
            translations: RwSignal::new(None),
            sentence: RwSignal::new("go .".into()),
            sentence_translation: RwSignal::new(String::new()),
        }
    }
}

/// Tokens in the teacher-forced passage.
fn passage_len(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Char => 120,
        TokenKind::Word => 30,
    }
}

/// A run: everything the loop owns.
pub struct Run {
    session: Session,
    vocab: Vocab,
    kind: TokenKind,
    /// The teacher-forced passage: the start of the corpus.
    passage: Vec<u32>,
    epochs: usize,
    model_name: String,
}

impl Run {
    /// Builds a run from the settings and the corpus text; every bad value is a message.
    pub fn build(settings: &Settings, text: &str, backend: &Rc<dyn Backend>) -> Result<Self, String> {
        settings.check_training()?;
        let kind = settings.token_kind()?;
        let corpus = corpus(settings, text, kind)?;
        let config = settings.model_config(corpus.vocab.len())?;
        let model = LanguageModel::new(backend, &config, settings.seed).map_err(|e| e.to_string())?;
        Self::assemble(settings, model, corpus.tokens, corpus.vocab, kind, backend)
    }

    /// A run that starts from a checkpoint's model (trained further on `text`, encoded with the
    /// checkpoint's vocabulary: tokens it lacks become `<unk>`). The training values come from
    /// `settings`; the architecture and tokenizer from the checkpoint.
    pub fn from_checkpoint(
        checkpoint: &Checkpoint,
        settings: &Settings,
        text: &str,
        backend: &Rc<dyn Backend>,
    ) -> Result<Self, String> {
        settings.check_training()?;
        let kind = checkpoint.token_kind;
        let corpus = corpus(settings, text, kind)?;
        let tokens = corpus.tokens.iter().map(|&id| checkpoint.vocab.index(corpus.vocab.token(id))).collect();
        let model = checkpoint.into_model(backend).map_err(|e| e.to_string())?;
        Self::assemble(settings, model, tokens, checkpoint.vocab.clone(), kind, backend)
    }

    fn assemble(
        settings: &Settings,
        model: LanguageModel,
        tokens: Vec<u32>,
        vocab: Vocab,
        kind: TokenKind,
        backend: &Rc<dyn Backend>,
    ) -> Result<Self, String> {
        let passage = tokens[..tokens.len().min(passage_len(kind))].to_vec();
        let batches =
            BatchIter::new(tokens, settings.batch_size, settings.num_steps, settings.sampling()?, settings.seed)
                .map_err(|e| e.to_string())?;
        let optimizer = Optimizer::by_name(&settings.optimizer, settings.lr).map_err(|e| e.to_string())?;
        let trainer = Trainer::new(backend, optimizer, settings.clip).map_err(|e| e.to_string())?;
        let model_name = model.config().model_name();
        Ok(Self {
            session: Session::new(model, trainer, batches),
            vocab,
            kind,
            passage,
            epochs: settings.epochs,
            model_name,
        })
    }

    async fn predictions(&self, ui: Ui) -> Result<Predictions, String> {
        let model = self.session.model();
        let token = |id: u32| self.vocab.token(id).to_string();
        let err = |e: rnnplay_engine::EngineError| e.to_string();
        let forced = teacher_forced(model, &self.passage).await.map_err(err)?;
        let own = generate(model, &self.passage[..1], self.passage.len() - 1, Decoding::Greedy).await.map_err(err)?;
        let (prefix, _unknown) = rnnplay_data::prompt::encode(&self.vocab, self.kind, &ui.prefix.get_untracked());
        let continuation = if prefix.is_empty() {
            String::new()
        } else {
            let decoding =
                Decoding::from_temperature(Some(ui.temperature.get_untracked()), self.session.epochs_done() as u64)
                    .map_err(err)?;
            let ids = generate(model, &prefix, ui.length.get_untracked(), decoding).await.map_err(err)?;
            rnnplay_data::prompt::decode(&self.vocab, self.kind, &ids)
        };
        Ok(Predictions {
            epoch: self.session.epochs_done(),
            first: token(self.passage[0]),
            forced: forced
                .steps
                .iter()
                .map(|s| ForcedToken { truth: token(s.truth), predicted: token(s.predicted), p_truth: s.p_truth })
                .collect(),
            forced_perplexity: forced.perplexity,
            forced_accuracy: forced.accuracy,
            passage_free_running: own[1..].iter().map(|&id| token(id)).collect(),
            continuation,
        })
    }
}

impl Job for Run {
    async fn step(&mut self) -> Result<Option<EpochReport>, String> {
        Ok(self.session.step().await.map_err(|e| e.to_string())?.map(|m| EpochReport {
            value: m.perplexity,
            grad_norm: m.grad_norm,
            tokens: m.tokens,
            batches: m.batches,
        }))
    }

    fn epochs_done(&self) -> usize {
        self.session.epochs_done()
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn epoch_progress(&self) -> (usize, usize) {
        self.session.epoch_progress()
    }

    async fn predict(&self, ui: Ui) -> Result<(), String> {
        ui.predictions.set(Some(self.predictions(ui).await?));
        Ok(())
    }

    async fn save(&self) -> Result<(), String> {
        let mut checkpoint =
            Checkpoint::capture(self.session.model(), &self.vocab, self.kind).await.map_err(|e| e.to_string())?;
        checkpoint.extra.insert("epochs".into(), self.session.epochs_done().to_string());
        let bytes = checkpoint.to_bytes().map_err(|e| e.to_string())?;
        browser::download(&format!("rnnplay-{}.safetensors", self.model_name), &bytes)
    }
}

/// The corpus of `text` as the settings cut it (`max_tokens`).
fn corpus(settings: &Settings, text: &str, kind: TokenKind) -> Result<Corpus, String> {
    let max_tokens = (settings.max_tokens > 0).then_some(settings.max_tokens);
    Corpus::from_text(text, kind, max_tokens).map_err(|e| e.to_string())
}

/// How often (in epochs) predictions refresh on their own: about 20 times a run.
fn predict_every(epochs: usize) -> usize {
    (epochs / 20).max(1)
}

/// Drives `run` until the generation changes. Commands are read between batches:
/// predictions and saves asked for first, then one batch if training or stepping.
pub async fn drive<J: Job>(ui: Ui, generation: u64, mut run: J) {
    let epochs = run.epochs();
    let (mut predicts_seen, mut saves_seen) = (0, 0);
    let mut epoch_started = browser::now_ms();
    loop {
        if ui.generation.get_untracked() != generation {
            return;
        }
        let predicts = ui.predict_requests.get_untracked();
        if predicts != predicts_seen {
            predicts_seen = predicts;
            if let Err(err) = run.predict(ui).await {
                ui.run_error.set(Some(format!("predictions failed: {err}")));
            }
            continue;
        }
        let saves = ui.save_requests.get_untracked();
        if saves != saves_seen {
            saves_seen = saves;
            if let Err(err) = run.save().await {
                ui.run_error.set(Some(format!("saving failed: {err}")));
            }
            continue;
        }
        let stepping = ui.running.get_untracked() || ui.pending_steps.get_untracked() > 0;
        let failed = ui.phase.get_untracked() == Phase::Failed;
        let finished = run.epochs_done() >= epochs;
        if !stepping || finished || failed {
            if ui.phase.get_untracked() == Phase::Running {
                ui.phase.set(if finished { Phase::Finished } else { Phase::Paused });
            }
            ui.running.set(false);
            ui.pending_steps.set(0);
            browser::sleep(40).await;
            continue;
        }
        if !ui.running.get_untracked() {
            ui.pending_steps.update(|n| *n = n.saturating_sub(1));
        }
        if run.epoch_progress() == (0, 0) {
            if let Err(err) = run.before_epoch() {
                ui.running.set(false);
                ui.phase.set(Phase::Failed);
                ui.run_error.set(Some(err));
                continue;
            }
        }
        match run.step().await {
            Ok(Some(metrics)) => {
                let seconds = (browser::now_ms() - epoch_started) / 1000.0;
                epoch_started = browser::now_ms();
                let epoch = run.epochs_done();
                ui.curve.update(|c| c.push(EpochPoint { epoch, value: metrics.value, grad_norm: metrics.grad_norm }));
                ui.progress.set(Progress {
                    epoch,
                    epochs,
                    batch: metrics.batches,
                    batches: metrics.batches,
                    tokens_per_s: metrics.tokens as f64 / seconds.max(1e-3),
                });
                if epoch.is_multiple_of(predict_every(epochs)) || epoch >= epochs {
                    ui.predict_requests.update(|n| *n += 1);
                }
                if epoch >= epochs {
                    ui.running.set(false);
                    ui.phase.set(Phase::Finished);
                }
            }
            Ok(None) => {
                let (batch, batches) = run.epoch_progress();
                ui.progress.update(|p| {
                    p.batch = batch;
                    p.batches = batches;
                });
            }
            Err(err) => {
                ui.running.set(false);
                ui.phase.set(Phase::Failed);
                let epoch = run.epochs_done() + 1;
                ui.run_error.set(Some(format!("training stopped at epoch {epoch}: {err}")));
            }
        }
        browser::sleep(0).await;
    }
}
