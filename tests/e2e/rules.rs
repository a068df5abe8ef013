//! WebAssembly rules through the real binary: loading, parameters, the sandbox and stored
//! evaluations.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// A store holding one snapshot with volumes of every kind the WAT rule distinguishes.
pub fn volumes() -> Scratch {
    let s = Scratch::new();
    let attached = |id: &str, encrypted: bool, key: Option<&str>| {
        let mut v = volume(id, 8, encrypted, "2026-11-02T06:00:00Z");
        v["configuration"]["attachments"] = json!([{"instanceId": "i-1", "state": "attached"}]);
        if let Some(key) = key {
            v["configuration"]["kmsKeyId"] = json!(key);
        }
        v
    };
    s.ingest_items(
        "volumes.json",
        &[
            attached("vol-plain", false, None),
            attached(
                "vol-aws-key",
                true,
                Some("arn:aws:kms:us-east-1:123456789012:key/aws"),
            ),
            attached(
                "vol-own-key",
                true,
                Some("arn:aws:kms:us-east-1:123456789012:key/own"),
            ),
            volume("vol-loose", 8, false, "2026-11-02T06:00:00Z"),
            bucket("b-1", "Enabled", "2026-11-02T06:00:00Z"),
        ],
    );
    s
}

/// A rule fixture; `encrypted-volumes.wat` is the ABI's worked example in rules-sdk/.
fn rule(name: &str) -> String {
    let path = if name == "encrypted-volumes.wat" {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../rules-sdk/examples/wat")
            .join(name)
    } else {
        fixture(&format!("rules/{name}"))
    };
    as_str(&path).to_string()
}

fn compliance_of(s: &Scratch, rule_id: &str) -> Vec<(String, String)> {
    let results = s
        .conform(&["results", "--rule", rule_id, "--format", "json"])
        .ok()
        .json();
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["resource_id"].as_str().unwrap().to_string(),
                e["compliance"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_wat_rule_evaluates_in_scope_items_and_stores_each_evaluation() {
    let s = volumes();
    let run = s
        .conform(&[
            "scan",
            "--no-builtins",
            "--rules",
            &rule("encrypted-volumes.wat"),
            "--format",
            "json",
        ])
        .ok();
    let report = run.json();
    assert_eq!(report["rules"][0]["rule_id"], "WAT_ENCRYPTED_VOLUMES");
    assert_eq!(report["items"], 5);
    let got = compliance_of(&s, "WAT_ENCRYPTED_VOLUMES");
    let want = [
        ("vol-aws-key", "COMPLIANT"),
        ("vol-loose", "NOT_APPLICABLE"),
        ("vol-own-key", "COMPLIANT"),
        ("vol-plain", "NON_COMPLIANT"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "the bucket is out of scope and is not evaluated");
}

#[test]
fn parameters_reach_the_rule_and_bad_ones_name_rule_and_parameter() {
    let s = volumes();
    let params = s.write(
        "params.json",
        json!({"WAT_ENCRYPTED_VOLUMES": {"kmsId": "arn:aws:kms:us-east-1:123456789012:key/own"}})
            .to_string(),
    );
    s.conform(&[
        "scan",
        "--rules",
        &rule("encrypted-volumes.wat"),
        "--params",
        as_str(&params),
    ])
    .ok();
    let got = compliance_of(&s, "WAT_ENCRYPTED_VOLUMES");
    assert!(
        got.contains(&("vol-aws-key".into(), "NON_COMPLIANT".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("vol-own-key".into(), "COMPLIANT".into())),
        "{got:?}"
    );

    let bad = s.write(
        "bad.json",
        json!({"WAT_ENCRYPTED_VOLUMES": {"kmsId": 7}}).to_string(),
    );
    s.conform(&[
        "scan",
        "--rules",
        &rule("encrypted-volumes.wat"),
        "--params",
        as_str(&bad),
    ])
    .fails_with(&["rule WAT_ENCRYPTED_VOLUMES: invalid parameters: parameter /kmsId"]);
    let unknown = s.write("unknown.json", json!({"NO_SUCH_RULE": {}}).to_string());
    s.conform(&[
        "scan",
        "--rules",
        &rule("encrypted-volumes.wat"),
        "--params",
        as_str(&unknown),
    ])
    .fails_with(&["NO_SUCH_RULE"]);
}

#[test]
fn hostile_rules_each_end_in_their_error_and_spare_the_others() {
    hostile_rules_end_in_their_errors(&volumes(), &rule("hostile"));
}

/// Scans the four volumes with every rule of `hostile` (the fixtures in
/// `tests/fixtures/rules/hostile`, or the same built for another runtime) beside an honest one,
/// and checks each ends in its own ERROR, within bounds, sparing the honest rule.
pub fn hostile_rules_end_in_their_errors(s: &Scratch, hostile: &str) {
    let started = Instant::now();
    let run = s.conform(&[
        "scan",
        "--no-builtins",
        "--rules",
        &rule("encrypted-volumes.wat"),
        "--rules",
        hostile,
        "--rule-timeout",
        "200",
        "--rule-memory",
        "16",
        // Every evaluation shows its own error; the breaker has its own test.
        "--rule-max-timeouts",
        "0",
    ]);
    // 4 volumes × one looping rule × 200 ms, plus start-up: well under 10 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.code, 2,
        "errors must show in the exit code:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("ended in ERROR"), "{}", run.stderr);

    let expected = [
        ("HOSTILE_LOOP", "exceeded its deadline of 200 ms"),
        ("HOSTILE_MEMORY", "trapped"),
        ("HOSTILE_TRAP", "unreachable"),
        ("HOSTILE_GARBAGE", "compliance code 7"),
        ("HOSTILE_POINTER", "outside the rule's memory"),
        (
            "HOSTILE_ANNOTATION",
            "annotation of 60000 bytes; the limit is 256 characters",
        ),
        ("HOSTILE_SILENT", "without reporting a result"),
    ];
    for (rule_id, message) in expected {
        let results = s
            .conform(&["results", "--rule", rule_id, "--format", "json"])
            .ok()
            .json();
        let results = results.as_array().unwrap();
        assert_eq!(
            results.len(),
            4,
            "{rule_id}: one evaluation per in-scope volume"
        );
        for e in results {
            assert_eq!(e["compliance"], "ERROR", "{rule_id}");
            let annotation = e["annotation"].as_str().unwrap();
            assert!(
                annotation.starts_with(&format!("rule {rule_id} v0.1.0: ")),
                "{annotation}"
            );
            assert!(annotation.contains(message), "{rule_id}: {annotation}");
        }
    }
    // The honest rule in the same scan is untouched by its neighbours.
    let honest = compliance_of(s, "WAT_ENCRYPTED_VOLUMES");
    assert_eq!(honest.iter().filter(|(_, c)| c == "ERROR").count(), 0);
    assert_eq!(honest.len(), 4);
}

#[test]
fn a_rule_importing_beyond_the_abi_is_refused_naming_the_import() {
    let s = volumes();
    let run = s
        .conform(&["scan", "--rules", &rule("refused/unknown-import.wat")])
        .fails_with(&["imports a function conform does not provide (`host.open_file`)"]);
    assert!(run.stderr.contains("HOSTILE_IMPORT"), "{}", run.stderr);
    let scans = s.conform(&["results"]);
    assert_eq!(scans.code, 2, "nothing was scanned: {}", scans.stdout);
}

#[test]
fn every_refused_import_is_named_at_once_with_what_its_toolchain_needs() {
    let s = volumes();
    let run = s
        .conform(&["rules", "--rules", &rule("refused/many-imports.wat")])
        .fails_with(&[
            "imports 4 functions conform does not provide (`wasi_unstable.fd_write`, \
             `wasi_snapshot_preview1.sock_open`, `env.abort`, `conform.no_such_call`)",
            "and WASI preview 1 (`wasi_snapshot_preview1`)",
            "build for `wasm32-wasip1`",
            "are not in WASI preview 1",
            "build with `--use abort=`",
        ]);
    // The imports the ABI and WASI preview 1 have are not among them.
    assert!(!run.stderr.contains("`conform.result`"), "{}", run.stderr);
    assert!(!run.stderr.contains("environ_get"), "{}", run.stderr);
}

#[test]
fn a_rule_built_for_another_abi_is_refused_before_it_runs() {
    let s = volumes();
    s.conform(&["rules", "--rules", &rule("refused/abi-2.wat")])
        .fails_with(&["rule FUTURE_RULE was built for ABI 2; this host speaks ABI 1"]);
}

#[test]
fn annotate_writes_a_manifest_into_a_module_that_has_none() {
    let s = Scratch::new();
    let bare = s.write(
        "bare.wat",
        r#"(module
             (import "conform" "result" (func $result (param i32 i32 i32)))
             (memory (export "memory") 1)
             (func (export "conform_evaluate") (result i32)
               (call $result (i32.const 1) (i32.const 0) (i32.const 0)) (i32.const 0)))"#,
    );
    s.conform(&["rules", "--rules", as_str(&bare)])
        .fails_with(&["conform rules annotate"]);

    let manifest = s.write(
        "manifest.json",
        json!({"abi": 1, "id": "ALWAYS_OK", "version": "1.0.0", "title": "always compliant", "severity": "informational",
               "kind": "resource", "scope": {"resourceTypes": ["AWS::S3::Bucket"]}})
        .to_string(),
    );
    let out = s.path("annotated.wasm");
    s.conform(&[
        "rules",
        "annotate",
        as_str(&bare),
        "--manifest",
        as_str(&manifest),
        "--output",
        as_str(&out),
    ])
    .ok();
    let listed = s
        .conform(&["rules", "--rules", as_str(&out), "--format", "json"])
        .ok()
        .json();
    assert_eq!(listed[0]["id"], "ALWAYS_OK");

    s.ingest_items(
        "b.json",
        &[bucket("b-1", "Enabled", "2026-11-02T06:00:00Z")],
    );
    s.conform(&["scan", "--rules", as_str(&out)]).ok();
    assert_eq!(
        compliance_of(&s, "ALWAYS_OK"),
        vec![("b-1".to_string(), "COMPLIANT".to_string())]
    );
}

#[test]
fn results_filter_by_compliance_and_resource() {
    let s = volumes();
    s.conform(&[
        "scan",
        "--no-builtins",
        "--rules",
        &rule("encrypted-volumes.wat"),
    ])
    .ok();
    let non = s
        .conform(&[
            "results",
            "--compliance",
            "non_compliant",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(non.as_array().unwrap().len(), 1);
    assert_eq!(non[0]["resource_id"], "vol-plain");
    assert_eq!(non[0]["annotation"], "the volume is not encrypted");
    let one = s
        .conform(&["results", "--resource", "vol-loose", "--format", "json"])
        .ok()
        .json();
    assert_eq!(one[0]["compliance"], "NOT_APPLICABLE");
}

#[test]
fn built_in_rules_ship_in_the_binary_and_agree_with_the_wat_port() {
    let s = volumes();
    let listed = s.conform(&["rules", "--format", "json"]).ok().json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "ENCRYPTED_VOLUMES"),
        "{listed}"
    );
    let shown = s
        .conform(&["rules", "show", "ENCRYPTED_VOLUMES", "--format", "json"])
        .ok()
        .json();
    assert_eq!(shown["source"], "builtin:rule-encrypted-volumes");

    // Built-ins run by default; --rules adds to them.
    let report = s
        .conform(&[
            "scan",
            "--rules",
            &rule("encrypted-volumes.wat"),
            "--format",
            "json",
        ])
        .ok()
        .json();
    let ids: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"ENCRYPTED_VOLUMES") && ids.contains(&"WAT_ENCRYPTED_VOLUMES"),
        "{ids:?}"
    );
    let rust = compliance_of(&s, "ENCRYPTED_VOLUMES");
    assert_eq!(
        rust,
        compliance_of(&s, "WAT_ENCRYPTED_VOLUMES"),
        "Rust and WAT rules agree on every volume"
    );
    assert_eq!(rust.len(), 4);

    // Parameters reach built-ins the same way.
    let params = s.write(
        "p.json",
        json!({"ENCRYPTED_VOLUMES": {"kmsId": "own"}}).to_string(),
    );
    s.conform(&["scan", "--params", as_str(&params)]).ok();
    let keyed = compliance_of(&s, "ENCRYPTED_VOLUMES");
    assert!(
        keyed.contains(&("vol-own-key".into(), "COMPLIANT".into())),
        "{keyed:?}"
    );
    assert!(
        keyed.contains(&("vol-aws-key".into(), "NON_COMPLIANT".into())),
        "{keyed:?}"
    );
}

#[test]
fn thirteen_built_ins_are_listed_and_the_estate_rule_evaluates_each_account() {
    let s = volumes();
    let ids = builtin_ids(&s);
    assert_eq!(ids.len(), 13, "{ids:?}");
    for id in [
        "CLOUD_TRAIL_ENABLED",
        "REQUIRED_TAGS",
        "INCOMING_SSH_DISABLED",
        "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }

    // REQUIRED_TAGS needs tag1Key: without it, it is left out with a warning, not an error.
    let run = s.conform(&["scan"]).ok();
    assert!(
        run.stderr.contains("REQUIRED_TAGS not run"),
        "{}",
        run.stderr
    );

    // The estate rule evaluates the account, which has no trail.
    let trail = s
        .conform(&[
            "results",
            "--rule",
            "CLOUD_TRAIL_ENABLED",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(trail.as_array().unwrap().len(), 1);
    assert_eq!(trail[0]["resource_type"], "AWS::::Account");
    assert_eq!(trail[0]["resource_id"], "123456789012");
    assert_eq!(trail[0]["compliance"], "NON_COMPLIANT");

    // With a logging trail in the next snapshot, the account is compliant.
    let mut t = volume("vol-aws-key", 8, true, "2026-11-09T06:00:00Z");
    t["resourceType"] = json!("AWS::CloudTrail::Trail");
    t["resourceId"] = json!("org-trail");
    t["configuration"] = json!({"name": "org-trail", "s3BucketName": "audit"});
    t["supplementaryConfiguration"] = json!({"IsLogging": true});
    s.snapshot_file("trail.json", &[t]);
    s.ingest(&["--partial", as_str(&s.path("trail.json"))]);
    let params = s.write(
        "p.json",
        json!({"REQUIRED_TAGS": {"tag1Key": "Team"}}).to_string(),
    );
    s.conform(&["scan", "--params", as_str(&params)]).ok();
    let trail = s
        .conform(&[
            "results",
            "--rule",
            "CLOUD_TRAIL_ENABLED",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(trail[0]["compliance"], "COMPLIANT");
    let tags = s
        .conform(&[
            "results",
            "--rule",
            "REQUIRED_TAGS",
            "--compliance",
            "COMPLIANT",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert!(
        !tags.as_array().unwrap().is_empty(),
        "volumes carry Team: {tags}"
    );
}

#[test]
fn rules_in_rust_wat_and_c_agree_on_the_sample_snapshots() {
    let s = Scratch::new();
    let c = c_rule(&s, "encrypted_volumes");
    let wat = rule("encrypted-volumes.wat");
    // Verdicts and annotations alike.
    ports_agree_with_encrypted_volumes(
        &s,
        &[("WAT_ENCRYPTED_VOLUMES", &wat), ("C_ENCRYPTED_VOLUMES", &c)],
    );
}

#[test]
fn check_evaluates_files_without_a_store_and_gates_on_findings() {
    let s = Scratch::new();
    let mut open = volume("vol-open", 8, false, "2026-11-02T06:00:00Z");
    open["configuration"]["attachments"] = json!([{"instanceId": "i-1"}]);
    let mut good = volume("vol-good", 8, true, "2026-11-02T06:00:00Z");
    good["configuration"]["attachments"] = json!([{"instanceId": "i-1"}]);
    let bad_file = s.snapshot_file("planned.json", &[open, good.clone()]);
    let run = s.conform(&["check", as_str(&bad_file), "--format", "json"]);
    assert_eq!(
        run.code, 1,
        "a non-compliant item fails the check: {}",
        run.stderr
    );
    let report = run.json();
    let found: Vec<(&str, &str)> = report["nonCompliant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rule_id"].as_str().unwrap(),
                e["resource_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        found.contains(&("ENCRYPTED_VOLUMES", "vol-open")),
        "{found:?}"
    );
    assert!(
        !found.contains(&("ENCRYPTED_VOLUMES", "vol-good")),
        "{found:?}"
    );
    assert!(!s.db().exists(), "check stores nothing");

    let good_file = s.snapshot_file("fine.json", &[good]);
    let run = s.conform(&[
        "check",
        as_str(&good_file),
        "--no-builtins",
        "--rules",
        &rule("encrypted-volumes.wat"),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 non-compliant"), "{}", run.stdout);
}

#[test]
fn params_files_may_be_yaml_or_toml_and_bad_ones_name_the_line() {
    let s = volumes();
    let yaml = s.write(
        "params.yaml",
        "WAT_ENCRYPTED_VOLUMES:\n  kmsId: arn:aws:kms:us-east-1:123456789012:key/own\n",
    );
    let toml = s.write(
        "params.toml",
        "[WAT_ENCRYPTED_VOLUMES]\nkmsId = \"arn:aws:kms:us-east-1:123456789012:key/own\"\n",
    );
    for file in [&yaml, &toml] {
        s.conform(&[
            "scan",
            "--no-builtins",
            "--rules",
            &rule("encrypted-volumes.wat"),
            "--params",
            as_str(file),
        ])
        .ok();
        let got = compliance_of(&s, "WAT_ENCRYPTED_VOLUMES");
        assert!(
            got.contains(&("vol-aws-key".into(), "NON_COMPLIANT".into())),
            "{}: {got:?}",
            file.display()
        );
    }
    let broken = s.write(
        "broken.yaml",
        "WAT_ENCRYPTED_VOLUMES:\n  kmsId: [unclosed\n",
    );
    let run = s.conform(&[
        "scan",
        "--rules",
        &rule("encrypted-volumes.wat"),
        "--params",
        as_str(&broken),
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("broken.yaml") && run.stderr.contains("line"),
        "{}",
        run.stderr
    );
}

#[test]
fn compiled_rules_are_cached_on_disk_and_the_cache_can_be_bypassed() {
    let s = volumes();
    let own_cache = s.path("cache");
    let trap = rule("hostile/trap.wat");
    let run = |extra: &[&str]| {
        let mut args = vec!["scan", "--no-builtins", "--rules", trap.as_str()];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_conform"))
            .arg("--db")
            .arg(s.db())
            .args(&args)
            .env("CONFORM_CACHE_DIR", &own_cache)
            .output()
            .unwrap()
    };
    run(&["--no-cache"]);
    assert!(!own_cache.exists(), "--no-cache writes no cache");
    run(&[]);
    let files = walkdir(&own_cache);
    assert!(
        !files.is_empty(),
        "a scan leaves its compiled rule in the cache"
    );
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

#[test]
fn a_scan_on_several_threads_stores_what_one_thread_does() {
    let s = Scratch::new();
    let week = sample_week("2026-11-16");
    let mut args = vec!["ingest", "-q"];
    args.extend(week.iter().map(String::as_str));
    s.conform(&args).ok();
    let mut stored = Vec::new();
    for jobs in ["1", "3"] {
        s.conform(&["scan", "-q", "--jobs", jobs]).ok();
        let mut results: Vec<Value> = s
            .conform(&["results", "--format", "json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .clone();
        results.sort_by_key(|e| e.to_string());
        stored.push(results);
    }
    assert!(
        stored[0].len() > 100,
        "the sample's every rule and resource"
    );
    assert_eq!(stored[0], stored[1]);
}

#[test]
fn check_finds_what_ingest_and_scan_find() {
    let s = Scratch::new();
    let week = sample_week("2026-11-16");
    let mut args = vec!["ingest", "-q", "--partial"];
    args.extend(week.iter().map(String::as_str));
    s.conform(&args).ok();
    s.conform(&["scan", "-q"]).ok();
    let scanned = |compliance: &str| -> Vec<Value> {
        let mut found = s
            .conform(&["results", "--compliance", compliance, "--format", "json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .clone();
        found.sort_by_key(|e| e.to_string());
        found
    };
    let stored = scanned("NON_COMPLIANT");
    assert!(stored.len() > 20, "the sample has findings: {stored:?}");
    // Check evaluates every item, as a full scan does (an incremental one reuses verdicts, with
    // the same counts of each compliance).
    let summary = s
        .conform(&["scan", "--full", "--format", "json"])
        .ok()
        .json();
    let again = s.conform(&["scan", "--format", "json"]).ok().json();
    assert_eq!(compliance_counts(&again), compliance_counts(&summary));
    // It starts from the scan before and nothing changed: nothing runs again, not even the
    // estate rule, whose evaluations are copied.
    assert!(again["base"].is_u64(), "{again}");
    assert_eq!(again["evaluated"], 0, "{again}");
    let estate = summary["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == "CLOUD_TRAIL_ENABLED")
        .expect("the estate rule ran");
    assert!(estate["compliant"].as_u64().unwrap() > 0, "{estate}");
    for jobs in ["1", "3"] {
        let mut args = vec!["check"];
        args.extend(week.iter().map(String::as_str));
        args.extend(["--jobs", jobs, "--format", "json"]);
        let run = s.conform(&args);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let report = run.json();
        let mut found = report["nonCompliant"].as_array().unwrap().clone();
        found.sort_by_key(|e| e.to_string());
        assert_eq!(found, stored, "check --jobs {jobs} finds what scan stored");
        assert_eq!(report["items"], summary["items"]);
        assert_eq!(report["rules"], summary["rules"]);
        assert_eq!(report["errors"], json!([]));
    }
    // Bad input is refused as ingest refuses it, naming the file.
    let broken = s.write("broken.json", "{\"configurationItems\": [");
    let run = s.conform(&["check", as_str(&broken)]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.json"), "{}", run.stderr);
}
