//! rnnplay-data: corpora, tokenizers, vocabularies, minibatch iterators and the dataset hub.
//! No GPU code; builds for wasm32 (the hub's download is native only).
//!
//! The pipeline reproduces d2l's recurrent chapters exactly: The Time Machine cleaned with
//! `[^A-Za-z]+ → ' '`, stripped and lower-cased; char or word tokens; a `Vocab` with `<unk>` at 0;
//! sequential and random minibatch sampling from a seeded generator.

pub mod dates;
pub mod error;
pub mod hub;
pub mod iter;
pub mod prompt;
pub mod recall;
pub mod text;
pub mod toy;
pub mod translation;
pub mod vocab;
pub mod zip;

pub use error::{DataError, Result};
pub use hub::{Dataset, Hub};
pub use iter::{Batch, BatchIter, Sampling};
pub use text::{clean_time_machine, tokenize, Corpus, TokenKind};
pub use vocab::Vocab;
