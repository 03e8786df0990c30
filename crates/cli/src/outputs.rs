//! Output files: checked completely before a long run starts, and written so that nothing of the
//! user's is lost.
//!
//! The rules, as `cp`, `install`, rsync and git keep them:
//! - only regular files are written: a device, a FIFO, a socket or a directory named as an output
//!   is refused before any work, and is never opened for writing, truncated or renamed over;
//! - a file is replaced only by a complete new one: the bytes go to a temporary file of a unique
//!   name beside it, created exclusively (so nobody else's file is ever touched, and two runs
//!   saving to one path both finish: the last rename wins), then renamed into place; a failure
//!   removes that temporary file and nothing else;
//! - a replaced file keeps its permissions, and a symbolic link stays a link (its target is
//!   replaced);
//! - no output may be an input or another output.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a path that is not a regular file is, in words ("a directory", "a FIFO (named pipe)").
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Where a path points: its canonical form when it exists, else its canonical directory joined
/// with its name (so `./m.svg` and `m.svg` are one file before either exists).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = std::fs::canonicalize(path) {
        return Some(path);
    }
    Some(std::fs::canonicalize(parent(path)).ok()?.join(path.file_name()?))
}

/// The directory a path's file is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
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

/// Whether this process may write `path` (an existing file, or a directory to create files in).
#[cfg(unix)]
fn may_write(path: &Path, directory: bool) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(name) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    let mode = if directory { libc::W_OK | libc::X_OK } else { libc::W_OK };
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    unsafe { libc::access(name.as_ptr(), mode) == 0 }
}

#[cfg(not(unix))]
fn may_write(_path: &Path, _directory: bool) -> bool {
    true
}

/// The regular file that writing `path` replaces: the path itself, or the target of a symbolic
/// link (the link stays). Refuses, naming `flag` and the path, anything but a regular file or a
/// name not yet taken, and a file that is write-protected.
fn destination(flag: &str, path: &Path) -> Result<PathBuf> {
    let shown = path.display();
    if path.as_os_str().to_string_lossy().ends_with(std::path::MAIN_SEPARATOR) {
        bail!(
            "{flag} {shown} ends in '/', so it names a directory; name a file in it, e.g. {}",
            path.join("out").display()
        );
    }
    if path.file_name().is_none() {
        bail!("{flag} {shown} names no file; name a file, e.g. out.json");
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            if meta.permissions().readonly() || !may_write(path, false) {
                bail!("{flag} {shown} is write-protected; make it writable (chmod u+w {shown}) or name another file");
            }
            std::fs::canonicalize(path).with_context(|| format!("{flag} {shown}"))
        }
        Ok(meta) if meta.is_dir() => {
            bail!("{flag} {shown}: that is a directory; name a file in it, e.g. {}", path.join("out").display())
        }
        Ok(meta) => bail!(
            "{flag} {shown} is {}, not a regular file: rnnplay writes only regular files; name a file",
            kind_of(&meta)
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                bail!("{flag} {shown} is a symbolic link to a file that does not exist; name the file itself");
            }
            let dir = parent(path);
            match std::fs::metadata(dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => bail!("{flag} {shown}: {} is not a directory", dir.display()),
                Err(_) => bail!("{flag} {shown}: the directory {} does not exist; create it first", dir.display()),
            }
            if !may_write(dir, true) {
                bail!("{flag} {shown}: cannot write in {}; choose a directory you can write to", dir.display());
            }
            Ok(path.to_path_buf())
        }
        Err(err) => bail!("{flag} {shown}: {err}"),
    }
}

/// Fails early, before a long run, when an output could not be written at the end or would
/// destroy something ([`destination`]'s rules), or when an output is an input (`(flag, path)`)
/// or another output.
pub fn check_paths(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (index, &(flag, path)) in outputs.iter().enumerate() {
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
        let target = destination(flag, path)?;
        let dir = parent(&target);
        if !may_write(dir, true) {
            bail!("{flag} {}: cannot write in {}; choose a directory you can write to", path.display(), dir.display());
        }
    }
    Ok(())
}

/// A name for a temporary file beside `target` that no other run picks: the process id, the
/// clock and a counter.
fn temporary_name(target: &Path, attempt: u32, suffix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = target.as_os_str().to_owned();
    name.push(format!(".{:x}-{nanos:x}-{count:x}{attempt:x}.partial{suffix}", std::process::id()));
    PathBuf::from(name)
}

/// Creates a temporary file beside `target` exclusively (never an existing file), with the
/// permissions of the file it will replace.
fn create_temporary(target: &Path, suffix: &str) -> Result<(PathBuf, File)> {
    let keep = std::fs::metadata(target).ok().filter(|m| m.is_file()).map(|m| m.permissions());
    for attempt in 0..100 {
        let temp = temporary_name(target, attempt, suffix);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => {
                if let Some(permissions) = &keep {
                    let _ = file.set_permissions(permissions.clone());
                }
                return Ok((temp, file));
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err).with_context(|| format!("creating {}", temp.display())),
        }
    }
    bail!("could not create a temporary file beside {}", target.display())
}

/// Writes `path` through a temporary file that `fill` writes (by handle or by its path, which
/// ends in `suffix` for writers that pick a format by extension), then renames it into place.
/// On any failure the temporary file is removed and `path` is as it was.
pub fn replace_with(
    flag: &str,
    path: &Path,
    suffix: &str,
    fill: impl FnOnce(&mut File, &Path) -> Result<()>,
) -> Result<()> {
    let target = destination(flag, path)?;
    let (temp, mut file) = create_temporary(&target, suffix)?;
    let written = fill(&mut file, &temp)
        .and_then(|()| file.sync_all().with_context(|| format!("writing {}", temp.display())))
        .and_then(|()| {
            drop(file);
            // Checked again just before the rename: the path may have changed since the run began.
            destination(flag, path)?;
            std::fs::rename(&temp, &target)
                .with_context(|| format!("renaming {} to {}", temp.display(), target.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Writes `bytes` to `path` ([`replace_with`]'s rules).
pub fn write_atomically(flag: &str, path: &Path, bytes: &[u8]) -> Result<()> {
    replace_with(flag, path, "", |file, temp| {
        file.write_all(bytes).with_context(|| format!("writing {}", temp.display()))
    })
}

/// Opens `path` to append to (created if missing) without blocking, and only if it is a regular
/// file: a FIFO with no reader, a device or anything else is refused.
pub fn open_to_append(flag: &str, path: &Path) -> Result<File> {
    destination(flag, path)?;
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).with_context(|| format!("opening {flag} {}", path.display()))?;
    let meta = file.metadata().with_context(|| format!("opening {flag} {}", path.display()))?;
    if !meta.is_file() {
        bail!("{flag} {} is {}, not a regular file: rnnplay writes only regular files", path.display(), kind_of(&meta));
    }
    Ok(file)
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
        let slash = PathBuf::from(format!("{}/", dir.join("new").display()));
        assert!(err(&[], &[("--save", &slash)]).contains("ends in '/'"));
        assert!(err(&[], &[("--save", &dir.join("missing/m.safetensors"))]).contains("does not exist"));
        // A user's own `.partial` file is theirs: checks and saves leave it alone.
        let theirs = dir.join("model.safetensors.partial");
        std::fs::write(&theirs, "mine").unwrap();
        let model = dir.join("model.safetensors");
        check_paths(&[("--data", &corpus)], &[("--save", &model)]).unwrap();
        write_atomically("--save", &model, b"new").unwrap();
        assert_eq!(std::fs::read(&theirs).unwrap(), b"mine");
        assert_eq!(std::fs::read(&model).unwrap(), b"new");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 3, "no temporary file is left: {left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
