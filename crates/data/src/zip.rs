//! Just enough of the zip format to take one member out of an archive such as d2l's
//! `fra-eng.zip`: the central directory names the member, its local header locates the data,
//! which is stored or deflated, and its CRC-32 is checked.

use crate::error::{DataError, Result};

const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const CENTRAL_DIRECTORY_ENTRY: u32 = 0x0201_4b50;
const LOCAL_HEADER: u32 = 0x0403_4b50;

fn bad(what: &str, detail: impl Into<String>) -> DataError {
    DataError::BadArchive { what: what.to_string(), detail: detail.into() }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    bytes.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The bytes of member `name` of the zip archive `archive` (called `what` in messages).
pub fn extract(archive: &[u8], name: &str, what: &str) -> Result<Vec<u8>> {
    let truncated = || bad(what, "the archive is truncated or not a zip file");
    // The end record is the last 22 bytes unless the archive has a comment (≤ 65 535 bytes).
    let search_from = archive.len().saturating_sub(22 + 65_535);
    let end = (search_from..archive.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(archive, i) == Some(END_OF_CENTRAL_DIRECTORY))
        .ok_or_else(truncated)?;
    let entries = u16_at(archive, end + 10).ok_or_else(truncated)?;
    let mut at = u32_at(archive, end + 16).ok_or_else(truncated)? as usize;
    let mut names = Vec::new();
    for _ in 0..entries {
        if u32_at(archive, at) != Some(CENTRAL_DIRECTORY_ENTRY) {
            return Err(truncated());
        }
        let field = |offset| u16_at(archive, at + offset).ok_or_else(truncated);
        let (method, name_len, extra_len, comment_len) = (field(10)?, field(28)?, field(30)?, field(32)?);
        let word = |offset| u32_at(archive, at + offset).ok_or_else(truncated);
        let (crc, compressed, size, local) = (word(16)?, word(20)? as usize, word(24)? as usize, word(42)? as usize);
        let entry_name = archive.get(at + 46..at + 46 + name_len).ok_or_else(truncated)?;
        let entry_name = String::from_utf8_lossy(entry_name).into_owned();
        if entry_name == name {
            if u32_at(archive, local) != Some(LOCAL_HEADER) {
                return Err(truncated());
            }
            let local_name = u16_at(archive, local + 26).ok_or_else(truncated)?;
            let local_extra = u16_at(archive, local + 28).ok_or_else(truncated)?;
            let start = local + 30 + local_name + local_extra;
            let data = archive.get(start..start + compressed).ok_or_else(truncated)?;
            let bytes = match method {
                0 => data.to_vec(),
                8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, size)
                    .map_err(|e| bad(what, format!("{name} does not inflate: {e:?}")))?,
                other => {
                    return Err(bad(
                        what,
                        format!("{name} uses compression method {other}; only stored and deflate are read"),
                    ))
                }
            };
            if bytes.len() != size || crc32fast::hash(&bytes) != crc {
                return Err(bad(what, format!("{name} is damaged (size or CRC-32 does not match)")));
            }
            return Ok(bytes);
        }
        names.push(entry_name);
        at += 46 + name_len + extra_len + comment_len;
    }
    Err(bad(what, format!("it has no member {name} (it has {names:?})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-member archive, stored or deflated, built by hand as a zip writer lays it out.
    fn archive(name: &str, content: &[u8], deflate: bool) -> Vec<u8> {
        let data = if deflate { miniz_oxide::deflate::compress_to_vec(content, 6) } else { content.to_vec() };
        let crc = crc32fast::hash(content);
        let method: u16 = if deflate { 8 } else { 0 };
        let mut out = Vec::new();
        out.extend(LOCAL_HEADER.to_le_bytes());
        out.extend([20, 0, 0, 0]);
        out.extend(method.to_le_bytes());
        out.extend([0; 4]);
        out.extend(crc.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((content.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend([0, 0]);
        out.extend(name.as_bytes());
        out.extend(&data);
        let central = out.len();
        out.extend(CENTRAL_DIRECTORY_ENTRY.to_le_bytes());
        out.extend([20, 0, 20, 0, 0, 0]);
        out.extend(method.to_le_bytes());
        out.extend([0; 4]);
        out.extend(crc.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((content.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend([0; 12]);
        out.extend(0u32.to_le_bytes());
        out.extend(name.as_bytes());
        let central_len = out.len() - central;
        out.extend(END_OF_CENTRAL_DIRECTORY.to_le_bytes());
        out.extend([0, 0, 0, 0, 1, 0, 1, 0]);
        out.extend((central_len as u32).to_le_bytes());
        out.extend((central as u32).to_le_bytes());
        out.extend([0, 0]);
        out
    }

    #[test]
    fn stored_and_deflated_members_come_out_whole() {
        let text = b"go .\tva !\nhi .\tsalut !\n".repeat(20);
        for deflate in [false, true] {
            let zip = archive("fra-eng/fra.txt", &text, deflate);
            assert_eq!(extract(&zip, "fra-eng/fra.txt", "test.zip").unwrap(), text);
        }
    }

    #[test]
    fn a_missing_member_or_a_damaged_archive_is_an_error_that_says_so() {
        let zip = archive("a.txt", b"hello", true);
        let missing = extract(&zip, "b.txt", "test.zip").unwrap_err().to_string();
        assert!(missing.contains("no member b.txt") && missing.contains("a.txt"), "{missing}");
        let cut = extract(&zip[..zip.len() - 30], "a.txt", "test.zip").unwrap_err().to_string();
        assert!(cut.contains("truncated or not a zip file"), "{cut}");
        let mut flipped = zip.clone();
        flipped[30 + "a.txt".len() + 1] ^= 0xff; // inside the deflated data
        assert!(extract(&flipped, "a.txt", "test.zip").is_err());
    }
}
