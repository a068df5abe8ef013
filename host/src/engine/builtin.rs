//! The built-in rules: the crates under `rules/`, compiled to wasm by `build.rs` and embedded.

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The manifests of the built-in rules, read without loading them: (source, manifest).
pub fn manifests() -> Result<Vec<(String, super::Manifest)>, super::EngineError> {
    BUILTIN
        .iter()
        .map(|(name, bytes)| {
            let source = format!("builtin:{name}");
            super::Manifest::from_module(&source, bytes).map(|m| (source, m))
        })
        .collect()
}
