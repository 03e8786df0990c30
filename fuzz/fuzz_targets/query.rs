#![no_main]
//! `cargo fuzz run query`: the body is `rnnplay_tests::fuzz_targets::query`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnnplay_tests::fuzz_targets::query(data));
