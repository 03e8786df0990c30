//! How bytes cross between the page and its workers inside JSON messages: as base64 text. A
//! megabyte of safetensors as a JSON array of numbers takes far longer to write and parse, on
//! the page's thread too.

/// `Vec<u8>` as base64 text (`#[serde(with = "crate::wire::base64_bytes")]`).
pub mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Quantized values (`Vec<i8>`) as base64 text of their bytes.
pub mod base64_i8 {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[i8], serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = values.iter().map(|&v| v as u8).collect();
        super::base64_bytes::serialize(&bytes, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i8>, D::Error> {
        Ok(super::base64_bytes::deserialize(deserializer)?.into_iter().map(|b| b as i8).collect())
    }
}
