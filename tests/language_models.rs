//! Language models end to end across the data and engine crates, on text the test generates:
//! every model learns a repeated pattern, the GPU and CPU backends take the same training
//! steps, and a checkpoint brings back the same predictions.

use rnnplay_data::{BatchIter, Corpus, Sampling, TokenKind};
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::generate::{generate, teacher_forced, Decoding};
use rnnplay_engine::nn::{CellKind, LanguageModel, ModelConfig};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::Trainer;
use rnnplay_engine::Checkpoint;
use rnnplay_engine::Optimizer;
use std::rc::Rc;

/// A text with a deterministic next character almost everywhere.
fn pattern_corpus() -> Corpus {
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(12);
    Corpus::from_text(&text, TokenKind::Char, None).unwrap()
}

fn encode(corpus: &Corpus, text: &str) -> Vec<u32> {
    text.chars().map(|c| corpus.vocab.index(&c.to_string())).collect()
}

fn config(cell: CellKind, scratch: bool) -> ModelConfig {
    ModelConfig::new(cell, scratch, pattern_corpus().vocab.len(), 32)
}

fn train(
    backend: &Rc<dyn Backend>,
    config: &ModelConfig,
    optimizer: Optimizer,
    epochs: usize,
    sampling: Sampling,
) -> (LanguageModel, Vec<f32>) {
    let corpus = pattern_corpus();
    let model = LanguageModel::new(backend, config, 0).unwrap();
    let mut trainer = Trainer::new(backend, optimizer, 1.0).unwrap();
    let mut batches = BatchIter::new(corpus.tokens.clone(), 4, 8, sampling, 0).unwrap();
    let perplexities = (0..epochs)
        .map(|_| pollster::block_on(trainer.train_epoch(&model, &mut batches)).unwrap().perplexity)
        .collect();
    (model, perplexities)
}

fn sgd() -> Optimizer {
    Optimizer::by_name("sgd", 1.0).unwrap()
}

/// The pattern has 27 symbols; a model that learned it predicts each next character with
/// high confidence, so perplexity falls from ~27 towards 1 and free-running text continues it.
fn assert_learned(name: &str, model: &LanguageModel, ppl: &[f32], bound: f32) {
    let (first, last) = (ppl[0], *ppl.last().unwrap());
    assert!(first > 8.0, "{name}: first-epoch perplexity {first}");
    assert!(last < bound, "{name}: perplexity after {} epochs is {last} (first {first})", ppl.len());
    let corpus = pattern_corpus();
    let out = pollster::block_on(generate(model, &encode(&corpus, "the quick "), 9, Decoding::Greedy)).unwrap();
    assert_eq!(corpus.decode(&out), "the quick brown fox", "{name} free-running prediction");
}

#[test]
fn every_scratch_model_learns_a_repeated_pattern_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for (cell, epochs) in [(CellKind::Rnn, 40), (CellKind::Gru, 60), (CellKind::Lstm, 80)] {
        let (model, ppl) = train(&cpu, &config(cell, true), sgd(), epochs, Sampling::Sequential);
        assert_learned(&format!("{cell:?} scratch"), &model, &ppl, 1.6);
    }
}

#[test]
fn every_concise_model_learns_a_repeated_pattern_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for (cell, epochs) in [(CellKind::Rnn, 40), (CellKind::Gru, 50), (CellKind::Lstm, 60)] {
        let (model, ppl) = train(&cpu, &config(cell, false), sgd(), epochs, Sampling::Sequential);
        assert_learned(&format!("{cell:?}"), &model, &ppl, 1.6);
    }
}

#[test]
fn a_deep_gru_with_embedding_and_dropout_learns_with_adam() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let mut deep = config(CellKind::Gru, false);
    deep.num_layers = 2;
    deep.dropout = 0.1;
    deep.embedding_dim = Some(16);
    let (model, ppl) = train(&cpu, &deep, Optimizer::by_name("adam", 0.01).unwrap(), 40, Sampling::Sequential);
    assert_learned("2-layer GRU with embedding", &model, &ppl, 1.8);
}

#[test]
fn random_sampling_also_learns() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let (_, ppl) = train(&cpu, &config(CellKind::Rnn, true), sgd(), 60, Sampling::Random);
    assert!(*ppl.last().unwrap() < 2.0, "{ppl:?}");
}

#[test]
fn teacher_forced_view_scores_the_true_text_and_sampling_is_seeded() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let (model, _) = train(&cpu, &config(CellKind::Gru, false), sgd(), 50, Sampling::Sequential);
    let corpus = pattern_corpus();
    let text = encode(&corpus, "the quick brown fox jumps");
    let view = pollster::block_on(teacher_forced(&model, &text)).unwrap();
    assert_eq!(view.steps.len(), text.len() - 1);
    assert!(view.accuracy > 0.9 && view.perplexity < 1.6, "accuracy {} perplexity {}", view.accuracy, view.perplexity);
    assert!(view.steps.iter().zip(&text[1..]).all(|(s, &t)| s.truth == t));
    // An untrained model is not confident about this text.
    let fresh = LanguageModel::new(&cpu, &config(CellKind::Gru, false), 0).unwrap();
    let untrained = pollster::block_on(teacher_forced(&fresh, &text)).unwrap();
    assert!(untrained.perplexity > 10.0, "{}", untrained.perplexity);

    let prefix = encode(&corpus, "the ");
    let hot = |seed| {
        let decoding = Decoding::Sample { temperature: 5.0, seed };
        pollster::block_on(generate(&fresh, &prefix, 30, decoding)).unwrap()
    };
    assert_eq!(hot(1), hot(1), "the same seed draws the same text");
    assert_ne!(hot(1), hot(2), "another seed draws another text");
    assert!(Decoding::from_temperature(Some(-1.0), 0).is_err());
    assert_eq!(Decoding::from_temperature(Some(0.0), 0).unwrap(), Decoding::Greedy);
}

#[test]
fn a_checkpoint_round_trip_gives_identical_predictions() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let corpus = pattern_corpus();
    let prefix = encode(&corpus, "over the ");
    for config in [config(CellKind::Lstm, true), config(CellKind::Gru, false)] {
        let (model, _) = train(&cpu, &config, sgd(), 5, Sampling::Sequential);
        let mut checkpoint = pollster::block_on(Checkpoint::capture(&model, &corpus.vocab, TokenKind::Char)).unwrap();
        checkpoint.extra.insert("epochs".into(), "5".into());
        let bytes = checkpoint.to_bytes().unwrap();
        let loaded = Checkpoint::from_bytes(&bytes).unwrap();
        assert!(loaded == checkpoint, "{}: the loaded checkpoint differs from the saved one", config.model_name());
        let restored = loaded.into_model(&cpu).unwrap();
        let before = pollster::block_on(teacher_forced(&model, &prefix)).unwrap();
        let after = pollster::block_on(teacher_forced(&restored, &prefix)).unwrap();
        assert_eq!(before, after, "{}", config.model_name());

        // Damaged files are errors that say what is wrong.
        let truncated = Checkpoint::from_bytes(&bytes[..bytes.len() - 10]).unwrap_err().to_string();
        assert!(truncated.contains("not a usable rnnplay checkpoint"), "{truncated}");
        let err = rnnplay_engine::Seq2SeqCheckpoint::from_bytes(&bytes).err().unwrap().to_string();
        assert!(err.contains("not an encoder-decoder"), "{err}");
        let garbage = Checkpoint::from_bytes(b"hello, this is not safetensors").unwrap_err().to_string();
        assert!(garbage.contains("not safetensors"), "{garbage}");
        let mut reshaped = checkpoint.clone();
        reshaped.tensors[0].1 = vec![1, reshaped.tensors[0].2.len()];
        let err = reshaped.into_model(&cpu).err().unwrap().to_string();
        assert!(err.contains("has shape") && err.contains(&reshaped.tensors[0].0), "{err}");
    }
}

#[test]
fn gpu_and_cpu_backends_take_the_same_training_steps() {
    let Some(gpu) = gpu_or_skip("gpu_and_cpu_backends_take_the_same_training_steps") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let mut deep = config(CellKind::Lstm, false);
    deep.num_layers = 2;
    deep.embedding_dim = Some(8);
    let configs = [
        config(CellKind::Rnn, true),
        config(CellKind::Gru, true),
        config(CellKind::Lstm, true),
        config(CellKind::Rnn, false),
        config(CellKind::Gru, false),
        deep,
    ];
    for config in configs {
        let (_, on_gpu) = train(&gpu, &config, sgd(), 3, Sampling::Sequential);
        let (_, on_cpu) = train(&cpu, &config, sgd(), 3, Sampling::Sequential);
        for (epoch, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
            // Perplexity is exp(mean loss): 1e-4 on the loss is about 1e-4 relative here.
            assert!((g.ln() - c.ln()).abs() < 1e-4, "{} epoch {epoch}: gpu {g}, cpu {c}", config.model_name());
        }
    }
}
