//! Rules that import WASI preview 1, as a language's standard library builds them: a C rule
//! with wasi-libc's stdio and a Rust std rule on wasm32-wasip1 load, their output reaches the
//! log, and the sandbox grants them nothing, with time and randomness their evaluation's own.

use serde_json::{Value, json};

use crate::rules::{hostile_rules_end_in_their_errors, volumes};
use crate::support::*;

/// Three volumes captured at different times, one of them attached.
fn estate() -> Scratch {
    let s = Scratch::new();
    let mut attached = volume("vol-attached", 8, true, "2026-11-02T06:00:00Z");
    attached["configuration"]["state"] = json!("in-use");
    s.ingest_items(
        "volumes.json",
        &[
            attached,
            volume("vol-spare", 8, false, "2026-11-03T07:30:00Z"),
            volume("vol-old", 8, false, "2025-01-01T00:00:00Z"),
        ],
    );
    s
}

fn wasi_rules() -> [String; 2] {
    [
        as_str(&wasi_c_rule("stdio")).to_string(),
        as_str(&rust_std_rule()).to_string(),
    ]
}

#[test]
fn a_c_rule_with_printf_and_a_rust_std_rule_load_and_their_output_reaches_the_log() {
    let s = estate();
    let [c, rust] = wasi_rules();
    let run = s
        .conform(&[
            "scan",
            "--no-builtins",
            "--rules",
            &c,
            "--rules",
            &rust,
            "--jobs",
            "1",
            "-v",
        ])
        .ok();
    // stdout at info, stderr at warn, each line under the rule's id.
    for rule in ["C_STDIO", "RUST_STD"] {
        for id in ["vol-attached", "vol-spare", "vol-old"] {
            for line in [format!("evaluating {id}"), format!("stderr of {id}")] {
                assert!(
                    run.stderr
                        .lines()
                        .any(|l| l.contains(&line) && l.contains(&format!("rule={rule}"))),
                    "{rule} logs {line:?}:\n{}",
                    run.stderr
                );
            }
        }
    }
    // C's constructors ran in `_initialize`, once for the one instance, before any evaluation.
    let constructed = run
        .stderr
        .lines()
        .filter(|l| l.contains("constructed before the first evaluation"))
        .count();
    assert_eq!(constructed, 1, "{}", run.stderr);
    let first = run.stderr.find("constructed before").unwrap();
    assert!(first < run.stderr.find("evaluating vol-").unwrap());
    assert!(
        verdicts(&s, "C_STDIO")
            .iter()
            .all(|(_, _, a)| a.starts_with("constructed: yes"))
    );

    let show = |id: &str| {
        s.conform(&[
            "rules", "--rules", &c, "--rules", &rust, "--format", "json", "show", id,
        ])
        .ok()
        .json()
    };
    assert_eq!(show("C_STDIO")["runtime"], "wasi-p1");
    assert_eq!(show("RUST_STD")["runtime"], "wasi-p1");
    assert_eq!(show("ENCRYPTED_VOLUMES")["runtime"], "core");
}

#[test]
fn a_wasi_rule_gets_no_file_environment_or_socket_and_says_so() {
    let s = estate();
    let [c, rust] = wasi_rules();
    // The process has an environment and the file exists; the rules see neither.
    assert!(std::path::Path::new("/etc/hostname").exists() || cfg!(not(target_os = "linux")));
    s.conform_with_env(
        &["scan", "--no-builtins", "--rules", &c, "--rules", &rust],
        &[("HOME", "/root"), ("CONFORM_SECRET", "hunter2")],
    )
    .ok();
    for (rule, wanted) in [
        ("C_STDIO", "file: Capabilities insufficient; env: none"),
        ("RUST_STD", "file: denied; env: none; socket: denied"),
    ] {
        let found = verdicts(&s, rule);
        assert_eq!(found.len(), 3, "{rule}: {found:?}");
        for (id, compliance, annotation) in found {
            assert_eq!(compliance, "COMPLIANT", "{rule} {id}: {annotation}");
            assert!(annotation.contains(wanted), "{rule} {id}: {annotation}");
        }
    }
}

/// The `time: N` and `random: X` an annotation reports.
fn reported(annotation: &str, key: &str) -> String {
    annotation
        .split("; ")
        .find_map(|part| part.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in {annotation}"))
        .to_string()
}

#[test]
fn wasi_clocks_and_randomness_belong_to_the_evaluation_not_the_run() {
    let s = estate();
    let [c, rust] = wasi_rules();
    s.conform(&["scan", "--no-builtins", "--rules", &c, "--rules", &rust])
        .ok();
    let first = verdicts(&s, "C_STDIO");
    // The clock reads the item's capture time (the microseconds it advanced are below a second).
    let captured = [
        ("vol-attached", "2026-11-02T06:00:00Z"),
        ("vol-old", "2025-01-01T00:00:00Z"),
        ("vol-spare", "2026-11-03T07:30:00Z"),
    ];
    for ((id, _, annotation), (want_id, at)) in first.iter().zip(captured) {
        assert_eq!(id, want_id);
        let seconds: i64 = at.parse::<jiff::Timestamp>().unwrap().as_second();
        assert_eq!(reported(annotation, "time"), seconds.to_string(), "{id}");
    }
    for (_, _, annotation) in verdicts(&s, "RUST_STD") {
        let time: i64 = reported(&annotation, "time").parse().unwrap();
        assert!(
            captured
                .iter()
                .any(|(_, at)| at.parse::<jiff::Timestamp>().unwrap().as_second() == time)
        );
    }
    // Each item draws its own numbers...
    let randoms: Vec<String> = first
        .iter()
        .map(|(_, _, a)| reported(a, "random"))
        .collect();
    assert_ne!(randoms[0], randoms[1]);
    assert_ne!(randoms[1], randoms[2]);
    // ...and the same ones in every run: a full rescan, in two jobs.
    s.conform(&[
        "scan",
        "--no-builtins",
        "--rules",
        &c,
        "--full",
        "--jobs",
        "2",
    ])
    .ok();
    assert_eq!(verdicts(&s, "C_STDIO"), first);
}

#[test]
fn proc_exit_keeps_a_reported_verdict_and_is_error_without_one() {
    let s = estate();
    let exits = fixture("rules/wasi/exits.wat");
    let run = s.conform(&[
        "scan",
        "--no-builtins",
        "--rules",
        as_str(&exits),
        "--jobs",
        "1",
    ]);
    assert_eq!(
        run.code, 2,
        "an ERROR shows in the exit code: {}",
        run.stderr
    );
    let found = verdicts(&s, "EXITS");
    let by_id = |id: &str| found.iter().find(|(i, _, _)| i == id).unwrap().clone();
    // The attached volume reported, then exited: its verdict stands.
    assert_eq!(
        by_id("vol-attached"),
        (
            "vol-attached".into(),
            "COMPLIANT".into(),
            "reported, then exited".into()
        )
    );
    // The others exited first; each got a new instance, so each says so itself.
    for id in ["vol-old", "vol-spare"] {
        let (_, compliance, annotation) = by_id(id);
        assert_eq!(compliance, "ERROR");
        assert_eq!(
            annotation,
            "rule EXITS v0.1.0: exited with code 3 before reporting a result"
        );
    }
}

#[test]
fn output_past_what_an_evaluation_may_write_is_dropped_and_the_verdict_stands() {
    let s = estate();
    let floods = fixture("rules/wasi/floods.wat");
    let run = s
        .conform(&["scan", "--no-builtins", "--rules", as_str(&floods), "-v"])
        .ok();
    // 32 lines an evaluation, whatever it wrote.
    let lines = run
        .stderr
        .lines()
        .filter(|l| l.contains("rule=FLOODS_STDOUT") && l.contains("xxxx"))
        .count();
    assert_eq!(
        lines,
        3 * 32,
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(
        run.stderr.contains("log line(s) dropped"),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(2000)..]
    );
    assert!(
        verdicts(&s, "FLOODS_STDOUT")
            .iter()
            .all(|(_, c, a)| c == "COMPLIANT" && a == "printed a megabyte")
    );
}

#[test]
fn hostile_rules_end_in_their_errors_under_the_wasi_runtime_too() {
    let s = volumes();
    let dir = s.path("hostile-wasi");
    std::fs::create_dir_all(&dir).unwrap();
    let hostile = fixture("rules/hostile");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&hostile).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // The same module, importing one WASI function: it runs under the WASI runtime.
        let wasi = text.replacen(
            "(module\n",
            "(module\n  (import \"wasi_snapshot_preview1\" \"sched_yield\" (func (result i32)))\n",
            1,
        );
        assert_ne!(wasi, text, "{} opens with `(module`", path.display());
        std::fs::write(dir.join(path.file_name().unwrap()), wasi).unwrap();
        let id = text.split("\\\"id\\\":\\\"").nth(1).unwrap();
        ids.push(id[..id.find('\\').unwrap()].to_string());
    }
    let dir = as_str(&dir).to_string();
    for id in &ids {
        let shown: Value = s
            .conform(&["rules", "--rules", &dir, "--format", "json", "show", id])
            .ok()
            .json();
        assert_eq!(shown["runtime"], "wasi-p1", "{id}");
    }
    hostile_rules_end_in_their_errors(&s, &dir);
}
