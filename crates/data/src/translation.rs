//! Sentence pairs for sequence-to-sequence models: d2l's fra-eng pipeline (`preprocess_nmt`,
//! `tokenize_nmt`, vocabularies with `<pad> <bos> <eos>`, `truncate_pad` with valid lengths,
//! shuffled minibatches) and the same format for the toy tasks of [`crate::toy`].

use crate::error::{DataError, Result};
use crate::vocab::Vocab;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The reserved tokens of both vocabularies, after `<unk>` (so `<pad>` = 1, `<bos>` = 2,
/// `<eos>` = 3).
pub const RESERVED: [&str; 3] = ["<pad>", "<bos>", "<eos>"];

/// One tokenized pair: (source tokens, target tokens).
pub type Pair = (Vec<String>, Vec<String>);

/// The text of `fra-eng/fra.txt` inside d2l's `fra-eng.zip`.
pub fn read_fra_eng(zip: &[u8]) -> Result<String> {
    let bytes = crate::zip::extract(zip, "fra-eng/fra.txt", "fra-eng.zip")?;
    crate::text::utf8(bytes, "fra-eng/fra.txt")
}

/// d2l's `preprocess_nmt`: non-breaking spaces become spaces, everything is lower-cased, and a
/// space goes before `, . ! ?` when none is there.
pub fn preprocess_nmt(text: &str) -> String {
    let text = text.replace(['\u{202f}', '\u{a0}'], " ").to_lowercase();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if matches!(c, ',' | '.' | '!' | '?') && prev.is_some_and(|p| p != ' ') {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// d2l's `tokenize_nmt`: one pair per line with exactly two tab-separated parts, tokens split
/// on single spaces. Like d2l's loop (`if i > num_examples: break`), lines 0..=num_examples are
/// read.
pub fn tokenize_nmt(text: &str, num_examples: Option<usize>) -> Vec<Pair> {
    let split = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    text.split('\n')
        .enumerate()
        .take_while(|(i, _)| num_examples.is_none_or(|n| *i <= n))
        .filter_map(|(_, line)| {
            let parts: Vec<&str> = line.split('\t').collect();
            (parts.len() == 2).then(|| (split(parts[0]), split(parts[1])))
        })
        .collect()
}

/// The pairs of a user's `source<TAB>target` file called `name`, checked line by line: every line
/// that is not blank must hold exactly one tab with a non-blank side on each side of it, else the
/// error names the line and what is wrong (nothing is dropped silently). Windows line ends are
/// accepted. Lines 0..=`num_examples` are read, as [`tokenize_nmt`] does.
pub fn pairs_from_file(text: &str, name: &str, num_examples: usize) -> Result<Vec<Pair>> {
    let text = text.replace("\r\n", "\n");
    for (index, line) in text.split('\n').enumerate().take(num_examples.saturating_add(1)) {
        if line.trim().is_empty() && !line.contains('\t') {
            continue;
        }
        let shown: String = line.chars().take(60).collect();
        let problem = match line.split('\t').collect::<Vec<_>>()[..] {
            [_] => "has no tab".to_string(),
            [src, _] if src.trim().is_empty() => "has an empty source (nothing but spaces before the tab)".to_string(),
            [_, tgt] if tgt.trim().is_empty() => "has an empty target (nothing but spaces after the tab)".to_string(),
            [_, _] => continue,
            ref parts => format!("has {} tabs", parts.len() - 1),
        };
        return Err(DataError::InvalidArgument(format!(
            "line {} of {name} ('{shown}') {problem}: each line must be source<TAB>target, one tab and both sides \
             non-empty; fix or remove it",
            index + 1
        )));
    }
    let pairs = tokenize_nmt(&preprocess_nmt(&text), Some(num_examples));
    if pairs.is_empty() {
        return Err(DataError::InvalidArgument(format!("{name} has no line of the form source<TAB>target")));
    }
    Ok(pairs)
}

/// `tokens` mapped through `vocab`, `<eos>` appended, truncated or padded to `num_steps`, with
/// the valid length (the count of non-`<pad>` entries, as d2l computes it).
pub fn truncate_pad(vocab: &Vocab, tokens: &[String], num_steps: usize) -> (Vec<u32>, usize) {
    let pad = vocab.index(RESERVED[0]);
    let mut ids: Vec<u32> = tokens.iter().map(|t| vocab.index(t)).collect();
    ids.push(vocab.index(RESERVED[2]));
    ids.truncate(num_steps);
    ids.resize(num_steps, pad);
    let valid = ids.iter().filter(|&&id| id != pad).count();
    (ids, valid)
}

/// A minibatch of pairs; arrays are (batch, num_steps) row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct PairBatch {
    pub batch_size: usize,
    pub num_steps: usize,
    pub src: Vec<u32>,
    pub src_valid: Vec<usize>,
    pub tgt: Vec<u32>,
    pub tgt_valid: Vec<usize>,
}

/// (batch, steps) row-major → (steps, batch) flattened.
pub fn time_major(rows: &[u32], batch_size: usize, num_steps: usize) -> Vec<u32> {
    (0..num_steps).flat_map(|t| (0..batch_size).map(move |b| rows[b * num_steps + t])).collect()
}

impl PairBatch {
    /// Total valid target tokens: the per-token loss's denominator.
    pub fn target_tokens(&self) -> usize {
        self.tgt_valid.iter().sum()
    }

    /// The pairs of rows `rows` (clamped to the batch): one worker's share of a batch trained
    /// data-parallel.
    pub fn rows(&self, rows: std::ops::Range<usize>) -> PairBatch {
        let end = rows.end.min(self.batch_size);
        let start = rows.start.min(end);
        let cut = |values: &[u32]| values[start * self.num_steps..end * self.num_steps].to_vec();
        PairBatch {
            batch_size: end - start,
            num_steps: self.num_steps,
            src: cut(&self.src),
            src_valid: self.src_valid[start..end].to_vec(),
            tgt: cut(&self.tgt),
            tgt_valid: self.tgt_valid[start..end].to_vec(),
        }
    }
}

/// Pairs turned into padded id arrays with their vocabularies, ready for minibatches.
#[derive(Debug, Clone)]
pub struct PairDataset {
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    pub num_steps: usize,
    /// Padded rows of `num_steps` ids, and valid lengths.
    pub src: Vec<Vec<u32>>,
    pub src_valid: Vec<usize>,
    pub tgt: Vec<Vec<u32>>,
    pub tgt_valid: Vec<usize>,
}

impl PairDataset {
    /// d2l's `load_data_nmt` after tokenizing: vocabularies with `min_freq` and the reserved
    /// tokens, arrays of `num_steps`.
    pub fn new(pairs: &[Pair], num_steps: usize, min_freq: usize) -> Result<Self> {
        if pairs.is_empty() {
            return Err(DataError::EmptyCorpus {
                detail: " (no sentence pairs: each line needs 'source<TAB>target')".into(),
            });
        }
        if num_steps == 0 {
            return Err(DataError::InvalidArgument("num_steps must be at least 1".into()));
        }
        let sources: Vec<Vec<String>> = pairs.iter().map(|p| p.0.clone()).collect();
        let targets: Vec<Vec<String>> = pairs.iter().map(|p| p.1.clone()).collect();
        let src_vocab = Vocab::new(&sources, min_freq, &RESERVED);
        let tgt_vocab = Vocab::new(&targets, min_freq, &RESERVED);
        Ok(Self::with_vocabs(pairs, src_vocab, tgt_vocab, num_steps))
    }

    /// The pairs encoded with given vocabularies (a checkpoint's, or a training set's for a
    /// held-out set).
    pub fn with_vocabs(pairs: &[Pair], src_vocab: Vocab, tgt_vocab: Vocab, num_steps: usize) -> Self {
        let (mut src, mut src_valid, mut tgt, mut tgt_valid) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (s, t) in pairs {
            let (ids, valid) = truncate_pad(&src_vocab, s, num_steps);
            src.push(ids);
            src_valid.push(valid);
            let (ids, valid) = truncate_pad(&tgt_vocab, t, num_steps);
            tgt.push(ids);
            tgt_valid.push(valid);
        }
        Self { src_vocab, tgt_vocab, num_steps, src, src_valid, tgt, tgt_valid }
    }

    pub fn len(&self) -> usize {
        self.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    /// One epoch of minibatches in a shuffled order drawn from `rng` (d2l's
    /// `DataLoader(shuffle=True)`: the last batch may be smaller).
    pub fn epoch(&self, batch_size: usize, rng: &mut ChaCha8Rng) -> Result<Vec<PairBatch>> {
        if batch_size == 0 {
            return Err(DataError::InvalidArgument("batch size must be at least 1".into()));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        Ok(order.chunks(batch_size).map(|rows| self.batch(rows)).collect())
    }

    /// The pairs at `rows`, in that order.
    pub fn batch(&self, rows: &[usize]) -> PairBatch {
        PairBatch {
            batch_size: rows.len(),
            num_steps: self.num_steps,
            src: rows.iter().flat_map(|&r| self.src[r].iter().copied()).collect(),
            src_valid: rows.iter().map(|&r| self.src_valid[r]).collect(),
            tgt: rows.iter().flat_map(|&r| self.tgt[r].iter().copied()).collect(),
            tgt_valid: rows.iter().map(|&r| self.tgt_valid[r]).collect(),
        }
    }
}

/// d2l's `bleu(pred_seq, label_seq, k)` on space-separated tokens: a brevity penalty
/// `exp(min(0, 1 - len_label / len_pred))` times the n-gram precisions `p_n^(1/2^n)` for
/// n = 1..=k, each n-gram of the label matched at most as often as it occurs. Where d2l would
/// divide by zero (a prediction shorter than n tokens, or an empty one) the score is 0.
pub fn bleu(pred: &str, label: &str, k: usize) -> f64 {
    let pred_tokens: Vec<&str> = pred.split(' ').collect();
    let label_tokens: Vec<&str> = label.split(' ').collect();
    let (len_pred, len_label) = (pred_tokens.len(), label_tokens.len());
    if pred.is_empty() {
        return 0.0;
    }
    let mut score = (1.0 - len_label as f64 / len_pred as f64).min(0.0).exp();
    for n in 1..=k {
        if len_pred < n {
            return 0.0;
        }
        let mut label_subs: std::collections::HashMap<&[&str], usize> = std::collections::HashMap::new();
        for gram in label_tokens.windows(n) {
            *label_subs.entry(gram).or_default() += 1;
        }
        let mut matches = 0;
        for gram in pred_tokens.windows(n) {
            if let Some(count) = label_subs.get_mut(gram).filter(|c| **c > 0) {
                matches += 1;
                *count -= 1;
            }
        }
        score *= (matches as f64 / (len_pred - n + 1) as f64).powf(0.5f64.powi(n as i32));
    }
    score
}

/// A seeded generator for epoch orders.
pub fn epoch_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessing_and_tokenizing_follow_d2l() {
        let raw = "Go.\tVa !\nHi.\tSalut\u{202f}!\nRun!\tCours !\nbroken line\n";
        let text = preprocess_nmt(raw);
        assert!(text.starts_with("go .\tva !\nhi .\tsalut !\nrun !\tcours !"), "{text:?}");
        let pairs = tokenize_nmt(&text, None);
        assert_eq!(pairs.len(), 3, "the line without a tab is skipped");
        assert_eq!(pairs[1], (vec!["hi".into(), ".".into()], vec!["salut".into(), "!".into()]));
        // d2l's loop reads lines 0..=num_examples.
        assert_eq!(tokenize_nmt(&text, Some(1)).len(), 2);
    }

    #[test]
    fn arrays_carry_eos_padding_and_valid_lengths() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let pairs: Vec<Pair> = vec![(words("go ."), words("va !")), (words("go now go ."), words("va"))];
        let data = PairDataset::new(&pairs, 4, 1).unwrap();
        assert_eq!(data.src_vocab.index("<pad>"), 1);
        assert_eq!(data.src_vocab.index("<bos>"), 2);
        assert_eq!(data.src_vocab.index("<eos>"), 3);
        let v = |t: &str| data.src_vocab.index(t);
        assert_eq!(data.src[0], vec![v("go"), v("."), 3, 1]);
        assert_eq!(data.src_valid[0], 3);
        assert_eq!(data.src[1], vec![v("go"), v("now"), v("go"), v(".")], "truncated: no room for <eos>");
        assert_eq!(data.src_valid[1], 4);
        assert_eq!(data.tgt_valid, vec![3, 2]);
        let batch = data.batch(&[1, 0]);
        assert_eq!(batch.tgt_valid, vec![2, 3]);
        assert_eq!(batch.target_tokens(), 5);
        let second = batch.rows(1..2);
        assert_eq!(
            (second.batch_size, second.tgt_valid.clone(), second.src.clone()),
            (1, vec![3], data.src[0].clone())
        );
        assert_eq!(batch.rows(0..1).target_tokens() + second.target_tokens(), 5);
        assert_eq!(time_major(&[1, 2, 3, 4, 5, 6], 2, 3), vec![1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn bleu_matches_hand_worked_cases() {
        assert_eq!(bleu("va !", "va !", 2), 1.0);
        assert_eq!(bleu("j'ai perdu .", "j'ai perdu .", 2), 1.0);
        // d2l's "he's calm ." → "il est calme ." against "il est calme .": exact.
        assert_eq!(bleu("il est calme .", "il est calme .", 2), 1.0);
        // One of two unigrams and no bigram match: p1 = 1/2, p2 = 0 → 0.
        assert_eq!(bleu("va ?", "va !", 2), 0.0);
        // Prediction shorter than the label: brevity penalty exp(1 - 4/3); p1 = 3/3, p2 = 2/2.
        let short = bleu("je suis chez", "je suis chez moi", 2);
        assert!((short - (1.0f64 - 4.0 / 3.0).exp()).abs() < 1e-12, "{short}");
        // Repeated tokens are matched at most as often as the label has them:
        // pred "a a a", label "a b": p1 = 1/3, p2 = 0/2 → 0; with k = 1 → (1/3)^(1/2).
        assert!((bleu("a a a", "a b", 1) - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(bleu("", "va !", 2), 0.0);
        assert_eq!(bleu("va", "va !", 2), 0.0, "one token has no bigram");
    }

    #[test]
    fn epochs_are_shuffled_by_the_seed_and_keep_the_last_partial_batch() {
        let pairs: Vec<Pair> = (0..10).map(|i| (vec![format!("s{i}")], vec![format!("t{i}")])).collect();
        let data = PairDataset::new(&pairs, 3, 1).unwrap();
        let sizes =
            |seed| data.epoch(4, &mut epoch_rng(seed)).unwrap().iter().map(|b| b.batch_size).collect::<Vec<_>>();
        assert_eq!(sizes(0), vec![4, 4, 2]);
        let first = |seed| data.epoch(4, &mut epoch_rng(seed)).unwrap()[0].src.clone();
        assert_eq!(first(1), first(1));
        assert_ne!(first(1), first(2));
        assert!(PairDataset::new(&[], 3, 1).is_err());
    }

    #[test]
    fn a_pair_file_is_refused_by_line_number_for_every_kind_of_bad_line() {
        let err = |text: &str| pairs_from_file(text, "p.tsv", 100).unwrap_err().to_string();
        assert!(
            err("a\tb\n \t c\n").starts_with("line 2 of p.tsv (' \t c') has an empty source"),
            "{}",
            err("a\tb\n \t c\n")
        );
        assert!(
            err("a\tb\nc\t\u{3000} \n").contains("line 2 of p.tsv") && err("a\tb\nc\t  \n").contains("empty target")
        );
        assert!(err("a\tb\tc\n").contains("line 1 of p.tsv ('a\tb\tc') has 2 tabs"));
        assert!(err("a b\n").contains("line 1 of p.tsv ('a b') has no tab"));
        assert!(err("\n\n").contains("no line of the form"));
        // Blank lines are skipped, Windows line ends accepted, tokens as d2l's.
        let pairs = pairs_from_file("go .\tva !\r\n\r\n  \nhi\tsalut\r\n", "p.tsv", 100).unwrap();
        let tokens = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(pairs, vec![(tokens(&["go", "."]), tokens(&["va", "!"])), (tokens(&["hi"]), tokens(&["salut"]))]);
    }
}
