//! Errors of the data pipeline. Each message names the problem and how to fix it.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DataError {
    /// The dataset is not cached and could not be downloaded.
    #[error(
        "{name} is not available offline: expected it at {path} (sha1 {sha1}). Download {url} there, \
         or set RNNPLAY_DATA_DIR to a directory that holds {file}{reason}"
    )]
    NotCached {
        name: &'static str,
        file: &'static str,
        url: &'static str,
        sha1: &'static str,
        path: PathBuf,
        reason: String,
    },

    /// A cached or downloaded file whose sha1 is not the published one.
    #[error("{path} has sha1 {actual}, but {name} must have sha1 {expected}; the file was not used. Delete it and run again to download a fresh copy")]
    ChecksumMismatch { name: &'static str, path: PathBuf, expected: &'static str, actual: String },

    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// A text that is not UTF-8 (a binary file, say).
    #[error("{what} is not UTF-8 text (invalid byte at offset {offset}); give a plain .txt file")]
    NotText { what: String, offset: usize },

    /// A corpus with nothing to learn from.
    #[error("the corpus is empty{detail}; give a text with some letters in it")]
    EmptyCorpus { detail: String },

    /// A corpus too short for one minibatch.
    #[error("corpus has {tokens} tokens; batch_size {batch_size} × num_steps {num_steps} needs at least {needed}. Use a longer text, a smaller batch size or fewer steps")]
    CorpusTooShort { tokens: usize, batch_size: usize, num_steps: usize, needed: usize },

    /// A zip archive that cannot be read, or lacks the member asked for.
    #[error("{what}: {detail}")]
    BadArchive { what: String, detail: String },

    /// A size or setting out of range.
    #[error("{0}")]
    InvalidArgument(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
