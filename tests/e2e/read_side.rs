//! The read side: snapshots, show, history, stats, and how resources are named.

use serde_json::json;

use crate::support::*;

fn estate() -> Scratch {
    let s = Scratch::new();
    s.snapshot_file(
        "w1.json",
        &[
            volume("vol-1", 8, true, "2026-11-02T06:00:00Z"),
            bucket("logs", "Enabled", "2026-11-02T06:00:00Z"),
        ],
    );
    s.snapshot_file(
        "w2.json",
        &[
            volume("vol-1", 8, true, "2026-11-09T06:00:00Z"),
            bucket("logs", "Suspended", "2026-11-09T06:00:00Z"),
        ],
    );
    s.conform(&[
        "ingest",
        "--each",
        as_str(&s.path("w1.json")),
        as_str(&s.path("w2.json")),
    ])
    .ok();
    s
}

#[test]
fn snapshots_lists_each_with_counts_and_sources() {
    let s = estate();
    let list = s.conform(&["snapshots", "--format", "json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["taken_at"], "2026-11-02T06:00:00Z");
    assert_eq!(list[1]["modified"], 1);
    assert_eq!(list[1]["unchanged"], 1);
    assert!(
        list[1]["sources"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("w2.json")
    );
    let text = s.conform(&["snapshots"]).ok().stdout;
    assert!(text.contains("2026-11-09T06:00:00Z"), "{text}");
}

#[test]
fn a_resource_is_named_by_id_type_and_id_or_arn() {
    let s = estate();
    for name in ["logs", "AWS::S3::Bucket/logs", "arn:aws:s3:::logs"] {
        let item = s.conform(&["show", name, "--format", "json"]).ok().json();
        assert_eq!(item["resourceId"], "logs", "{name}");
    }
    let missing = s.conform(&["show", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no resource matches 'nope'"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_ambiguous_id_asks_for_a_precise_name() {
    let s = Scratch::new();
    let mut other = volume("vol-1", 8, true, "2026-11-02T06:00:00Z");
    other["accountId"] = json!("999999999999");
    other["arn"] = json!("arn:aws:ec2:us-east-1:999999999999:volume/vol-1");
    s.ingest_items(
        "two.json",
        &[volume("vol-1", 8, true, "2026-11-02T06:00:00Z"), other],
    );
    s.conform(&["show", "vol-1"])
        .fails_with(&["matches 2 resources"]);
    let exact = s
        .conform(&[
            "show",
            "arn:aws:ec2:us-east-1:999999999999:volume/vol-1",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(exact["accountId"], "999999999999");
}

#[test]
fn show_at_a_snapshot_before_the_resource_existed_says_so() {
    let s = estate();
    s.ingest_items(
        "w3.json",
        &[
            volume("vol-1", 8, true, "2026-11-16T06:00:00Z"),
            volume("vol-new", 8, true, "2026-11-16T06:00:00Z"),
            bucket("logs", "Suspended", "2026-11-16T06:00:00Z"),
        ],
    );
    s.conform(&["show", "vol-new", "--at", "1"])
        .fails_with(&["did not exist yet in snapshot 1"]);
}

#[test]
fn history_text_shows_versions_and_their_snapshots() {
    let s = estate();
    let text = s.conform(&["history", "logs"]).ok().stdout;
    assert!(text.contains("AWS::S3::Bucket/logs"), "{text}");
    assert!(
        text.contains("v1") && text.contains("snapshot 1") && text.contains("v2"),
        "{text}"
    );
    assert!(text.contains("(current)"), "{text}");
}

#[test]
fn stats_counts_what_is_stored() {
    let s = estate();
    let stats = s.conform(&["stats", "--format", "json"]).ok().json();
    assert_eq!(stats["snapshots"], 2);
    assert_eq!(stats["resources"], 2);
    assert_eq!(stats["versions"], 3);
    assert_eq!(stats["schema_version"], 9);
    assert!(stats["database_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn reading_a_missing_store_does_not_create_one() {
    let s = Scratch::new();
    s.conform(&["snapshots"]).fails_with(&["no store at"]);
    assert!(!s.db().exists());
}
