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
    // The counts a scan keeps (and reports) are what its evaluations hold.
    let mut counted = std::collections::BTreeMap::<(String, String), u64>::new();
    for e in &found {
        let key = (
            e["rule_id"].as_str().unwrap(),
            e["compliance"].as_str().unwrap(),
        );
        *counted
            .entry((key.0.to_string(), key.1.to_string()))
            .or_default() += 1;
    }
    let mut kept = std::collections::BTreeMap::new();
    for rule in incremental["rules"].as_array().unwrap() {
        for (field, word) in [
            ("compliant", "COMPLIANT"),
            ("non_compliant", "NON_COMPLIANT"),
            ("not_applicable", "NOT_APPLICABLE"),
            ("error", "ERROR"),
        ] {
            let n = rule[field].as_u64().unwrap();
            if n > 0 {
                kept.insert(
                    (
                        rule["rule_id"].as_str().unwrap().to_string(),
                        word.to_string(),
                    ),
                    n,
                );
            }
        }
    }
    assert_eq!(kept, counted, "{context}");
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
        // The first walks the state; each later one starts from the incremental scan before.
        assert_eq!(report["base"].is_null(), snapshot == 1, "{report}");
    }
    let first_full = evaluated[0];
    assert!(
        evaluated[1..].iter().all(|n| *n < first_full / 2),
        "later snapshots evaluate what changed: {evaluated:?}"
    );
    // Out of order, and again: nothing new to evaluate but the estate rule.
    for snapshot in [2, 4, 1] {
        let report = incremental_equals_full(&s, snapshot, &[]);
        assert!(report["base"].is_u64(), "{report}");
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
            "\\\"version\\\":\\\"1.1.0\\\"",
            "\\\"version\\\":\\\"1.1.1\\\"",
        ),
    )
    .unwrap();
    let rebuilt = incremental_equals_full(&s, 2, &with_file);
    let ours = rule(&rebuilt, "WAT_ENCRYPTED_VOLUMES");
    assert_eq!(ours["version"], "1.1.1", "the file was rebuilt: {ours}");
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
        // Each rescan starts from the one before: nothing changed, so nothing is read or
        // evaluated, not even the estate rule (its evaluations are copied).
        assert_eq!(report["base"], n, "{report}");
        assert_eq!(report["evaluated"].as_u64().unwrap(), 0, "{report}");
        assert_eq!(report["reused"], first["evaluated"], "{report}");
        assert_eq!(report["rules"], with_reuse(&first["rules"]), "{report}");
        // Each rescan stores the estate rule's evaluations and nothing per reused verdict.
        assert_eq!(rows(&s, "verdicts"), verdicts);
        assert_eq!(rows(&s, "scan_evaluations"), own_rows + n * estate as i64);
    }
}

/// A first scan's per-rule summaries as a rescan that reused them all reports them.
fn with_reuse(rules: &Value) -> Value {
    let mut rules = rules.clone();
    for rule in rules.as_array_mut().unwrap() {
        rule["reused"] = rule["evaluated"].clone();
        rule["evaluated"] = 0.into();
    }
    rules
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

/// A CloudTrail trail of `account`, logging or not.
fn trail(account: &str, logging: bool, captured: &str) -> Value {
    let name = format!("trail-{account}");
    let arn = format!("arn:aws:cloudtrail:us-east-1:{account}:trail/{name}");
    serde_json::json!({
        "version": "1.3", "accountId": account, "configurationItemCaptureTime": captured,
        "configurationItemStatus": "OK", "configurationStateId": "1", "arn": arn,
        "resourceType": "AWS::CloudTrail::Trail", "resourceId": arn, "resourceName": name,
        "awsRegion": "us-east-1", "tags": {}, "relationships": [],
        "configuration": {"name": name, "isMultiRegionTrail": true, "s3BucketName": "logs"},
        "supplementaryConfiguration": {"IsLogging": logging}
    })
}

/// A volume of `account`.
fn volume_of(account: &str, size: u64, captured: &str) -> Value {
    let mut item = volume(&format!("vol-{account}"), size, true, captured);
    item["accountId"] = account.into();
    item["arn"] = format!("arn:aws:ec2:us-east-1:{account}:volume/vol-{account}").into();
    item
}

/// An estate rule runs again only for the accounts where a resource of a type it covers
/// changed, or that lost a resource; every other account's evaluations are the base's, copied.
/// Each scan still equals a full one.
#[test]
fn an_estate_rule_runs_again_only_where_what_it_covers_changed() {
    let s = Scratch::new();
    let (a, b) = ("111111111111", "222222222222");
    let estate = |report: &Value| {
        let r = rule(report, "CLOUD_TRAIL_ENABLED");
        (
            r["evaluated"].as_u64().unwrap(),
            r["reused"].as_u64().unwrap(),
        )
    };
    let account_verdicts = |snapshot: usize| -> Vec<(String, String)> {
        results(&s, snapshot)
            .into_iter()
            .filter(|e| e["rule_id"] == "CLOUD_TRAIL_ENABLED")
            .map(|e| {
                let account = e["account_id"].as_str().unwrap().to_string();
                (account, e["compliance"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let day = |n: u32| format!("2026-11-0{n}T06:00:00Z");
    let ingest = |n: u32, items: &[Value]| {
        let file = s.snapshot_file(&format!("day{n}.json"), items);
        s.conform(&["ingest", as_str(&file), "--scope", "*"]).ok();
    };

    ingest(
        1,
        &[
            trail(a, true, &day(1)),
            trail(b, true, &day(1)),
            volume_of(a, 8, &day(1)),
            volume_of(b, 8, &day(1)),
        ],
    );
    let first = incremental_equals_full(&s, 1, &[]);
    assert_eq!(estate(&first), (2, 0), "{first}");

    // Account a's trail stops logging: a runs again, b is copied.
    ingest(
        2,
        &[
            trail(a, false, &day(2)),
            trail(b, true, &day(1)),
            volume_of(a, 8, &day(1)),
            volume_of(b, 8, &day(1)),
        ],
    );
    let second = incremental_equals_full(&s, 2, &[]);
    assert!(second["base"].is_u64(), "{second}");
    assert_eq!(estate(&second), (1, 1), "{second}");
    let expected = vec![
        (a.to_string(), "NON_COMPLIANT".to_string()),
        (b.to_string(), "COMPLIANT".to_string()),
    ];
    assert_eq!(account_verdicts(2), expected);

    // Only a volume changes: nothing the rule covers, so both accounts are copied.
    ingest(
        3,
        &[
            trail(a, false, &day(2)),
            trail(b, true, &day(1)),
            volume_of(a, 16, &day(3)),
            volume_of(b, 8, &day(1)),
        ],
    );
    let third = incremental_equals_full(&s, 3, &[]);
    assert_eq!(estate(&third), (0, 2), "{third}");
    assert_eq!(account_verdicts(3), expected);

    // Account b is gone: it is evaluated no more.
    ingest(4, &[trail(a, false, &day(2)), volume_of(a, 16, &day(3))]);
    let fourth = incremental_equals_full(&s, 4, &[]);
    assert_eq!(estate(&fourth), (0, 1), "{fourth}");
    assert_eq!(account_verdicts(4), expected[..1].to_vec());
    s.assert_store_consistent();
}

/// An ERROR is judged again by the next scan, and what that one finds is its own: the scan
/// that found the ERROR still shows it, and only it (a verdict belongs to the scans from the
/// one that stored it on).
#[test]
fn an_error_judged_again_later_stays_the_earlier_scans_own() {
    let s = Scratch::new();
    // Spins long enough to miss a 5 ms deadline, well inside the default one.
    let slow = std::fs::read_to_string(fixture("rules/slow/slow-volume.wat"))
        .unwrap()
        .replace("3000000", "300000000");
    let slow = s.write("slower.wat", slow);
    let captured = "2026-11-01T06:00:00Z";
    s.ingest_items("one.json", &[volume("vol-1", 8, true, captured)]);
    s.ingest_items(
        "two.json",
        &[
            volume("vol-1", 8, true, captured),
            volume("vol-2", 8, true, captured),
        ],
    );
    let scan = |snapshot: &str, extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--snapshot",
            snapshot,
            "--no-builtins",
            "--rules",
            as_str(&slow),
        ];
        args.extend_from_slice(extra);
        args.extend(["--format", "json"]);
        s.conform(&args).json()
    };
    let first = scan("1", &["--rule-timeout", "5"]);
    assert_eq!(first["rules"][0]["error"], 1, "{first}");
    let second = scan("2", &[]);
    assert_eq!(second["base"], first["scan"]["id"], "{second}");
    assert_eq!(
        (
            second["rules"][0]["compliant"].as_u64(),
            second["evaluated"].as_u64()
        ),
        (Some(2), Some(2)),
        "{second}"
    );
    let words = |snapshot: usize| -> Vec<String> {
        results(&s, snapshot)
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["resource_id"].as_str().unwrap(),
                    e["compliance"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(words(1), ["vol-1 ERROR"]);
    assert_eq!(words(2), ["vol-1 COMPLIANT", "vol-2 COMPLIANT"]);
}
