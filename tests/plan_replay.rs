//! Plan replay (crates/engine/src/replay.rs, backend/gpu/plan.rs): once a step is steady the
//! GPU backend replays its recorded kernels instead of the trainer building them again. The
//! replayed run must be the recorded run, bit for bit: the same per-epoch losses and the same
//! parameters, with dropout, Adam, both samplings, scratch and unfused models, the
//! encoder-decoder with scheduled sampling, and batch shapes or models that change mid-run.

use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{epoch_rng, PairDataset};
use rnnplay_data::{BatchIter, Corpus, Sampling, TokenKind};
use rnnplay_engine::backend::Backend;
use rnnplay_engine::nn::{AttentionScoring, CellKind, LanguageModel, ModelConfig, Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::Seq2SeqTrainer;
use rnnplay_engine::train::Trainer;
use rnnplay_engine::Optimizer;
use rnnplay_engine::{Counters, LrSchedule, Param};
use std::rc::Rc;

fn gpu(test: &str) -> Option<Rc<dyn Backend>> {
    gpu_or_skip(test).map(|gpu| Rc::new(gpu) as Rc<dyn Backend>)
}

fn corpus() -> Corpus {
    Corpus::from_text(&"the quick brown fox jumps over the lazy dog\n".repeat(8), TokenKind::Char, None).unwrap()
}

fn values(params: &[Param]) -> Vec<Vec<f32>> {
    params.iter().map(|p| pollster::block_on(p.value().to_vec()).unwrap()).collect()
}

/// What a run produced: per-epoch perplexities, the final parameters, and the counters.
#[derive(Debug)]
struct Outcome {
    losses: Vec<f32>,
    params: Vec<Vec<f32>>,
    counters: Counters,
}

/// Trains 3 epochs of a language model from seed 0 with replay on or off.
fn train_lm(
    backend: &Rc<dyn Backend>,
    config: &ModelConfig,
    optimizer: (&str, f32),
    sampling: Sampling,
) -> [Outcome; 2] {
    train_lm_scheduled(backend, config, optimizer, sampling, LrSchedule::Constant, true)
}

/// [`train_lm`] with the learning rate of each epoch set by `schedule`, the layers fused or not.
fn train_lm_scheduled(
    backend: &Rc<dyn Backend>,
    config: &ModelConfig,
    optimizer: (&str, f32),
    sampling: Sampling,
    schedule: LrSchedule,
    fused: bool,
) -> [Outcome; 2] {
    [true, false].map(|replay| {
        backend.reset_counters();
        let model = LanguageModel::new(backend, config, 0).unwrap();
        model.set_fused_layers(fused);
        let mut trainer = Trainer::new(backend, Optimizer::by_name(optimizer.0, optimizer.1).unwrap(), 1.0).unwrap();
        trainer.set_plan_replay(replay);
        let mut batches = BatchIter::new(corpus().tokens, 4, 6, sampling, 0).unwrap();
        let losses = (0..3)
            .map(|epoch| {
                trainer.set_lr(schedule.lr_at(optimizer.1, epoch, 3)).unwrap();
                pollster::block_on(trainer.train_epoch(&model, &mut batches)).unwrap().perplexity
            })
            .collect();
        Outcome { losses, params: values(model.params()), counters: backend.counters() }
    })
}

fn assert_same(what: &str, [replayed, recorded]: &[Outcome; 2]) {
    assert_eq!(replayed.losses, recorded.losses, "{what}: per-epoch perplexities");
    assert!(replayed.params == recorded.params, "{what}: the parameters after training differ");
    assert_eq!(recorded.counters.replays, 0, "{what}: replay off records every step");
    assert!(replayed.counters.replays > 0, "{what}: no step was replayed: {:?}", replayed.counters);
    assert_eq!(replayed.counters.dispatches, recorded.counters.dispatches, "{what}: a replay runs the same dispatches");
    assert_eq!(replayed.counters.submits, recorded.counters.submits, "{what}: one submit per step either way");
}

#[test]
fn replayed_language_model_training_is_recorded_training_bit_for_bit() {
    let Some(gpu) = gpu("replayed_language_model_training_is_recorded_training_bit_for_bit") else { return };
    let vocab = corpus().vocab.len();
    let mut deep = ModelConfig::new(CellKind::Gru, false, vocab, 12);
    (deep.num_layers, deep.dropout, deep.embedding_dim) = (2, 0.3, Some(5));
    let mut both_ways = ModelConfig::new(CellKind::Gru, false, vocab, 12);
    (both_ways.num_layers, both_ways.bidirectional) = (2, true);
    let cases = [
        ("2-layer GRU, dropout, embedding, Adam", deep, ("adam", 0.01), Sampling::Sequential),
        ("bidirectional 2-layer GRU", both_ways, ("adam", 0.01), Sampling::Sequential),
        ("LSTM, random sampling", ModelConfig::new(CellKind::Lstm, false, vocab, 12), ("sgd", 1.0), Sampling::Random),
        ("scratch RNN", ModelConfig::new(CellKind::Rnn, true, vocab, 12), ("sgd", 1.0), Sampling::Sequential),
    ];
    for (what, config, optimizer, sampling) in cases {
        let outcome = train_lm(&gpu, &config, optimizer, sampling);
        assert_same(what, &outcome);
        // The first steps are recorded until two in a row are the same; every later one replays.
        let steps = outcome[0].counters.submits - outcome[0].counters.read_backs;
        assert!(
            outcome[0].counters.replays + 3 >= steps,
            "{what}: {} of {steps} steps replayed",
            outcome[0].counters.replays
        );
    }
}

#[test]
fn a_replayed_plan_follows_the_learning_rate_schedule() {
    let Some(gpu) = gpu("a_replayed_plan_follows_the_learning_rate_schedule") else { return };
    let config = ModelConfig::new(CellKind::Gru, false, corpus().vocab.len(), 12);
    let step = LrSchedule::Step { step_size: 1, gamma: 0.5 };
    for (what, optimizer) in [("SGD, step schedule", ("sgd", 1.0)), ("Adam, step schedule", ("adam", 0.01))] {
        let outcome = train_lm_scheduled(&gpu, &config, optimizer, Sampling::Sequential, step, true);
        assert_same(what, &outcome);
        // The schedule changed the run: the same run at a constant rate ends elsewhere.
        let constant = train_lm(&gpu, &config, optimizer, Sampling::Sequential);
        assert_ne!(constant[0].losses[2], outcome[0].losses[2], "{what}: the schedule had no effect");
    }
}

#[test]
fn unfused_layers_replay_their_own_plan() {
    let Some(gpu) = gpu("unfused_layers_replay_their_own_plan") else { return };
    let config = ModelConfig::new(CellKind::Gru, false, corpus().vocab.len(), 12);
    let outcome = train_lm_scheduled(&gpu, &config, ("sgd", 1.0), Sampling::Sequential, LrSchedule::Constant, false);
    assert_same("unfused GRU", &outcome);
}

#[test]
fn a_replayed_step_is_one_submit_with_no_new_bind_group_or_buffer() {
    let Some(gpu) = gpu("a_replayed_step_is_one_submit_with_no_new_bind_group_or_buffer") else { return };
    let config = ModelConfig::new(CellKind::Lstm, false, corpus().vocab.len(), 12);
    let model = LanguageModel::new(&gpu, &config, 0).unwrap();
    let mut trainer = Trainer::new(&gpu, Optimizer::by_name("adam", 0.01).unwrap(), 1.0).unwrap();
    let batches = BatchIter::new(corpus().tokens, 4, 6, Sampling::Sequential, 0).unwrap().epoch();
    trainer.begin_epoch().unwrap();
    for batch in &batches[..4] {
        trainer.train_batch(&model, batch, Sampling::Sequential).unwrap();
    }
    trainer.set_plan_replay(false);
    gpu.reset_counters();
    trainer.train_batch(&model, &batches[4], Sampling::Sequential).unwrap();
    let recorded = gpu.counters();
    trainer.set_plan_replay(true);
    gpu.reset_counters();
    trainer.train_batch(&model, &batches[5], Sampling::Sequential).unwrap();
    let counters = gpu.counters();
    assert_eq!((recorded.replays, counters.replays), (0, 1), "{recorded:?} {counters:?}");
    assert_eq!(
        (counters.submits, counters.read_backs, counters.dispatches),
        (1, 0, recorded.dispatches),
        "{counters:?}"
    );
    assert_eq!((counters.bind_groups_created, counters.buffers_created, counters.pool_hits), (0, 0, 0), "{counters:?}");
    assert!(
        recorded.buffers_created + recorded.pool_hits > 0,
        "a recorded step allocates its temporaries: {recorded:?}"
    );
}

#[test]
fn changing_the_batch_shape_or_the_model_mid_run_trains_what_recording_would() {
    let Some(gpu) = gpu("changing_the_batch_shape_or_the_model_mid_run_trains_what_recording_would") else { return };
    let config = ModelConfig::new(CellKind::Gru, false, corpus().vocab.len(), 12);
    let run = |replay: bool| {
        let mut trainer = Trainer::sgd(&gpu, 1.0, 1.0).unwrap();
        trainer.set_plan_replay(replay);
        let first = LanguageModel::new(&gpu, &config, 0).unwrap();
        let second = LanguageModel::new(&gpu, &config, 1).unwrap();
        let wide = BatchIter::new(corpus().tokens, 4, 6, Sampling::Random, 0).unwrap().epoch();
        let narrow = BatchIter::new(corpus().tokens, 3, 5, Sampling::Random, 1).unwrap().epoch();
        trainer.begin_epoch().unwrap();
        // Long enough on each shape to make a plan, then back and forth, then another model.
        for (model, batches) in
            [(&first, &wide), (&first, &narrow), (&first, &wide), (&second, &wide), (&first, &narrow)]
        {
            for batch in &batches[..5] {
                trainer.train_batch(model, batch, Sampling::Random).unwrap();
            }
        }
        (values(first.params()), values(second.params()), gpu.counters().replays)
    };
    gpu.reset_counters();
    let (first, second, replays) = run(true);
    gpu.reset_counters();
    let (first_recorded, second_recorded, _) = run(false);
    assert!(replays >= 10, "each shape and model replays once steady ({replays} replays)");
    assert!(first == first_recorded, "the first model's parameters differ");
    assert!(second == second_recorded, "the second model's parameters differ");
}

#[test]
fn replayed_encoder_decoder_training_with_scheduled_sampling_is_recorded_training() {
    let Some(gpu) = gpu("replayed_encoder_decoder_training_with_scheduled_sampling_is_recorded_training") else {
        return;
    };
    let pairs = ToyTask::Reverse.pairs(22, 2, 4, 0, &[]).unwrap();
    let data = PairDataset::new(&pairs, 6, 1).unwrap();
    // The attention decoder drops out its weights too, by masks drawn from the step's seed.
    for (attention, bidirectional) in [(None, false), (None, true), (Some(AttentionScoring::Additive), false)] {
        let config = Seq2SeqConfig {
            src_vocab_size: data.src_vocab.len(),
            tgt_vocab_size: data.tgt_vocab.len(),
            embed_size: 4,
            hidden_size: 8,
            num_layers: 2,
            dropout: 0.2,
            attention,
            bidirectional,
        };
        replays_encoder_decoder(&gpu, &data, &config);
    }
}

fn replays_encoder_decoder(gpu: &Rc<dyn Backend>, data: &PairDataset, config: &Seq2SeqConfig) {
    let outcomes = [true, false].map(|replay| {
        gpu.reset_counters();
        let model = Seq2Seq::new(gpu, config, 0).unwrap();
        let mut trainer = Seq2SeqTrainer::new(gpu, Optimizer::by_name("adam", 0.01).unwrap(), 1.0).unwrap();
        trainer.set_plan_replay(replay);
        let mut rng = epoch_rng(0);
        let mut losses = Vec::new();
        // Teacher forcing, then scheduled sampling: another plan; batches of 4 leave a short
        // last batch every epoch, a second shape.
        for epoch in 0..4 {
            if epoch == 2 {
                trainer.set_scheduled_sampling(0.5, 3).unwrap();
            }
            let batches = data.epoch(4, &mut rng).unwrap();
            losses
                .push(pollster::block_on(trainer.train_epoch(&model, &data.tgt_vocab, &batches)).unwrap().per_token_ce);
        }
        Outcome { losses, params: values(model.params()), counters: gpu.counters() }
    });
    let what = match (config.attention, config.bidirectional) {
        (Some(_), _) => "seq2seq, attention",
        (None, true) => "seq2seq, bidirectional encoder",
        (None, false) => "seq2seq",
    };
    assert_same(what, &outcomes);
}
