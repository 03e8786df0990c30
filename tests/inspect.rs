//! Inspection against PyTorch: for fixed weights and a passage, every layer's h (and c) at
//! every step, the gates by name, the next-token probabilities and the connectivity gradients
//! (‖∂ loss_t / ∂ x_s‖, ‖∂ loss_t / ∂ h_s‖) match what `tests/fixtures/make_inspect_fixtures.py`
//! recorded with `torch.nn.RNN/GRU/LSTM` (and d2l's scratch equations) in float64 — on the CPU
//! backend, fused and composed, and on the GPU. The input saliency is also checked against
//! central finite differences of the loss, and the gradient's reach against the connectivity.

use rnnplay_data::Batch;
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::inspect::{at_temperature, connectivity, gradient_reach, inspect, Connectivity};
use rnnplay_engine::nn::{LanguageModel, ModelConfig};
use rnnplay_engine::testing::gpu_or_skip;
use serde_json::Value;
use std::rc::Rc;

const CASES: [&str; 8] =
    ["rnn", "gru", "lstm", "gru_2layers_embedding", "lstm_2layers", "scratch_rnn", "scratch_gru", "scratch_lstm"];

/// Each value within 1e-5 of PyTorch's, relative to the largest magnitude of its array.
const RTOL: f64 = 1e-5;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/inspect/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn floats(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn assert_matches(what: &str, ours: &[f32], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    let scale = theirs.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        let err = (f64::from(a) - b).abs() / scale;
        assert!(err <= RTOL, "{what}[{i}]: rnnplay {a}, PyTorch {b} (relative error {err:.2e})");
    }
}

/// The fixture's model with its weights, and its passage.
fn model(backend: &Rc<dyn Backend>, f: &Value, fused: bool) -> (LanguageModel, Vec<u32>) {
    let config: ModelConfig = serde_json::from_value(f["config"].clone()).unwrap();
    let model = LanguageModel::new(backend, &config, 0).unwrap();
    model.set_fused_layers(fused);
    for param in model.params() {
        let values: Vec<f32> = floats(&f["params"][param.name()]["values"]).iter().map(|&v| v as f32).collect();
        assert!(!values.is_empty(), "fixture has no parameter {}", param.name());
        param.value().write_f32(&values).unwrap();
    }
    let tokens = f["tokens"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    (model, tokens)
}

fn check_case(backend: &Rc<dyn Backend>, case: &str, fused: bool) {
    let f = fixture(case);
    let (model, tokens) = model(backend, &f, fused);
    let what = format!("{case} ({})", if fused { "fused" } else { "composed" });
    let seen = pollster::block_on(inspect(&model, &tokens, 3)).unwrap();
    let expected = f["signals"].as_array().unwrap();
    assert_eq!(
        seen.signals.len(),
        expected.len(),
        "{what}: signals {:?}",
        seen.signals.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for theirs in expected {
        let (layer, name) = (theirs["layer"].as_u64().unwrap() as usize, theirs["name"].as_str().unwrap());
        let ours = seen.signal(layer, name).unwrap_or_else(|| panic!("{what}: no signal {name} in layer {layer}"));
        assert_matches(&format!("{what} layer {layer} {name}"), &ours.values, &floats(&theirs["values"]));
    }
    // Next-token probabilities: softmax of PyTorch's logits.
    let vocab = model.vocab_size();
    let logits = floats(&f["logits"]);
    for (t, next) in seen.next.iter().enumerate() {
        assert_eq!(next.len(), vocab, "{what}: a small vocabulary keeps every candidate");
        let row = &logits[t * vocab..(t + 1) * vocab];
        let max = row.iter().copied().fold(f64::MIN, f64::max);
        let total: f64 = row.iter().map(|l| (l - max).exp()).sum();
        let ours: Vec<f32> = (0..vocab).map(|v| next.iter().find(|c| c.token as usize == v).unwrap().p).collect();
        let theirs: Vec<f64> = row.iter().map(|l| (l - max).exp() / total).collect();
        assert_matches(&format!("{what} p at position {t}"), &ours, &theirs);
        assert!(next.windows(2).all(|w| w[0].p >= w[1].p), "{what}: candidates most likely first");
        let reshaped = at_temperature(&next.iter().map(|c| c.logit).collect::<Vec<_>>(), 1.0);
        let by_token: Vec<f32> =
            (0..vocab).map(|v| reshaped[next.iter().position(|c| c.token as usize == v).unwrap()]).collect();
        assert_matches(&format!("{what} p at T = 1"), &by_token, &theirs);
    }
    let position = f["position"].as_u64().unwrap() as usize;
    let link = pollster::block_on(connectivity(&model, &tokens, position)).unwrap();
    assert_eq!(link.target, f["target"].as_u64().unwrap() as u32, "{what}: target");
    assert_eq!(link.target_is_truth, position + 1 < tokens.len());
    assert_matches(&format!("{what} saliency_x"), &link.saliency_x, &floats(&f["saliency_x"]));
    let layers = f["saliency_h"].as_array().unwrap();
    assert_eq!(link.saliency_h.len(), layers.len(), "{what}: saliency_h layers");
    for (layer, theirs) in layers.iter().enumerate() {
        assert_matches(&format!("{what} saliency_h layer {layer}"), &link.saliency_h[layer], &floats(theirs));
    }
}

fn check_all(backend: &Rc<dyn Backend>) {
    for case in CASES {
        check_case(backend, case, true);
        check_case(backend, case, false);
    }
}

#[test]
fn inspection_matches_pytorch_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    check_all(&cpu);
}

#[test]
fn inspection_matches_pytorch_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("inspection_matches_pytorch_on_the_gpu") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    check_all(&gpu);
}

/// ‖∂ loss / ∂ row `row` of `table`‖ by central differences (ε = 0.01), `table` restored after.
fn row_gradient_norm(table: &rnnplay_engine::Tensor, row: u32, loss: &dyn Fn() -> f64) -> f64 {
    let width = table.shape()[1];
    let original = pollster::block_on(table.to_vec()).unwrap();
    let eps = 1e-2f32;
    let mut squares = 0.0;
    for e in 0..width {
        let at = row as usize * width + e;
        let mut nudged = original.clone();
        nudged[at] = original[at] + eps;
        table.write_f32(&nudged).unwrap();
        let up = loss();
        nudged[at] = original[at] - eps;
        table.write_f32(&nudged).unwrap();
        let down = loss();
        squares += ((up - down) / (2.0 * f64::from(eps))).powi(2);
    }
    table.write_f32(&original).unwrap();
    squares.sqrt()
}

/// −log p(target) at `position`, from an inspection pass.
fn loss_at(model: &LanguageModel, tokens: &[u32], position: usize, target: u32) -> f64 {
    let seen = pollster::block_on(inspect(model, &tokens[..=position], 1)).unwrap();
    let p = seen.next[position].iter().find(|c| c.token == target).unwrap().p;
    -f64::from(p).ln()
}

#[test]
fn input_saliency_equals_central_finite_differences() {
    // The embedding model's passage has distinct tokens, so nudging the embedding row of the
    // token at s nudges x_s alone: ∂ loss_t / ∂ x_s by central differences.
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let f = fixture("gru_2layers_embedding");
    let (model, tokens) = model(&cpu, &f, true);
    let position = f["position"].as_u64().unwrap() as usize;
    let Connectivity { saliency_x, target, .. } = pollster::block_on(connectivity(&model, &tokens, position)).unwrap();
    let table = model.params()[0].value().clone();
    let numeric: Vec<f64> = tokens[..=position]
        .iter()
        .map(|&t| row_gradient_norm(&table, t, &|| loss_at(&model, &tokens, position, target)))
        .collect();
    let peak = numeric.iter().copied().fold(0.0, f64::max);
    for (s, (&ours, &fd)) in saliency_x.iter().zip(&numeric).enumerate() {
        assert!((f64::from(ours) - fd).abs() <= 2e-3 * peak, "step {s}: autograd {ours}, finite differences {fd}");
    }
}

/// The gradient's reach with a batch of one window is the connectivity PyTorch recorded for
/// the fixture's position, read backwards: ‖∂ℓ_T/∂h_{T−k}‖ = saliency_h[top][T − k] — and with
/// a batch of several windows, the mean of each window's connectivity.
fn check_reach(backend: &Rc<dyn Backend>, case: &str, fused: bool) {
    let f = fixture(case);
    let (model, tokens) = model(backend, &f, fused);
    let what = format!("{case} ({})", if fused { "fused" } else { "composed" });
    let position = f["position"].as_u64().unwrap() as usize;
    let target = f["target"].as_u64().unwrap() as u32;
    let steps = position + 1;
    let mut labels = tokens[1..steps].to_vec();
    labels.push(target);
    let one = Batch { inputs: tokens[..steps].to_vec(), labels: labels.clone(), batch_size: 1, num_steps: steps };
    let reach = pollster::block_on(gradient_reach(&model, &one)).unwrap();
    let top = f["saliency_h"].as_array().unwrap().last().unwrap();
    let theirs: Vec<f64> = floats(top).into_iter().rev().collect();
    assert_matches(&format!("{what} reach of one window"), &reach, &theirs);

    // Three windows: the fixture's, then its passage shifted by one and by two tokens (labels
    // that are not the text's next token are fine for a gradient).
    let rows: Vec<(Vec<u32>, Vec<u32>)> = (0..3)
        .map(|shift| {
            let inputs: Vec<u32> = (0..steps).map(|t| tokens[(t + shift) % tokens.len()]).collect();
            let mut labels = labels.clone();
            labels.rotate_left(shift);
            (inputs, labels)
        })
        .collect();
    let batch = Batch {
        inputs: rows.iter().flat_map(|(x, _)| x.clone()).collect(),
        labels: rows.iter().flat_map(|(_, y)| y.clone()).collect(),
        batch_size: 3,
        num_steps: steps,
    };
    let reach = pollster::block_on(gradient_reach(&model, &batch)).unwrap();
    let mut mean = vec![0.0f64; steps];
    for (inputs, labels) in &rows {
        let mut passage = inputs.clone();
        passage.push(*labels.last().unwrap());
        let link = pollster::block_on(connectivity(&model, &passage, steps - 1)).unwrap();
        for (k, v) in link.saliency_h.last().unwrap().iter().rev().enumerate() {
            mean[k] += f64::from(*v) / 3.0;
        }
    }
    assert_matches(&format!("{what} reach of three windows"), &reach, &mean);
}

#[test]
fn the_gradient_reach_matches_pytorch_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for case in CASES {
        check_reach(&cpu, case, true);
        check_reach(&cpu, case, false);
    }
}

#[test]
fn the_gradient_reach_matches_pytorch_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("the_gradient_reach_matches_pytorch_on_the_gpu") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    for case in CASES {
        check_reach(&gpu, case, true);
    }
}

/// A short run reports the reach after every epoch: one positive value per step of the window.
#[test]
fn every_epoch_reports_the_gradient_reach() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let mut spec = rnnplay_run::RunSpec::preset("d2l-gru").unwrap();
    (spec.hidden, spec.batch_size, spec.num_steps, spec.epochs) = (16, 4, 10, 2);
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(8);
    let mut session = spec.build(&cpu, rnnplay_run::RunData::Text(&text), &Default::default()).unwrap();
    let mut epochs = 0;
    while !session.finished() {
        if let Some(report) = pollster::block_on(session.step()).unwrap() {
            assert_eq!(report.reach.len(), 10, "one value per step of the window");
            assert!(report.reach.iter().all(|v| v.is_finite() && *v > 0.0), "{:?}", report.reach);
            epochs += 1;
        }
    }
    assert_eq!(epochs, 2);
}

mod translation {
    use super::*;
    use rnnplay_engine::inspect::translation::{inspect_translation, translation_connectivity};
    use rnnplay_engine::nn::{Seq2Seq, Seq2SeqConfig};

    const SOURCE: [u32; 5] = [3, 7, 1, 8, 4];
    const TARGET_IN: [u32; 4] = [1, 5, 2, 6];

    fn model(backend: &Rc<dyn Backend>, fused: bool) -> Seq2Seq {
        model_with(backend, fused, false)
    }

    fn model_with(backend: &Rc<dyn Backend>, fused: bool, bidirectional: bool) -> Seq2Seq {
        let config = Seq2SeqConfig {
            src_vocab_size: 9,
            tgt_vocab_size: 8,
            embed_size: 4,
            hidden_size: 6,
            num_layers: 2,
            dropout: 0.0,
            attention: None,
            bidirectional,
        };
        let model = Seq2Seq::new(backend, &config, 11).unwrap();
        model.set_fused_layers(fused);
        model
    }

    fn flat(inspection: &rnnplay_engine::inspect::translation::TranslationInspection) -> Vec<f32> {
        let signals = inspection.encoder.iter().chain(&inspection.decoder);
        let next = inspection.next.iter().flatten().map(|c| c.p);
        signals.flat_map(|s| s.values.iter().copied()).chain(next).collect()
    }

    #[test]
    fn an_encoder_decoder_shows_both_stacks_the_same_on_every_path() {
        let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
        let seen =
            pollster::block_on(inspect_translation(&model(&cpu, true), &SOURCE, SOURCE.len(), &TARGET_IN, 3)).unwrap();
        let names = |signals: &[rnnplay_engine::inspect::Signal]| -> Vec<String> {
            signals.iter().map(|s| format!("{}{}", s.name, s.layer)).collect()
        };
        assert_eq!(names(&seen.encoder), ["h0", "r0", "z0", "n0", "h1", "r1", "z1", "n1"]);
        assert_eq!(names(&seen.decoder), names(&seen.encoder));
        assert!(seen.encoder.iter().all(|s| s.values.len() == SOURCE.len() * 6));
        assert!(seen.decoder.iter().all(|s| s.values.len() == TARGET_IN.len() * 6));
        assert_eq!(seen.next.len(), TARGET_IN.len());
        let total: f32 = seen.next[0].iter().map(|c| c.p).sum();
        assert!((total - 1.0).abs() < 1e-5, "all 8 target tokens are candidates: {total}");
        let composed =
            pollster::block_on(inspect_translation(&model(&cpu, false), &SOURCE, SOURCE.len(), &TARGET_IN, 3)).unwrap();
        let (a, b) = (flat(&seen), flat(&composed));
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-5), "fused against composed");
        if let Some(gpu) = gpu_or_skip("an_encoder_decoder_shows_both_stacks_the_same_on_every_path") {
            let gpu: Rc<dyn Backend> = Rc::new(gpu);
            let on_gpu =
                pollster::block_on(inspect_translation(&model(&gpu, true), &SOURCE, SOURCE.len(), &TARGET_IN, 3))
                    .unwrap();
            let c = flat(&on_gpu);
            assert!(a.iter().zip(&c).all(|(x, y)| (x - y).abs() <= 1e-5), "GPU against CPU");
            let here = pollster::block_on(translation_connectivity(
                &model(&cpu, true),
                &SOURCE,
                SOURCE.len(),
                &TARGET_IN,
                2,
                6,
            ))
            .unwrap();
            let there = pollster::block_on(translation_connectivity(
                &model(&gpu, true),
                &SOURCE,
                SOURCE.len(),
                &TARGET_IN,
                2,
                6,
            ))
            .unwrap();
            assert!(
                here.iter().zip(&there).all(|(x, y)| (x - y).abs() <= 1e-5 * x.abs().max(1.0)),
                "{here:?} {there:?}"
            );
        }
    }

    /// A bidirectional encoder shows each layer's joined output (12 = 2 × 6 wide, no gates);
    /// the decoder, 12 wide, shows h and its gates; fused and composed agree, and the source's
    /// saliency matches finite differences through both directions.
    #[test]
    fn a_bidirectional_encoder_shows_its_joined_output() {
        let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
        let seen = |fused: bool| {
            let model = model_with(&cpu, fused, true);
            pollster::block_on(inspect_translation(&model, &SOURCE, SOURCE.len(), &TARGET_IN, 3)).unwrap()
        };
        let (fused, composed) = (seen(true), seen(false));
        let names: Vec<String> = fused.encoder.iter().map(|s| format!("{}{}", s.name, s.layer)).collect();
        assert_eq!(names, ["h0", "h1"]);
        assert_eq!(fused.hidden, 12);
        assert!(fused.encoder.iter().all(|s| s.values.len() == SOURCE.len() * 12));
        assert!(fused.decoder.iter().all(|s| s.values.len() == TARGET_IN.len() * 12));
        let (a, b) = (flat(&fused), flat(&composed));
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-5), "fused against composed");
        saliency_matches_finite_differences(&model_with(&cpu, true, true));
    }

    #[test]
    fn source_saliency_equals_central_finite_differences() {
        let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
        saliency_matches_finite_differences(&model(&cpu, true));
    }

    fn saliency_matches_finite_differences(model: &Seq2Seq) {
        let (position, label) = (2, 6);
        let saliency =
            pollster::block_on(translation_connectivity(model, &SOURCE, SOURCE.len(), &TARGET_IN, position, label))
                .unwrap();
        assert_eq!(saliency.len(), SOURCE.len());
        let table = model.params()[0].value().clone();
        let loss = || {
            let seen = pollster::block_on(inspect_translation(model, &SOURCE, SOURCE.len(), &TARGET_IN, 1)).unwrap();
            -f64::from(seen.next[position].iter().find(|c| c.token == label).unwrap().p).ln()
        };
        for (s, &token) in SOURCE.iter().enumerate() {
            let fd = row_gradient_norm(&table, token, &loss);
            let peak = saliency.iter().copied().fold(0.0f32, f32::max);
            assert!(
                (f64::from(saliency[s]) - fd).abs() <= 2e-3 * f64::from(peak),
                "source {s}: autograd {}, finite differences {fd}",
                saliency[s]
            );
        }
    }
}
