//! Incremental scans mean what full scans mean: on every snapshot of a churned estate (with
//! additions, changes and deletions), scanned in order and out of it, with rules added,
//! removed, given other parameters and rebuilt, an incremental scan's results are a full
//! scan's, and it evaluates only what no earlier scan did.

use serde_json::Value;

use crate::support::*;

/// A generated estate of four daily snapshots, 15% churned each day, ingested.
fn churned() -> Scratch {
    let s = Scratch::new();
    let out = s.path("bucket");
    s.conform(&[
        "generate",
        "--out",
        as_str(&out),
        "--items",
        "300",
        "--churn",
        "15%",
        "--snapshots",
        "4",
        "--accounts",
        "2",
        "--seed",
        "11",
    ])
    .ok();
    s.conform(&["ingest", as_str(&out)]).ok();
    assert_eq!(s.snapshot_count(), 4);
    s
}

/// Every evaluation of the latest scan of `snapshot`, in a stable order.
fn results(s: &Scratch, snapshot: usize) -> Vec<Value> {
    let snapshot = snapshot.to_string();
    let out = s.conform(&["results", "--snapshot", &snapshot, "--format", "json"]);
    let mut all = out.ok().json().as_array().unwrap().clone();
    all.sort_by_key(|e| e.to_string());
    all
}

/// Scans `snapshot` incrementally, then fully, with `rules` (extra arguments), and holds the
/// two to the same results, counts and gate. Returns the incremental scan's report.
fn incremental_equals_full(s: &Scratch, snapshot: usize, rules: &[&str]) -> Value {
    let id = snapshot.to_string();
    let scan = |full: bool| {
        let mut args = vec!["scan", "--snapshot", &id, "--format", "json"];
        if full {
            args.push("--full");
        }
        args.extend_from_slice(rules);
        s.conform(&args).ok().json()
    };
    let gate = || {
        let run = s.conform(&[
            "gate",
            "--snapshot",
            &id,
            "--fail-on",
            "noncompliant",
            "--format",
            "json",
        ]);
        let mut report = run.json();
        report["findings"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|f| f.to_string());
        (report["findings"].clone(), report["counts"].clone())
    };
    let incremental = scan(false);
    assert_eq!(incremental["scan"]["mode"], "incremental");
    let (found, gated) = (results(s, snapshot), gate());
    let full = scan(true);
    assert_eq!(full["scan"]["mode"], "full");
    assert_eq!(full["reused"], 0);
    let context = format!("snapshot {snapshot}, rules {rules:?}");
    assert_eq!(
        compliance_counts(&incremental),
        compliance_counts(&full),
        "{context}"
    );
    assert_eq!(
        incremental["evaluated"].as_u64().unwrap() + incremental["reused"].as_u64().unwrap(),
        full["evaluated"].as_u64().unwrap(),
        "{context}: what was not evaluated was reused"
    );
    let expected = results(s, snapshot);
    assert!(!expected.is_empty());
    assert_eq!(found, expected, "{context}");
    assert_eq!(gated, gate(), "{context}");
    incremental
}

#[test]
fn an_incremental_scan_equals_a_full_scan_on_every_snapshot_and_rule_change() {
    let s = churned();
    // The built-ins, in order: each snapshot reuses what the one before it shares.
    let mut evaluated = Vec::new();
    for snapshot in 1..=4 {
        let report = incremental_equals_full(&s, snapshot, &[]);
        evaluated.push(report["evaluated"].as_u64().unwrap());
    }
    let first_full = evaluated[0];
    assert!(
        evaluated[1..].iter().all(|n| *n < first_full / 2),
        "later snapshots evaluate what changed: {evaluated:?}"
    );
    // Out of order, and again: nothing new to evaluate but the estate rule.
    for snapshot in [2, 4, 1] {
        let report = incremental_equals_full(&s, snapshot, &[]);
        let estate: u64 = report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["rule_id"] == "CLOUD_TRAIL_ENABLED")
            .map(|r| r["evaluated"].as_u64().unwrap())
            .sum();
        assert_eq!(report["evaluated"].as_u64().unwrap(), estate, "{report}");
    }

    // A rule added (REQUIRED_TAGS runs once given parameters), then its parameters changed:
    // another instance, evaluated afresh; the other rules' verdicts are reused.
    let params = s.write("params.json", r#"{"REQUIRED_TAGS": {"tag1Key": "Team"}}"#);
    let with_params = ["--params", as_str(&params)];
    let report = incremental_equals_full(&s, 3, &with_params);
    let tags = rule(&report, "REQUIRED_TAGS");
    assert!(
        tags["evaluated"].as_u64().unwrap() > 0 && tags["reused"] == 0,
        "{tags}"
    );
    assert_eq!(
        rule(&report, "ENCRYPTED_VOLUMES")["evaluated"],
        0,
        "{report}"
    );
    let report = incremental_equals_full(&s, 3, &with_params);
    assert_eq!(rule(&report, "REQUIRED_TAGS")["evaluated"], 0, "{report}");
    std::fs::write(&params, r#"{"REQUIRED_TAGS": {"tag1Key": "CostCenter"}}"#).unwrap();
    let changed = incremental_equals_full(&s, 3, &with_params);
    assert_eq!(
        rule(&changed, "REQUIRED_TAGS")["evaluated"],
        tags["evaluated"],
        "new parameters, evaluated again: {changed}"
    );
    assert_ne!(
        rule(&changed, "REQUIRED_TAGS")["non_compliant"],
        tags["non_compliant"],
        "the sample omits CostCenter on some resources, never Team"
    );

    // A rule removed: the scan holds only the rules it ran.
    let report = incremental_equals_full(&s, 4, &["--only", "S3_*"]);
    assert!(
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["rule_id"].as_str().unwrap().starts_with("S3_")),
        "{report}"
    );
    assert!(
        results(&s, 4)
            .iter()
            .all(|e| e["rule_id"].as_str().unwrap().starts_with("S3_"))
    );

    // A rule file rebuilt (other bytes, another module hash) is evaluated again.
    let dir = s.path("rules");
    std::fs::create_dir_all(&dir).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules-sdk/examples/wat/encrypted-volumes.wat");
    let wat = std::fs::read_to_string(source).unwrap();
    let file = dir.join("encrypted-volumes.wat");
    std::fs::write(&file, &wat).unwrap();
    let with_file = ["--rules", as_str(&file)];
    let first = incremental_equals_full(&s, 2, &with_file);
    let again = incremental_equals_full(&s, 2, &with_file);
    assert_eq!(
        rule(&again, "WAT_ENCRYPTED_VOLUMES")["evaluated"],
        0,
        "{again}"
    );
    std::fs::write(
        &file,
        wat.replace(
            "\\\"version\\\":\\\"1.0.0\\\"",
            "\\\"version\\\":\\\"1.0.1\\\"",
        ),
    )
    .unwrap();
    let rebuilt = incremental_equals_full(&s, 2, &with_file);
    let ours = rule(&rebuilt, "WAT_ENCRYPTED_VOLUMES");
    assert_eq!(ours["version"], "1.0.1", "the file was rebuilt: {ours}");
    assert_eq!(
        ours["evaluated"],
        rule(&first, "WAT_ENCRYPTED_VOLUMES")["evaluated"]
    );
    assert_eq!(ours["reused"], 0);
    s.assert_store_consistent();
}

fn rule<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

#[test]
fn rescans_of_an_unchanged_estate_store_no_row_per_evaluation() {
    let s = churned();
    let first = s
        .conform(&["scan", "--snapshot", "4", "--format", "json"])
        .ok()
        .json();
    let estate = rule(&first, "CLOUD_TRAIL_ENABLED")["evaluated"]
        .as_u64()
        .unwrap();
    let verdicts = rows(&s, "verdicts");
    // One verdict per evaluation, and none for the rules an item's type is outside of (the
    // built-ins scope by type alone).
    assert_eq!(
        verdicts as u64,
        first["evaluated"].as_u64().unwrap() - estate
    );
    let own_rows = rows(&s, "scan_evaluations");
    for n in 1..=20 {
        let report = s
            .conform(&["scan", "--snapshot", "4", "--format", "json"])
            .ok()
            .json();
        assert_eq!(report["evaluated"].as_u64().unwrap(), estate, "{report}");
        assert_eq!(
            report["reused"].as_u64().unwrap(),
            first["evaluated"].as_u64().unwrap() - estate
        );
        // Each rescan stores the estate rule's evaluations and nothing per reused verdict.
        assert_eq!(rows(&s, "verdicts"), verdicts);
        assert_eq!(rows(&s, "scan_evaluations"), own_rows + n * estate as i64);
    }
}

/// `compliance-changes` reads only what changed between two incremental scans of the same
/// rules (the verdicts of resources whose version changed, and each scan's own rows); between
/// full scans it reads both whole. The two agree on every snapshot, with a rule that always
/// ends in ERROR (rows of the scan's own) and a rule added half-way (compared whole).
#[test]
fn compliance_changes_of_incremental_scans_equal_those_of_full_scans() {
    let s = churned();
    let trap = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/rules/hostile/trap.wat");
    let params = s.write("params.json", r#"{"REQUIRED_TAGS": {"tag1Key": "Team"}}"#);
    let changes = |full: bool| {
        let mut all = Vec::new();
        for snapshot in 1..=4 {
            let id = snapshot.to_string();
            let mut args = vec!["scan", "--snapshot", &id, "--rules", as_str(&trap)];
            if snapshot >= 3 {
                args.extend(["--params", as_str(&params)]);
            }
            if full {
                args.push("--full");
            }
            let run = s.conform(&args);
            assert_eq!(run.code, 2, "the trap rule's ERRORs: {}", run.stderr);
            let mut report = s
                .conform(&["compliance-changes", "--snapshot", &id, "--format", "json"])
                .ok()
                .json();
            assert_eq!(
                report["scan"]["mode"],
                if full { "full" } else { "incremental" }
            );
            all.push(report["changes"].take());
        }
        all
    };
    let incremental = changes(false);
    let full = changes(true);
    assert!(
        incremental[1..]
            .iter()
            .all(|c| !c.as_array().unwrap().is_empty()),
        "the churned estate changes compliance every day"
    );
    assert!(
        incremental[2]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["rule_id"] == "REQUIRED_TAGS"),
        "the rule added on day 3 is new there"
    );
    assert_eq!(incremental, full);
}
