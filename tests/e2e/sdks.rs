//! What the language SDKs promise beyond any one rule: strings of any length read whole
//! (grown and retried as the ABI needs), and a manifest the compiler writes.

use serde_json::{Value, json};

use crate::support::*;

/// A run of 'a'..'z' repeated, `n` bytes long: what the fixtures check byte by byte.
fn pattern(n: usize) -> String {
    (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

/// Cases whose items hold two strings of the given lengths; each expects COMPLIANT with the
/// annotation naming both lengths, then `tail`.
fn long_string_cases(s: &Scratch, lengths: &[(usize, usize)], tail: &str) -> String {
    let cases: Vec<Value> = lengths
        .iter()
        .map(|&(first, second)| {
            json!({
                "name": format!("strings of {first} and {second} bytes"),
                "item": {
                    "resourceType": "AWS::S3::Bucket",
                    "resourceId": format!("b-{first}-{second}"),
                    "configuration": {"first": pattern(first), "second": pattern(second)},
                },
                "expect": "COMPLIANT",
                "annotation": format!("^first {first}, second {second}{tail}$"),
            })
        })
        .collect();
    let path = s.path(&format!("long-strings{}.json", tail.len()));
    std::fs::write(&path, json!({ "cases": cases }).to_string()).unwrap();
    as_str(&path).to_string()
}

/// Lengths that fit the arena's first block, that outgrow it (a new block), and that outgrow
/// the first memory page many times over.
const LENGTHS: &[(usize, usize)] = &[(0, 10), (100, 65_000), (70_000, 300_000), (1_000_000, 3)];

#[test]
fn a_c_rule_reads_strings_of_any_length_whole_and_reuses_its_arena() {
    let s = Scratch::new();
    let cases = long_string_cases(&s, LENGTHS, ", arena reused");
    // Without libc the arena grows memory itself; with wasi-libc it takes blocks from malloc.
    for (wasi_libc, name) in [
        (false, "long_strings.wasm"),
        (true, "long_strings_libc.wasm"),
    ] {
        let wasm = s.path(name);
        clang_rule(&fixture("rules/sdk/long_strings.c"), &wasm, wasi_libc);
        // No annotate step: the manifest came from CONFORM_MANIFEST in the source.
        let listed = s
            .conform(&[
                "rules",
                "--rules",
                as_str(&wasm),
                "--no-builtins",
                "--format",
                "json",
            ])
            .ok()
            .json();
        assert_eq!(listed[0]["id"], "SDK_LONG_STRINGS", "{listed:#}");
        let run = s.conform(&["test", as_str(&wasm), "--cases", &cases, "--format", "json"]);
        assert_eq!(run.code, 0, "{name}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(
            run.json()["passed"],
            LENGTHS.len(),
            "{name}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_zig_rule_reads_strings_of_any_length_whole() {
    let s = Scratch::new();
    let dir = s.path("zig");
    std::fs::create_dir_all(&dir).unwrap();
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules-sdk/zig/conform.zig");
    std::fs::copy(sdk, dir.join("conform.zig")).unwrap();
    std::fs::copy(
        fixture("rules/sdk/long_strings.zig"),
        dir.join("long_strings.zig"),
    )
    .unwrap();
    let zig = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.deps/venv/bin/python3"),
    )
    .args([
        "-m",
        "ziglang",
        "build-exe",
        "long_strings.zig",
        "-target",
        "wasm32-freestanding",
    ])
    .args(["-fno-entry", "-rdynamic", "-O", "ReleaseSmall"])
    .current_dir(&dir)
    .status()
    .expect("zig runs (tests/setup.sh installs ziglang)");
    assert!(zig.success());
    let wasm = dir.join("long_strings.wasm");
    let cases = long_string_cases(&s, LENGTHS, "");
    let run = s.conform(&["test", as_str(&wasm), "--cases", &cases, "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["passed"], LENGTHS.len(), "{}", run.stdout);
}
