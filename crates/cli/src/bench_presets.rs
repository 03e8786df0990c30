//! `rnnplay bench presets`: training throughput of the d2l presets on one backend — tokens/s,
//! the GFLOP/s of the step's matmuls against the adapter's best GEMM measured in the same run,
//! dispatches and submits per step, and peak buffer memory. A fixed number of warm-up and
//! timed minibatches; the timing ends with a read-back, so queued GPU work is included.

use anyhow::{bail, Context, Result};
use rnnplay_data::translation::{epoch_rng, preprocess_nmt, read_fra_eng, tokenize_nmt, PairBatch, PairDataset};
use rnnplay_data::{Batch, BatchIter, Corpus, Dataset, Hub, Sampling, TokenKind};
use rnnplay_engine::backend::{backend_by_name, Backend};
use rnnplay_engine::nn::{parse_model_name, LanguageModel, ModelConfig, Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::presets::{preset, seq2seq_preset};
use rnnplay_engine::train::{Optimizer, Trainer};
use rnnplay_engine::translate::Seq2SeqTrainer;
use std::rc::Rc;
use std::time::Instant;

/// The presets measured when none is named.
pub const DEFAULT_PRESETS: [&str; 4] = ["d2l-rnn-scratch", "d2l-gru", "d2l-lstm", "d2l-seq2seq"];

/// Something that trains one minibatch per call.
trait Stepper {
    fn step(&mut self) -> Result<usize>;
    /// Waits for everything submitted (a one-element read-back).
    fn sync(&self) -> Result<()>;
}

struct LanguageModelStepper {
    model: LanguageModel,
    trainer: Trainer,
    batches: Vec<Batch>,
    next: usize,
    state: Option<Vec<rnnplay_engine::Tensor>>,
}

impl Stepper for LanguageModelStepper {
    fn step(&mut self) -> Result<usize> {
        let batch = &self.batches[self.next % self.batches.len()];
        self.next += 1;
        let state = self.trainer.train_batch(&self.model, batch, self.state.as_deref(), Sampling::Sequential)?;
        self.state = Some(state);
        Ok(batch.batch_size * batch.num_steps)
    }

    fn sync(&self) -> Result<()> {
        pollster::block_on(self.model.params()[0].value().to_vec())?;
        Ok(())
    }
}

struct Seq2SeqStepper {
    model: Seq2Seq,
    trainer: Seq2SeqTrainer,
    data: PairDataset,
    batches: Vec<PairBatch>,
    next: usize,
}

impl Stepper for Seq2SeqStepper {
    fn step(&mut self) -> Result<usize> {
        let batch = &self.batches[self.next % self.batches.len()];
        self.next += 1;
        self.trainer.train_batch(&self.model, &self.data.tgt_vocab, batch)?;
        Ok(batch.target_tokens())
    }

    fn sync(&self) -> Result<()> {
        pollster::block_on(self.model.params()[0].value().to_vec())?;
        Ok(())
    }
}

fn stepper(backend: &Rc<dyn Backend>, name: &str) -> Result<Box<dyn Stepper>> {
    let hub = Hub::from_env();
    if let Some(p) = preset(name) {
        let text = hub.read_text(Dataset::TimeMachine)?;
        let corpus = Corpus::from_text(&text, TokenKind::Char, Some(p.max_tokens))?;
        let (cell, scratch) = parse_model_name(p.model)?;
        let mut config = ModelConfig::new(cell, scratch, corpus.vocab.len(), p.hidden);
        config.num_layers = p.layers;
        let model = LanguageModel::new(backend, &config, 0)?;
        let trainer = Trainer::new(backend, Optimizer::by_name(p.optimizer, p.lr)?, p.clip)?;
        let batches = BatchIter::new(corpus.tokens, p.batch_size, p.num_steps, Sampling::Sequential, 0)?.epoch();
        let mut stepper = LanguageModelStepper { model, trainer, batches, next: 0, state: None };
        stepper.trainer.begin_epoch()?;
        return Ok(Box::new(stepper));
    }
    if let Some(p) = seq2seq_preset(name) {
        if p.data != "fra-eng" {
            bail!("bench presets measures d2l-seq2seq on fra-eng; {name} trains a toy task");
        }
        let text = preprocess_nmt(&read_fra_eng(&hub.read(Dataset::FraEng)?)?);
        let data = PairDataset::new(&tokenize_nmt(&text, Some(p.num_examples)), p.num_steps, p.min_freq)?;
        let config = Seq2SeqConfig {
            src_vocab_size: data.src_vocab.len(),
            tgt_vocab_size: data.tgt_vocab.len(),
            embed_size: p.embed,
            hidden_size: p.hidden,
            num_layers: p.layers,
            dropout: p.dropout,
        };
        let model = Seq2Seq::new(backend, &config, 0)?;
        let mut trainer = Seq2SeqTrainer::new(backend, Optimizer::by_name(p.optimizer, p.lr)?, p.clip)?;
        trainer.begin_epoch()?;
        let batches = data.epoch(p.batch_size, &mut epoch_rng(0))?;
        return Ok(Box::new(Seq2SeqStepper { model, trainer, data, batches, next: 0 }));
    }
    bail!("unknown preset '{name}'; available: {}", rnnplay_engine::presets::preset_names())
}

/// Which ways of running concise layers a benchmark measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LayerModes {
    Fused,
    Unfused,
    Both,
}

impl LayerModes {
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "fused" => Self::Fused,
            "unfused" => Self::Unfused,
            "both" => Self::Both,
            _ => bail!("unknown --layers '{name}'; use fused, unfused or both"),
        })
    }

    /// The fused flags to measure, fused first.
    fn runs(self) -> &'static [bool] {
        match self {
            Self::Fused => &[true],
            Self::Unfused => &[false],
            Self::Both => &[true, false],
        }
    }
}

/// How `rnnplay bench presets` measures.
pub struct Options {
    pub warmup: usize,
    pub batches: usize,
    pub layers: LayerModes,
    pub json: bool,
}

/// One preset measured one way.
struct Measurement {
    tokens_per_s: f64,
    gflops: f64,
    dispatches_per_step: f64,
    submits_per_step: f64,
    peak_mib: f64,
    seconds: f64,
}

fn measure(backend: &Rc<dyn Backend>, name: &str, options: &Options) -> Result<Measurement> {
    // Each preset's memory is its own: the previous one's buffers are freed by now.
    backend.reset_counters();
    let mut stepper = stepper(backend, name).with_context(|| format!("setting up {name}"))?;
    for _ in 0..options.warmup {
        stepper.step()?;
    }
    stepper.sync()?;
    let warm_peak = backend.counters().peak_buffer_bytes;
    backend.reset_counters();
    let started = Instant::now();
    let mut tokens = 0;
    for _ in 0..options.batches {
        tokens += stepper.step()?;
    }
    stepper.sync()?;
    let seconds = started.elapsed().as_secs_f64();
    let counters = backend.counters();
    let per_step = |n: u64| n as f64 / options.batches as f64;
    // GPU: bytes of buffers created (the pool keeps them), before and after the reset add up;
    // CPU: the peak of live bytes, the larger of the two windows.
    let peak = match backend.info().kind {
        rnnplay_engine::BackendKind::Gpu => warm_peak + counters.peak_buffer_bytes,
        rnnplay_engine::BackendKind::Cpu => warm_peak.max(counters.peak_buffer_bytes),
    };
    Ok(Measurement {
        tokens_per_s: tokens as f64 / seconds,
        gflops: counters.matmul_flops as f64 / seconds / 1e9,
        dispatches_per_step: per_step(counters.dispatches),
        // The final read-back's own submit is not a training step's.
        submits_per_step: per_step(counters.submits.saturating_sub(1)),
        peak_mib: peak as f64 / (1 << 20) as f64,
        seconds,
    })
}

/// Whether a preset has concise layers (fused or not); scratch models are always primitive ops.
fn has_concise_layers(name: &str) -> bool {
    preset(name).is_none_or(|p| !p.model.ends_with("-scratch"))
}

pub fn presets(names: &[String], backend_name: &str, options: &Options) -> Result<()> {
    if options.batches == 0 {
        bail!("--batches must be at least 1");
    }
    let backend = pollster::block_on(backend_by_name(backend_name)).context("opening the backend")?;
    let info = backend.info();
    let best_gemm = crate::bench::best_gemm_gflops(&backend).context("measuring the adapter's best GEMM")?;
    let names: Vec<String> =
        if names.is_empty() { DEFAULT_PRESETS.iter().map(|s| s.to_string()).collect() } else { names.to_vec() };
    if !options.json {
        println!(
            "training throughput on {} ({}); best GEMM (512³, {}) {best_gemm:.2} GFLOP/s; {} warm-up + {} timed minibatches",
            info.adapter,
            info.api,
            info.matmul_variant.name(),
            options.warmup,
            options.batches
        );
        println!(
            "{:<16} {:>8} {:>11} {:>9} {:>8} {:>15} {:>12} {:>9}",
            "preset", "layers", "tokens/s", "GFLOP/s", "of GEMM", "dispatches/step", "submits/step", "peak MiB"
        );
    }
    for name in &names {
        let runs: &[bool] = if has_concise_layers(name) { options.layers.runs() } else { &[true] };
        let mut fused_tokens_per_s = None;
        for &fused in runs {
            rnnplay_engine::nn::set_fused_layers(fused);
            let m = measure(&backend, name, options);
            rnnplay_engine::nn::set_fused_layers(true);
            let m = m?;
            let layers = match (has_concise_layers(name), fused) {
                (false, _) => "scratch",
                (true, true) => "fused",
                (true, false) => "unfused",
            };
            // Reported on the unfused row when both ran: how much faster the fused layers are.
            let speedup = match (fused, fused_tokens_per_s) {
                (false, Some(f)) => Some(f / m.tokens_per_s),
                _ => None,
            };
            if fused {
                fused_tokens_per_s = Some(m.tokens_per_s);
            }
            if options.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "bench": "preset", "preset": name, "layers": layers,
                        "backend": format!("{:?}", info.kind).to_lowercase(),
                        "adapter": info.adapter, "tokens_per_s": m.tokens_per_s, "gflops": m.gflops,
                        "best_gemm_gflops": best_gemm, "ratio": m.gflops / best_gemm,
                        "dispatches_per_step": m.dispatches_per_step, "submits_per_step": m.submits_per_step,
                        "peak_buffer_mib": m.peak_mib, "batches": options.batches, "seconds": m.seconds,
                        "fused_speedup": speedup,
                    })
                );
            } else {
                println!(
                    "{name:<16} {layers:>8} {:>11.0} {:>9.2} {:>7.0}% {:>15.0} {:>12.2} {:>9.1}",
                    m.tokens_per_s,
                    m.gflops,
                    100.0 * m.gflops / best_gemm,
                    m.dispatches_per_step,
                    m.submits_per_step,
                    m.peak_mib
                );
                if let Some(speedup) = speedup {
                    println!("{:<16} fused layers are {speedup:.1}× the tokens/s of unfused ones", "");
                }
            }
        }
    }
    Ok(())
}
