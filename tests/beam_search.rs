//! Beam search (d2l § 10.8) and a forced start, against a plain reference written here: every
//! hypothesis scored by running the decoder teacher-forced over its whole prefix (no carried
//! state, no batching of hypotheses), the search done by sorting every extension. Greedy
//! decoding is beam search with k = 1. On both backends.

use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{epoch_rng, PairDataset};
use rnnplay_data::Vocab;
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::beam::{beam_search, start_ids, BeamSettings};
use rnnplay_engine::nn::{AttentionScoring, Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::Seq2SeqTrainer;
use rnnplay_engine::translate::{encode_source, translate};
use rnnplay_engine::{Optimizer, Tape, Tensor};
use std::rc::Rc;

/// A model trained briefly on reversal, so that its beams hold more than one likely hypothesis.
fn half_trained(
    backend: &Rc<dyn Backend>,
    (attention, bidirectional): (Option<AttentionScoring>, bool),
) -> (Seq2Seq, PairDataset) {
    let pairs = ToyTask::Reverse.pairs(1500, 3, 5, 1, &[]).unwrap();
    let data = PairDataset::new(&pairs, 8, 1).unwrap();
    let config = Seq2SeqConfig {
        src_vocab_size: data.src_vocab.len(),
        tgt_vocab_size: data.tgt_vocab.len(),
        embed_size: 8,
        hidden_size: 24,
        num_layers: 2,
        dropout: 0.0,
        attention,
        bidirectional,
    };
    let model = Seq2Seq::new(backend, &config, 3).unwrap();
    let mut trainer = Seq2SeqTrainer::new(backend, Optimizer::by_name("adam", 0.01).unwrap(), 1.0).unwrap();
    let mut rng = epoch_rng(0);
    // Attention and a bidirectional encoder learn reversal so fast that after three epochs their
    // beams agree with greedy.
    let epochs = if attention.is_some() || bidirectional { 1 } else { 3 };
    for _ in 0..epochs {
        let batches = data.epoch(32, &mut rng).unwrap();
        pollster::block_on(trainer.train_epoch(&model, &data.tgt_vocab, &batches)).unwrap();
    }
    (model, data)
}

/// log P(next token | source, `<bos>` + `seq`), by a teacher-forced pass over the whole prefix.
fn next_log_p(model: &Seq2Seq, vocab: &Vocab, src: &[u32], seq: &[u32]) -> Vec<f64> {
    let backend = model.params()[0].value().backend().clone();
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    let inputs: Vec<u32> = std::iter::once(vocab.index("<bos>")).chain(seq.iter().copied()).collect();
    let valid = src.iter().take_while(|&&id| id != vocab.index("<pad>")).count() as u32;
    let valid = Tensor::from_u32(&backend, &[1], &[valid]).unwrap();
    let src = Tensor::from_u32(&backend, &[src.len(), 1], src).unwrap();
    let dec = Tensor::from_u32(&backend, &[inputs.len(), 1], &inputs).unwrap();
    let logits = model.forward(&mut tape, &src, &valid, &dec).unwrap();
    let values = pollster::block_on(tape.value(logits).to_vec()).unwrap();
    let last = &values[values.len() - vocab.len()..];
    let max = last.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let log_total = last.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
    last.iter().map(|&v| v as f64 - log_total).collect()
}

/// The reference search: (output tokens with the prefix, log P, score).
fn reference(
    model: &Seq2Seq,
    vocab: &Vocab,
    src: &[u32],
    prefix: &[u32],
    (k, alpha, max_len): (usize, f64, usize),
) -> (Vec<u32>, f64, f64) {
    let eos = vocab.index("<eos>");
    let prefix_log_p: f64 =
        (0..prefix.len()).map(|i| next_log_p(model, vocab, src, &prefix[..i])[prefix[i] as usize]).sum();
    let mut beams: Vec<(Vec<u32>, f64)> = vec![(prefix.to_vec(), prefix_log_p)];
    let mut done: Vec<(Vec<u32>, f64, usize)> = Vec::new();
    for _ in prefix.len()..max_len {
        let mut extensions: Vec<(Vec<u32>, f64)> = Vec::new();
        for (seq, log_p) in &beams {
            for (token, lp) in next_log_p(model, vocab, src, seq).into_iter().enumerate() {
                let mut longer = seq.clone();
                longer.push(token as u32);
                extensions.push((longer, log_p + lp));
            }
        }
        // A stable sort: equal log P keep the hypothesis order, then the token order.
        extensions.sort_by(|a, b| b.1.total_cmp(&a.1));
        beams = Vec::new();
        for (mut seq, log_p) in extensions.into_iter().take(k) {
            if seq.last() == Some(&eos) {
                let length = seq.len();
                seq.pop();
                done.push((seq, log_p, length));
            } else {
                beams.push((seq, log_p));
            }
        }
        if beams.is_empty() {
            break;
        }
    }
    done.extend(beams.into_iter().map(|(seq, log_p)| {
        let length = seq.len().max(1);
        (seq, log_p, length)
    }));
    let score = |(_, log_p, length): &(Vec<u32>, f64, usize)| log_p / (*length as f64).powf(alpha);
    let best = done.iter().fold(&done[0], |best, c| if score(c) > score(best) { c } else { best });
    (best.0.clone(), best.1, score(best))
}

fn check_on(backend: &Rc<dyn Backend>) {
    // Plain, additive and dot decoders; the plain and the dot one also on a bidirectional encoder.
    for architecture in [
        (None, false),
        (Some(AttentionScoring::Additive), false),
        (Some(AttentionScoring::Dot), false),
        (None, true),
        (Some(AttentionScoring::Dot), true),
    ] {
        check_model(backend, architecture);
    }
}

fn check_model(backend: &Rc<dyn Backend>, architecture: (Option<AttentionScoring>, bool)) {
    let (model, data) = half_trained(backend, architecture);
    let vocab = &data.tgt_vocab;
    let max_len = data.num_steps;
    let mut differs_from_greedy = 0;
    for (sentence, prefix) in
        [("a b c d", ""), ("j i h g f", ""), ("b b a", ""), ("c a f e", "e"), ("d e f g h", "h g")]
    {
        let src = encode_source(&data.src_vocab, sentence, data.num_steps).ids;
        let prefix: Vec<u32> = prefix.split(' ').filter(|t| !t.is_empty()).map(|t| vocab.index(t)).collect();
        let greedy = pollster::block_on(translate(&model, vocab, &src, max_len)).unwrap();
        for (k, alpha) in [(1, 0.75f32), (3, 0.75), (4, 0.0), (6, 1.5)] {
            let settings = BeamSettings { beam: k, length_penalty: alpha, max_len };
            let found = pollster::block_on(beam_search(&model, vocab, &src, &prefix, settings)).unwrap();
            let (tokens, log_p, score) = reference(&model, vocab, &src, &prefix, (k, f64::from(alpha), max_len));
            let what = format!("{architecture:?}: {sentence:?} prefix {prefix:?}, k = {k}, α = {alpha}");
            assert_eq!(found.tokens, tokens, "{what}: the chosen output");
            assert!((found.log_p - log_p).abs() < 1e-4 && (found.score - score).abs() < 1e-4, "{what}: {found:?}");
            assert!(found.tokens.starts_with(&prefix), "{what}: the output starts with the forced prefix");
            // The path's last node ends the chosen output; every step keeps at most k nodes.
            if let Some((&end, step)) = found.path.last().zip(found.path.len().checked_sub(1)) {
                let ended = found.hypothesis(step, end);
                assert!(
                    found.tokens.ends_with(ended.strip_suffix(&[vocab.index("<eos>")]).unwrap_or(&ended)),
                    "{what}"
                );
            }
            assert!(found.steps.iter().all(|s| s.iter().filter(|n| n.kept).count() <= k), "{what}");
            // An output that did not end with <eos> ran to the length limit.
            let ended = found.ended(vocab);
            assert_eq!(ended, found.tokens.len() < max_len, "{what}: ended with <eos>");
            if k == 1 && prefix.is_empty() {
                assert_eq!(found.tokens, greedy, "{what}: beam search with k = 1 is greedy decoding");
            }
            if k > 1 && prefix.is_empty() && found.tokens != greedy {
                differs_from_greedy += 1;
            }
        }
    }
    // Not a test that cannot fail: some beam found something greedy did not.
    assert!(differs_from_greedy > 0, "{architecture:?}: every beam chose greedy's output: the model is too sure");
}

#[test]
fn beam_search_equals_the_reference_and_k_1_is_greedy_on_cpu() {
    check_on(&(Rc::new(CpuBackend::new()) as Rc<dyn Backend>));
}

#[test]
fn beam_search_equals_the_reference_and_k_1_is_greedy_on_gpu() {
    let Some(gpu) = gpu_or_skip("beam_search_equals_the_reference_and_k_1_is_greedy_on_gpu") else { return };
    check_on(&(Rc::new(gpu) as Rc<dyn Backend>));
}

#[test]
fn bad_searches_are_refused_with_their_reason() {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let (model, data) = half_trained(&backend, (None, false));
    let src = encode_source(&data.src_vocab, "a b", data.num_steps).ids;
    let search = |beam, length_penalty, prefix: &[u32]| {
        let settings = BeamSettings { beam, length_penalty, max_len: 4 };
        pollster::block_on(beam_search(&model, &data.tgt_vocab, &src, prefix, settings)).unwrap_err().to_string()
    };
    assert!(search(0, 0.75, &[]).contains("beam size must be 1 to 64"));
    assert!(search(65, 0.75, &[]).contains("beam size"));
    assert!(search(2, -1.0, &[]).contains("length penalty"));
    assert!(search(2, f32::NAN, &[]).contains("length penalty"));
    assert!(search(2, 0.75, &[4, 4, 4, 4]).contains("leaving no room in the 4"));
    let vocab = &data.tgt_vocab;
    assert_eq!(start_ids(vocab, "a  b").unwrap(), [vocab.index("a"), vocab.index("b")]);
    let refused = |words| start_ids(vocab, words).unwrap_err().to_string();
    assert!(refused("a <eos>").contains("'<eos>' is a reserved token"));
    assert!(refused("<unk>").contains("reserved token"));
    assert!(refused("dcba").contains("separate them with spaces (d c b a)"));
    assert!(refused("zebra").contains("not in the model's target vocabulary"));
}
