//! The timeline and compliance changes, on the bundled sample estate (three weekly snapshots).

use serde_json::Value;

use crate::support::{Scratch, as_str};

fn sample() -> Scratch {
    let s = Scratch::new();
    // The sample's synced bucket, ingested whole: one snapshot per week.
    let bucket = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots/AWSLogs");
    s.conform(&["ingest", "-q", as_str(&bucket)]).ok();
    for snapshot in ["1", "2", "3"] {
        s.conform(&["scan", "--snapshot", snapshot, "-q"]).ok();
    }
    s.conform(&["baseline", "set", "prod", "--snapshot", "1"])
        .ok();
    s
}

fn non_compliant(entry: &Value, rule: &str) -> u64 {
    entry["compliance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule_id"] == rule)
        .map(|c| c["non_compliant"].as_u64().unwrap())
        .unwrap_or(0)
}

#[test]
fn the_estate_timeline_shows_changes_drift_and_compliance_per_snapshot() {
    let s = sample();
    let t = s.conform(&["timeline", "--format", "json"]).ok().json();
    assert_eq!(t["baseline"], "prod");
    let snaps = t["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 3);
    // Drift from the baseline grows as the weeks' changes accumulate; it agrees with `drift`.
    assert_eq!(snaps[0]["drift"]["added"], 0);
    assert_eq!(snaps[0]["drift"]["modified"], 0);
    for (i, snapshot) in [(1, "2"), (2, "3")] {
        let drift = s
            .conform(&["drift", "--snapshot", snapshot, "--format", "json"])
            .ok()
            .json();
        for k in ["added", "removed", "modified", "ignored_only"] {
            assert_eq!(snaps[i]["drift"][k], drift[k], "snapshot {snapshot} {k}");
        }
    }
    assert!(
        snaps[2]["drift"]["modified"].as_u64().unwrap()
            > snaps[1]["drift"]["modified"].as_u64().unwrap()
    );
    // Week 3 adds an unencrypted volume: one more ENCRYPTED_VOLUMES finding than week 2.
    assert_eq!(
        non_compliant(&snaps[2], "ENCRYPTED_VOLUMES"),
        non_compliant(&snaps[1], "ENCRYPTED_VOLUMES") + 1
    );
    // What each snapshot changed is its ingest's counts.
    let listed = s.conform(&["snapshots", "--format", "json"]).ok().json();
    for (entry, snap) in snaps.iter().zip(listed.as_array().unwrap()) {
        assert_eq!(entry["added"], snap["added"]);
        assert_eq!(entry["modified"], snap["modified"]);
    }
    // A range keeps only the snapshots taken in it.
    let t = s
        .conform(&[
            "timeline",
            "--since",
            "2026-11-05",
            "--until",
            "2026-11-12",
            "--format",
            "json",
        ])
        .ok()
        .json();
    let ids: Vec<i64> = t["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["snapshot"]["snapshot"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![2]);
    let text = s.conform(&["timeline"]).ok().stdout;
    assert!(
        text.contains("ENCRYPTED_VOLUMES") && text.contains("drifted"),
        "{text}"
    );
}

#[test]
fn a_resource_timeline_shows_each_version_its_changes_and_its_verdicts() {
    let s = sample();
    let t = s
        .conform(&["timeline", "vol-21fdeb26bf000000037", "--format", "json"])
        .ok()
        .json();
    let versions = t["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[0]["changes"].as_array().unwrap().is_empty());
    let size = versions[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pointer"] == "/configuration/size")
        .unwrap();
    assert_eq!(
        (size["before"].as_u64(), size["after"].as_u64()),
        (Some(64), Some(65))
    );
    let snaps = t["snapshots"].as_array().unwrap();
    assert_eq!(
        snaps
            .iter()
            .map(|s| s["version"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 2]
    );
    for snap in snaps {
        assert_eq!(
            snap["compliance"]["EC2_VOLUME_INUSE_CHECK"],
            "NON_COMPLIANT"
        );
    }
}

#[test]
fn compliance_changes_list_each_rule_and_resource_whose_verdict_changed() {
    let s = sample();
    let c = s
        .conform(&["compliance-changes", "--format", "json"])
        .ok()
        .json();
    assert_eq!(c["snapshot"]["snapshot"], 3);
    assert_eq!(c["previous"][0]["snapshot"], 2);
    let changes = c["changes"].as_array().unwrap();
    let new_volume = changes
        .iter()
        .find(|x| {
            x["rule_id"] == "ENCRYPTED_VOLUMES" && x["resource_id"] == "vol-2ef87822ec00000004c"
        })
        .expect("the week's new unencrypted volume");
    assert_eq!(new_volume["old_compliance"], Value::Null);
    assert_eq!(new_volume["new_compliance"], "NON_COMPLIANT");
    // Every listed change is a real change, and the unchanged are not listed.
    for x in changes {
        assert_ne!(x["old_compliance"], x["new_compliance"]);
    }
    let week2 = s
        .conform(&["compliance-changes", "--snapshot", "2", "--format", "json"])
        .ok()
        .json();
    let gone = week2["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["new_compliance"].is_null())
        .expect("a bucket deleted in week 2");
    assert_eq!(gone["resource_type"], "AWS::S3::Bucket");
    // A snapshot that was never scanned is scanned first (incrementally, with the built-ins),
    // then compared.
    let extra = s.write(
        "extra.json",
        "[{\"resourceType\": \"Custom::Thing\", \"resourceId\": \"t1\", \"configuration\": {}}]",
    );
    s.conform(&["ingest", "--partial", as_str(&extra)]).ok();
    let week4 = s
        .conform(&["compliance-changes", "--format", "json"])
        .ok()
        .json();
    assert_eq!(week4["snapshot"]["snapshot"], 4);
    assert_eq!(week4["scan"]["mode"], "incremental");
    assert_eq!(week4["previous"][0]["snapshot"], 3, "{week4}");
}
