#![no_main]
//! `cargo fuzz run fra_eng_zip`: the body is `rnnplay_tests::fuzz_targets::fra_eng_zip`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnnplay_tests::fuzz_targets::fra_eng_zip(data));
