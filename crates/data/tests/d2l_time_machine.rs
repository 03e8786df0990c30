//! d2l's facts about The Time Machine, read through the hub from `RNNPLAY_DATA_DIR`
//! (CI: ../shared/data), and the hub's checks.

use rnnplay_data::{clean_time_machine, tokenize, Corpus, DataError, Dataset, Hub, TokenKind, Vocab};
use std::path::PathBuf;

fn shared_hub() -> Hub {
    let dir = std::env::var_os("RNNPLAY_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    Hub::new(dir).offline()
}

#[test]
fn the_time_machine_matches_d2ls_char_corpus() {
    let text = shared_hub().read_text(Dataset::TimeMachine).expect("timemachine.txt in RNNPLAY_DATA_DIR");
    let lines = clean_time_machine(&text);
    assert_eq!(lines[0], "the time machine by h g wells");
    let corpus = Corpus::from_text(&text, TokenKind::Char, None).unwrap();
    assert_eq!(corpus.len(), 170_580);
    assert_eq!(corpus.vocab.len(), 28);
    assert_eq!(corpus.vocab.index("a"), 4);
    assert_eq!(&corpus.vocab.tokens()[..10], ["<unk>", " ", "e", "t", "a", "i", "n", "o", "s", "h"]);
    let first_10k = Corpus::from_text(&text, TokenKind::Char, Some(10_000)).unwrap();
    assert_eq!(first_10k.len(), 10_000);
}

#[test]
fn the_time_machine_word_vocabulary_matches_d2l() {
    let text = shared_hub().read_text(Dataset::TimeMachine).unwrap();
    let tokens = tokenize(&clean_time_machine(&text), TokenKind::Word);
    let vocab = Vocab::new(&tokens, 0, &[]);
    // d2l §8.2: the most frequent words and their counts.
    assert_eq!(
        &vocab.token_freqs()[..3],
        [("the".to_string(), 2261), ("i".to_string(), 1267), ("and".to_string(), 1245)]
    );
    assert_eq!(&vocab.tokens()[..4], ["<unk>", "the", "i", "and"]);
}

#[test]
fn a_file_with_the_wrong_sha1_is_rejected_and_kept() {
    let dir = std::env::temp_dir().join(format!("rnnplay-hub-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("timemachine.txt");
    std::fs::write(&path, "not the time machine").unwrap();
    let err = Hub::new(&dir).offline().read_text(Dataset::TimeMachine).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains("090b5e7e70c295757f55df93cb0a180b9691891a"), "{err}");
    assert!(path.exists(), "the user's file is not deleted");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn offline_without_a_cached_file_names_the_url_the_path_and_the_variable() {
    let dir = std::env::temp_dir().join(format!("rnnplay-hub-empty-{}", std::process::id()));
    let err = Hub::new(&dir).offline().read(Dataset::FraEng).unwrap_err().to_string();
    assert!(err.contains("http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"), "{err}");
    assert!(err.contains(&dir.join("fra-eng.zip").display().to_string()), "{err}");
    assert!(err.contains("RNNPLAY_DATA_DIR"), "{err}");
}

#[test]
fn fra_eng_zip_in_the_shared_data_verifies() {
    let bytes = shared_hub().read(Dataset::FraEng).expect("fra-eng.zip in RNNPLAY_DATA_DIR");
    assert!(bytes.starts_with(b"PK"), "a zip archive");
}

#[test]
fn fra_eng_matches_d2ls_preprocessing_and_vocabularies() {
    use rnnplay_data::translation::{preprocess_nmt, read_fra_eng, tokenize_nmt, PairDataset};
    let zip = shared_hub().read(Dataset::FraEng).expect("fra-eng.zip in RNNPLAY_DATA_DIR");
    let text = preprocess_nmt(&read_fra_eng(&zip).unwrap());
    assert!(
        text.starts_with("go .\tva !\nhi .\tsalut !\nrun !\tcours !\nrun !\tcourez !\nwho ?\tqui ?\nwow !\tça alors !")
    );
    assert_eq!(tokenize_nmt(&text, None).len(), 167_130);
    // d2l's load_data_nmt(batch_size, num_steps=10, num_examples=600).
    let pairs = tokenize_nmt(&text, Some(600));
    assert_eq!(pairs.len(), 601);
    let data = PairDataset::new(&pairs, 10, 2).unwrap();
    assert_eq!((data.src_vocab.len(), data.tgt_vocab.len()), (184, 201));
    assert_eq!(&data.src_vocab.tokens()[..10], ["<unk>", "<pad>", "<bos>", "<eos>", ".", "!", "i", "i'm", "it", "go"]);
    assert_eq!(&data.tgt_vocab.tokens()[4..10], [".", "!", "je", "suis", "tom", "?"]);
}
