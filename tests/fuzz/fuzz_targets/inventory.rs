#![no_main]
//! `conform::fuzzing::inventory` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| conform::fuzzing::inventory(data));
