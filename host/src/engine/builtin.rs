//! The built-in rules: the crates under `rules/`, compiled to wasm by `build.rs` and embedded.

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
