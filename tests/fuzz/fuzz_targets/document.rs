#![no_main]
//! `conform::fuzzing::document` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| conform::fuzzing::document(data));
