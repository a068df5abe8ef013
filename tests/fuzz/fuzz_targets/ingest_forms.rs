#![no_main]
//! `conform::fuzzing::ingest_forms` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| conform::fuzzing::ingest_forms(data));
