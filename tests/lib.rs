//! Workspace-level tests: each `tests/*.rs` file is a `[[test]]` target of this package.

pub mod fuzz_targets;
