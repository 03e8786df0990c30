//! Output files: checked before a long run starts, written so that a failure never leaves a
//! half-written file in place of a good one.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Where a path points: its canonical form when it exists, else its canonical directory joined
/// with its name (so `./m.svg` and `m.svg` are one file before either exists).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = std::fs::canonicalize(path) {
        return Some(path);
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(std::fs::canonicalize(dir).ok()?.join(path.file_name()?))
}

/// Whether two paths name one file: the same resolved path, or (both existing) the same inode.
fn same_file(a: &Path, b: &Path) -> bool {
    if resolved(a).is_some_and(|a| Some(a) == resolved(b)) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    false
}

/// The temporary file a save writes before renaming it into place.
fn partial(path: &Path) -> PathBuf {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    PathBuf::from(temp)
}

/// Fails early, before a long run, when an output could not be written at the end or would
/// destroy something: each output must be a file (not a directory) in a directory that exists
/// and can be written, and no output may be an input (`(flag, path)`) or another output. A
/// `.partial` left beside an output by a killed save is removed.
pub fn check_paths(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (index, &(flag, path)) in outputs.iter().enumerate() {
        if path.is_dir() {
            bail!(
                "{flag} {}: that is a directory; name a file in it, e.g. {}",
                path.display(),
                path.join("out").display()
            );
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("{flag} {}: the directory {} does not exist", path.display(), dir.display());
        }
        let probe = dir.join(format!(".rnnplay-write-check-{}", std::process::id()));
        if let Err(err) = std::fs::write(&probe, b"") {
            bail!(
                "{flag} {}: cannot write in {} ({err}); choose a directory you can write to",
                path.display(),
                dir.display()
            );
        }
        let _ = std::fs::remove_file(&probe);
        for &(input_flag, input) in inputs {
            if same_file(path, input) {
                bail!(
                    "{flag} {} is the same file as {input_flag} {}: the run would write over its own input; give {flag} another file",
                    path.display(),
                    input.display()
                );
            }
        }
        for &(other_flag, other) in &outputs[..index] {
            if same_file(path, other) {
                bail!("{other_flag} and {flag} both name {}: give each its own file", path.display());
            }
        }
        let stale = partial(path);
        if stale.is_file() {
            let _ = std::fs::remove_file(&stale);
        }
    }
    Ok(())
}

/// Writes `bytes` next to `path` and renames it into place, so that an existing file is
/// replaced only by a complete new one; on failure the temporary file is removed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = partial(path);
    let written = std::fs::write(&temp, bytes).with_context(|| format!("writing {}", temp.display())).and_then(|()| {
        std::fs::rename(&temp, path).with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_are_inputs_or_each_other_or_directories_are_refused() {
        let dir = std::env::temp_dir().join(format!("rnnplay-outputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let corpus = dir.join("c.txt");
        std::fs::write(&corpus, "text").unwrap();
        let err =
            |inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]| check_paths(inputs, outputs).unwrap_err().to_string();
        let save = dir.join("./c.txt");
        assert!(err(&[("--data", &corpus)], &[("--save", &save)]).contains("same file as --data"));
        let plot = dir.join("m.svg");
        assert!(err(&[], &[("--plot", &plot), ("--save", &plot)]).contains("--plot and --save both name"));
        assert!(err(&[], &[("--save", &dir)]).contains("that is a directory"));
        let stale = dir.join("model.safetensors.partial");
        std::fs::write(&stale, "half").unwrap();
        check_paths(&[("--data", &corpus)], &[("--save", &dir.join("model.safetensors"))]).unwrap();
        assert!(!stale.exists(), "a killed save's leftover is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
