//! Text cleaning and tokenization, as d2l's `read_time_machine` and `tokenize`, and the
//! corpus they make.

use crate::error::{DataError, Result};
use crate::vocab::Vocab;

/// Char or word tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Char,
    Word,
}

impl TokenKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::Word => "word",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "char" => Ok(Self::Char),
            "word" => Ok(Self::Word),
            other => Err(DataError::InvalidArgument(format!("unknown token kind '{other}'; use char or word"))),
        }
    }
}

/// `bytes` as text, or an error naming `what` and the first invalid byte.
pub fn utf8(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes)
        .map_err(|err| DataError::NotText { what: what.into(), offset: err.utf8_error().valid_up_to() })
}

/// d2l's `read_time_machine` cleaning of each line: runs of non-letters become one space,
/// then strip and lower-case. Empty lines stay (as empty strings), like d2l's.
pub fn clean_time_machine(text: &str) -> Vec<String> {
    text.split_inclusive('\n')
        .map(|line| {
            let mut cleaned = String::with_capacity(line.len());
            let mut in_gap = false;
            for c in line.chars() {
                if c.is_ascii_alphabetic() {
                    cleaned.push(c.to_ascii_lowercase());
                    in_gap = false;
                } else if !in_gap {
                    cleaned.push(' ');
                    in_gap = true;
                }
            }
            cleaned.trim().to_string()
        })
        .collect()
}

/// How much of `text`'s letters d2l's cleaning keeps (it keeps the letters a–z alone): the
/// letters kept, the letters in all (of any script), and up to five of the dropped letters, the
/// most frequent first.
pub fn letters_kept(text: &str) -> (usize, usize, Vec<char>) {
    let mut dropped: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    let (mut kept, mut letters) = (0, 0);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if c.is_ascii_alphabetic() {
            kept += 1;
        } else {
            *dropped.entry(c).or_default() += 1;
        }
    }
    let mut dropped: Vec<(char, usize)> = dropped.into_iter().collect();
    dropped.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    (kept, letters, dropped.into_iter().take(5).map(|(c, _)| c).collect())
}

/// d2l's `tokenize`: words split on whitespace, or every character (spaces included).
pub fn tokenize(lines: &[String], kind: TokenKind) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|line| match kind {
            TokenKind::Word => line.split_whitespace().map(String::from).collect(),
            TokenKind::Char => line.chars().map(String::from).collect(),
        })
        .collect()
}

/// A tokenized text as indices into its vocabulary.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub tokens: Vec<u32>,
    pub vocab: Vocab,
    pub kind: TokenKind,
}

impl Corpus {
    /// d2l's `load_corpus_time_machine(max_tokens)` for any text: clean, tokenize, build the
    /// vocabulary of the whole text, flatten, keep the first `max_tokens` (all when `None`).
    pub fn from_text(text: &str, kind: TokenKind, max_tokens: Option<usize>) -> Result<Self> {
        let lines = clean_time_machine(text);
        let tokens = tokenize(&lines, kind);
        let vocab = Vocab::new(&tokens, 0, &[]);
        let mut indices: Vec<u32> = tokens.iter().flatten().map(|t| vocab.index(t)).collect();
        if let Some(max) = max_tokens {
            if max == 0 {
                return Err(DataError::InvalidArgument("max_tokens must be at least 1 (or unset for all)".into()));
            }
            indices.truncate(max);
        }
        if indices.is_empty() {
            return Err(DataError::EmptyCorpus { detail: " after keeping only letters and spaces".into() });
        }
        Ok(Self { tokens: indices, vocab, kind })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Always false: a corpus has at least one token.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Turns indices back into text (chars joined directly, words with spaces).
    pub fn decode(&self, indices: &[u32]) -> String {
        let separator = if self.kind == TokenKind::Word { " " } else { "" };
        indices.iter().map(|&i| self.vocab.token(i)).collect::<Vec<_>>().join(separator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_keeps_letters_lowercases_and_strips() {
        let lines = clean_time_machine("The Time-Machine, by H. G. Wells\n\n  [1898]  \nI.\n");
        assert_eq!(lines, ["the time machine by h g wells", "", "", "i"]);
    }

    #[test]
    fn char_tokens_include_spaces_and_word_tokens_do_not() {
        let lines = vec!["ab c".to_string()];
        assert_eq!(tokenize(&lines, TokenKind::Char), vec![vec!["a", "b", " ", "c"]]);
        assert_eq!(tokenize(&lines, TokenKind::Word), vec![vec!["ab", "c"]]);
    }

    #[test]
    fn a_text_without_letters_is_an_empty_corpus_error() {
        let err = Corpus::from_text("  123 ... \n\n", TokenKind::Char, None).unwrap_err();
        assert!(matches!(err, DataError::EmptyCorpus { .. }), "{err}");
    }

    #[test]
    fn non_utf8_bytes_are_reported_with_their_offset() {
        let err = utf8(vec![b'a', b'b', 0xff, 0xfe], "upload.txt").unwrap_err().to_string();
        assert!(err.contains("upload.txt") && err.contains("offset 2"), "{err}");
    }

    #[test]
    fn letters_outside_a_to_z_are_counted_as_dropped() {
        assert_eq!(letters_kept("The été, 42 ïïï!"), (4, 9, vec!['ï', 'é']));
        assert_eq!(letters_kept("Привет"), (0, 6, vec!['П', 'в', 'е', 'и', 'р']));
    }

    #[test]
    fn decode_inverts_encoding() {
        let corpus = Corpus::from_text("hello world", TokenKind::Char, None).unwrap();
        assert_eq!(corpus.decode(&corpus.tokens), "hello world");
        let words = Corpus::from_text("hello big world", TokenKind::Word, Some(2)).unwrap();
        assert_eq!(words.decode(&words.tokens), "hello big");
    }
}
