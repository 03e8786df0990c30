//! Which share of every minibatch a session trains when a run is split over several workers
//! (`data_parallel.rs` trains it).

use rnnplay_engine::error::{EngineError, Result};
use std::ops::Range;

/// The most workers a run may be split over.
pub const MAX_SHARDS: usize = 64;

/// Which share of every minibatch a session trains: worker `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Worker `index` of `count`: 1 ≤ count ≤ [`MAX_SHARDS`], index < count.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || count > MAX_SHARDS {
            return Err(invalid(format!("a run is split over 1 to {MAX_SHARDS} workers, not {count}")));
        }
        if index >= count {
            return Err(invalid(format!("worker {index} does not exist in a split over {count} (0 to {})", count - 1)));
        }
        Ok(Self { index, count })
    }

    /// This worker's rows of a minibatch of `batch_size`: an even split, the first
    /// `batch_size % count` workers taking one row more.
    pub fn rows(&self, batch_size: usize) -> Range<usize> {
        let (base, extra) = (batch_size / self.count, batch_size % self.count);
        let start = self.index * base + self.index.min(extra);
        start..start + base + usize::from(self.index < extra)
    }

    /// This worker's dropout seed for step `step`: different for every (step, worker), the
    /// step itself for a single worker (so one shard trains exactly as an unsplit run).
    pub fn seed(&self, step: u32) -> u32 {
        step.wrapping_mul(self.count as u32).wrapping_add(self.index as u32)
    }
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}
