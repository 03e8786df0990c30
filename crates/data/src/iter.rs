//! Minibatches of a token sequence, as d2l's `seq_data_iter_random` and
//! `seq_data_iter_sequential`, from a seeded generator.
//!
//! - Random sampling: drop a random offset in `0..num_steps`, cut the rest into subsequences of
//!   `num_steps`, shuffle them, and batch them. Neighbouring batches are unrelated, so the
//!   recurrent state is re-initialised for every batch.
//! - Sequential partitioning: drop a random offset in `0..=num_steps`, lay the rest out as
//!   `batch_size` rows, and walk along the rows `num_steps` at a time. Row r of batch i+1
//!   continues row r of batch i, so the state is carried (and detached) between batches:
//!   truncated BPTT.

use crate::error::{DataError, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    Random,
    Sequential,
}

impl Sampling {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "random" => Ok(Self::Random),
            "sequential" => Ok(Self::Sequential),
            other => Err(DataError::InvalidArgument(format!("unknown sampling '{other}'; use random or sequential"))),
        }
    }
}

/// One minibatch: `inputs` and `labels` are (batch_size, num_steps), row-major; the labels are
/// the inputs shifted by one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub inputs: Vec<u32>,
    pub labels: Vec<u32>,
    pub batch_size: usize,
    pub num_steps: usize,
}

impl Batch {
    /// The inputs in time-major order, (num_steps, batch_size) flattened: what a model's
    /// forward pass takes.
    pub fn inputs_time_major(&self) -> Vec<u32> {
        (0..self.num_steps)
            .flat_map(|t| (0..self.batch_size).map(move |b| self.inputs[b * self.num_steps + t]))
            .collect()
    }

    /// The labels in time-major order, (num_steps, batch_size) flattened: the order of logits
    /// stacked step by step.
    pub fn labels_time_major(&self) -> Vec<u32> {
        (0..self.num_steps)
            .flat_map(|t| (0..self.batch_size).map(move |b| self.labels[b * self.num_steps + t]))
            .collect()
    }

    /// The minibatch of rows `rows` (clamped to the batch): one worker's share of a batch
    /// trained data-parallel. Row r of the share continues row `rows.start + r` of the
    /// previous batch's share, so sequential partitioning still carries each row's state.
    pub fn rows(&self, rows: std::ops::Range<usize>) -> Batch {
        let end = rows.end.min(self.batch_size);
        let start = rows.start.min(end);
        let cut = |values: &[u32]| values[start * self.num_steps..end * self.num_steps].to_vec();
        Batch {
            inputs: cut(&self.inputs),
            labels: cut(&self.labels),
            batch_size: end - start,
            num_steps: self.num_steps,
        }
    }
}

/// Produces one epoch of minibatches at a time from a corpus.
pub struct BatchIter {
    corpus: Vec<u32>,
    batch_size: usize,
    num_steps: usize,
    sampling: Sampling,
    rng: ChaCha8Rng,
}

impl BatchIter {
    /// Checks that every epoch yields at least one batch, whatever the random offset.
    pub fn new(corpus: Vec<u32>, batch_size: usize, num_steps: usize, sampling: Sampling, seed: u64) -> Result<Self> {
        if batch_size == 0 || num_steps == 0 {
            return Err(DataError::InvalidArgument(format!(
                "batch_size ({batch_size}) and num_steps ({num_steps}) must be at least 1"
            )));
        }
        let needed = Self::min_tokens(batch_size, num_steps);
        if corpus.len() < needed {
            return Err(DataError::CorpusTooShort { tokens: corpus.len(), batch_size, num_steps, needed });
        }
        Ok(Self { corpus, batch_size, num_steps, sampling, rng: ChaCha8Rng::seed_from_u64(seed) })
    }

    /// Tokens needed for one batch at the largest offset either sampling may draw.
    pub fn min_tokens(batch_size: usize, num_steps: usize) -> usize {
        batch_size * num_steps + num_steps + 1
    }

    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// Where the random stream stands (a ChaCha8 word position): saved with a run, so that a
    /// resumed run draws the epochs an uninterrupted one would have drawn.
    pub fn rng_position(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// Moves the random stream to a position [`BatchIter::rng_position`] returned.
    pub fn set_rng_position(&mut self, position: u128) {
        self.rng.set_word_pos(position);
    }

    /// One fixed minibatch for measurements that compare epochs (the gradient's reach): its
    /// windows start at evenly spaced places in the corpus — or, given `last_input`, at evenly
    /// spaced ones of the windows whose last input is that token (the recall task's marker, so
    /// that each window's last prediction is a recall); drawing it leaves the random stream
    /// where it was.
    pub fn probe(&self, last_input: Option<u32>) -> Batch {
        let (batch_size, num_steps) = (self.batch_size, self.num_steps);
        let all: Vec<usize> = (0..self.corpus.len() - num_steps).collect();
        let fitting: Vec<usize> = match last_input {
            Some(token) => all.iter().copied().filter(|&s| self.corpus[s + num_steps - 1] == token).collect(),
            None => Vec::new(),
        };
        let candidates = if fitting.is_empty() { &all } else { &fitting };
        let starts: Vec<usize> = (0..batch_size).map(|b| candidates[b * candidates.len() / batch_size]).collect();
        let window = |shift: usize| {
            starts.iter().flat_map(|&s| self.corpus[s + shift..s + shift + num_steps].iter().copied()).collect()
        };
        Batch { inputs: window(0), labels: window(1), batch_size, num_steps }
    }

    /// The minibatches of the next epoch.
    pub fn epoch(&mut self) -> Vec<Batch> {
        match self.sampling {
            Sampling::Random => self.random_epoch(),
            Sampling::Sequential => self.sequential_epoch(),
        }
    }

    fn random_epoch(&mut self) -> Vec<Batch> {
        let (batch_size, num_steps) = (self.batch_size, self.num_steps);
        let offset = self.rng.random_range(0..num_steps);
        let corpus = &self.corpus[offset..];
        let num_subseqs = (corpus.len() - 1) / num_steps;
        let mut starts: Vec<usize> = (0..num_subseqs).map(|i| i * num_steps).collect();
        starts.shuffle(&mut self.rng);
        starts
            .chunks_exact(batch_size)
            .map(|chunk| {
                let inputs = chunk.iter().flat_map(|&s| corpus[s..s + num_steps].iter().copied()).collect();
                let labels = chunk.iter().flat_map(|&s| corpus[s + 1..s + 1 + num_steps].iter().copied()).collect();
                Batch { inputs, labels, batch_size, num_steps }
            })
            .collect()
    }

    fn sequential_epoch(&mut self) -> Vec<Batch> {
        let (batch_size, num_steps) = (self.batch_size, self.num_steps);
        let offset = self.rng.random_range(0..=num_steps);
        let num_tokens = ((self.corpus.len() - offset - 1) / batch_size) * batch_size;
        let row_len = num_tokens / batch_size;
        let xs = &self.corpus[offset..offset + num_tokens];
        let ys = &self.corpus[offset + 1..offset + 1 + num_tokens];
        (0..row_len / num_steps)
            .map(|i| {
                let window = |source: &[u32]| -> Vec<u32> {
                    (0..batch_size)
                        .flat_map(|b| {
                            source[b * row_len + i * num_steps..b * row_len + (i + 1) * num_steps].iter().copied()
                        })
                        .collect()
                };
                Batch { inputs: window(xs), labels: window(ys), batch_size, num_steps }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(len: u32) -> Vec<u32> {
        (0..len).collect()
    }

    #[test]
    fn labels_are_inputs_shifted_by_one_in_both_samplings() {
        for sampling in [Sampling::Random, Sampling::Sequential] {
            let mut iter = BatchIter::new(counting(35), 2, 5, sampling, 0).unwrap();
            let batches = iter.epoch();
            assert!(!batches.is_empty());
            for batch in &batches {
                assert_eq!(batch.inputs.len(), 10);
                for (x, y) in batch.inputs.iter().zip(&batch.labels) {
                    assert_eq!(x + 1, *y);
                }
            }
        }
    }

    #[test]
    fn the_probe_is_fixed_whole_windows_and_draws_nothing() {
        let mut iter = BatchIter::new(counting(100), 4, 5, Sampling::Random, 3).unwrap();
        let probe = iter.probe(None);
        assert_eq!((probe.batch_size, probe.num_steps, probe.inputs.len()), (4, 5, 20));
        let starts: Vec<u32> = probe.inputs.chunks(5).map(|row| row[0]).collect();
        assert_eq!(starts, [0, 23, 47, 71]);
        assert!(probe.inputs.iter().zip(&probe.labels).all(|(x, y)| x + 1 == *y));
        let position = iter.rng_position();
        assert_eq!(iter.probe(None), probe);
        assert_eq!(iter.rng_position(), position);
        iter.epoch();
        assert_eq!(iter.probe(None), probe, "the same after an epoch");
        // Windows ending at a given token: here every token ending in 7.
        let tens = BatchIter::new((0..100).map(|t| t % 10).collect(), 3, 5, Sampling::Random, 3).unwrap();
        let probe = tens.probe(Some(7));
        assert!(probe.inputs.chunks(5).all(|row| row[4] == 7), "{:?}", probe.inputs);
        assert_eq!(tens.probe(Some(42)), tens.probe(None), "a token that never ends a window falls back");
    }

    #[test]
    fn sequential_rows_continue_across_batches() {
        let mut iter = BatchIter::new(counting(100), 3, 4, Sampling::Sequential, 7).unwrap();
        let batches = iter.epoch();
        assert!(batches.len() >= 2);
        for pair in batches.windows(2) {
            for row in 0..3 {
                let last = pair[0].inputs[row * 4 + 3];
                let next = pair[1].inputs[row * 4];
                assert_eq!(last + 1, next, "row {row} must continue");
            }
        }
    }

    #[test]
    fn rows_cut_a_batch_into_shares_that_add_up_to_it() {
        let mut iter = BatchIter::new(counting(100), 3, 4, Sampling::Sequential, 7).unwrap();
        let batch = iter.epoch().remove(0);
        let (head, tail) = (batch.rows(0..1), batch.rows(1..3));
        assert_eq!((head.batch_size, tail.batch_size), (1, 2));
        assert_eq!([head.inputs, tail.inputs].concat(), batch.inputs);
        assert_eq!([head.labels, tail.labels].concat(), batch.labels);
        assert_eq!(batch.rows(2..9).batch_size, 1, "clamped to the batch");
        assert_eq!(batch.rows(5..9).batch_size, 0);
    }

    #[test]
    fn random_subsequences_do_not_overlap_within_an_epoch() {
        let mut iter = BatchIter::new(counting(200), 4, 5, Sampling::Random, 3).unwrap();
        let mut seen: Vec<u32> = iter.epoch().iter().flat_map(|b| b.inputs.clone()).collect();
        let total = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), total);
    }

    #[test]
    fn the_same_seed_gives_the_same_batches_and_another_seed_does_not() {
        let epoch = |seed| BatchIter::new(counting(300), 4, 6, Sampling::Random, seed).unwrap().epoch();
        assert_eq!(epoch(5), epoch(5));
        assert_ne!(epoch(5), epoch(6));
    }

    #[test]
    fn a_short_corpus_names_the_minimum_length() {
        let err = BatchIter::new(counting(120), 32, 35, Sampling::Random, 0).err().unwrap().to_string();
        assert!(err.contains("corpus has 120 tokens") && err.contains("needs at least 1156"), "{err}");
    }

    #[test]
    fn time_major_inputs_and_labels_follow_step_order() {
        let batch =
            Batch { inputs: vec![0, 1, 2, 10, 11, 12], labels: vec![1, 2, 3, 11, 12, 13], batch_size: 2, num_steps: 3 };
        assert_eq!(batch.inputs_time_major(), vec![0, 10, 1, 11, 2, 12]);
        assert_eq!(batch.labels_time_major(), vec![1, 11, 2, 12, 3, 13]);
    }
}
