//! The dataset hub: d2l's public datasets by address and sha1, cached on disk.
//!
//! `Hub::from_env()` caches under `RNNPLAY_DATA_DIR` (tests and CI point it at
//! `../shared/data`), else `$XDG_CACHE_HOME/rnnplay`, else `~/.cache/rnnplay`. A cached file is
//! used only when its sha1 is the published one. Natively a missing file is downloaded with
//! `curl` (unless `RNNPLAY_OFFLINE=1`), verified, and only then moved into the cache. In the
//! browser the page fetches the file itself and checks it with [`verify`].

use crate::error::{DataError, Result};
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

/// The datasets the hub knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// H. G. Wells, *The Time Machine*, as d2l's `DATA_HUB['time_machine']`.
    TimeMachine,
    /// Tatoeba English–French pairs, as d2l's `DATA_HUB['fra-eng']`.
    FraEng,
}

impl Dataset {
    pub const ALL: [Dataset; 2] = [Dataset::TimeMachine, Dataset::FraEng];

    /// The name used on the command line and in the page's URL.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::TimeMachine => "timemachine",
            Dataset::FraEng => "fra-eng",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Dataset::TimeMachine => "timemachine.txt",
            Dataset::FraEng => "fra-eng.zip",
        }
    }

    pub fn url(self) -> &'static str {
        match self {
            Dataset::TimeMachine => concat!("http://d2l-data.s3-accelerate.amazonaws.com/", "timemachine.txt"),
            Dataset::FraEng => concat!("http://d2l-data.s3-accelerate.amazonaws.com/", "fra-eng.zip"),
        }
    }

    /// The sha1 d2l publishes for the file.
    pub fn sha1(self) -> &'static str {
        match self {
            Dataset::TimeMachine => "090b5e7e70c295757f55df93cb0a180b9691891a",
            Dataset::FraEng => "94646ad1522d915e7b0f9296181140edcf86a4f5",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| DataError::InvalidArgument(format!("unknown dataset '{name}'; known: timemachine, fra-eng")))
    }
}

/// Lower-case hex sha1 of `bytes`.
pub fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `bytes` against the dataset's published sha1.
pub fn verify(dataset: Dataset, bytes: &[u8], path: &Path) -> Result<()> {
    let actual = sha1_hex(bytes);
    if actual == dataset.sha1() {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            name: dataset.name(),
            path: path.to_path_buf(),
            expected: dataset.sha1(),
            actual,
        })
    }
}

/// Where datasets are cached and whether missing ones may be downloaded.
#[derive(Debug, Clone)]
pub struct Hub {
    dir: PathBuf,
    allow_download: bool,
}

impl Hub {
    /// A hub caching in `dir`, downloading what is missing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), allow_download: true }
    }

    /// A hub that never downloads.
    pub fn offline(mut self) -> Self {
        self.allow_download = false;
        self
    }

    /// The hub the environment describes (see the module documentation).
    pub fn from_env() -> Self {
        let dir = std::env::var_os("RNNPLAY_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("rnnplay")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("rnnplay")))
            .unwrap_or_else(|| PathBuf::from("data"));
        let hub = Self::new(dir);
        if std::env::var("RNNPLAY_OFFLINE").is_ok_and(|v| v == "1") {
            hub.offline()
        } else {
            hub
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `dataset` is (or would be) cached.
    pub fn path(&self, dataset: Dataset) -> PathBuf {
        self.dir.join(dataset.file_name())
    }

    /// The verified bytes of `dataset`, downloading it first if it is missing and allowed.
    pub fn read(&self, dataset: Dataset) -> Result<Vec<u8>> {
        let path = self.path(dataset);
        if !path.exists() {
            self.download(dataset, &path)?;
        }
        let bytes = std::fs::read(&path).map_err(|source| DataError::Io { path: path.clone(), source })?;
        verify(dataset, &bytes, &path)?;
        Ok(bytes)
    }

    /// The verified text of a text dataset (The Time Machine).
    pub fn read_text(&self, dataset: Dataset) -> Result<String> {
        let bytes = self.read(dataset)?;
        crate::text::utf8(bytes, &self.path(dataset).display().to_string())
    }

    fn not_cached(&self, dataset: Dataset, path: &Path, reason: String) -> DataError {
        DataError::NotCached {
            name: dataset.name(),
            file: dataset.file_name(),
            url: dataset.url(),
            sha1: dataset.sha1(),
            path: path.to_path_buf(),
            reason,
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn download(&self, dataset: Dataset, path: &Path) -> Result<()> {
        if !self.allow_download {
            return Err(self.not_cached(dataset, path, " (downloads are off: RNNPLAY_OFFLINE=1)".into()));
        }
        std::fs::create_dir_all(&self.dir).map_err(|source| DataError::Io { path: self.dir.clone(), source })?;
        let partial = path.with_extension("partial");
        eprintln!("downloading {} from {} …", dataset.file_name(), dataset.url());
        let status = std::process::Command::new("curl")
            .args(["-fsSL", "--retry", "2", "--connect-timeout", "20", "-o"])
            .arg(&partial)
            .arg(dataset.url())
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                let _ = std::fs::remove_file(&partial);
                return Err(self.not_cached(dataset, path, format!(" (the download failed: curl {status})")));
            }
            Err(err) => return Err(self.not_cached(dataset, path, format!(" (could not run curl: {err})"))),
        }
        let bytes = std::fs::read(&partial).map_err(|source| DataError::Io { path: partial.clone(), source })?;
        if let Err(err) = verify(dataset, &bytes, &partial) {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
        std::fs::rename(&partial, path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
    }

    #[cfg(target_arch = "wasm32")]
    fn download(&self, dataset: Dataset, path: &Path) -> Result<()> {
        Err(self.not_cached(dataset, path, " (the browser fetches datasets itself)".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// d2l's `DATA_URL`.
    const D2L_DATA_URL: &str = "http://d2l-data.s3-accelerate.amazonaws.com/";

    #[test]
    fn urls_are_d2l_data_url_plus_the_file_name() {
        for dataset in Dataset::ALL {
            assert_eq!(dataset.url(), format!("{D2L_DATA_URL}{}", dataset.file_name()));
        }
    }

    #[test]
    fn sha1_of_a_known_string() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn unknown_dataset_names_list_the_known_ones() {
        let err = Dataset::parse("imagenet").unwrap_err().to_string();
        assert!(err.contains("timemachine, fra-eng"), "{err}");
    }
}
