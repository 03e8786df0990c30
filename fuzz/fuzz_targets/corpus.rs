#![no_main]
//! `cargo fuzz run corpus`: the body is `rnnplay_tests::fuzz_targets::corpus`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnnplay_tests::fuzz_targets::corpus(data));
