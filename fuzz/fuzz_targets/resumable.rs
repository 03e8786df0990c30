#![no_main]
//! `cargo fuzz run resumable`: the body is `rnnplay_tests::fuzz_targets::resumable`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnnplay_tests::fuzz_targets::resumable(data));
