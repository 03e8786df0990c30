//! Resuming a saved run (crates/run/src/resume.rs): a run saved at the end of a shorter
//! run and resumed to N epochs ends exactly as an uninterrupted N-epoch run — the same
//! perplexities, validation perplexities and weights, bit for bit, on the same backend with plan
//! replay on — for SGD and Adam, sequential and random sampling, dropout, language models and
//! encoder–decoders. What cannot be resumed is refused with a message.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::testing::{error_text, gpu_or_skip};
use rnnplay_engine::{Checkpoint, EngineOptions};
use rnnplay_run::{EpochReport, RunData, RunSpec, SavedRun, Session};
use std::rc::Rc;

fn text() -> String {
    "the quick brown fox jumps over the lazy dog, then naps in the sun.\n".repeat(16)
}

fn cpu() -> Rc<dyn Backend> {
    Rc::new(CpuBackend::new())
}

/// Every epoch's report, without the held-out measures (accuracy, BLEU, score) a toy task
/// scores after a run's last epoch only (a run cut short scores an epoch the whole run does not): what training did.
fn reports(session: &mut Session) -> Vec<EpochReport> {
    let mut reports = Vec::new();
    while !session.finished() {
        reports.extend(pollster::block_on(session.step()).unwrap());
    }
    reports
        .into_iter()
        .map(|r| EpochReport {
            accuracy: None,
            accuracy_by_position: Vec::new(),
            exact_by_length: Vec::new(),
            bleu: None,
            score: None,
            ..r
        })
        .collect()
}

fn weights(session: &Session) -> Vec<Vec<f32>> {
    session.params().iter().map(|p| pollster::block_on(p.value().to_vec()).unwrap()).collect()
}

/// Trains `spec` for `total` epochs uninterrupted, and for `saved_at` epochs, saved and resumed
/// to `total`; asserts both end alike, bit for bit.
fn resumed_equals_uninterrupted(
    backend: &Rc<dyn Backend>,
    spec: &RunSpec,
    data: RunData,
    saved_at: usize,
    total: usize,
) {
    let options = EngineOptions { plan_replay: true, ..EngineOptions::default() };
    let mut whole = spec.clone();
    whole.epochs = total;
    let mut uninterrupted = whole.build(backend, data, &options).unwrap();
    let expected = reports(&mut uninterrupted);

    let mut short = spec.clone();
    short.epochs = saved_at;
    let mut first = short.build(backend, data, &options).unwrap();
    let before = reports(&mut first);
    assert_eq!(before, expected[..saved_at], "the shorter run's epochs are the uninterrupted run's first");
    let bytes = pollster::block_on(first.checkpoint_bytes(before.last())).unwrap();
    drop(first);

    let saved = SavedRun::from_bytes(&bytes).unwrap();
    assert_eq!((saved.epochs_done(), saved.spec().epochs), (saved_at, saved_at));
    let mut resumed = saved.build(backend, data, &options, total).unwrap();
    assert_eq!(resumed.epochs_done(), saved_at);
    let after = reports(&mut resumed);
    assert_eq!(after, expected[saved_at..], "{}: the resumed epochs are the uninterrupted run's", spec.describe());
    assert_eq!(weights(&resumed), weights(&uninterrupted), "the final weights are the same");
    assert_eq!(resumed.tokens_trained(), uninterrupted.tokens_trained());
}

/// A small two-layer GRU with dropout, holding a tenth of the text out.
fn language_spec(optimizer: &str, sampling: &str) -> RunSpec {
    let mut spec = RunSpec::preset("d2l-deep-gru").unwrap();
    (spec.data, spec.hidden, spec.layers, spec.dropout, spec.batch_size, spec.num_steps) =
        ("pattern".into(), 24, 2, 0.2, 4, 8);
    (spec.valid_fraction, spec.sampling, spec.seed) = (0.1, sampling.into(), 3);
    spec.optimizer = optimizer.into();
    spec.lr = if optimizer == "adam" { 0.01 } else { 1.0 };
    spec.lr_schedule = "step:2:0.5".into();
    spec
}

#[test]
fn a_resumed_language_model_run_equals_an_uninterrupted_one_with_sgd_and_adam() {
    let text = text();
    let backends: Vec<Rc<dyn Backend>> = std::iter::once(cpu())
        .chain(gpu_or_skip("resume on the GPU").map(|gpu| Rc::new(gpu) as Rc<dyn Backend>))
        .collect();
    for backend in &backends {
        resumed_equals_uninterrupted(backend, &language_spec("sgd", "sequential"), RunData::Text(&text), 2, 4);
        resumed_equals_uninterrupted(backend, &language_spec("adam", "random"), RunData::Text(&text), 3, 5);
    }
}

#[test]
fn a_resumed_encoder_decoder_run_equals_an_uninterrupted_one() {
    let mut spec = RunSpec::preset("toy-reverse").unwrap();
    (spec.num_examples, spec.hidden, spec.embedding, spec.layers, spec.dropout) = (200, 16, 8, 2, 0.1);
    (spec.optimizer, spec.lr, spec.seed) = ("adam".into(), 0.01, 5);
    resumed_equals_uninterrupted(&cpu(), &spec, RunData::Generated, 2, 4);
}

fn saved_after(spec: &RunSpec, text: &str, steps: usize) -> Vec<u8> {
    let mut session = spec.build(&cpu(), RunData::Text(text), &EngineOptions::default()).unwrap();
    for _ in 0..steps {
        pollster::block_on(session.step()).unwrap();
    }
    pollster::block_on(session.checkpoint_bytes(None)).unwrap()
}

#[test]
fn what_cannot_be_resumed_is_refused_with_a_message() {
    let text = text();
    let mut spec = language_spec("adam", "sequential");
    spec.epochs = 2;

    // Saved mid-epoch: weights only.
    let mid_epoch = saved_after(&spec, &text, 1);
    assert!(Checkpoint::from_bytes(&mid_epoch).is_ok(), "it is still a usable checkpoint");
    let message = error_text(SavedRun::from_bytes(&mid_epoch));
    assert!(message.contains("cannot be resumed") && message.contains("weights only"), "{message}");

    // Saved after a divergence (the last good weights, but not the optimizer's state): weights only.
    let mut diverging = spec.clone();
    (diverging.lr, diverging.clip, diverging.epochs) = (1e30, 1e30, 5);
    let mut session = diverging.build(&cpu(), RunData::Text(&text), &EngineOptions::default()).unwrap();
    while pollster::block_on(session.step()).is_ok() {
        assert!(!session.finished(), "a run at lr 1e30 should diverge");
    }
    let bytes = pollster::block_on(session.checkpoint_bytes(None)).unwrap();
    let message = error_text(SavedRun::from_bytes(&bytes));
    assert!(message.contains("cannot be resumed"), "{message}");

    let mut session = spec.build(&cpu(), RunData::Text(&text), &EngineOptions::default()).unwrap();
    let done = reports(&mut session);
    let bytes = pollster::block_on(session.checkpoint_bytes(done.last())).unwrap();
    let saved = SavedRun::from_bytes(&bytes).unwrap();
    let options = EngineOptions::default();

    let message = error_text(saved.build(&cpu(), RunData::Text(&text), &options, 2));
    assert!(message.contains("trained 2 epochs already"), "{message}");
    let other = "an entirely different text, with other letters: xylophone, jukebox.\n".repeat(16);
    let message = error_text(saved.build(&cpu(), RunData::Text(&other), &options, 4));
    assert!(message.contains("not what the saved run trained on"), "{message}");

    // A spec saved before a setting existed trains with the value it had then (weight decay 0);
    // a spec that lacks any other setting is a broken checkpoint, never filled from a preset.
    let checkpoint = Checkpoint::from_bytes(&bytes).unwrap();
    for (removed, accepted) in [("weight_decay", true), ("hidden", false)] {
        let mut spec_json: serde_json::Value = serde_json::from_str(&checkpoint.extra["spec"]).unwrap();
        spec_json.as_object_mut().unwrap().remove(removed);
        let mut older = checkpoint.clone();
        older.extra.insert("spec".into(), spec_json.to_string());
        match SavedRun::from_bytes(&older.to_bytes().unwrap()) {
            Ok(saved) => assert!(accepted && saved.spec().weight_decay == 0.0, "{removed}"),
            Err(err) => assert!(!accepted && err.to_string().contains(&format!("lacks {removed}")), "{removed}: {err}"),
        }
    }

    // A tampered training state is checked before use.
    let checkpoint = Checkpoint::from_bytes(&bytes).unwrap();
    let state = checkpoint.extra["training"].clone();
    for (from, to, says) in [
        ("\"kind\":\"adam\"", "\"kind\":\"sgd\"", "its optimizer state does not belong to its spec's optimizer adam"),
        ("\"epochs_done\":2", "\"epochs_done\":0", "claims 0 epochs"),
        ("\"data_rng\":\"", "\"data_rng\":\"x", "not a number"),
    ] {
        assert!(state.contains(from), "{from} in {state:.200}");
        let mut tampered = checkpoint.clone();
        tampered.extra.insert("training".into(), state.replacen(from, to, 1));
        let bytes = tampered.to_bytes().unwrap();
        let message = match SavedRun::from_bytes(&bytes) {
            Ok(saved) => error_text(saved.build(&cpu(), RunData::Text(&text), &options, 4)),
            Err(err) => err.to_string(),
        };
        assert!(message.contains(says) && message.contains("this checkpoint is broken"), "{from} → {to}: {message}");
    }
}
