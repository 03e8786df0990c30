//! Output files: checked before a long run starts, written so that a failure never leaves a
//! half-written file in place of a good one.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Fails early, before a long run, when an output file could not be written at the end.
pub fn check_output_dir(flag: &str, path: &Option<PathBuf>) -> Result<()> {
    if let Some(path) = path {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("{flag} {}: the directory {} does not exist", path.display(), dir.display());
        }
    }
    Ok(())
}

/// Writes `bytes` next to `path` and renames it into place, so that an existing file is
/// replaced only by a complete new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
}
