//! What a run trains on: the data the host loaded for a spec's [`DataSource`] (the engine does
//! no I/O), and the fingerprint a resumable checkpoint records of it, so that a run resumed on
//! other data is caught.

use serde::{Deserialize, Serialize};

/// The data a host loaded for a spec's [`DataSource`](super::DataSource).
#[derive(Debug, Clone, Copy)]
pub enum RunData<'a> {
    /// The Time Machine's or the host's text (language models), or `source<TAB>target` lines.
    Text(&'a str),
    /// d2l's fra-eng.zip (its sha1 checked by the host that read it).
    FraEngZip(&'a [u8]),
    /// Nothing: the data is generated (toy tasks).
    Generated,
}

/// What a run trained on: the size and sha1 of the data the host loaded (a corpus, a pair file,
/// fra-eng.zip), or nothing for data generated from the spec (toy tasks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DataFingerprint {
    Generated,
    Bytes { bytes: u64, sha1: String },
}

impl RunData<'_> {
    /// The fingerprint a resumable checkpoint records of this data.
    pub fn fingerprint(&self) -> DataFingerprint {
        let bytes = |bytes: &[u8]| DataFingerprint::Bytes {
            bytes: bytes.len() as u64,
            sha1: rnnplay_data::hub::sha1_hex(bytes),
        };
        match self {
            RunData::Text(text) => bytes(text.as_bytes()),
            RunData::FraEngZip(zip) => bytes(zip),
            RunData::Generated => DataFingerprint::Generated,
        }
    }
}

impl std::fmt::Display for DataFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Generated => write!(f, "generated data"),
            Self::Bytes { bytes, sha1 } => {
                write!(f, "{bytes} bytes, sha1 {}", sha1.chars().take(12).collect::<String>())
            }
        }
    }
}
