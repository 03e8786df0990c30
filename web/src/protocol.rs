//! The page and its training worker talk in these typed messages (JSON over `postMessage`).
//! Plain Rust, so the protocol is tested natively. The views' values are in `views.rs`.
//!
//! The page sends commands ([`ToWorker`]); the worker owns the run (its backend, its session)
//! and sends back what the views show ([`FromWorker`]). Without a worker the page runs the
//! same loop itself and the values go straight into its signals.

use crate::views::ViewValue;
use rnnplay_run::bench::Measurement;
use rnnplay_run::{BackendSpeed, RunSpec};
use serde::{Deserialize, Serialize};

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// No run yet (or after Reset).
    Idle,
    Running,
    Paused,
    Finished,
    /// Stopped by an error (a device error, a bad setting); the model and chart are kept.
    Failed,
    /// Stopped because the loss diverged; the weights of the last good epoch are kept.
    Diverged,
}

/// One point of the charts: the epoch's training value (perplexity for a language model, the
/// per-token cross-entropy for an encoder–decoder) and its mean pre-clip gradient norm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: usize,
    pub value: f32,
    pub grad_norm: f32,
    /// The validation perplexity, when the run holds part of the corpus out.
    #[serde(default)]
    pub valid: Option<f32>,
    /// The share of held-out examples answered exactly (the recall task each epoch, a toy
    /// task after the last).
    #[serde(default)]
    pub accuracy: Option<f32>,
    /// An encoder–decoder's held-out accuracy at each output position, free-running (after the last
    /// epoch; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accuracy_by_position: Vec<f32>,
    /// An encoder–decoder's held-out exact match by source length, (length, share) (after the
    /// last epoch; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exact_by_length: Vec<(usize, f32)>,
    /// An encoder–decoder's held-out mean BLEU and mean score (1/L^0.75)·log P (after the last
    /// epoch; `None` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bleu: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
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
        #[serde(with = "crate::wire::base64_bytes")]
        checkpoint: Vec<u8>,
        text: String,
        use_cpu: bool,
    },
    /// Continue a kept run exactly from its autosaved checkpoint (with its training state),
    /// training; `text` is its text (language models), `history` its curve so far.
    Continue {
        #[serde(with = "crate::wire::base64_bytes")]
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
    Predict { prefix: String, length: usize, temperature: f32, sentence: String, search: crate::view_signals::Search },
    /// Send the model as a checkpoint.
    Save,
    /// Compute how far back the prediction at this position of the passage reaches.
    Connect { position: usize },
    /// Compute the views inside the network at each refresh (true, the default) or not.
    InsideViews(bool),
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
    pub soak: Vec<rnnplay_run::soak::MemorySample>,
    pub growth: Vec<rnnplay_run::soak::Growth>,
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
    /// A view that changed (`views.rs`).
    View(ViewValue),
    RunError(Option<String>),
    /// Whether the GPU device was lost (the page then offers to continue on the CPU).
    DeviceLost(bool),
    /// A checkpoint to download as `name`.
    Saved {
        name: String,
        #[serde(with = "crate::wire::base64_bytes")]
        bytes: Vec<u8>,
    },
    /// The run's checkpoint with its training state, autosaved after `epoch`, to keep.
    Autosaved {
        epoch: usize,
        #[serde(with = "crate::wire::base64_bytes")]
        bytes: Vec<u8>,
    },
    /// The benchmark page's table as it stands.
    Bench(BenchView),
}

impl ToWorker {
    /// The same run on the CPU backend, without timing the backends: what a helper builds
    /// (`core_workers.rs`) when the training worker has built `self`.
    pub fn on_cpu(&self) -> Self {
        let mut command = self.clone();
        match &mut command {
            Self::Start { use_cpu, measure, .. } => (*use_cpu, *measure) = (true, false),
            Self::Resume { use_cpu, .. } | Self::Continue { use_cpu, .. } => *use_cpu = true,
            _ => {}
        }
        command
    }

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

#[cfg(test)]
mod tests {
    use super::*;

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
        let point = EpochPoint {
            epoch: 1,
            value: 3.0,
            grad_norm: 0.5,
            valid: Some(4.0),
            accuracy: None,
            accuracy_by_position: Vec::new(),
            exact_by_length: Vec::new(),
            bleu: None,
            score: None,
        };
        let resume = ToWorker::Continue { checkpoint: vec![1, 2], text: None, history: vec![point], use_cpu: true };
        assert_eq!(ToWorker::from_json(&resume.to_json()).unwrap(), resume);
        let translated =
            crate::views::SentenceTranslation { text: "go . ⇒ va !".into(), tree: None, attention: None };
        let view = FromWorker::View(ViewValue::sentence_translation(Some(translated)));
        assert_eq!(FromWorker::from_json(&view.to_json()).unwrap(), view);
        let measured =
            FromWorker::Measured(vec![BackendSpeed { backend: "CPU".into(), tokens_per_s: 17_378.5, steps: 4 }]);
        assert_eq!(FromWorker::from_json(&measured.to_json()).unwrap(), measured);
        assert!(ToWorker::from_json("{\"Launch\":1}").unwrap_err().contains("does not understand"));
        match start.on_cpu() {
            ToWorker::Start { use_cpu, measure, running, .. } => assert!(use_cpu && !measure && running),
            other => panic!("{other:?}"),
        }
        let build = ToHelper::Build { command: Box::new(start), index: 1, count: 2 };
        assert_eq!(ToHelper::from_json(&build.to_json()).unwrap(), build);
        let failed = FromHelper::Failed("no corpus".into());
        assert_eq!(FromHelper::from_json(&failed.to_json()).unwrap(), failed);
    }
}
