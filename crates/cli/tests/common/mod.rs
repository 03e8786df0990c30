//! What the CLI's test files share: running the binary as a user would, with the shared test
//! data and no network, in a scratch directory.
#![allow(dead_code)]

use std::process::Command;

pub fn rnnplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnplay")).args(args).output().expect("the rnnplay binary runs")
}

/// The shared test data directory (CI: ../shared/data beside the checkout).
pub fn data_dir() -> String {
    std::env::var("RNNPLAY_DATA_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").into())
}

/// Runs `rnnplay` with the shared test data and no network.
pub fn rnnplay_offline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnplay"))
        .args(args)
        .env("RNNPLAY_DATA_DIR", data_dir())
        .env("RNNPLAY_OFFLINE", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// A scratch directory for one test.
pub fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rnnplay-cli-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn json_line(out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}
