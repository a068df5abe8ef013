//! Builds the built-in rules (`rules/*`, one crate each) for wasm32-unknown-unknown and writes
//! `builtin_rules.rs` into OUT_DIR, which `engine::builtin` includes: the modules ship inside the
//! `conform` binary.
//!
//! The rules are built by a nested cargo, with their own target directory so that it does not
//! wait on the lock of the build that runs this script.

use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=../rules");
    println!("cargo:rerun-if-changed=../rules-sdk/src");
    println!("cargo:rerun-if-changed=../Cargo.lock");

    let crates = rule_crates(&root.join("rules"));
    let mut table = String::from(
        "/// Built-in rules: (crate name, module bytes).\npub const BUILTIN: &[(&str, &[u8])] = &[\n",
    );
    if !crates.is_empty() {
        build(&root, &crates);
        let built = root
            .join("target/wasm-rules")
            .join(WASM_TARGET)
            .join("rule");
        for name in &crates {
            let file = format!("{}.wasm", name.replace('-', "_"));
            let from = built.join(&file);
            let to = out_dir.join(&file);
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
            table.push_str(&format!(
                "    ({name:?}, include_bytes!({:?})),\n",
                to.display().to_string()
            ));
        }
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("builtin_rules.rs"), table).expect("OUT_DIR is writable");
}

/// Package names of the crates under `rules/`, in name order.
fn rule_crates(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return names;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"")
                    .and_then(|r| r.strip_suffix('"'))
            })
            .unwrap_or_else(|| panic!("{}: no package name", entry.path().display()));
        names.push(name.to_string());
    }
    names.sort();
    names
}

fn build(root: &Path, crates: &[String]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--profile",
            "rule",
            "--target",
            WASM_TARGET,
            "--target-dir",
            "target/wasm-rules",
        ])
        .args(crates.iter().flat_map(|c| ["-p", c.as_str()]))
        // Flags meant for the host build must not reach the wasm one.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    if std::env::var_os("CARGO_NET_OFFLINE").is_some() {
        command.arg("--offline");
    }
    let status = command.status().expect("cargo runs");
    if !status.success() {
        panic!(
            "building the built-in rules for {WASM_TARGET} failed (see above); if the target is \
             missing: rustup target add {WASM_TARGET}"
        );
    }
}
