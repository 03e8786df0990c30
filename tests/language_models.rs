//! Language models end to end across the data and engine crates, on text the test generates:
//! every scratch model learns a repeated pattern, and the GPU and CPU backends take the same
//! training steps.

use rnnplay_data::{BatchIter, Corpus, Sampling, TokenKind};
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::nn::{CellKind, ScratchModel};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::{predict, Trainer};
use std::rc::Rc;

/// A text with a deterministic next character almost everywhere.
fn pattern_corpus() -> Corpus {
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(12);
    Corpus::from_text(&text, TokenKind::Char, None).unwrap()
}

fn train(backend: &Rc<dyn Backend>, kind: CellKind, epochs: usize, sampling: Sampling) -> (ScratchModel, Vec<f32>) {
    let corpus = pattern_corpus();
    let model = ScratchModel::new(backend, kind, corpus.vocab.len(), 32, 0).unwrap();
    let mut trainer = Trainer::new(backend, 1.0, 1.0).unwrap();
    let mut batches = BatchIter::new(corpus.tokens.clone(), 4, 8, sampling, 0).unwrap();
    let perplexities = (0..epochs)
        .map(|_| pollster::block_on(trainer.train_epoch(&model, &mut batches)).unwrap().perplexity)
        .collect();
    (model, perplexities)
}

#[test]
fn every_scratch_model_learns_a_repeated_pattern_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    // The pattern has 27 symbols; a model that learned it predicts each next character with
    // high confidence, so perplexity falls from ~27 towards 1.
    for (kind, epochs) in [(CellKind::Rnn, 40), (CellKind::Gru, 60), (CellKind::Lstm, 80)] {
        let (model, ppl) = train(&cpu, kind, epochs, Sampling::Sequential);
        let (first, last) = (ppl[0], *ppl.last().unwrap());
        assert!(first > 10.0, "{kind:?}: first-epoch perplexity {first}");
        assert!(last < 1.6, "{kind:?}: perplexity after {epochs} epochs is {last} (first {first})");
        let corpus = pattern_corpus();
        let prefix: Vec<u32> = "the quick ".chars().map(|c| corpus.vocab.index(&c.to_string())).collect();
        let out = pollster::block_on(predict(&model, &prefix, 9)).unwrap();
        assert_eq!(corpus.decode(&out), "the quick brown fox", "{kind:?} free-running prediction");
    }
}

#[test]
fn random_sampling_also_learns() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let (_, ppl) = train(&cpu, CellKind::Rnn, 60, Sampling::Random);
    assert!(*ppl.last().unwrap() < 2.0, "{ppl:?}");
}

#[test]
fn gpu_and_cpu_backends_take_the_same_training_steps() {
    let Some(gpu) = gpu_or_skip("gpu_and_cpu_backends_take_the_same_training_steps") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for kind in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        let (_, on_gpu) = train(&gpu, kind, 3, Sampling::Sequential);
        let (_, on_cpu) = train(&cpu, kind, 3, Sampling::Sequential);
        for (epoch, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
            // Perplexity is exp(mean loss): 1e-4 on the loss is about 1e-4 relative here.
            assert!((g.ln() - c.ln()).abs() < 1e-4, "{kind:?} epoch {epoch}: gpu {g}, cpu {c}");
        }
    }
}
