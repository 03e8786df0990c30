//! The CPU backend on several threads computes the same numbers, bit for bit, as on one: every
//! kernel is cut so that each output element is the same arithmetic whichever thread does it
//! (crates/engine/src/backend/cpu_pool.rs). The runs below are big enough that every threaded
//! kernel (products, cells, element-wise maps, optimizer updates) is cut into several parts.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::{Checkpoint, EngineOptions, Seq2SeqCheckpoint};
use rnnplay_run::{RunData, RunSpec};
use std::rc::Rc;

/// What a run computed, as bits: each epoch's value and gradient norm, and the final weights by
/// name.
type Bits = (Vec<(u32, u32)>, Vec<(String, Vec<u32>)>);

/// The [`Bits`] of `spec`'s run on a CPU backend with `threads` threads.
fn run(spec: &RunSpec, threads: usize) -> Bits {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::with_threads(threads));
    let text =
        "the time machine by h g wells: the time traveller, for so it will be convenient to speak of him\n".repeat(20);
    let data = if spec.is_seq2seq() { RunData::Generated } else { RunData::Text(&text) };
    let mut session = spec.build(&backend, data, &EngineOptions::default()).unwrap();
    let mut epochs = Vec::new();
    while !session.finished() {
        if let Some(report) = pollster::block_on(session.step()).unwrap() {
            epochs.push((report.value.to_bits(), report.grad_norm.to_bits()));
        }
    }
    let bytes = pollster::block_on(session.checkpoint_bytes(None)).unwrap();
    let tensors = if spec.is_seq2seq() {
        Seq2SeqCheckpoint::from_bytes(&bytes).unwrap().tensors
    } else {
        Checkpoint::from_bytes(&bytes).unwrap().tensors
    };
    let weights =
        tensors.into_iter().map(|(name, _, data)| (name, data.iter().map(|v| v.to_bits()).collect())).collect();
    (epochs, weights)
}

fn spec(preset: &str, hidden: usize, optimizer: &str) -> RunSpec {
    let mut spec = RunSpec::preset(preset).unwrap();
    (spec.hidden, spec.batch_size, spec.num_steps, spec.epochs) = (hidden, 32, 10, 2);
    if !spec.is_seq2seq() {
        spec.data = "text".into();
    }
    spec.optimizer = optimizer.into();
    if optimizer == "adam" {
        spec.lr = 0.01;
    }
    spec
}

fn same_on_any_thread_count(spec: &RunSpec) {
    let (one, one_checkpoint) = run(spec, 1);
    assert!(one.iter().all(|(value, _)| f32::from_bits(*value).is_finite()), "{one:?}");
    for threads in [2, 3, 5] {
        let (many, many_checkpoint) = run(spec, threads);
        assert_eq!(one, many, "{} on {threads} threads: per-epoch values differ from one thread's", spec.model);
        assert!(one_checkpoint == many_checkpoint, "{} on {threads} threads: the weights differ", spec.model);
    }
}

#[test]
fn fused_layers_train_the_same_on_any_thread_count() {
    same_on_any_thread_count(&spec("d2l-gru", 128, "sgd"));
    same_on_any_thread_count(&spec("d2l-lstm", 128, "adam"));
    same_on_any_thread_count(&spec("d2l-rnn", 256, "sgd"));
}

#[test]
fn scratch_models_train_the_same_on_any_thread_count() {
    same_on_any_thread_count(&spec("d2l-rnn-scratch", 256, "sgd"));
    same_on_any_thread_count(&spec("d2l-gru-scratch", 128, "sgd"));
}

#[test]
fn an_encoder_decoder_trains_the_same_on_any_thread_count() {
    let mut spec = RunSpec::preset("toy-reverse").unwrap();
    (spec.hidden, spec.embedding, spec.layers, spec.dropout, spec.epochs, spec.num_examples) =
        (128, 32, 2, 0.1, 1, 400);
    same_on_any_thread_count(&spec);
}

#[test]
fn a_backend_reports_its_thread_count() {
    assert_eq!(CpuBackend::with_threads(3).threads(), 3);
    assert_eq!(CpuBackend::with_threads(0).threads(), 1);
    assert!(CpuBackend::new().threads() >= 1);
}
