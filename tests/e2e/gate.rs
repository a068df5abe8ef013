//! `conform gate`: fail-on modes and exit codes, waivers, and the SARIF, JUnit and markdown
//! reports, through the real binary over real scans.

use std::collections::HashSet;

use serde_json::Value;

use crate::support::{Scratch, as_str, fixture};

/// An EBS volume attached to an instance (ENCRYPTED_VOLUMES judges only attached ones).
fn volume(id: &str, size: u64, encrypted: bool, captured: &str) -> Value {
    let mut item = crate::support::volume(id, size, encrypted, captured);
    item["configuration"]["state"] = serde_json::json!("in-use");
    item["configuration"]["attachments"] = serde_json::json!([
        {"instanceId": "i-0a1b2c3d", "device": "/dev/xvda", "state": "attached", "deleteOnTermination": true}
    ]);
    item
}

/// Week 1: vol-a unencrypted (an old finding), vol-b encrypted. Week 2: vol-a still
/// unencrypted but resized, vol-b now unencrypted (new), vol-c added unencrypted (new); all
/// three drifted. Both weeks scanned with the built-in rules; baseline "base" is week 1.
fn estate() -> Scratch {
    let s = Scratch::new();
    let t1 = "2026-11-02T10:00:00.000Z";
    s.ingest_items(
        "week1.json",
        &[volume("vol-a", 8, false, t1), volume("vol-b", 8, true, t1)],
    );
    let t2 = "2026-11-09T10:00:00.000Z";
    s.ingest_items(
        "week2.json",
        &[
            volume("vol-a", 16, false, t2),
            volume("vol-b", 8, false, t2),
            volume("vol-c", 8, false, t2),
        ],
    );
    s.conform(&["scan", "--snapshot", "1", "-q"]).ok();
    s.conform(&["scan", "--snapshot", "2", "-q"]).ok();
    s.conform(&["baseline", "set", "base", "--snapshot", "1"])
        .ok();
    s
}

fn gate(s: &Scratch, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["gate", "--format", "json"];
    all.extend_from_slice(args);
    let run = s.conform(&all);
    assert!(
        run.code == 0 || run.code == 1,
        "gate failed as a tool: {}",
        run.stderr
    );
    let code = run.code;
    (code, run.json())
}

/// (rule, resource id) of the findings that fail the gate.
fn failing(report: &Value) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fails"] == true)
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["resource_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

fn pair(rule: &str, id: &str) -> (String, String) {
    (rule.to_string(), id.to_string())
}

#[test]
fn new_noncompliant_is_the_default_and_old_findings_do_not_fail() {
    let s = estate();
    let (code, report) = gate(&s, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["passed"], false);
    assert_eq!(
        failing(&report),
        vec![
            pair("ENCRYPTED_VOLUMES", "vol-b"),
            pair("ENCRYPTED_VOLUMES", "vol-c")
        ]
    );
    let old = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "ENCRYPTED_VOLUMES" && f["resource_id"] == "vol-a")
        .unwrap();
    assert_eq!(old["new"], false);
    assert_eq!(old["baseline_compliance"], "NON_COMPLIANT");
    assert_eq!(old["fails"], false);

    // Judged against itself, nothing is new: passed, exit 0.
    s.conform(&["baseline", "set", "now", "--snapshot", "2"])
        .ok();
    let (code, report) = gate(&s, &["--baseline", "now"]);
    assert_eq!((code, report["passed"].clone()), (0, Value::Bool(true)));
}

#[test]
fn each_fail_on_mode_and_the_severity_floor() {
    let s = estate();
    let (code, report) = gate(&s, &["--fail-on", "noncompliant"]);
    assert_eq!(code, 1);
    let encrypted: Vec<_> = failing(&report)
        .into_iter()
        .filter(|(r, _)| r == "ENCRYPTED_VOLUMES")
        .collect();
    assert_eq!(encrypted.len(), 3, "old findings fail too");

    let (code, report) = gate(&s, &["--fail-on", "drift"]);
    assert_eq!(code, 1);
    assert_eq!(
        failing(&report),
        vec![
            pair("DRIFT", "vol-a"),
            pair("DRIFT", "vol-b"),
            pair("DRIFT", "vol-c")
        ]
    );
    let drift = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource_id"] == "vol-a" && f["rule_id"] == "DRIFT")
        .unwrap();
    assert_eq!(drift["changes"][0]["pointer"], "/configuration/size");
    // Each finding names what it is by its stable code: vol-a and vol-b changed, vol-c is new.
    let codes: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let id = f["resource_id"].as_str().unwrap().to_string();
            (id, f["code"].as_str().unwrap().to_string())
        })
        .filter(|(_, code)| code.starts_with("CF1"))
        .collect();
    assert_eq!(
        codes,
        [("vol-a", "CF103"), ("vol-b", "CF103"), ("vol-c", "CF101")]
            .map(|(id, code)| (id.to_string(), code.to_string()))
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "noncompliant")
            .all(|f| f["code"] == "CF001")
    );

    // No rule errored: a gate on errors alone passes; then a trapping rule makes one.
    let (code, _) = gate(&s, &["--fail-on", "error"]);
    assert_eq!(code, 0);
    let trap = fixture("rules/hostile/trap.wat");
    let scan = s.conform(&["scan", "--snapshot", "2", "-q", "--rules", as_str(&trap)]);
    assert_eq!(scan.code, 2, "a scan with ERROR evaluations says so");
    let (code, report) = gate(&s, &["--fail-on", "error"]);
    assert_eq!(code, 1);
    assert_eq!(report["counts"]["errors"], 3);
    assert!(failing(&report).iter().all(|(r, _)| r == "HOSTILE_TRAP"));

    // ENCRYPTED_VOLUMES is medium: above the floor nothing fails, yet all is reported.
    let (code, report) = gate(
        &s,
        &["--fail-on", "noncompliant", "--min-severity", "critical"],
    );
    assert_eq!(code, 0);
    assert!(report["counts"]["noncompliant"].as_u64().unwrap() >= 3);
}

#[test]
fn tool_failures_exit_2_never_1() {
    let s = estate();
    s.ingest_items(
        "week3.json",
        &[volume("vol-a", 16, false, "2026-11-16T10:00:00.000Z")],
    );
    // Drift alone needs no scan: the unscanned snapshot is judged against the baseline.
    let run = s.conform(&["gate", "--fail-on", "drift", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert!(report.get("scan").is_none(), "{report}");
    assert_eq!(report["counts"]["evaluations"], 0);
    let drifted: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        drifted,
        ["vol-a", "vol-b"],
        "vol-a resized, vol-b gone: {report}"
    );
    s.conform(&["gate", "--snapshot", "2", "--baseline", "nope"])
        .fails_with(&["no baseline 'nope'"]);
    let s = Scratch::new();
    s.ingest_items(
        "w.json",
        &[volume("vol-a", 8, false, "2026-11-02T10:00:00.000Z")],
    );
    s.conform(&["scan", "-q"]).ok();
    s.conform(&["gate"]).fails_with(&["no baseline is set"]);
    // Without a baseline, a gate on non-compliance alone still works.
    let run = s.conform(&["gate", "--fail-on", "noncompliant"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    s.conform(&["gate", "--format", "json-patch"])
        .fails_with(&["conform gate writes"]);
}

#[test]
fn waivers_waive_until_they_expire_and_malformed_ones_name_the_line() {
    let s = estate();
    let waivers = s.write(
        "waivers.yaml",
        "waivers:\n  - rule: ENCRYPTED_VOLUMES\n    resource: vol-b\n    justification: re-encrypting in OPS-7\n    expires: 2026-12-01\n  - rule: ENCRYPTED_*\n    resource: AWS::EC2::Volume/vol-c\n    justification: scratch volume, no data\n  - rule: REQUIRED_TAGS\n    resource: nothing-*\n    justification: stale\n",
    );
    let path = as_str(&waivers);
    let (code, report) = gate(&s, &["--waivers", path, "--today", "2026-11-21"]);
    assert_eq!(code, 0, "both new findings are waived");
    assert_eq!(report["counts"]["waived"], 2);
    let waived = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource_id"] == "vol-b")
        .unwrap();
    assert_eq!(waived["waiver"]["justification"], "re-encrypting in OPS-7");
    assert_eq!(
        report["waivers"][2]["matched"], 0,
        "unused waivers are reported"
    );
    let text = s
        .conform(&["gate", "--waivers", path, "--today", "2026-11-21"])
        .ok()
        .stdout;
    assert!(
        text.contains("waived") && text.contains("matched no finding"),
        "{text}"
    );

    // On its expiry day the first waiver no longer waives, and the report says why.
    let (code, report) = gate(&s, &["--waivers", path, "--today", "2026-12-01"]);
    assert_eq!(code, 1);
    assert_eq!(failing(&report), vec![pair("ENCRYPTED_VOLUMES", "vol-b")]);
    assert_eq!(report["counts"]["expired_waivers"], 1);
    let expired = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource_id"] == "vol-b")
        .unwrap();
    assert_eq!(expired["waiver"]["expired"], true);

    let toml = s.write(
        "waivers.toml",
        "[[waivers]]\nrule = \"ENCRYPTED_VOLUMES\"\nresource = \"vol-*\"\njustification = \"lab account\"\n",
    );
    assert_eq!(gate(&s, &["--waivers", as_str(&toml)]).0, 0);

    let bad = s.write(
        "bad.yaml",
        "waivers:\n  - rule: ENCRYPTED_VOLUMES\n    resource: vol-b\n    expires: 2026-12-01\n",
    );
    s.conform(&["gate", "--waivers", as_str(&bad)])
        .fails_with(&["bad.yaml", "missing field `justification`", "line 2"]);
    let bad = s.write(
        "bad.toml",
        "[[waivers]]\nrule = \"X\"\nresource = \"v\"\njustification = \"\"\n",
    );
    s.conform(&["gate", "--waivers", as_str(&bad)])
        .fails_with(&["bad.toml", "line 4", "justification must say why"]);
}

#[test]
fn sarif_is_valid_2_1_0_with_stable_fingerprints_and_suppressions() {
    let s = estate();
    let waivers = s.write(
        "w.yaml",
        "waivers:\n  - {rule: ENCRYPTED_VOLUMES, resource: vol-b, justification: known}\n",
    );
    let out = s.path("gate.sarif");
    let run = s.conform(&[
        "gate",
        "--format",
        "sarif",
        "--waivers",
        as_str(&waivers),
        "--output",
        as_str(&out),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("report written to"), "{}", run.stdout);
    let sarif: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();

    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/.deps/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&schema_path)
        .unwrap_or_else(|_| panic!("{} is missing: run tests/setup.sh", schema_path.display()));
    // The published schema's pattern for run.language has a stray ']' that strict regex
    // engines reject; it constrains a property conform does not write.
    let text = text.replace(r#"[a-zA-Z]{2}]?$"#, r#"[a-zA-Z]{2}\\]?$"#);
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");

    // What code scanning requires of each result.
    let run0 = &sarif["runs"][0];
    assert_eq!(sarif["version"], "2.1.0");
    let rule_ids: HashSet<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in run0["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
        assert!(!r["help"]["text"].as_str().unwrap().is_empty());
    }
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let mut fingerprints = HashSet::new();
    for r in results {
        assert!(rule_ids.contains(r["ruleId"].as_str().unwrap()), "{r}");
        assert_eq!(
            run0["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().unwrap() as usize]["id"],
            r["ruleId"]
        );
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.starts_with("conform/") && !uri.contains("://"), "{uri}");
        let fp = r["partialFingerprints"]["conformFinding/v1"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(fingerprints.insert(fp), "fingerprints are unique");
    }
    let vol_b = results
        .iter()
        .find(|r| r["ruleId"] == "ENCRYPTED_VOLUMES" && r["properties"]["resourceId"] == "vol-b")
        .unwrap();
    assert_eq!(vol_b["suppressions"][0]["justification"], "known");
    assert_eq!(vol_b["baselineState"], "new");
    let vol_a = results
        .iter()
        .find(|r| r["ruleId"] == "ENCRYPTED_VOLUMES" && r["properties"]["resourceId"] == "vol-a")
        .unwrap();
    assert_eq!(vol_a["baselineState"], "unchanged");

    // A later run keeps each finding's fingerprint.
    s.conform(&["scan", "--snapshot", "2", "-q"]).ok();
    let again = s.conform(&["gate", "--format", "sarif"]).json();
    let again_results = again["runs"][0]["results"].as_array().unwrap();
    for r in results {
        let fp = &r["partialFingerprints"]["conformFinding/v1"];
        assert!(
            again_results
                .iter()
                .any(|x| &x["partialFingerprints"]["conformFinding/v1"] == fp
                    && x["ruleId"] == r["ruleId"])
        );
    }
}

#[test]
fn junit_is_well_formed_with_one_uniquely_named_case_per_evaluation() {
    let s = estate();
    let run = s.conform(&[
        "gate",
        "--format",
        "junit",
        "--fail-on",
        "new-noncompliant,drift",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let xml = run.stdout;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suite, mut names, mut cases, mut failures) =
        (String::new(), HashSet::new(), 0, Vec::new());
    let mut current = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attr = |k: &str| {
                    e.try_get_attribute(k).unwrap().map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    "testsuite" => suite = attr("name").unwrap(),
                    "testcase" => {
                        cases += 1;
                        current = attr("name").unwrap();
                        assert!(
                            names.insert((suite.clone(), current.clone())),
                            "duplicate {current}"
                        );
                    }
                    "failure" => {
                        failures.push((suite.clone(), current.clone(), attr("message").unwrap()))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let evaluations = s
        .conform(&["results", "--snapshot", "2", "--format", "json"])
        .ok()
        .json();
    let drifted = 3; // vol-a resized, vol-b unencrypted, vol-c added
    assert_eq!(cases, evaluations.as_array().unwrap().len() + drifted);
    let mut failed: Vec<(String, String)> = failures
        .iter()
        .map(|(s, n, _)| (s.clone(), n.clone()))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        vec![
            (
                "DRIFT".to_string(),
                "AWS::EC2::Volume/vol-a (123456789012 us-east-1)".to_string()
            ),
            (
                "DRIFT".to_string(),
                "AWS::EC2::Volume/vol-b (123456789012 us-east-1)".to_string()
            ),
            (
                "DRIFT".to_string(),
                "AWS::EC2::Volume/vol-c (123456789012 us-east-1)".to_string()
            ),
            (
                "ENCRYPTED_VOLUMES".to_string(),
                "AWS::EC2::Volume/vol-b (123456789012 us-east-1)".to_string()
            ),
            (
                "ENCRYPTED_VOLUMES".to_string(),
                "AWS::EC2::Volume/vol-c (123456789012 us-east-1)".to_string()
            ),
        ]
    );
    assert!(
        failures.iter().any(|(_, _, m)| m.contains("not encrypted")),
        "{failures:?}"
    );
}

#[test]
fn markdown_fits_a_pull_request_comment() {
    let s = estate();
    let run = s.conform(&[
        "gate",
        "--format",
        "markdown",
        "--fail-on",
        "noncompliant,drift",
    ]);
    assert_eq!(run.code, 1);
    let md = run.stdout;
    assert!(md.starts_with("### ❌ conform gate failed"), "{md}");
    assert!(
        md.contains("| ENCRYPTED_VOLUMES | medium | `AWS::EC2::Volume/vol-c` |"),
        "{md}"
    );
    assert!(md.len() < 65_536);
}

/// A gate on a snapshot nobody scanned scans it first (incrementally, with the built-ins or
/// the rules given) and judges it; given rules the latest scan did not run, it scans again by
/// them. Timeline and compliance-changes do the same.
#[test]
fn the_gate_evaluates_what_is_missing() {
    let s = estate();
    s.ingest_items(
        "week3.json",
        &[volume("vol-new", 16, false, "2026-11-16T10:00:00.000Z")],
    );
    let run = s.conform(&["gate", "--fail-on", "new-noncompliant", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["scan"]["snapshot"], 3, "{report}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["resource_id"] == "vol-new" && f["new"] == true),
        "{report}"
    );
    let scans = || crate::support::rows(&s, "scans");
    let before = scans();
    assert!(before >= 1);
    // Scanned already: judged as it is.
    assert_eq!(
        s.conform(&["gate", "--fail-on", "new-noncompliant"]).code,
        1
    );
    assert_eq!(scans(), before, "no scan when one exists");
    // Only one rule judged: the snapshot and the baseline are scanned by it.
    let run = s.conform(&[
        "gate",
        "--fail-on",
        "new-noncompliant",
        "--only",
        "S3_*",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "no S3 finding is new: {}", run.stderr);
    assert_eq!(
        scans(),
        before + 2,
        "the snapshot and the baseline, by the S3 rules"
    );
    let report = run.json();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule_id"].as_str().unwrap().starts_with("S3_")),
        "{report}"
    );
}
