#![no_main]
//! `conform::fuzzing::config` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| conform::fuzzing::config(data));
