#![no_main]
//! `cargo fuzz run checkpoint`: the body is `rnnplay_tests::fuzz_targets::checkpoint`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnnplay_tests::fuzz_targets::checkpoint(data));
