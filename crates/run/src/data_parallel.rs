//! Data parallelism: one run trained by several workers, each with its own copy of the
//! session (the same spec, data and seed), each computing one share of every minibatch's rows.
//!
//! A step has two halves. [`Session::share`] runs forward and backward on this worker's rows
//! and reads back one vector — the gradients, then the step's sums (loss, state-gradient
//! norms) — weighted so that the plain sum over the workers is the whole minibatch's. The
//! host adds the workers' vectors with [`sum_shares`], in worker order, and hands the same sum
//! to every worker's [`Session::apply_sum`], which clips it, updates and counts the
//! minibatch. Every worker applies the same numbers to the same weights, so the copies stay
//! equal without sending weights; each keeps its rows' recurrent state between minibatches.
//!
//! This is how the page uses more than one core on stable Rust: wasm32 threads need a nightly
//! standard library, but Web Workers are plain processes that exchange vectors. A session of
//! one shard trains exactly as [`Session::step`] does; more shards give the same training up
//! to the order of floating-point sums (the tests hold both).

use super::session::Session;
use super::shard::Shard;
use super::task::EpochReport;
use rnnplay_engine::error::{EngineError, Result};

/// Adds the workers' shares element by element in worker order (the first share first): the
/// one place the order is fixed, so every host gets the same sum from the same shares.
pub fn sum_shares(shares: &[Vec<f32>]) -> Result<Vec<f32>> {
    let Some((first, rest)) = shares.split_first() else {
        return Err(invalid("no share to add: a split run has at least one worker"));
    };
    let mut sum = first.clone();
    for (index, share) in rest.iter().enumerate() {
        if share.len() != sum.len() {
            return Err(invalid(format!(
                "worker {} sent {} values where worker 0 sent {}; every worker must train the same run",
                index + 1,
                share.len(),
                sum.len()
            )));
        }
        for (total, value) in sum.iter_mut().zip(share) {
            *total += value;
        }
    }
    Ok(sum)
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

impl Session {
    /// Makes this session one worker of a split run: between epochs (a new run, or one resumed
    /// from a checkpoint), and with no more workers than the minibatch has rows.
    pub fn set_shard(&mut self, shard: Shard) -> Result<()> {
        if self.epoch_progress() != (0, 0) || self.awaiting_sum.is_some() {
            return Err(invalid("a run is split over workers between epochs, not within one"));
        }
        let rows = self.spec().batch_size;
        if shard.count > rows {
            return Err(invalid(format!(
                "{} workers cannot share minibatches of {rows} rows; use at most {rows} workers or a larger batch",
                shard.count
            )));
        }
        self.shard = Some(shard);
        Ok(())
    }

    /// The share of every minibatch this session trains, if the run is split.
    pub fn shard(&self) -> Option<Shard> {
        self.shard
    }

    /// The first half of a split step: forward and backward on this worker's rows of the next
    /// minibatch (the epoch begun first when one ended), read back as this worker's share.
    /// Nothing is updated until [`Session::apply_sum`] gets the workers' sum.
    pub async fn share(&mut self) -> Result<Vec<f32>> {
        let Some(shard) = self.shard else {
            return Err(invalid("share() is for a run split over workers; call set_shard first, or step()"));
        };
        if self.awaiting_sum.is_some() {
            return Err(invalid("this worker's share of the step is out; apply the workers' sum first"));
        }
        self.check_steppable()?;
        let (epoch, settings) = (self.epochs_done + 1, self.epoch_settings());
        let shared = self.run.training_mut().share(settings, shard).await;
        match shared {
            Ok((share, tokens)) => {
                self.awaiting_sum = Some(tokens);
                Ok(share)
            }
            Err(err) => Err(self.lost_device(err, epoch)),
        }
    }

    /// The second half of a split step: `sum` ([`sum_shares`] of every worker's
    /// [`Session::share`] of this step) is clipped and applied, and the minibatch counted; after
    /// the epoch's last, the epoch's report, as [`Session::step`] gives it.
    pub async fn apply_sum(&mut self, sum: &[f32]) -> Result<Option<EpochReport>> {
        let Some(tokens) = self.awaiting_sum.take() else {
            return Err(invalid("apply_sum() follows this worker's share() of the same step"));
        };
        let (epoch, settings) = (self.epochs_done + 1, self.epoch_settings());
        self.tokens_trained += tokens;
        let task = self.run.training_mut();
        let finished = match task.apply_sum(sum) {
            Ok(()) => task.end_batch(settings, tokens).await,
            Err(err) => Err(err),
        };
        self.end_step(finished, epoch, settings.lr).await
    }

    /// How many values a share of this run holds (every parameter, then the step's sums).
    pub fn share_len(&mut self) -> Result<usize> {
        self.run.training_mut().share_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split_a_batch_evenly_and_completely() {
        for (batch, count) in [(32, 2), (32, 3), (5, 5), (7, 4), (1, 1)] {
            let ranges: Vec<_> = (0..count).map(|i| Shard::new(i, count).unwrap().rows(batch)).collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[count - 1].end, batch);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        }
    }

    #[test]
    fn seeds_differ_per_worker_and_one_worker_keeps_the_step() {
        assert_eq!(Shard::new(0, 1).unwrap().seed(17), 17);
        let seeds: Vec<u32> = (0..3).flat_map(|i| (1..4).map(move |s| Shard::new(i, 3).unwrap().seed(s))).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
    }

    #[test]
    fn bad_splits_and_shares_are_named() {
        assert!(Shard::new(0, 0).unwrap_err().to_string().contains("1 to 64"));
        assert!(Shard::new(3, 3).unwrap_err().to_string().contains("0 to 2"));
        assert!(sum_shares(&[]).is_err());
        let err = sum_shares(&[vec![1.0, 2.0], vec![1.0]]).unwrap_err().to_string();
        assert!(err.contains("worker 1 sent 1 values where worker 0 sent 2"), "{err}");
        assert_eq!(sum_shares(&[vec![1.0, 2.0], vec![0.5, -2.0]]).unwrap(), vec![1.5, 0.0]);
    }
}
