//! The page and its training worker talk in these typed messages (JSON over `postMessage`),
//! and the views draw these plain values. Plain Rust, so the protocol is tested natively.
//!
//! The page sends commands ([`ToWorker`]); the worker owns the run (its backend, its session)
//! and sends back what the views show ([`FromWorker`]). Without a worker the page runs the
//! same loop itself and the values go straight into its signals.

use rnnplay_engine::bench::Measurement;
use rnnplay_engine::run::{BackendSpeed, RunSpec};
use rnnplay_engine::translate::TranslationExample;
use serde::{Deserialize, Serialize};

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: usize,
    pub value: f32,
    pub grad_norm: f32,
    /// The validation perplexity, when the run holds part of the corpus out.
    #[serde(default)]
    pub valid: Option<f32>,
}

/// The gradient-through-time chart: per time step s of the training window, the batch-mean
/// ‖∂L/∂h_s‖ of the top layer before clipping, averaged over an epoch — for the run's first
/// epoch (for contrast) and the latest, with the latest epoch's mean gradient norm (clipping scales
/// the gradients by min(1, θ / norm)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThroughTime {
    /// The run's first epoch (after a resumed checkpoint's, not epoch 1).
    pub first: Vec<f32>,
    pub first_epoch: usize,
    pub last: Vec<f32>,
    pub last_epoch: usize,
    pub last_grad_norm: f32,
}

/// One signal of the inspection view (h, c or a gate of one layer), (steps, hidden) values
/// quantized for the trip from the worker: value = q / 127 · scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalView {
    pub layer: usize,
    pub name: String,
    pub scale: f32,
    /// As base64 on the trip: an inspection holds some 100 000 of them, which as a JSON array
    /// of numbers took the page's thread 15 ms to parse at each epoch's end.
    #[serde(with = "base64_i8")]
    pub q: Vec<i8>,
}

impl SignalView {
    pub fn new(signal: &rnnplay_engine::inspect::Signal) -> Self {
        let scale = signal.values.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let q = signal.values.iter().map(|v| (v / scale * 127.0).round().clamp(-127.0, 127.0) as i8).collect();
        Self { layer: signal.layer, name: signal.name.clone(), scale, q }
    }

    /// The value a quantized entry stands for.
    pub fn dequantize(&self, q: i8) -> f32 {
        f32::from(q) / 127.0 * self.scale
    }

    /// Whether every value is ≥ 0 (a sigmoid gate): the view's colour scale is then 0..1.
    pub fn non_negative(&self) -> bool {
        self.q.iter().all(|&q| q >= 0)
    }
}

/// The most likely next tokens at one position, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextView {
    pub tokens: Vec<String>,
    pub logits: Vec<f32>,
    pub p: Vec<f32>,
}

/// What the model computes over the passage of the teacher-forced view
/// (`rnnplay_engine::inspect::inspect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InspectView {
    pub epoch: usize,
    pub tokens: Vec<String>,
    pub layers: usize,
    pub hidden: usize,
    pub signals: Vec<SignalView>,
    pub next: Vec<NextView>,
}

impl InspectView {
    pub fn signal(&self, layer: usize, name: &str) -> Option<&SignalView> {
        self.signals.iter().find(|s| s.layer == layer && s.name == name)
    }

    /// The value of `unit` of `signal` after token `t`.
    pub fn value(&self, signal: &SignalView, t: usize, unit: usize) -> f32 {
        signal.q.get(t * self.hidden + unit).map_or(0.0, |&q| signal.dequantize(q))
    }

    /// The units ordered by how much they vary over the passage, largest first
    /// (`rnnplay_engine::inspect::units_by_variance` on the dequantized values).
    pub fn units_by_variance(&self, signal: &SignalView) -> Vec<usize> {
        let values: Vec<f32> = signal.q.iter().map(|&q| signal.dequantize(q)).collect();
        rnnplay_engine::inspect::units_by_variance(&values, self.hidden)
    }
}

/// How far back the prediction at one position of the passage reaches
/// (`rnnplay_engine::inspect::connectivity`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectView {
    pub epoch: usize,
    pub position: usize,
    pub target: String,
    pub target_is_truth: bool,
    pub saliency_x: Vec<f32>,
    pub reach: usize,
}

/// Inside an encoder–decoder, for the sentence of the translate box teacher-forced on the
/// model's own translation (`rnnplay_engine::inspect::translation`): the encoder over the
/// source, the decoder over the target (with the next-word candidates), and for a picked
/// target position how much each source word matters to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TranslationView {
    pub epoch: usize,
    pub encoder: InspectView,
    pub decoder: InspectView,
    /// The true next word at each target position (the translation, then `<eos>`).
    pub labels: Vec<String>,
    /// The picked target position and ‖∂ loss / ∂ source embedding‖ per source word.
    pub position: Option<usize>,
    pub saliency: Vec<f32>,
}

/// Where the run stands, counting finished minibatches only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// The cores the run trains on, one Web Worker each (`core_workers.rs`); 0 or 1: one.
    #[serde(default)]
    pub cores: usize,
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
            n => format!(" of this run (the loaded model had trained {n} epoch(s) before it)"),
        };
        let cores = if self.cores > 1 { format!(" on {} CPU cores", self.cores) } else { String::new() };
        format!("epoch {epoch}/{}{batches} · lr {}{speed}{cores}{before}", self.epochs, self.lr)
    }
}

/// One position of the teacher-forced view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcedToken {
    pub truth: String,
    pub predicted: String,
    pub p_truth: f32,
}

/// What the model says now, both ways.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// What the worker found: WebGPU on an adapter (software or not), or only the CPU backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Backends {
    Gpu { name: String, software: bool },
    Cpu { reason: String },
}

/// A command from the page to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Build a run (the worker fetches fra-eng itself when the spec names it) and train it
    /// (`running`) or take one step; with `measure`, first time WebGPU and the CPU backend on
    /// it and build on the faster (reported as `Measured`) instead of as `use_cpu` says.
    Start { spec: RunSpec, text: Option<String>, running: bool, use_cpu: bool, measure: bool },
    /// Continue a language model's checkpoint on `text`, paused.
    Resume {
        spec: RunSpec,
        #[serde(with = "base64_bytes")]
        checkpoint: Vec<u8>,
        text: String,
        use_cpu: bool,
    },
    /// Continue a kept run exactly from its autosaved checkpoint (with its training state),
    /// training; `text` is its text (language models), `history` its curve so far.
    Continue {
        #[serde(with = "base64_bytes")]
        checkpoint: Vec<u8>,
        text: Option<String>,
        history: Vec<EpochPoint>,
        use_cpu: bool,
    },
    /// Train on (true) or pause (false).
    Running(bool),
    /// Train one more minibatch while paused.
    Step,
    /// Compute the predictions with these options.
    Predict { prefix: String, length: usize, temperature: f32, sentence: String },
    /// Send the model as a checkpoint.
    Save,
    /// Compute how far back the prediction at this position of the passage reaches.
    Connect { position: usize },
    /// Compute the inspection views at each refresh (true, the default) or not.
    Views(bool),
    /// Train the next CPU runs on this many cores (`None`: auto, `settings::cores_for`).
    Cores(Option<usize>),
    /// Drop the run (Reset).
    Reset,
    /// Run the benchmark page's measurement (`?bench=1…`, the page's query string).
    Bench { query: String },
}

/// One row of the benchmark table: a measurement and, on an unfused row after a fused one,
/// the speed-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    pub m: Measurement,
    pub speedup: Option<f64>,
}

/// What the benchmark page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchView {
    /// (phase, text): phase is `running`, `finished` or `failed`.
    pub status: (String, String),
    pub header: String,
    /// The best GEMM's GFLOP/s (0 until measured).
    pub best: f64,
    pub rows: Vec<BenchRow>,
    /// A soak (`bench_soak`): the memory samples so far, and once it ended, how each quantity
    /// moved after the warm-up.
    pub soak: Vec<rnnplay_engine::soak::MemorySample>,
    pub growth: Vec<rnnplay_engine::soak::Growth>,
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    Backends(Backends),
    /// A run was built (after `Resume`: with the checkpoint's architecture in `spec`).
    Built {
        spec: Box<RunSpec>,
        progress: Progress,
        first_example: Option<String>,
    },
    /// Both backends' speeds on the run about to be built (after `Start { measure: true }`).
    Measured(Vec<BackendSpeed>),
    /// The run could not be built.
    NotBuilt(String),
    Phase(Phase),
    Progress(Progress),
    Curve(Vec<EpochPoint>),
    Predictions(Predictions),
    ThroughTime(ThroughTime),
    Inspection(InspectView),
    TranslationInspection(TranslationView),
    Connectivity(ConnectView),
    Translations(Vec<TranslationExample>),
    SentenceTranslation(String),
    RunError(Option<String>),
    /// Whether the GPU device was lost (the page then offers to continue on the CPU).
    DeviceLost(bool),
    /// A checkpoint to download as `name`.
    Saved {
        name: String,
        #[serde(with = "base64_bytes")]
        bytes: Vec<u8>,
    },
    /// The run's checkpoint with its training state, autosaved after `epoch`, to keep.
    Autosaved {
        epoch: usize,
        #[serde(with = "base64_bytes")]
        bytes: Vec<u8>,
    },
    /// The benchmark page's table as it stands.
    Bench(BenchView),
}

impl ToWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("a message the worker does not understand: {e}"))
    }
}

impl FromWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The checkpoint a message carries, taken out of it: the worker sends the bytes beside the
    /// message's JSON as a transferred buffer (a megabyte as base64 text took the page's thread
    /// 12 ms to parse at every epoch's autosave), and the page puts them back
    /// ([`FromWorker::put_bytes`]).
    pub fn take_bytes(&mut self) -> Option<Vec<u8>> {
        match self {
            Self::Saved { bytes, .. } | Self::Autosaved { bytes, .. } => Some(std::mem::take(bytes)),
            _ => None,
        }
    }

    /// Puts back the checkpoint [`FromWorker::take_bytes`] took out.
    pub fn put_bytes(&mut self, checkpoint: Vec<u8>) {
        if let Self::Saved { bytes, .. } | Self::Autosaved { bytes, .. } = self {
            *bytes = checkpoint;
        }
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("a message from the worker the page does not understand: {e}"))
    }
}

/// The training worker to one of its helpers (`core_workers.rs`), as JSON text; the workers' sum of
/// a step's shares goes as a `Float32Array` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToHelper {
    /// Build the run as `command` (Start, Resume or Continue) builds it, on the CPU backend, as
    /// worker `index` of `count`.
    Build { command: Box<ToWorker>, index: usize, count: usize },
    /// Compute this worker's share of the next minibatch.
    Share,
}

/// A helper to the training worker, as JSON text; its shares go as a `Float32Array` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromHelper {
    /// Its module is loaded and it listens.
    Ready,
    /// The run is built.
    Built,
    /// Building or a step failed: why.
    Failed(String),
}

impl ToHelper {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("a message the CPU worker does not understand: {e}"))
    }
}

impl FromHelper {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text)
            .map_err(|e| format!("a message from a CPU worker the training worker does not understand: {e}"))
    }
}

/// Checkpoints cross between the page and the worker as base64 text: a megabyte of safetensors
/// as a JSON array of numbers takes far longer to write and parse, on the page's thread too.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Quantized values as base64 text of their bytes (`base64_bytes` for `i8`).
mod base64_i8 {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[i8], serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = values.iter().map(|&v| v as u8).collect();
        super::base64_bytes::serialize(&bytes, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i8>, D::Error> {
        Ok(super::base64_bytes::deserialize(deserializer)?.into_iter().map(|b| b as i8).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_signals_travel_as_base64_and_come_back_exactly() {
        let signal = SignalView { layer: 0, name: "h".into(), scale: 0.5, q: vec![-127, 0, 127] };
        let view =
            InspectView { tokens: vec!["a".into()], layers: 1, hidden: 3, signals: vec![signal], ..Default::default() };
        let text = FromWorker::Inspection(view.clone()).to_json();
        assert!(text.contains("\"q\":\"gQB/\""), "{text}");
        match FromWorker::from_json(&text) {
            Ok(FromWorker::Inspection(back)) => assert_eq!(back, view),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_round_trip_through_json() {
        let start = ToWorker::Start {
            spec: RunSpec::default(),
            text: Some("abc".into()),
            running: true,
            use_cpu: false,
            measure: true,
        };
        assert_eq!(ToWorker::from_json(&start.to_json()).unwrap(), start);
        let progress = Progress {
            epoch: 2,
            epochs: 3,
            batch: 1,
            batches: 8,
            tokens_per_s: 1.5,
            lr: 0.5,
            epochs_before: 0,
            cores: 2,
        };
        assert!(progress.describe().ends_with("· 2 tokens/s on 2 CPU cores"), "{}", progress.describe());
        assert!(!Progress { cores: 1, ..progress.clone() }.describe().contains("cores"));
        let message = FromWorker::Progress(progress);
        assert_eq!(FromWorker::from_json(&message.to_json()).unwrap(), message);
        let mut saved = FromWorker::Saved { name: "m.safetensors".into(), bytes: vec![0, 255, 7] };
        let mut without = saved.clone();
        assert_eq!(without.take_bytes(), Some(vec![0, 255, 7]));
        assert!(without.to_json().contains("\"bytes\":\"\""), "{}", without.to_json());
        without.put_bytes(vec![0, 255, 7]);
        assert_eq!(without, saved);
        assert_eq!(FromWorker::Phase(Phase::Idle).take_bytes(), None);
        saved.put_bytes(vec![0, 255, 7]);
        assert_eq!(FromWorker::from_json(&saved.to_json()).unwrap(), saved);
        assert!(saved.to_json().contains("\"AP8H\""), "bytes travel as base64: {}", saved.to_json());
        let point = EpochPoint { epoch: 1, value: 3.0, grad_norm: 0.5, valid: Some(4.0) };
        let resume = ToWorker::Continue { checkpoint: vec![1, 2], text: None, history: vec![point], use_cpu: true };
        assert_eq!(ToWorker::from_json(&resume.to_json()).unwrap(), resume);
        let measured =
            FromWorker::Measured(vec![BackendSpeed { backend: "CPU".into(), tokens_per_s: 17_378.5, steps: 4 }]);
        assert_eq!(FromWorker::from_json(&measured.to_json()).unwrap(), measured);
        assert!(ToWorker::from_json("{\"Launch\":1}").unwrap_err().contains("does not understand"));
        let build = ToHelper::Build { command: Box::new(start), index: 1, count: 2 };
        assert_eq!(ToHelper::from_json(&build.to_json()).unwrap(), build);
        let failed = FromHelper::Failed("no corpus".into());
        assert_eq!(FromHelper::from_json(&failed.to_json()).unwrap(), failed);
    }
}
