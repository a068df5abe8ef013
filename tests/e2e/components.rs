//! Rules as WebAssembly components of the WIT world `conform:rule@1.0.0`: a Python rule built
//! with componentize-py agrees with the built-in it re-implements, misbehaves into ERROR as a
//! core module does, gets nothing from its sandbox, and components importing beyond the world
//! are refused, every import named.

use std::path::Path;

use crate::support::*;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules-sdk/examples/python")
}

#[test]
fn a_python_component_agrees_with_the_built_in_on_the_sample_snapshots() {
    let s = Scratch::new();
    let python = python_rule(&examples(), "encrypted_volumes");
    let python = as_str(&python);
    ports_agree_with_encrypted_volumes(&s, &[("PY_ENCRYPTED_VOLUMES", python)]);
    let shown = s
        .conform(&[
            "rules",
            "--rules",
            python,
            "--format",
            "json",
            "show",
            "PY_ENCRYPTED_VOLUMES",
        ])
        .ok()
        .json();
    assert_eq!(shown["runtime"], "component");
}

#[test]
fn a_hostile_python_component_ends_each_misdeed_in_its_error_and_gets_nothing() {
    let s = Scratch::new();
    let ids = [
        "vol-loop",
        "vol-memory",
        "vol-raise",
        "vol-error",
        "vol-silent",
        "vol-twice",
        "vol-long",
        "vol-honest",
    ];
    let items: Vec<_> = ids
        .iter()
        .map(|id| volume(id, 8, true, "2026-11-02T06:00:00Z"))
        .collect();
    s.ingest_items("volumes.json", &items);
    let hostile = python_rule(&fixture("rules/component"), "hostile");
    let run = s.conform_with_env(
        &[
            "scan",
            "--no-builtins",
            "--rules",
            as_str(&hostile),
            "--rule-timeout",
            "500",
            "--rule-max-timeouts",
            "0",
            "--jobs",
            "1",
            "-v",
        ],
        &[("HOME", "/root"), ("CONFORM_SECRET", "hunter2")],
    );
    assert_eq!(run.code, 2, "ERRORs show in the exit code: {}", run.stderr);
    let found = verdicts(&s, "HOSTILE_PYTHON");
    assert_eq!(found.len(), ids.len(), "{found:?}");
    let of = |id: &str| found.iter().find(|(i, _, _)| i == id).unwrap().clone();
    for (id, message) in [
        ("vol-loop", "exceeded its deadline of 500 ms"),
        ("vol-memory", "rule HOSTILE_PYTHON v0.1.0: "),
        ("vol-raise", "rule HOSTILE_PYTHON v0.1.0: "),
        ("vol-error", "reported error 7"),
        ("vol-silent", "returned without reporting a result"),
        ("vol-twice", "reported 2 results for one item"),
        ("vol-long", "annotation of 300 characters; the limit is 256"),
    ] {
        let (_, compliance, annotation) = of(id);
        assert_eq!(compliance, "ERROR", "{id}: {annotation}");
        assert!(annotation.contains(message), "{id}: {annotation}");
    }
    // After every trap a new instance: the honest volume is evaluated, in a sandbox that gave
    // it no file, environment or socket, at the item's time.
    let (_, compliance, annotation) = of("vol-honest");
    assert_eq!(compliance, "COMPLIANT", "{annotation}");
    assert!(annotation.starts_with("file: denied ("), "{annotation}");
    assert!(
        annotation.contains("env: none; socket: denied ("),
        "{annotation}"
    );
    let captured = "2026-11-02T06:00:00Z".parse::<jiff::Timestamp>().unwrap();
    assert!(
        annotation.ends_with(&format!("time: {}", captured.as_second())),
        "{annotation}"
    );
    // What it printed reached the log, under its id.
    for line in ["hostile component started", "evaluating vol-honest"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(line) && l.contains("rule=HOSTILE_PYTHON")),
            "{line:?}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_component_importing_beyond_the_world_is_refused_naming_every_import() {
    let s = Scratch::new();
    let run = s
        .conform(&[
            "rules",
            "--rules",
            as_str(&fixture("rules/refused/component.wat")),
        ])
        .fails_with(&[
            "rule COMPONENT_IMPORTS",
            "imports 2 interfaces conform does not provide (`acme:secrets/vault`, \
             `wasi:http/outgoing-handler@0.2.0`)",
            "`conform:rule/host@1.0.0`",
        ]);
    // The WASI interface the sandbox provides is not among them.
    assert!(!run.stderr.contains("wasi:cli"), "{}", run.stderr);
    s.conform(&[
        "rules",
        "--rules",
        as_str(&fixture("rules/refused/component-no-world.wat")),
    ])
    .fails_with(&[
        "rule COMPONENT_NO_WORLD",
        "does not match the resource-rule world of conform:rule@1.0.0",
    ]);
}
