#![no_main]
//! `conform::fuzzing::canonical` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| conform::fuzzing::canonical(data));
