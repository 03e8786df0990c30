#![no_main]
//! `cargo fuzz run pairs`: the body is `rnnplay_tests::fuzz_targets::pairs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnnplay_tests::fuzz_targets::pairs(data));
