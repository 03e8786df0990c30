//! Training: the step core every trainer shares ([`StepCore`]: one step = one submit, the
//! epoch's metrics on the device, a minibatch's gradient as shares), and the two trainers
//! around it, which differ only in how they get the loss — the language model's ([`Trainer`])
//! and the encoder–decoder's ([`Seq2SeqTrainer`]).

mod language;
mod seq2seq;
mod step_core;

pub use language::{EpochMetrics, Trainer};
pub use seq2seq::{Seq2SeqEpoch, Seq2SeqTrainer};
pub use step_core::StepCore;
