//! Untrusted input (issue #15): a checkpoint's config is checked against bounds and against its
//! tensors before anything is allocated, non-finite weights are refused by name, the CPU backend
//! refuses a buffer past its limit with the GPU's error, and every trainer stops on a blow-up.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::nn::{LanguageModel, Seq2Seq};
use rnnplay_engine::testing::error_text;
use rnnplay_engine::{Checkpoint, EngineError, EngineOptions, Seq2SeqCheckpoint};
use rnnplay_run::presets::{PRESETS, SEQ2SEQ_PRESETS};
use rnnplay_run::{RunData, RunSpec};
use std::rc::Rc;

fn cpu() -> Rc<dyn Backend> {
    Rc::new(CpuBackend::new())
}

fn text() -> String {
    "the time traveller held up a glittering metallic framework.\n".repeat(20)
}

#[test]
fn a_configs_parameter_count_is_what_its_model_holds() {
    let backend = cpu();
    for preset in PRESETS {
        let mut spec = RunSpec::preset(preset.name).unwrap();
        for (embedding, bidirectional) in [(0, "no"), (7, "no"), (0, "yes"), (7, "yes")] {
            (spec.embedding, spec.bidirectional) = (embedding, bidirectional.into());
            let Ok(config) = spec.model_config(28) else { continue };
            let model = LanguageModel::new(&backend, &config, 0).unwrap();
            let held: usize = model.params().iter().map(|p| p.len()).sum();
            assert_eq!(config.param_count(), Some(held), "{} embedding {embedding} {bidirectional}", preset.name);
        }
    }
    for preset in SEQ2SEQ_PRESETS {
        for bidirectional in ["no", "yes"] {
            let mut spec = RunSpec::preset(preset.name).unwrap();
            spec.bidirectional = bidirectional.into();
            let config = spec.seq2seq_config(30, 40);
            let model = Seq2Seq::new(&backend, &config, 0).unwrap();
            let held: usize = model.params().iter().map(|p| p.len()).sum();
            assert_eq!(config.param_count(), Some(held), "{} bidirectional {bidirectional}", preset.name);
        }
    }
}

fn small_checkpoint() -> Checkpoint {
    let mut spec = RunSpec::preset("d2l-gru").unwrap();
    (spec.hidden, spec.epochs, spec.batch_size, spec.num_steps) = (8, 1, 4, 8);
    let text = text();
    let mut session = spec.build(&cpu(), RunData::Text(&text), &EngineOptions::default()).unwrap();
    while !session.finished() {
        pollster::block_on(session.step()).unwrap();
    }
    Checkpoint::from_bytes(&pollster::block_on(session.checkpoint_bytes(None)).unwrap()).unwrap()
}

#[test]
fn an_edited_checkpoint_config_is_refused_before_anything_is_allocated() {
    let good = small_checkpoint();
    let edited = |edit: &dyn Fn(&mut Checkpoint)| {
        let mut checkpoint = good.clone();
        edit(&mut checkpoint);
        checkpoint.to_bytes().unwrap()
    };
    // Past the bounds: refused when the file is read.
    for (edit, says) in [
        (&(|c: &mut Checkpoint| c.config.hidden_size = 100_000) as &dyn Fn(&mut Checkpoint), "hidden size of 100000"),
        (&|c: &mut Checkpoint| c.config.hidden_size = 1 << 62, "hidden size of"),
        (&|c: &mut Checkpoint| c.config.num_layers = 1_000_000_000, "number of layers of 1000000000"),
    ] {
        let err = error_text(Checkpoint::from_bytes(&edited(edit)));
        assert!(err.contains(says) && err.contains("at most"), "{err}");
    }
    // Within the bounds but not what the tensors hold: refused before the model is built.
    let bytes = edited(&|c| (c.config.hidden_size, c.config.num_layers) = (16_000, 40));
    let checkpoint = Checkpoint::from_bytes(&bytes).unwrap();
    let err = error_text(checkpoint.into_model(&cpu()));
    assert!(err.contains("the config and the weights disagree"), "{err}");

    let err = error_text(Checkpoint::from_bytes(&edited(&|c| c.tensors[0].2[3] = f32::NAN)));
    assert!(err.contains(&format!("tensor '{}' holds NaN at index 3", good.tensors[0].0)), "{err}");
    let err = error_text(Checkpoint::from_bytes(&edited(&|c| c.tensors[1].2[0] = f32::INFINITY)));
    assert!(err.contains("holds inf"), "{err}");
}

#[test]
fn an_encoder_decoder_checkpoint_with_an_absurd_sentence_length_is_refused() {
    let mut spec = RunSpec::preset("toy-reverse").unwrap();
    (spec.num_examples, spec.hidden, spec.embedding, spec.epochs) = (50, 8, 4, 1);
    let mut session = spec.build(&cpu(), RunData::Generated, &EngineOptions::default()).unwrap();
    while !session.finished() {
        pollster::block_on(session.step()).unwrap();
    }
    let mut checkpoint =
        Seq2SeqCheckpoint::from_bytes(&pollster::block_on(session.checkpoint_bytes(None)).unwrap()).unwrap();
    checkpoint.num_steps = 1 << 63;
    let err = error_text(Seq2SeqCheckpoint::from_bytes(&checkpoint.to_bytes().unwrap()));
    assert!(err.contains("num_steps is 9223372036854775808"), "{err}");
}

#[test]
fn the_cpu_backend_refuses_a_buffer_past_its_limit_with_the_gpus_error() {
    let err = cpu().alloc(1 << 40).unwrap_err();
    assert!(matches!(err, EngineError::BufferTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("smaller batch, hidden size or vocabulary"), "{err}");
    let mut spec = RunSpec::preset("d2l-gru").unwrap();
    (spec.hidden, spec.epochs) = (16_000, 1);
    let text = text();
    let err = error_text(spec.build(&cpu(), RunData::Text(&text), &EngineOptions::default()));
    assert!(err.contains("exceeds the CPU backend's limit for one buffer"), "{err}");
}
