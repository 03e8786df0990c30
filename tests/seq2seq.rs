//! The encoder–decoder end to end on generated data: masked loss, gradients against finite
//! differences, a toy task learned, GPU and CPU agreeing.

use rnnplay_data::toy::ToyTask;
use rnnplay_data::translation::{epoch_rng, PairDataset};
use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::nn::{AttentionScoring, Seq2Seq, Seq2SeqConfig};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::train::Seq2SeqTrainer;
use rnnplay_engine::translate::{encode_source, teacher_forced_reference, translate};
use rnnplay_engine::Optimizer;
use rnnplay_engine::{zero_grads, Checkpoint, Seq2SeqCheckpoint, Tape, Tensor};
use std::rc::Rc;

fn cpu() -> Rc<dyn Backend> {
    Rc::new(CpuBackend::new())
}

fn read(t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.to_vec()).unwrap()
}

#[test]
fn masked_cross_entropy_ignores_padded_positions() {
    let backend = cpu();
    let labels = Tensor::from_u32(&backend, &[4], &[1, 2, 0, 3]).unwrap();
    let weights = Tensor::from_f32(&backend, &[4], &[1.0, 1.0, 0.0, 1.0]).unwrap();
    let run = |padded_row: [f32; 4]| {
        let mut logits = vec![0.1, 0.5, -0.2, 0.3, 1.0, -1.0, 0.0, 0.2, 0.7, 0.1, -0.4, 0.9];
        logits.extend_from_slice(&padded_row);
        // Rows 0, 1, 3 are real; row 2 (logits[8..12]) is padding: swap it with the new values.
        let mut rows = logits[..8].to_vec();
        rows.extend_from_slice(&padded_row);
        rows.extend_from_slice(&logits[8..12]);
        let x = Tensor::from_f32(&backend, &[4, 4], &rows).unwrap();
        let mut tape = Tape::new(&backend, 0);
        let x = tape.constant(x);
        let leaf = {
            // Make the logits a parameter-like leaf with a gradient by adding a zero parameter.
            let param = rnnplay_engine::Param::new(
                &backend,
                "bias",
                &[4],
                rnnplay_engine::Init::Zeros,
                &mut rnnplay_engine::InitRng::new(0),
            )
            .unwrap();
            (tape.param(&param), param)
        };
        let logits = tape.add_bias(x, leaf.0).unwrap();
        let loss = tape.masked_softmax_cross_entropy(logits, &labels, Some(&weights), 3.0).unwrap();
        tape.backward(loss).unwrap();
        (read(tape.value(loss))[0], read(leaf.1.grad()))
    };
    let (loss_a, grad_a) = run([0.0, 0.0, 0.0, 0.0]);
    let (loss_b, grad_b) = run([50.0, -20.0, 3.0, 7.0]);
    assert_eq!(loss_a, loss_b, "padding changed the loss");
    assert_eq!(grad_a, grad_b, "padding changed the gradient");
    assert!(loss_a > 0.0);
}

fn tiny_attending(
    backend: &Rc<dyn Backend>,
    src: usize,
    tgt: usize,
    layers: usize,
    (attention, bidirectional): (Option<AttentionScoring>, bool),
) -> Seq2Seq {
    let config = Seq2SeqConfig {
        src_vocab_size: src,
        tgt_vocab_size: tgt,
        embed_size: 3,
        hidden_size: 4,
        num_layers: layers,
        dropout: 0.0,
        attention,
        bidirectional,
    };
    Seq2Seq::new(backend, &config, 7).unwrap()
}

/// The decoders and encoders the tests below run: plain, additive and dot attention with a
/// one-direction encoder, and plain and dot with a bidirectional one.
const ARCHITECTURES: [(Option<AttentionScoring>, bool); 5] = [
    (None, false),
    (Some(AttentionScoring::Additive), false),
    (Some(AttentionScoring::Dot), false),
    (None, true),
    (Some(AttentionScoring::Dot), true),
];

/// Every parameter's gradient against finite differences, for every architecture (the second
/// source's last token masked).
#[test]
fn encoder_decoder_gradients_match_finite_differences() {
    for architecture in ARCHITECTURES {
        gradients_match_finite_differences(architecture);
    }
}

fn gradients_match_finite_differences(architecture: (Option<AttentionScoring>, bool)) {
    let backend = cpu();
    let model = tiny_attending(&backend, 6, 5, 2, architecture);
    let src = Tensor::from_u32(&backend, &[3, 2], &[1, 4, 2, 5, 3, 0]).unwrap();
    let valid = Tensor::from_u32(&backend, &[2], &[3, 2]).unwrap();
    let dec_in = Tensor::from_u32(&backend, &[3, 2], &[2, 2, 4, 1, 0, 3]).unwrap();
    let labels = Tensor::from_u32(&backend, &[6], &[4, 1, 0, 3, 3, 2]).unwrap();
    let weights = Tensor::from_f32(&backend, &[6], &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0]).unwrap();
    let loss = || {
        let mut tape = Tape::new(&backend, 0);
        tape.set_training(false);
        let logits = model.forward(&mut tape, &src, &valid, &dec_in).unwrap();
        let loss = tape.masked_softmax_cross_entropy(logits, &labels, Some(&weights), 3.0).unwrap();
        (tape, loss)
    };
    zero_grads(model.params()).unwrap();
    let (mut tape, l) = loss();
    tape.backward(l).unwrap();
    let eps = 1e-2f32;
    for param in model.params() {
        let values = read(param.value());
        let analytic = read(param.grad());
        // A few entries of every parameter (embeddings: the rows the inputs use).
        for i in (0..values.len()).step_by((values.len() / 3).max(1)) {
            let mut shifted = values.clone();
            shifted[i] = values[i] + eps;
            param.value().write_f32(&shifted).unwrap();
            let (t, l) = loss();
            let up = read(t.value(l))[0];
            shifted[i] = values[i] - eps;
            param.value().write_f32(&shifted).unwrap();
            let (t, l) = loss();
            let down = read(t.value(l))[0];
            param.value().write_f32(&values).unwrap();
            let numeric = (up - down) / (2.0 * eps);
            let err = (numeric - analytic[i]).abs();
            assert!(
                err < 2e-3 + 2e-2 * analytic[i].abs(),
                "{architecture:?}: {}[{i}]: analytic {}, numeric {numeric}",
                param.name(),
                analytic[i]
            );
        }
    }
}

/// Trains on `count` pairs of the reverse task (sources of 3 to 5 letters) and returns (model,
/// dataset, per-token CE per epoch).
fn train_reverse(backend: &Rc<dyn Backend>, count: usize, epochs: usize) -> (Seq2Seq, PairDataset, Vec<f32>) {
    let pairs = ToyTask::Reverse.pairs(count, 3, 5, 1, &[]).unwrap();
    let data = PairDataset::new(&pairs, 8, 1).unwrap();
    let config = Seq2SeqConfig {
        src_vocab_size: data.src_vocab.len(),
        tgt_vocab_size: data.tgt_vocab.len(),
        embed_size: 16,
        hidden_size: 64,
        num_layers: 1,
        dropout: 0.0,
        attention: None,
        bidirectional: false,
    };
    let model = Seq2Seq::new(backend, &config, 0).unwrap();
    let mut trainer = Seq2SeqTrainer::new(backend, Optimizer::by_name("adam", 0.01).unwrap(), 1.0).unwrap();
    let mut rng = epoch_rng(0);
    let curve = (0..epochs)
        .map(|_| {
            let batches = data.epoch(64, &mut rng).unwrap();
            pollster::block_on(trainer.train_epoch(&model, &data.tgt_vocab, &batches)).unwrap().per_token_ce
        })
        .collect();
    (model, data, curve)
}

#[test]
fn the_reverse_task_is_learned_to_90_percent_exact_match_on_held_out_strings() {
    let backend = cpu();
    // Many fresh examples generalise better than many passes over few: 20 000 pairs, 5 epochs.
    let (model, data, curve) = train_reverse(&backend, 20_000, 5);
    assert!(curve[0] > 5.0 * curve[4] && curve[4] < 0.1, "per-token CE {curve:?}");
    let train = ToyTask::Reverse.pairs(20_000, 3, 5, 1, &[]).unwrap();
    let held_out = ToyTask::Reverse.pairs(100, 3, 5, 99, &train).unwrap();
    let mut exact = 0;
    for (src, tgt) in &held_out {
        let source = encode_source(&data.src_vocab, &src.join(" "), data.num_steps);
        let out = pollster::block_on(translate(&model, &data.tgt_vocab, &source.ids, 10)).unwrap();
        let words: Vec<&str> = out.iter().map(|&id| data.tgt_vocab.token(id)).collect();
        let ok = words == tgt.iter().map(String::as_str).collect::<Vec<_>>();
        exact += usize::from(ok);
    }
    assert!(exact >= 90, "{exact}/100 held-out strings reversed exactly");
    // The teacher-forced view of a learned pair is confident.
    let (src, tgt) = &held_out[0];
    let source = encode_source(&data.src_vocab, &src.join(" "), data.num_steps);
    let reference: Vec<u32> = tgt.iter().map(|t| data.tgt_vocab.index(t)).collect();
    let view = pollster::block_on(teacher_forced_reference(&model, &data.tgt_vocab, &source.ids, &reference)).unwrap();
    assert_eq!(view.len(), reference.len() + 1, "one position per token and <eos>");
}

#[test]
fn gpu_and_cpu_train_the_encoder_decoder_alike() {
    let Some(gpu) = gpu_or_skip("gpu_and_cpu_train_the_encoder_decoder_alike") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    let (_, _, on_gpu) = train_reverse(&gpu, 500, 2);
    let (_, _, on_cpu) = train_reverse(&cpu(), 500, 2);
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        assert!((g - c).abs() < 1e-4 * c.max(1.0), "per-token CE: gpu {g}, cpu {c}");
    }
}

#[test]
fn a_seq2seq_checkpoint_round_trip_translates_the_same_and_kinds_are_not_mixed_up() {
    let backend = cpu();
    let (model, data, _) = train_reverse(&backend, 300, 2);
    let checkpoint =
        pollster::block_on(Seq2SeqCheckpoint::capture(&model, &data.src_vocab, &data.tgt_vocab, data.num_steps))
            .unwrap();
    let bytes = checkpoint.to_bytes().unwrap();
    let loaded = Seq2SeqCheckpoint::from_bytes(&bytes).unwrap();
    assert!(loaded == checkpoint, "the loaded checkpoint differs from the saved one");
    let restored = loaded.into_model(&backend).unwrap();
    let source = encode_source(&data.src_vocab, "a b c d", data.num_steps);
    let translate_with = |m: &Seq2Seq| pollster::block_on(translate(m, &data.tgt_vocab, &source.ids, 10)).unwrap();
    assert_eq!(translate_with(&model), translate_with(&restored));
    let err = Checkpoint::from_bytes(&bytes).unwrap_err().to_string();
    assert!(err.contains("it holds a seq2seq model, not a language model"), "{err}");
}

#[test]
fn scheduled_sampling_with_no_coins_is_teacher_forcing_and_with_coins_feeds_the_models_guesses() {
    for architecture in ARCHITECTURES {
        scheduled_sampling_feeds(architecture);
    }
}

fn scheduled_sampling_feeds(architecture: (Option<AttentionScoring>, bool)) {
    let backend = cpu();
    let model = tiny_attending(&backend, 6, 5, 2, architecture);
    let (steps, batch) = (3, 2);
    let valid = Tensor::from_u32(&backend, &[batch], &[3, 2]).unwrap();
    let src = Tensor::from_u32(&backend, &[steps, batch], &[1, 4, 2, 5, 3, 0]).unwrap();
    let dec_in: Vec<u32> = vec![2, 2, 4, 1, 0, 3];
    let logits_of = |coins: &[u32]| {
        let mut tape = Tape::new(&backend, 0);
        tape.set_training(false);
        let inputs: Vec<Tensor> = (0..steps)
            .map(|t| Tensor::from_u32(&backend, &[1, batch], &dec_in[t * batch..(t + 1) * batch]).unwrap())
            .collect();
        let coins: Vec<Tensor> = (0..steps)
            .map(|t| Tensor::from_u32(&backend, &[batch], &coins[t * batch..(t + 1) * batch]).unwrap())
            .collect();
        let logits = model.forward_scheduled(&mut tape, &src, &valid, &inputs, &coins).unwrap();
        read(tape.value(logits))
    };
    let mut tape = Tape::new(&backend, 0);
    tape.set_training(false);
    let forced =
        model.forward(&mut tape, &src, &valid, &Tensor::from_u32(&backend, &[steps, batch], &dec_in).unwrap()).unwrap();
    let forced = read(tape.value(forced));
    let none = logits_of(&[0; 6]);
    for (a, b) in none.iter().zip(&forced) {
        assert!((a - b).abs() < 1e-5, "no coins must be teacher forcing: {a} vs {b}");
    }
    // Coins on every position after the first: step t reads step t-1's argmax.
    let all = logits_of(&[0, 0, 1, 1, 1, 1]);
    assert_eq!(&all[..2 * 5], &none[..2 * 5], "step 0 is fed <bos> either way");
    assert_ne!(all, none, "later steps see the model's own guesses");

    // Training with scheduled sampling still learns the toy task's first epochs.
    let pairs = ToyTask::Reverse.pairs(2000, 3, 5, 1, &[]).unwrap();
    let data = PairDataset::new(&pairs, 8, 1).unwrap();
    let config = Seq2SeqConfig {
        src_vocab_size: data.src_vocab.len(),
        tgt_vocab_size: data.tgt_vocab.len(),
        embed_size: 8,
        hidden_size: 32,
        num_layers: 1,
        dropout: 0.0,
        attention: None,
        bidirectional: false,
    };
    let model = Seq2Seq::new(&backend, &config, 0).unwrap();
    let mut trainer = Seq2SeqTrainer::new(&backend, Optimizer::by_name("adam", 0.01).unwrap(), 1.0).unwrap();
    trainer.set_scheduled_sampling(0.5, 3).unwrap();
    assert!(trainer.set_scheduled_sampling(1.5, 3).is_err());
    let mut rng = epoch_rng(0);
    let curve: Vec<f32> = (0..3)
        .map(|_| {
            let batches = data.epoch(64, &mut rng).unwrap();
            pollster::block_on(trainer.train_epoch(&model, &data.tgt_vocab, &batches)).unwrap().per_token_ce
        })
        .collect();
    assert!(curve[2] < 0.8 * curve[0], "per-token CE with scheduled sampling {curve:?}");
}
