//! No-regression guard for the execution model: the dispatches and submits of one training step
//! of each benchmarked preset, counted (not timed). The counts depend on the graph — the model,
//! its layers and num_steps — not on sizes, so small hidden sizes and batches stand in for the
//! presets' own. A change that adds dispatches fails here; update the numbers only on purpose
//! (and say why in the commit). `rnnplay bench presets` prints the same counts.

use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{epoch_rng, PairDataset};
use rnnplay_data::{BatchIter, Corpus, Sampling, TokenKind};
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::nn::{parse_model_name, LanguageModel, ModelConfig, Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::presets::{preset, seq2seq_preset};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::{Optimizer, Trainer};
use rnnplay_engine::translate::Seq2SeqTrainer;
use std::rc::Rc;

/// (preset, dispatches per training step). A language model's step ends with one copy per
/// state tensor into the trainer's carried state (so every step reads and writes the same
/// buffers, which plan replay needs).
const EXPECTED: [(&str, u64); 4] =
    [("d2l-rnn-scratch", 765), ("d2l-gru", 195), ("d2l-lstm", 200), ("d2l-seq2seq", 362)];

/// (dispatches, submits) of the second training step of `name` (the first creates pools).
fn step_counts(backend: &Rc<dyn Backend>, name: &str) -> (u64, u64) {
    if let Some(p) = preset(name) {
        let text = "the time machine by h g wells ".repeat(40);
        let corpus = Corpus::from_text(&text, TokenKind::Char, None).unwrap();
        let (cell, scratch) = parse_model_name(p.model).unwrap();
        let mut config = ModelConfig::new(cell, scratch, corpus.vocab.len(), 8);
        config.num_layers = p.layers;
        let model = LanguageModel::new(backend, &config, 0).unwrap();
        let mut trainer = Trainer::new(backend, Optimizer::by_name(p.optimizer, p.lr).unwrap(), p.clip).unwrap();
        let batches = BatchIter::new(corpus.tokens, 2, p.num_steps, Sampling::Sequential, 0).unwrap().epoch();
        trainer.begin_epoch().unwrap();
        trainer.train_batch(&model, &batches[0], Sampling::Sequential).unwrap();
        backend.reset_counters();
        trainer.train_batch(&model, &batches[1], Sampling::Sequential).unwrap();
    } else {
        let p = seq2seq_preset(name).unwrap();
        let pairs = ToyTask::Reverse.pairs(8, 3, 5, 0, &[]).unwrap();
        let data = PairDataset::new(&pairs, p.num_steps, 1).unwrap();
        let config = Seq2SeqConfig {
            src_vocab_size: data.src_vocab.len(),
            tgt_vocab_size: data.tgt_vocab.len(),
            embed_size: 4,
            hidden_size: 8,
            num_layers: p.layers,
            dropout: p.dropout,
        };
        let model = Seq2Seq::new(backend, &config, 0).unwrap();
        let mut trainer = Seq2SeqTrainer::new(backend, Optimizer::by_name(p.optimizer, p.lr).unwrap(), p.clip).unwrap();
        let batches = data.epoch(4, &mut epoch_rng(0)).unwrap();
        trainer.begin_epoch().unwrap();
        trainer.train_batch(&model, &data.tgt_vocab, &batches[0]).unwrap();
        backend.reset_counters();
        trainer.train_batch(&model, &data.tgt_vocab, &batches[1]).unwrap();
    }
    let counters = backend.counters();
    assert_eq!(counters.read_backs, 0, "{name}: a training step reads nothing back");
    (counters.dispatches, counters.submits)
}

#[test]
fn each_presets_training_step_has_the_recorded_number_of_dispatches() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for (name, expected) in EXPECTED {
        let (dispatches, _) = step_counts(&cpu, name);
        assert_eq!(dispatches, expected, "{name}: dispatches per training step changed");
    }
}

#[test]
fn on_the_gpu_each_step_is_one_submit_with_the_same_dispatches() {
    let Some(gpu) = gpu_or_skip("on_the_gpu_each_step_is_one_submit_with_the_same_dispatches") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    for (name, expected) in EXPECTED {
        assert_eq!(step_counts(&gpu, name), (expected, 1), "{name}: (dispatches, submits) per step");
    }
}
