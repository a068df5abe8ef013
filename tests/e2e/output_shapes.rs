//! Every command's output, in every format it writes, pinned on the bundled sample estate
//! (insta snapshots in `tests/e2e/snapshots/`): `--format json` is an interface scripts and the
//! API depend on, and a change to any shape shows here as a reviewable diff.
//!
//! What differs between runs is replaced before comparing: the scratch directory, the times
//! of ingests and scans, and the sample files' modification times.

use serde_json::Value;

use crate::support::*;

/// The sample store: the synced bucket, the first week as baseline, three scans.
fn sample() -> Scratch {
    let s = Scratch::new();
    let bucket = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots/AWSLogs");
    s.conform(&["ingest", "-q", as_str(&bucket)]).ok();
    s.conform(&["baseline", "set", "prod", "--snapshot", "1"])
        .ok();
    let wat = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules-sdk/examples/wat/encrypted-volumes.wat");
    for snapshot in ["1", "2", "3"] {
        s.conform(&[
            "scan",
            "-q",
            "--snapshot",
            snapshot,
            "--rules",
            as_str(&wat),
        ])
        .ok();
    }
    s
}

/// The values that change from run to run, found where the JSON names them.
fn volatile(s: &Scratch) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    let mut collect = |value: &Value| walk(value, &mut found);
    collect(&s.conform(&["snapshots", "--format", "json"]).ok().json());
    collect(&s.conform(&["timeline", "--format", "json"]).ok().json());
    collect(&s.conform(&["gate", "--format", "json"]).json());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap();
    found.push((
        as_str(s.path("").as_path())
            .trim_end_matches('/')
            .to_string(),
        "[scratch]",
    ));
    found.push((as_str(&root).to_string(), "[repo]"));
    found.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
    found.dedup();
    found
}

fn walk(value: &Value, found: &mut Vec<(String, &'static str)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let mark = match key.as_str() {
                    "ingested_at" => Some("[ingested at]"),
                    "modified_at" => Some("[file time]"),
                    "started_at" | "finished_at" => Some("[scan time]"),
                    _ => None,
                };
                match (mark, v.as_str()) {
                    (Some(mark), Some(text)) => found.push((text.to_string(), mark)),
                    _ => walk(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
        _ => {}
    }
}

fn scrub(text: &str, volatile: &[(String, &'static str)]) -> String {
    let mut out = text.to_string();
    for (value, mark) in volatile {
        out = out.replace(value.as_str(), mark);
    }
    module_hashes(&out)
}

/// "module abf746578239" → "module [hash]": a built-in's compiled bytes (and so its hash)
/// depend on the toolchain and the checkout's path, not on conform's output.
fn module_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("module ") {
        let (before, after) = rest.split_at(at + "module ".len());
        out.push_str(before);
        let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 12 {
            out.push_str("[hash]");
            rest = &after[12..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn every_output_shape_is_pinned() {
    let s = sample();
    let volatile = volatile(&s);
    let volume = "vol-21fdeb26bf000000037";
    const TJ: &[&str] = &["text", "json"];
    let cases: Vec<(&str, Vec<&str>, &[&str])> = vec![
        ("snapshots", vec!["snapshots"], TJ),
        ("show", vec!["show", volume, "--at", "2"], TJ),
        ("history", vec!["history", volume], TJ),
        ("stats", vec!["stats"], TJ),
        (
            "results",
            vec!["results", "--rule", "ENCRYPTED_VOLUMES"],
            TJ,
        ),
        (
            "drift",
            vec!["drift"],
            &["text", "json", "markdown", "json-patch"],
        ),
        (
            "diff",
            vec!["diff", "1", "3"],
            &["text", "json", "markdown", "json-patch"],
        ),
        ("timeline", vec!["timeline"], &["text", "json", "markdown"]),
        (
            "timeline-resource",
            vec!["timeline", volume],
            &["text", "json", "markdown"],
        ),
        ("compliance-changes", vec!["compliance-changes"], TJ),
        (
            "gate",
            vec!["gate"],
            &["text", "json", "markdown", "sarif", "junit"],
        ),
        ("rules", vec!["rules"], TJ),
        ("baseline-list", vec!["baseline", "list"], TJ),
    ];
    let mut shown = 0;
    for (name, args, formats) in &cases {
        for format in *formats {
            let mut all = args.clone();
            all.extend(["--format", format]);
            let run = s.conform(&all);
            assert!(run.code <= 1, "{name} {format}: {}", run.stderr);
            let text = scrub(&run.stdout, &volatile);
            insta::assert_snapshot!(format!("{name}.{format}"), text);
            shown += 1;
        }
        // Every other format is refused, naming the ones the command writes.
        let other = ["text", "json", "markdown", "sarif", "junit", "json-patch"]
            .into_iter()
            .find(|f| !formats.contains(f));
        if let Some(other) = other {
            let mut all = args.clone();
            all.extend(["--format", other]);
            s.conform(&all).fails_with(&["writes", "not"]);
        }
    }
    assert!(shown >= 30, "{shown} outputs pinned");
}
