//! The run API (crates/run): a `RunSpec` built into a `Session` trains exactly as the
//! trainers it wraps, follows its learning-rate schedule under plan replay bit for bit, stops on
//! divergence with the last good weights, and saves its spec in its checkpoints.

use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{epoch_rng, PairDataset};
use rnnplay_data::{BatchIter, Corpus, Sampling, TokenKind};
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::nn::{LanguageModel, Seq2Seq};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::Seq2SeqTrainer;
use rnnplay_engine::train::Trainer;
use rnnplay_engine::{Checkpoint, EngineError, EngineOptions, Optimizer};
use rnnplay_run::{RunData, RunSpec, Session};
use std::rc::Rc;

fn text() -> String {
    "the quick brown fox jumps over the lazy dog\n".repeat(12)
}

fn cpu() -> Rc<dyn Backend> {
    Rc::new(CpuBackend::new())
}

/// A small GRU language model on the pattern text.
fn small_spec() -> RunSpec {
    let mut spec = RunSpec::preset("d2l-gru").unwrap();
    (spec.data, spec.hidden, spec.batch_size, spec.num_steps, spec.epochs) = ("pattern".into(), 32, 4, 8, 3);
    spec
}

/// Steps `session` to its end; the per-epoch values, with the progress checked on the way.
fn step_to_end(session: &mut Session) -> Vec<f32> {
    let mut values = Vec::new();
    while !session.finished() {
        match pollster::block_on(session.step()).unwrap() {
            Some(report) => {
                assert_eq!(report.epoch, values.len() + 1);
                assert_eq!(session.epoch_progress(), (0, 0), "an epoch's end leaves no batch pending");
                values.push(report.value);
            }
            None => {
                let (done, total) = session.epoch_progress();
                assert!(done >= 1 && done < total, "{done}/{total}");
            }
        }
    }
    values
}

#[test]
fn a_language_model_session_trains_exactly_like_the_trainer_it_wraps() {
    let backend = cpu();
    let spec = small_spec();
    let text = text();
    let mut session = spec.build(&backend, RunData::Text(&text), &EngineOptions::default()).unwrap();
    let stepped = step_to_end(&mut session);

    let corpus = Corpus::from_text(&text, TokenKind::Char, None).unwrap();
    let model = LanguageModel::new(&backend, &spec.model_config(corpus.vocab.len()).unwrap(), 0).unwrap();
    let mut trainer = Trainer::new(&backend, Optimizer::by_name("sgd", 1.0).unwrap(), 1.0).unwrap();
    let mut batches = BatchIter::new(corpus.tokens, 4, 8, Sampling::Sequential, 0).unwrap();
    let whole: Vec<f32> =
        (0..3).map(|_| pollster::block_on(trainer.train_epoch(&model, &mut batches)).unwrap().perplexity).collect();
    assert_eq!(stepped, whole, "the same seed gives the same perplexities either way");
}

#[test]
fn an_encoder_decoder_session_trains_exactly_like_the_trainer_it_wraps() {
    let backend = cpu();
    let mut spec = RunSpec::preset("toy-reverse").unwrap();
    (spec.data, spec.num_examples, spec.layers, spec.dropout, spec.hidden, spec.embedding) =
        ("copy".into(), 300, 2, 0.1, 16, 8);
    (spec.epochs, spec.seed, spec.lr) = (2, 4, 0.01);
    let mut session = spec.build(&backend, RunData::Generated, &EngineOptions::default()).unwrap();
    let stepped = step_to_end(&mut session);

    let pairs = ToyTask::Copy.pairs(300, 3, 5, 4, &[]).unwrap();
    let data = PairDataset::new(&pairs, spec.num_steps, 1).unwrap();
    let model = Seq2Seq::new(&backend, &spec.seq2seq_config(data.src_vocab.len(), data.tgt_vocab.len()), 4).unwrap();
    let mut trainer = Seq2SeqTrainer::new(&backend, Optimizer::by_name("adam", 0.01).unwrap(), 1.0).unwrap();
    let mut rng = epoch_rng(4);
    let whole: Vec<f32> = (0..2)
        .map(|_| {
            let batches = data.epoch(64, &mut rng).unwrap();
            pollster::block_on(trainer.train_epoch(&model, &data.tgt_vocab, &batches)).unwrap().per_token_ce
        })
        .collect();
    assert_eq!(stepped, whole);
    let run = session.seq2seq().unwrap();
    assert_eq!((run.examples.len(), run.held_out.len()), (4, 200));
}

/// Per-epoch values and learning rates of `spec` with plan replay on or off.
fn scheduled_run(backend: &Rc<dyn Backend>, spec: &RunSpec, replay: bool) -> (Vec<f32>, Vec<f32>) {
    let text = text();
    let options = EngineOptions { plan_replay: replay, ..EngineOptions::default() };
    let mut session = spec.build(backend, RunData::Text(&text), &options).unwrap();
    let (mut values, mut rates) = (Vec::new(), Vec::new());
    while !session.finished() {
        if let Some(report) = pollster::block_on(session.step()).unwrap() {
            values.push(report.value);
            rates.push(report.lr);
        }
    }
    (values, rates)
}

#[test]
fn a_scheduled_run_replays_bit_for_bit_with_sgd_and_adam() {
    let Some(gpu) = gpu_or_skip("a_scheduled_run_replays_bit_for_bit_with_sgd_and_adam") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    for (optimizer, lr) in [("sgd", 1.0), ("adam", 0.01)] {
        let mut spec = small_spec();
        (spec.optimizer, spec.lr, spec.epochs, spec.lr_schedule) = (optimizer.into(), lr, 6, "step:2:0.5".into());
        let replayed = scheduled_run(&gpu, &spec, true);
        let recorded = scheduled_run(&gpu, &spec, false);
        assert_eq!(replayed.1, [lr, lr, lr / 2.0, lr / 2.0, lr / 4.0, lr / 4.0], "{optimizer}: the rates");
        assert_eq!(replayed, recorded, "{optimizer}: replayed and recorded runs differ");
        spec.lr_schedule = "none".into();
        let constant = scheduled_run(&gpu, &spec, true);
        assert_ne!(constant.0[5], replayed.0[5], "{optimizer}: the schedule changed nothing");
    }
}

#[test]
fn divergence_stops_the_run_names_the_epoch_and_keeps_the_last_good_weights() {
    let backend = cpu();
    let mut spec = small_spec();
    (spec.lr, spec.clip, spec.epochs) = (1e30, 1e30, 5);
    let text = text();
    let mut session = spec.build(&backend, RunData::Text(&text), &EngineOptions::default()).unwrap();
    let initial: Vec<Vec<f32>> =
        session.params().iter().map(|p| pollster::block_on(p.value().to_vec()).unwrap()).collect();
    let err = loop {
        match pollster::block_on(session.step()) {
            Ok(_) => assert!(!session.finished(), "a run at lr 1e30 should diverge"),
            Err(err) => break err,
        }
    };
    let EngineError::Diverged { epoch, .. } = err else { panic!("not a divergence: {err}") };
    assert_eq!(epoch, session.epochs_done() + 1);
    assert!(err.to_string().contains(&format!("diverged in epoch {epoch}")), "{err}");
    assert!(session.finished(), "a diverged run is over");
    assert!(pollster::block_on(session.step()).unwrap_err().to_string().contains("stopped"));
    let kept: Vec<Vec<f32>> =
        session.params().iter().map(|p| pollster::block_on(p.value().to_vec()).unwrap()).collect();
    assert!(kept.iter().flatten().all(|v| v.is_finite()), "the kept weights are finite");
    if epoch == 1 {
        assert_eq!(kept, initial, "diverging in the first epoch keeps the initial weights");
    }
}

#[test]
fn a_checkpoint_holds_the_spec_and_resumes_with_its_model() {
    let backend = cpu();
    let mut spec = small_spec();
    spec.epochs = 1;
    let text = text();
    let mut session = spec.build(&backend, RunData::Text(&text), &EngineOptions::default()).unwrap();
    step_to_end(&mut session);
    let bytes = pollster::block_on(session.checkpoint_bytes(None)).unwrap();
    let checkpoint = Checkpoint::from_bytes(&bytes).unwrap();
    let saved: RunSpec = serde_json::from_str(&checkpoint.extra["spec"]).unwrap();
    assert_eq!(saved, spec);
    assert_eq!(checkpoint.extra["epochs"], "1");
    let mut other = RunSpec::preset("d2l-lstm").unwrap();
    (other.data, other.batch_size, other.num_steps, other.epochs) = ("pattern".into(), 4, 8, 1);
    let resumed = other.resume(&backend, &checkpoint, RunData::Text(&text), &EngineOptions::default()).unwrap();
    assert_eq!(resumed.spec().model, "gru", "the checkpoint's architecture wins");
    assert_eq!((resumed.epochs_before(), resumed.epochs_done()), (1, 0), "it says what the checkpoint had trained");
    let same = |s: &Session| pollster::block_on(s.params()[0].value().to_vec()).unwrap();
    assert_eq!(same(&resumed), same(&session));
}

#[test]
fn a_bad_spec_is_refused_with_its_first_problem() {
    let mut spec = small_spec();
    spec.lr = 0.0;
    let err = spec.build(&cpu(), RunData::Text(&text()), &EngineOptions::default()).err().unwrap();
    assert!(err.to_string().starts_with("lr: the learning rate must be a positive finite number (got 0)"), "{err}");
}
