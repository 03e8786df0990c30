//! The page's shared state: the signals the controls, the charts, the prediction views and the
//! training loop read and write, and the plain values they carry.

use leptos::prelude::*;
use rnnplay_engine::translate::TranslationExample;

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

/// Where the run stands, counting finished minibatches only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Epochs finished, of `epochs`.
    pub epoch: usize,
    pub epochs: usize,
    /// Batches finished in the current epoch, and its batch count (0 before its first).
    pub batch: usize,
    pub batches: usize,
    /// Tokens per second over the current epoch so far (or the last one, between epochs).
    pub tokens_per_s: f64,
    /// The learning rate of the epoch in progress.
    pub lr: f32,
    /// Epochs a loaded checkpoint had trained before this run.
    pub epochs_before: usize,
}

impl Progress {
    /// "epoch 2/10 · batch 3/8 · lr 1 · 1200 tokens/s": the epoch in progress while one is.
    pub fn describe(&self) -> String {
        if self.epochs == 0 {
            return "no run yet: Start trains; Step (one batch) trains one minibatch and pauses".into();
        }
        let in_epoch = self.batch > 0 && self.batch < self.batches;
        let epoch = if in_epoch { self.epoch + 1 } else { self.epoch };
        let batches =
            if self.batches > 0 { format!(" · batch {}/{}", self.batch, self.batches) } else { String::new() };
        let speed =
            if self.tokens_per_s > 0.0 { format!(" · {:.0} tokens/s", self.tokens_per_s) } else { String::new() };
        let before = match self.epochs_before {
            0 => String::new(),
            n => format!(" (the loaded model had trained {n} epoch(s) before)"),
        };
        format!("epoch {epoch}/{}{batches} · lr {}{speed}{before}", self.epochs, self.lr)
    }
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
    /// Tokens of the prefix outside the vocabulary (fed as `<unk>`).
    pub unknown: Vec<String>,
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
    /// Settings fields whose text does not parse, with their message (they block Start).
    pub unparsed: RwSignal<Vec<(&'static str, String)>>,
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
    pub translations: RwSignal<Option<Vec<TranslationExample>>>,
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
            unparsed: RwSignal::new(Vec::new()),
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
