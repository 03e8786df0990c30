//! No-regression guard for the execution model: the dispatches and submits of one training step
//! of each benchmarked preset, counted (not timed). The counts depend on the graph — the model,
//! its layers and num_steps — not on sizes, so small hidden sizes and batches stand in for the
//! presets' own. A change that adds dispatches fails here; update the numbers only on purpose
//! (and say why in the commit). `rnnplay bench presets` prints the same counts.

use rnnplay_engine::backend::{Backend, CpuBackend, TimeLoop};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::EngineOptions;
use rnnplay_run::{RunData, RunSpec};
use std::rc::Rc;

/// (preset, dispatches per training step with the window kernels, with per-step kernels). A
/// fused layer's time loop is one dispatch each way as a window, two per time step each way
/// per step (`EngineOptions::time_loop`); d2l's scratch models fuse too, their GRU with two
/// projections a step (four dispatches a step each way per step), and they join their gates'
/// separate parameters each step (a concatenation moves up to four parts in one dispatch each
/// way). A
/// language model's step ends with one copy per state tensor into the trainer's carried state
/// (so every step reads and writes the same buffers, which plan replay needs). The gradient's
/// reach is measured between epochs, not in the step. The attention decoder runs one step at a
/// time (its input at step t reads the state of step t − 1), so each of its 9 steps and 2
/// layers pays its own projections, copies and cell. Per parameter a step pays nothing: one
/// kernel measures the gradients' global norm for every six parameters (`Kernel::GradNorm`)
/// and one SGD update serves three (Adam's, one each); identity rules (a bias's input, a
/// reshape, the loss's seed) hand their gradient down without a copy (`Tape::pass_grad`).
const EXPECTED: [(&str, u64, u64); 8] = [
    ("d2l-rnn-scratch", 27, 164),
    ("d2l-gru-scratch", 39, 316),
    ("d2l-lstm-scratch", 41, 178),
    ("d2l-rnn", 27, 164),
    ("d2l-gru", 27, 164),
    ("d2l-lstm", 30, 167),
    ("d2l-seq2seq", 139, 289),
    ("d2l-seq2seq-attention", 611, 713),
];

/// (dispatches, submits) of the second training step of `name` (the first creates pools and
/// starts the epoch), built as `rnnplay train` builds it with small sizes.
fn step_counts(backend: &Rc<dyn Backend>, name: &str) -> (u64, u64) {
    let mut spec = RunSpec::preset(name).unwrap();
    let text = "the time machine by h g wells ".repeat(40);
    let data = if spec.is_seq2seq() {
        (spec.data, spec.num_examples, spec.min_freq, spec.embedding, spec.batch_size) =
            ("reverse".into(), 16, 1, 4, 4);
        RunData::Generated
    } else {
        spec.batch_size = 2;
        RunData::Text(&text)
    };
    spec.hidden = 8;
    let mut session = spec.build(backend, data, &EngineOptions::default()).unwrap();
    pollster::block_on(session.step()).unwrap();
    backend.reset_counters();
    assert!(pollster::block_on(session.step()).unwrap().is_none(), "{name}: the second step is inside the epoch");
    let counters = backend.counters();
    assert_eq!(counters.read_backs, 0, "{name}: a training step reads nothing back");
    (counters.dispatches, counters.submits)
}

/// Every preset's count both ways on `backend`, against [`EXPECTED`]: all differences at once.
fn check_counts(backend: &Rc<dyn Backend>, submits: u64) {
    let mut differences = Vec::new();
    for (name, window, per_step) in EXPECTED {
        for (time_loop, expected) in [(TimeLoop::Window, window), (TimeLoop::PerStep, per_step)] {
            backend.set_time_loop(time_loop);
            let counted = step_counts(backend, name);
            if counted != (expected, submits) {
                differences.push(format!("{name}, {}: {counted:?} (recorded {expected})", time_loop.name()));
            }
        }
    }
    assert!(differences.is_empty(), "(dispatches, submits) per training step changed: {}", differences.join("; "));
}

#[test]
fn each_presets_training_step_has_the_recorded_number_of_dispatches() {
    check_counts(&(Rc::new(CpuBackend::new()) as Rc<dyn Backend>), 0);
}

#[test]
fn on_the_gpu_each_step_is_one_submit_with_the_same_dispatches() {
    let Some(gpu) = gpu_or_skip("on_the_gpu_each_step_is_one_submit_with_the_same_dispatches") else { return };
    check_counts(&(Rc::new(gpu) as Rc<dyn Backend>), 1);
}
