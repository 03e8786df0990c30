//! The fused recurrent layers (one tape node per layer per window, ops/recurrent.rs), their time
//! loop run per step and as one window kernel, against the same layers composed from primitive
//! ops: for fixed weights, inputs and initial states, the logits, final states, loss and every
//! gradient agree to 1e-5 relative, on the CPU and on the GPU. A fused layer costs at most two
//! dispatches per time step each way per step, and none per time step as a window.

use rnnplay_engine::backend::{Backend, CpuBackend, TimeLoop};
use rnnplay_engine::nn::{CellKind, LanguageModel, ModelConfig, Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::testing::{gpu_or_skip, random_values};
use rnnplay_engine::{zero_grads, Param, Tape, Tensor, Var};
use std::rc::Rc;

/// Each value within 1e-5 of the unfused one, relative to the largest magnitude in its tensor.
const RTOL: f32 = 1e-5;

fn read(t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.to_vec()).unwrap()
}

fn assert_same(what: &str, fused: &[f32], unfused: &[f32]) {
    assert_eq!(fused.len(), unfused.len(), "{what}: length");
    let scale = unfused.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
    for (i, (a, b)) in fused.iter().zip(unfused).enumerate() {
        let err = (a - b).abs() / scale;
        assert!(err <= RTOL, "{what}[{i}]: fused {a}, unfused {b} (relative error {err:.2e})");
    }
}

/// Everything one forward and backward pass produced, read back.
#[derive(Debug)]
struct Pass {
    logits: Vec<f32>,
    loss: Vec<f32>,
    states: Vec<Vec<f32>>,
    grads: Vec<(String, Vec<f32>)>,
}

impl Pass {
    fn assert_same(&self, other: &Pass, what: &str) {
        assert_same(&format!("{what} logits"), &self.logits, &other.logits);
        assert_same(&format!("{what} loss"), &self.loss, &other.loss);
        for (i, (a, b)) in self.states.iter().zip(&other.states).enumerate() {
            assert_same(&format!("{what} final state {i}"), a, b);
        }
        for ((name, a), (_, b)) in self.grads.iter().zip(&other.grads) {
            assert_same(&format!("{what} gradient of {name}"), a, b);
        }
    }
}

/// One forward and backward pass of `forward` (logits and final states; the caller has set the
/// model's layers fused or not), the cross-entropy against `labels` as the loss, everything
/// read back.
fn run_pass(
    backend: &Rc<dyn Backend>,
    params: &[Param],
    labels: &Tensor,
    tape_seed: u32,
    forward: impl FnOnce(&mut Tape) -> (Var, Vec<Var>),
) -> Pass {
    zero_grads(params).unwrap();
    let mut tape = Tape::new(backend, tape_seed);
    let (logits, final_state) = forward(&mut tape);
    let loss = tape.softmax_cross_entropy(logits, labels).unwrap();
    tape.backward(loss).unwrap();
    Pass {
        logits: read(tape.value(logits)),
        loss: read(tape.value(loss)),
        states: final_state.iter().map(|s| read(tape.value(*s))).collect(),
        grads: params.iter().map(|p| (p.name().to_string(), read(p.grad()))).collect(),
    }
}

struct LmCase {
    cell: CellKind,
    /// d2l's from-scratch model (its GRU fused with the reset gate before the matmul).
    scratch: bool,
    layers: usize,
    /// Over 64 units, a window kernel's thread runs more than one.
    hidden: usize,
    embedding: Option<usize>,
    dropout: f32,
}

/// How a pass runs its recurrent layers: composed from primitive ops, or fused with a time loop.
type Path = Option<TimeLoop>;

fn language_model_pass(backend: &Rc<dyn Backend>, case: &LmCase, path: Path) -> Pass {
    let (vocab, hidden, steps, batch) = (7, case.hidden, 5, 3);
    let mut config = ModelConfig::new(case.cell, case.scratch, vocab, hidden);
    config.num_layers = case.layers;
    config.embedding_dim = case.embedding;
    config.dropout = case.dropout;
    let model = LanguageModel::new(backend, &config, 3).unwrap();
    let ids: Vec<u32> = (0..steps * batch).map(|i| (i * 5 % vocab) as u32).collect();
    let labels: Vec<u32> = (0..steps * batch).map(|i| (i * 3 % vocab) as u32).collect();
    let inputs = Tensor::from_u32(backend, &[steps, batch], &ids).unwrap();
    let labels = Tensor::from_u32(backend, &[steps * batch], &labels).unwrap();
    // Scratch models' states are (batch, hidden), d2l's; concise ones (layers, batch, hidden).
    let shape = if case.scratch { vec![batch, hidden] } else { vec![case.layers, batch, hidden] };
    let state: Vec<Tensor> = (0..case.cell.state_count())
        .map(|s| Tensor::from_f32(backend, &shape, &random_values(shape.iter().product(), 0.8, 10 + s as u64)).unwrap())
        .collect();
    // Training mode: the dropout masks come from the tape's seed, the same on every path.
    model.set_fused_layers(path.is_some());
    backend.set_time_loop(path.unwrap_or(TimeLoop::Window));
    run_pass(backend, model.params(), &labels, 5, |tape| model.forward(tape, &inputs, &state).unwrap())
}

fn lm_cases() -> Vec<LmCase> {
    let mut cases = Vec::new();
    for cell in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        cases.push(LmCase { cell, scratch: false, layers: 1, hidden: 8, embedding: None, dropout: 0.0 });
        cases.push(LmCase { cell, scratch: false, layers: 2, hidden: 8, embedding: Some(4), dropout: 0.3 });
        cases.push(LmCase { cell, scratch: false, layers: 1, hidden: 70, embedding: Some(4), dropout: 0.0 });
        cases.push(LmCase { cell, scratch: true, layers: 1, hidden: 8, embedding: None, dropout: 0.0 });
        cases.push(LmCase { cell, scratch: true, layers: 1, hidden: 70, embedding: None, dropout: 0.0 });
    }
    cases
}

/// The encoder–decoder: the decoder starts from the encoder's final state, so gradients flow
/// through a fused layer's initial state too.
fn seq2seq_pass(backend: &Rc<dyn Backend>, path: Path) -> Pass {
    let config = Seq2SeqConfig {
        src_vocab_size: 6,
        tgt_vocab_size: 5,
        embed_size: 3,
        hidden_size: 4,
        num_layers: 2,
        dropout: 0.0,
        attention: None,
        bidirectional: false,
    };
    let model = Seq2Seq::new(backend, &config, 7).unwrap();
    let (steps, batch) = (4, 2);
    let src = Tensor::from_u32(backend, &[steps, batch], &[1, 2, 3, 4, 5, 1, 2, 3]).unwrap();
    let tgt = Tensor::from_u32(backend, &[steps, batch], &[0, 1, 2, 3, 4, 0, 1, 2]).unwrap();
    let labels = Tensor::from_u32(backend, &[steps * batch], &[1, 2, 3, 4, 0, 1, 2, 3]).unwrap();
    let valid = Tensor::from_u32(backend, &[batch], &[4, 4]).unwrap();
    model.set_fused_layers(path.is_some());
    backend.set_time_loop(path.unwrap_or(TimeLoop::Window));
    run_pass(backend, model.params(), &labels, 0, |tape| (model.forward(tape, &src, &valid, &tgt).unwrap(), vec![]))
}

fn check_backend(backend: &Rc<dyn Backend>, name: &str) {
    for case in lm_cases() {
        let unfused = language_model_pass(backend, &case, None);
        for time_loop in TimeLoop::ALL {
            let what =
                format!("{name} {:?} ×{} layers of {}, {}", case.cell, case.layers, case.hidden, time_loop.name());
            let fused = language_model_pass(backend, &case, Some(time_loop));
            assert!(fused.grads.iter().all(|(_, g)| g.iter().any(|v| *v != 0.0)), "{what}: a gradient is all zero");
            fused.assert_same(&unfused, &what);
        }
    }
    let unfused = seq2seq_pass(backend, None);
    for time_loop in TimeLoop::ALL {
        seq2seq_pass(backend, Some(time_loop)).assert_same(&unfused, &format!("{name} seq2seq, {}", time_loop.name()));
    }
    backend.set_time_loop(TimeLoop::Window);
}

#[test]
fn fused_layers_match_the_unfused_ops_on_the_cpu() {
    check_backend(&(Rc::new(CpuBackend::new()) as Rc<dyn Backend>), "cpu");
}

#[test]
fn fused_layers_match_the_unfused_ops_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("fused_layers_match_the_unfused_ops_on_the_gpu") else { return };
    check_backend(&(Rc::new(gpu) as Rc<dyn Backend>), "gpu");
}

/// Dispatches of a one-layer model's forward and backward over `steps` time steps.
fn dispatches(cell: CellKind, steps: usize, time_loop: TimeLoop) -> (u64, u64) {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    backend.set_time_loop(time_loop);
    let config = ModelConfig::new(cell, false, 7, 8);
    let model = LanguageModel::new(&backend, &config, 0).unwrap();
    let batch = 2;
    let inputs = Tensor::from_u32(&backend, &[steps, batch], &vec![1; steps * batch]).unwrap();
    let labels = Tensor::from_u32(&backend, &[steps * batch], &vec![2; steps * batch]).unwrap();
    let state = model.begin_state(&backend, batch).unwrap();
    let mut tape = Tape::new(&backend, 0);
    backend.reset_counters();
    let (logits, _) = model.forward(&mut tape, &inputs, &state).unwrap();
    let loss = tape.softmax_cross_entropy(logits, &labels).unwrap();
    let forward = backend.counters().dispatches;
    tape.backward(loss).unwrap();
    (forward, backend.counters().dispatches - forward)
}

#[test]
fn a_fused_layer_costs_two_dispatches_per_time_step_each_way_per_step_and_none_as_a_window() {
    for cell in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        for (time_loop, per_step) in [(TimeLoop::PerStep, 2), (TimeLoop::Window, 0)] {
            let (forward_5, backward_5) = dispatches(cell, 5, time_loop);
            let (forward_6, backward_6) = dispatches(cell, 6, time_loop);
            let what = format!("{cell:?}, {}", time_loop.name());
            assert_eq!(forward_6 - forward_5, per_step, "{what}: forward dispatches of one more step");
            assert_eq!(backward_6 - backward_5, per_step, "{what}: backward dispatches of one more step");
        }
    }
}
