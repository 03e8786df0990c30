//! The concise layers against PyTorch: for fixed weights, inputs and initial state, the logits,
//! final states, loss and every weight gradient match what `torch.nn.RNN/GRU/LSTM` (with a
//! one-hot or embedding input and a Linear head) computed. The numbers were recorded by
//! `tests/fixtures/make_parity_fixtures.py` (in float64) and committed under
//! `tests/fixtures/parity/`; running this needs no PyTorch. Every way of running the layers is
//! checked: fused, with the time loop as one window kernel and per step, and composed from
//! primitive ops. The optimizers with weight
//! decay (SGD, Adam, AdamW) are checked the same way, step by step.

use rnnplay_engine::backend::{Backend, CpuBackend, TimeLoop};
use rnnplay_engine::nn::{LanguageModel, ModelConfig};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::{zero_grads, Tape, Tensor};
use serde_json::Value;
use std::rc::Rc;

const CASES: [&str; 8] = [
    "rnn",
    "gru",
    "lstm",
    "gru_2layers_embedding",
    "lstm_2layers",
    // Bidirectional layers (d2l 10.4); states in rnnplay's layout, each layer's two directions
    // side by side.
    "rnn_bidirectional",
    "gru_bidirectional_2layers_embedding",
    "lstm_bidirectional_2layers",
];

/// Relative tolerance: each value within 1e-5 of PyTorch's, relative to the largest magnitude
/// in its tensor (so that values near zero are not held to an impossible standard).
const RTOL: f64 = 1e-5;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/parity/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

fn assert_matches(case: &str, what: &str, ours: &[f32], theirs: &Value) {
    let theirs: Vec<f64> = theirs.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ours.len(), theirs.len(), "{case} {what}: length");
    let scale = theirs.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
    for (i, (&a, &b)) in ours.iter().zip(&theirs).enumerate() {
        let err = (f64::from(a) - b).abs() / scale;
        assert!(err <= RTOL, "{case} {what}[{i}]: rnnplay {a}, PyTorch {b} (relative error {err:.2e})");
    }
}

fn check_case(backend: &Rc<dyn Backend>, case: &str, fused: bool) {
    let f = fixture(case);
    let config: ModelConfig = serde_json::from_value(f["config"].clone()).unwrap();
    let model = LanguageModel::new(backend, &config, 0).unwrap();
    model.set_fused_layers(fused);
    let names: Vec<&str> = model.params().iter().map(|p| p.name()).collect();
    let torch_names: Vec<&str> = f["params"].as_object().unwrap().keys().map(String::as_str).collect();
    let (mut sorted_ours, mut sorted_theirs) = (names.clone(), torch_names.clone());
    sorted_ours.sort_unstable();
    sorted_theirs.sort_unstable();
    assert_eq!(sorted_ours, sorted_theirs, "{case}: parameter names");
    for param in model.params() {
        let p = &f["params"][param.name()];
        let shape: Vec<usize> = p["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(param.value().shape(), shape.as_slice(), "{case}: shape of {}", param.name());
        param.value().write_f32(&floats(&p["values"])).unwrap();
    }
    let (steps, batch) = (f["steps"].as_u64().unwrap() as usize, f["batch"].as_u64().unwrap() as usize);
    let ids = |v: &Value| -> Vec<u32> { v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect() };
    let inputs = Tensor::from_u32(backend, &[steps, batch], &ids(&f["inputs"])).unwrap();
    let labels = Tensor::from_u32(backend, &[steps * batch], &ids(&f["labels"])).unwrap();
    let state_shape = [config.num_layers, batch, config.output_width()];
    let state: Vec<Tensor> = f["initial_state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Tensor::from_f32(backend, &state_shape, &floats(s)).unwrap())
        .collect();

    zero_grads(model.params()).unwrap();
    let mut tape = Tape::new(backend, 0);
    tape.set_training(false);
    let (logits, final_state) = model.forward(&mut tape, &inputs, &state).unwrap();
    let loss = tape.softmax_cross_entropy(logits, &labels).unwrap();
    tape.backward(loss).unwrap();

    let read = |t: &Tensor| pollster::block_on(t.to_vec()).unwrap();
    assert_matches(case, "logits", &read(tape.value(logits)), &f["logits"]);
    assert_matches(case, "loss", &read(tape.value(loss)), &Value::Array(vec![f["loss"].clone()]));
    for (i, s) in final_state.iter().enumerate() {
        assert_matches(case, &format!("final state {i}"), &read(tape.value(*s)), &f["final_state"][i]);
    }
    for param in model.params() {
        assert_matches(case, &format!("gradient of {}", param.name()), &read(param.grad()), &f["grads"][param.name()]);
    }
}

/// Runs `check` fused with each time loop, then composed (fused false).
fn on_every_path(backend: &Rc<dyn Backend>, check: impl Fn(bool)) {
    let chosen = backend.time_loop();
    for time_loop in TimeLoop::ALL {
        backend.set_time_loop(time_loop);
        check(true);
    }
    backend.set_time_loop(chosen);
    check(false);
}

fn check_both_paths(backend: &Rc<dyn Backend>) {
    on_every_path(backend, |fused| {
        for case in CASES {
            check_case(backend, case, fused);
        }
    });
}

#[test]
fn concise_layers_match_pytorch_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    check_both_paths(&cpu);
}

#[test]
fn concise_layers_match_pytorch_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("concise_layers_match_pytorch_on_the_gpu") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    check_both_paths(&gpu);
}

/// SGD, Adam and AdamW with weight decay, three steps on given gradients, against PyTorch's
/// `torch.optim` (fixture `optimizers.json`).
fn check_optimizers(backend: &Rc<dyn Backend>) {
    use rnnplay_engine::{Adam, Optimizer, Param, Sgd};
    let fixture = fixture("optimizers");
    let start = floats(&fixture["start"]);
    let grads: Vec<Vec<f32>> = fixture["grads"].as_array().unwrap().iter().map(floats).collect();
    for (name, case) in fixture["optimizers"].as_object().unwrap() {
        let args = &case["args"];
        let (lr, weight_decay) = (args["lr"].as_f64().unwrap() as f32, args["weight_decay"].as_f64().unwrap() as f32);
        let mut optimizer = match name.as_str() {
            "sgd" => {
                let mut sgd = Sgd::new(lr, 1.0).unwrap();
                sgd.weight_decay = weight_decay;
                Optimizer::Sgd(sgd)
            }
            kind => {
                let mut adam = Adam::new(lr).unwrap();
                (adam.weight_decay, adam.decoupled) = (weight_decay, kind == "adamw");
                Optimizer::Adam(adam)
            }
        };
        let param = Param::from_tensor("p", Tensor::from_f32(backend, &[start.len()], &start).unwrap()).unwrap();
        for (step, (grad, after)) in grads.iter().zip(case["after"].as_array().unwrap()).enumerate() {
            param.grad().write_f32(grad).unwrap();
            optimizer.step(std::slice::from_ref(&param)).unwrap();
            let ours = pollster::block_on(param.value().to_vec()).unwrap();
            assert_matches(name, &format!("step {}", step + 1), &ours, after);
        }
    }
}

#[test]
fn optimizers_with_weight_decay_match_pytorch_on_the_cpu() {
    check_optimizers(&(Rc::new(CpuBackend::new()) as Rc<dyn Backend>));
}

#[test]
fn optimizers_with_weight_decay_match_pytorch_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("optimizers_with_weight_decay_match_pytorch_on_the_gpu") else { return };
    check_optimizers(&(Rc::new(gpu) as Rc<dyn Backend>));
}

/// d2l 11.4's encoder–decoder with additive or dot-product attention, and encoders with
/// bidirectional GRUs under an attention or a plain decoder, against PyTorch (fixtures by
/// `tests/fixtures/make_attention_fixtures.py`): for fixed weights, sources of different valid
/// lengths and a teacher-forced target, the logits, every decoder step's attention weights, the
/// loss and every parameter's gradient, by d2l's parameter names.
fn check_attention(backend: &Rc<dyn Backend>, case: &str, fused: bool) {
    use rnnplay_engine::nn::{Seq2Seq, Seq2SeqConfig};
    let f = fixture(case);
    let config: Seq2SeqConfig = serde_json::from_value(f["config"].clone()).unwrap();
    let model = Seq2Seq::new(backend, &config, 0).unwrap();
    model.set_fused_layers(fused);
    let mut ours: Vec<&str> = model.params().iter().map(|p| p.name()).collect();
    let mut theirs: Vec<&str> = f["params"].as_object().unwrap().keys().map(String::as_str).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{case}: parameter names");
    for param in model.params() {
        let p = &f["params"][param.name()];
        let shape: Vec<usize> = p["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(param.value().shape(), shape.as_slice(), "{case}: shape of {}", param.name());
        param.value().write_f32(&floats(&p["values"])).unwrap();
    }
    let count = |key: &str| f[key].as_u64().unwrap() as usize;
    let (batch, src_steps, tgt_steps) = (count("batch"), count("src_steps"), count("tgt_steps"));
    let ids = |v: &Value| -> Vec<u32> { v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect() };
    let src = Tensor::from_u32(backend, &[src_steps, batch], &ids(&f["src"])).unwrap();
    let valid = Tensor::from_u32(backend, &[batch], &ids(&f["valid_lens"])).unwrap();
    let tgt_in = Tensor::from_u32(backend, &[tgt_steps, batch], &ids(&f["tgt_in"])).unwrap();
    let labels = Tensor::from_u32(backend, &[tgt_steps * batch], &ids(&f["labels"])).unwrap();

    zero_grads(model.params()).unwrap();
    let mut tape = Tape::new(backend, 0);
    tape.set_training(false);
    let (state, memory) = model.encode(&mut tape, &src, &valid).unwrap();
    let decoded = model.decode(&mut tape, &tgt_in, state, &memory).unwrap();
    let loss = tape.softmax_cross_entropy(decoded.logits, &labels).unwrap();
    tape.backward(loss).unwrap();

    let read = |t: &Tensor| pollster::block_on(t.to_vec()).unwrap();
    assert_matches(case, "logits", &read(tape.value(decoded.logits)), &f["logits"]);
    let weights: Vec<f32> = decoded.attention.iter().flat_map(read).collect();
    assert_matches(case, "attention weights", &weights, &f["attention_weights"]);
    assert_matches(case, "loss", &read(tape.value(loss)), &Value::Array(vec![f["loss"].clone()]));
    for param in model.params() {
        assert_matches(case, &format!("gradient of {}", param.name()), &read(param.grad()), &f["grads"][param.name()]);
    }
}

fn check_attention_cases(backend: &Rc<dyn Backend>) {
    on_every_path(backend, |fused| {
        for case in ["attention_additive", "attention_dot", "bidirectional_additive", "bidirectional_plain"] {
            check_attention(backend, case, fused);
        }
    });
}

#[test]
fn attention_decoders_match_pytorch_on_the_cpu() {
    check_attention_cases(&(Rc::new(CpuBackend::new()) as Rc<dyn Backend>));
}

#[test]
fn attention_decoders_match_pytorch_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("attention_decoders_match_pytorch_on_the_gpu") else { return };
    check_attention_cases(&(Rc::new(gpu) as Rc<dyn Backend>));
}
