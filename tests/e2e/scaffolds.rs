//! `conform new-rule`: each language's scaffold builds with the command it prints, passes its
//! cases with `conform test`, and agrees with the built-in ENCRYPTED_VOLUMES on every volume
//! of the three sample snapshots.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// Runs `command` in `dir` as a shell would, with `conform` and the tests' toolchains first on
/// the PATH.
fn shell(dir: &Path, command: &str) -> std::process::Output {
    let conform = Path::new(env!("CARGO_BIN_EXE_conform"))
        .parent()
        .unwrap()
        .to_path_buf();
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.deps/venv/bin");
    let path = std::env::join_paths([conform, venv].into_iter().chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("sh runs")
}

/// Returns the scratch space and the scaffold's directory, for checks of one language's own.
fn scaffold_builds_passes_its_cases_and_agrees_with_the_built_in(
    lang: &str,
) -> (Scratch, std::path::PathBuf) {
    let s = Scratch::new();
    let dir = s.path(&format!("demo-{lang}"));
    let written: Value = s
        .conform(&[
            "new-rule",
            &format!("demo-{lang}"),
            "--lang",
            lang,
            "--dir",
            as_str(&dir),
            "--format",
            "json",
        ])
        .ok()
        .json();
    let id = written["id"].as_str().unwrap().to_string();
    assert_eq!(id, format!("DEMO_{}", lang.to_uppercase()));
    assert!(written["files"].as_array().unwrap().len() >= 3, "{written}");
    for (step, command) in [("build", &written["build"]), ("test", &written["test"])] {
        let command = command.as_str().unwrap();
        let ran = shell(&dir, command);
        assert!(
            ran.status.success(),
            "{lang}: `{command}` ({step}) failed:\n{}\n{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
        if step == "test" {
            let out = String::from_utf8_lossy(&ran.stdout);
            assert!(out.contains("test result: ok. 9 passed; 0 failed"), "{out}");
        }
    }
    // Its README gives the same commands.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains(written["build"].as_str().unwrap()),
        "{readme}"
    );
    assert!(
        readme.contains(written["test"].as_str().unwrap()),
        "{readme}"
    );

    let module = dir.join(written["module"].as_str().unwrap());
    ports_agree_with_encrypted_volumes(&s, &[(&id, as_str(&module))]);
    (s, dir)
}

#[test]
fn the_wat_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("wat");
}

#[test]
fn the_c_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("c");
}

#[test]
fn the_cpp_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("cpp");
}

#[test]
fn the_zig_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("zig");
}

#[test]
fn the_assemblyscript_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("assemblyscript");
}

#[test]
fn the_go_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("go");
}

#[test]
fn the_python_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("python");
}

#[test]
fn the_javascript_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("javascript");
}

/// The TypeScript scaffold is checked against the host interface's types: a compliance the
/// WIT world does not have stops the build at `tsc`, before any wasm is made.
#[test]
fn the_typescript_scaffold() {
    let (_s, dir) = scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("typescript");
    let source = dir.join("demo_typescript.ts");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        text.replacen("'non-compliant'", "'noncompliant'", 1),
    )
    .unwrap();
    let checked = shell(&dir, "npx tsc");
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(!checked.status.success(), "{out}");
    assert!(
        out.contains("demo_typescript.ts") && out.contains("'Compliance'"),
        "{out}"
    );
}

#[test]
fn the_rust_scaffold() {
    scaffold_builds_passes_its_cases_and_agrees_with_the_built_in("rust");
}

#[test]
fn a_bad_name_or_a_used_directory_is_refused() {
    let s = Scratch::new();
    s.conform(&[
        "new-rule",
        "9lives",
        "--lang",
        "c",
        "--dir",
        as_str(&s.path("a")),
    ])
    .fails_with(&["\"9lives\" is not a rule name"]);
    let used = s.path("used");
    std::fs::create_dir_all(&used).unwrap();
    std::fs::write(used.join("keep.txt"), "mine").unwrap();
    s.conform(&["new-rule", "mine", "--lang", "wat", "--dir", as_str(&used)])
        .fails_with(&["exists and is not empty"]);
    assert_eq!(
        std::fs::read_to_string(used.join("keep.txt")).unwrap(),
        "mine"
    );
}
