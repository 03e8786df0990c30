//! What each fuzz target does with its input, in one place: `fuzz/fuzz_targets/*.rs` (cargo fuzz,
//! coverage-guided, nightly) and `tests/fuzz_brief.rs` (a short mutation run on stable, in the
//! test command) both call these. A target passes when it returns: every input may be refused
//! with an error, none may panic, abort, hang or allocate without bound. Where a parser accepts
//! an input, the target goes on to use what it returned the way a host would, so that "parses
//! but cannot be used" is found too.

use rnnplay_data::translation::{epoch_rng, preprocess_nmt, read_fra_eng, tokenize_nmt, PairDataset};
use rnnplay_data::{prompt, text::utf8, BatchIter, Corpus, Sampling, TokenKind};
use rnnplay_engine::generate::{generate, Decoding};
use rnnplay_engine::translate::{encode_source, translate};
use rnnplay_engine::{Backend, Checkpoint, CpuBackend, EngineOptions, Seq2SeqCheckpoint};
use rnnplay_run::SavedRun;
use rnnplay_run::{RunData, RunSpec};
use std::rc::Rc;

/// A fuzz target: what it does with one input.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz/fuzz_targets/*.rs` and of `fuzz/seeds/*`).
pub const TARGETS: [(&str, Target); 6] = [
    ("checkpoint", checkpoint),
    ("resumable", resumable),
    ("query", query),
    ("corpus", corpus),
    ("fra_eng_zip", fra_eng_zip),
    ("pairs", pairs),
];

fn cpu() -> Rc<dyn Backend> {
    Rc::new(CpuBackend::new())
}

/// A checkpoint file as `rnnplay predict`, `translate`, `train --resume` and the page's loader
/// read it: parsed as either kind, the model built from it, a few tokens predicted.
pub fn checkpoint(bytes: &[u8]) {
    let backend = cpu();
    if let Ok(saved) = Checkpoint::from_bytes(bytes) {
        if let Ok(model) = saved.into_model(&backend) {
            let prefix: Vec<u32> = (0..saved.vocab.len().min(3) as u32).collect();
            let _ = pollster::block_on(generate(&model, &prefix, 3, Decoding::Greedy));
        }
    }
    if let Ok(saved) = Seq2SeqCheckpoint::from_bytes(bytes) {
        if let Ok(model) = saved.into_model(&backend) {
            let source = encode_source(&saved.src_vocab, "go .", saved.num_steps);
            let _ = pollster::block_on(translate(&model, &saved.tgt_vocab, &source.ids, saved.num_steps.min(4)));
        }
    }
    if let Ok(saved) = SavedRun::from_bytes(bytes) {
        let _ = saved.spec().validate();
    }
}

/// The corpus of [`saved_run`].
const RESUMABLE_CORPUS: &str = "the time traveller for so it will be convenient to speak of him was expounding a \
                                recondite matter to us his grey eyes shone and twinkled";

/// A run saved between epochs, as `rnnplay train --save` writes it: a tiny GRU trained one
/// epoch with Adam (so the state holds moments) and a validation split, on
/// [`RESUMABLE_CORPUS`].
pub fn saved_run() -> Checkpoint {
    static SAVED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let bytes = SAVED.get_or_init(|| {
        let mut spec = RunSpec::preset("d2l-gru").expect("the d2l-gru preset exists");
        for (field, value) in [
            ("data", "corpus.txt"),
            ("hidden", "4"),
            ("batch_size", "2"),
            ("num_steps", "4"),
            ("epochs", "3"),
            ("optimizer", "adam"),
            ("lr", "0.01"),
            ("valid_fraction", "0.2"),
        ] {
            spec.set(field, value).unwrap_or_else(|err| panic!("{field}={value}: {}", err.message));
        }
        let data = RunData::Text(RESUMABLE_CORPUS);
        let mut session = spec.build(&cpu(), data, &EngineOptions::default()).expect("the base run builds");
        while session.epochs_done() < 1 {
            pollster::block_on(session.step()).expect("the base run trains");
        }
        pollster::block_on(session.checkpoint_bytes(None)).expect("the base run saves")
    });
    Checkpoint::from_bytes(bytes).expect("the base run's checkpoint reads")
}

/// A resumable checkpoint's run spec and training state — the input: the two JSON texts,
/// split at the first NUL byte — in place of a real saved run's ([`saved_run`]): read as
/// `rnnplay train --resume` reads it, its data checked against the run's corpus, then the run
/// rebuilt (on other data too, as `--allow-changed-data` does) and trained one minibatch.
pub fn resumable(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let (spec, training) = text.split_once('\0').unwrap_or((&text, ""));
    let mut file = saved_run();
    file.extra.insert("spec".into(), spec.into());
    file.extra.insert("training".into(), training.into());
    let Ok(bytes) = file.to_bytes() else { return };
    let Ok(saved) = SavedRun::from_bytes(&bytes) else { return };
    let data = RunData::Text(RESUMABLE_CORPUS);
    let saved = if saved.check_data(data).is_ok() { saved } else { saved.allow_changed_data() };
    let epochs = saved.epochs_done() + 1;
    if let Ok(mut session) = saved.build(&cpu(), data, &EngineOptions::default(), epochs) {
        let _ = pollster::block_on(session.step());
    }
}

/// The page's address: its run settings (`rnnplay_web::settings`), which must survive a round
/// trip through the address they are written back to, and the keys beside them.
pub fn query(bytes: &[u8]) {
    let query = String::from_utf8_lossy(bytes);
    use rnnplay_web::settings;
    if let Ok(spec) = settings::from_query(&query) {
        let _ = spec.validate();
        let written = settings::to_query(&spec);
        match settings::from_query(&written) {
            Ok(again) => assert_eq!(again, spec, "{query:?} does not survive the round trip through {written:?}"),
            Err(err) => panic!("{query:?} was read, but its own address {written:?} is refused: {err}"),
        }
    }
    let _ = rnnplay_web::bench_options::BenchOptions::from_query(&query);
    let _ = settings::lesson_name(&query);
    let _ = settings::lessons_index_first(&query, true);
}

/// An uploaded or `--data` corpus: bytes to UTF-8 text, tokenized both ways, the vocabulary
/// used to encode a prompt and decode it, and minibatches cut from it.
pub fn corpus(bytes: &[u8]) {
    let Ok(text) = utf8(bytes.to_vec(), "fuzz input") else { return };
    for kind in [TokenKind::Char, TokenKind::Word] {
        let Ok(corpus) = Corpus::from_text(&text, kind, None) else { continue };
        let vocab_len = corpus.vocab.len() as u32;
        assert!(corpus.tokens.iter().all(|&t| t < vocab_len), "a token index past the vocabulary");
        let _ = corpus.decode(&corpus.tokens[..corpus.tokens.len().min(64)]);
        let prompt_text: String = text.chars().take(32).collect();
        let (ids, _unknown) = prompt::encode(&corpus.vocab, kind, &prompt_text);
        assert!(ids.iter().all(|&t| t < vocab_len), "a prompt index past the vocabulary");
        let _ = prompt::decode(&corpus.vocab, kind, &ids);
        for sampling in [Sampling::Random, Sampling::Sequential] {
            if let Ok(mut batches) = BatchIter::new(corpus.tokens.clone(), 2, 3, sampling, 0) {
                for batch in batches.epoch() {
                    let _ = (batch.inputs_time_major(), batch.labels_time_major());
                }
            }
        }
    }
}

/// d2l's fra-eng.zip as the hub reads it (its checksum aside): the zip, the text inside,
/// d2l's preprocessing and tokenization, the vocabularies and one epoch of padded minibatches.
pub fn fra_eng_zip(bytes: &[u8]) {
    let Ok(text) = read_fra_eng(bytes) else { return };
    let pairs = tokenize_nmt(&preprocess_nmt(&text), Some(200));
    if let Ok(dataset) = PairDataset::new(&pairs, 8, 1) {
        let _ = dataset.epoch(4, &mut epoch_rng(0));
    }
}

/// A `source<TAB>target` file given to a seq2seq run (`--data FILE`, or uploaded in the page):
/// the session is built from it, with a tiny model, and trains one minibatch.
pub fn pairs(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let Ok(mut spec) = RunSpec::preset("d2l-seq2seq") else { panic!("the d2l-seq2seq preset is missing") };
    for (field, value) in [
        ("data", "pairs.tsv"),
        ("hidden", "4"),
        ("embedding", "4"),
        ("layers", "1"),
        ("dropout", "0"),
        ("batch_size", "2"),
    ] {
        if let Err(err) = spec.set(field, value) {
            panic!("{field}={value}: {}", err.message);
        }
    }
    let backend = cpu();
    if let Ok(mut session) = spec.build(&backend, RunData::Text(&text), &EngineOptions::default()) {
        let _ = pollster::block_on(session.step());
    }
}
