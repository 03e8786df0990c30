//! The CLI's side of tokenizing user text: warnings on stderr.

pub use rnnplay_data::prompt::decode;
use rnnplay_data::prompt::encode;
use rnnplay_data::{TokenKind, Vocab};

/// [`encode`], warning on stderr about tokens fed as `<unk>`.
pub fn encode_with_warning(vocab: &Vocab, kind: TokenKind, text: &str, what: &str) -> Vec<u32> {
    let (ids, unknown) = encode(vocab, kind, text);
    if !unknown.is_empty() {
        crate::terminal::warn(&format!("the {what} has tokens outside the vocabulary, fed as <unk>: {unknown:?}"));
    }
    ids
}
