#![no_main]
//! `conform::fuzzing::waivers` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| conform::fuzzing::waivers(data));
