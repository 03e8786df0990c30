//! d2l's `Vocab`: `<unk>` at index 0, then the reserved tokens, then tokens by descending
//! frequency with ties in first-seen order (Python's stable sort over a `Counter`), stopping at
//! the first token rarer than `min_freq`.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    idx_to_token: Vec<String>,
    token_to_idx: HashMap<String, u32>,
    /// (token, count) by descending count, ties in first-seen order.
    token_freqs: Vec<(String, usize)>,
}

/// Index of the unknown token.
pub const UNK: u32 = 0;

impl Vocab {
    /// Builds the vocabulary of `lines` of tokens.
    pub fn new<S: AsRef<str>>(lines: &[Vec<S>], min_freq: usize, reserved_tokens: &[&str]) -> Self {
        let mut first_seen: HashMap<&str, usize> = HashMap::new();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for token in lines.iter().flatten() {
            let token = token.as_ref();
            match first_seen.get(token) {
                Some(&i) => counts[i].1 += 1,
                None => {
                    first_seen.insert(token, counts.len());
                    counts.push((token.to_string(), 1));
                }
            }
        }
        counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
        let mut vocab = Self { idx_to_token: Vec::new(), token_to_idx: HashMap::new(), token_freqs: Vec::new() };
        for token in std::iter::once("<unk>").chain(reserved_tokens.iter().copied()) {
            vocab.push(token);
        }
        for (token, count) in &counts {
            if *count < min_freq {
                break;
            }
            vocab.push(token);
        }
        vocab.token_freqs = counts;
        vocab
    }

    /// A vocabulary with exactly these tokens in this order (from a checkpoint).
    pub fn from_tokens(tokens: Vec<String>) -> Self {
        let token_to_idx = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        Self { idx_to_token: tokens, token_to_idx, token_freqs: Vec::new() }
    }

    fn push(&mut self, token: &str) {
        if !self.token_to_idx.contains_key(token) {
            self.token_to_idx.insert(token.to_string(), self.idx_to_token.len() as u32);
            self.idx_to_token.push(token.to_string());
        }
    }

    pub fn len(&self) -> usize {
        self.idx_to_token.len()
    }

    /// Always false: `<unk>` is always present.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index of `token`, or `<unk>`'s (0).
    pub fn index(&self, token: &str) -> u32 {
        self.token_to_idx.get(token).copied().unwrap_or(UNK)
    }

    /// The index of `token` if it is in the vocabulary.
    pub fn get(&self, token: &str) -> Option<u32> {
        self.token_to_idx.get(token).copied()
    }

    /// The token at `index`, or `<unk>` for an index out of range.
    pub fn token(&self, index: u32) -> &str {
        self.idx_to_token.get(index as usize).map_or("<unk>", String::as_str)
    }

    /// All tokens, by index.
    pub fn tokens(&self) -> &[String] {
        &self.idx_to_token
    }

    /// Token counts of the text the vocabulary was built from, most frequent first.
    pub fn token_freqs(&self) -> &[(String, usize)] {
        &self.token_freqs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<Vec<String>> {
        text.iter().map(|l| l.split_whitespace().map(String::from).collect()).collect()
    }

    #[test]
    fn unk_first_then_reserved_then_by_frequency_with_ties_in_first_seen_order() {
        let vocab = Vocab::new(&lines(&["b a c", "a c d"]), 0, &["<pad>"]);
        assert_eq!(vocab.tokens(), ["<unk>", "<pad>", "a", "c", "b", "d"]);
        assert_eq!(vocab.index("c"), 3);
        assert_eq!(vocab.index("zebra"), UNK);
        assert_eq!(vocab.token(4), "b");
        assert_eq!(vocab.token(99), "<unk>");
    }

    #[test]
    fn min_freq_stops_at_the_first_rare_token() {
        let vocab = Vocab::new(&lines(&["a a b b c"]), 2, &[]);
        assert_eq!(vocab.tokens(), ["<unk>", "a", "b"]);
    }
}
