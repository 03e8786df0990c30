//! Turning what a user types into token ids of a model's vocabulary, and back: the prefix of a
//! free-running prediction, the passage of a teacher-forced one. Shared by the CLI and the page.

use crate::text::TokenKind;
use crate::vocab::{Vocab, UNK};

/// Splits `text` as the corpus was split (lower-cased, as the corpus cleaning does) and maps
/// each token to its id; tokens outside the vocabulary become `<unk>` and are listed once each.
pub fn encode(vocab: &Vocab, kind: TokenKind, text: &str) -> (Vec<u32>, Vec<String>) {
    let lower = text.to_lowercase();
    let tokens: Vec<String> = match kind {
        TokenKind::Char => lower.chars().map(String::from).collect(),
        TokenKind::Word => lower.split_whitespace().map(String::from).collect(),
    };
    let mut unknown = Vec::new();
    let ids = tokens
        .iter()
        .map(|t| {
            vocab.get(t).unwrap_or_else(|| {
                if !unknown.contains(t) {
                    unknown.push(t.clone());
                }
                UNK
            })
        })
        .collect();
    (ids, unknown)
}

/// Token ids back to text (chars joined directly, words with spaces).
pub fn decode(vocab: &Vocab, kind: TokenKind, ids: &[u32]) -> String {
    let separator = if kind == TokenKind::Word { " " } else { "" };
    ids.iter().map(|&i| vocab.token(i)).collect::<Vec<_>>().join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_characters_become_unk_and_are_reported_once() {
        let vocab = Vocab::new(&[vec!["a", "b", " "]], 0, &[]);
        let (ids, unknown) = encode(&vocab, TokenKind::Char, "Ab!x!");
        assert_eq!(ids, vec![vocab.index("a"), vocab.index("b"), 0, 0, 0]);
        assert_eq!(unknown, vec!["!", "x"]);
        assert_eq!(decode(&vocab, TokenKind::Char, &ids[..2]), "ab");
    }

    #[test]
    fn words_are_split_on_whitespace_and_joined_with_spaces() {
        let vocab = Vocab::new(&[vec!["the", "time", "machine"]], 0, &[]);
        let (ids, unknown) = encode(&vocab, TokenKind::Word, "The  time traveller");
        assert_eq!(unknown, vec!["traveller"]);
        assert_eq!(decode(&vocab, TokenKind::Word, &ids), "the time <unk>");
    }
}
