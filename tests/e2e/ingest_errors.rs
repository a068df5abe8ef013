//! Bad input: a precise error naming file, item and JSON pointer, exit code 2, and the store
//! left byte-identical.

use serde_json::json;

use crate::support::*;

/// A store holding one good snapshot, and its bytes.
fn seeded() -> (Scratch, (Vec<u8>, Option<Vec<u8>>)) {
    let s = Scratch::new();
    s.ingest_items(
        "good.json",
        &[volume("vol-1", 8, true, "2026-11-02T06:00:00Z")],
    );
    let bytes = s.db_bytes();
    (s, bytes)
}

/// Ingests `file`, expects exit 2 with every `expected` fragment in stderr, and an unchanged store.
#[track_caller]
fn rejects(
    s: &Scratch,
    before: &(Vec<u8>, Option<Vec<u8>>),
    file: &std::path::Path,
    expected: &[&str],
) -> Run {
    let run = s.conform(&["ingest", as_str(file)]);
    assert_eq!(run.code, 2, "bad input must exit 2; stderr: {}", run.stderr);
    for fragment in expected {
        assert!(
            run.stderr.contains(fragment),
            "stderr lacks {fragment:?}:\n{}",
            run.stderr
        );
    }
    assert!(
        &s.db_bytes() == before,
        "the store changed after a failed ingest"
    );
    assert_eq!(s.snapshot_count(), 1);
    run
}

#[test]
fn truncated_json_names_file_and_position() {
    let (s, before) = seeded();
    let text = snapshot(&[
        volume("vol-2", 8, true, "2026-11-09T06:00:00Z"),
        volume("vol-3", 8, true, "2026-11-09T06:00:00Z"),
    ])
    .to_string();
    let cut = s.write("cut.json", &text[..text.len() - 40]);
    rejects(
        &s,
        &before,
        &cut,
        &["cut.json: line 1, column", "truncated JSON", "after item 0"],
    );
}

#[test]
fn an_item_without_resource_type_is_named_by_index_and_pointer() {
    let (s, before) = seeded();
    let mut bad = volume("vol-2", 8, true, "2026-11-09T06:00:00Z");
    bad.as_object_mut().unwrap().remove("resourceType");
    let file = s.snapshot_file(
        "no-type.json",
        &[volume("vol-1", 8, true, "2026-11-09T06:00:00Z"), bad],
    );
    rejects(
        &s,
        &before,
        &file,
        &[
            "no-type.json: item 1",
            "\"resourceType\" is a required property",
        ],
    );
}

#[test]
fn wrong_types_are_all_reported_at_once_with_pointers() {
    let (s, before) = seeded();
    let mut a = volume("vol-2", 8, true, "2026-11-09T06:00:00Z");
    a["configuration"] = json!("not an object");
    let mut b = volume("vol-3", 8, true, "2026-11-09T06:00:00Z");
    b["tags"] = json!({"Team": 42});
    let mut c = volume("vol-4", 8, true, "2026-11-09T06:00:00Z");
    c["configurationItemCaptureTime"] = json!(1234);
    let file = s.snapshot_file("types.json", &[a, b, c]);
    let run = rejects(
        &s,
        &before,
        &file,
        &[
            "3 problems in the input",
            "types.json: item 0 (line 1): /configuration:",
            "types.json: item 1 (line 1): /tags/Team:",
            "types.json: item 2 (line 1): /configurationItemCaptureTime:",
        ],
    );
    assert!(
        run.stderr.contains("is not of types \"null\", \"object\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_pointer_uses_the_dialect_key_of_the_file() {
    let (s, before) = seeded();
    let mut item = bucket("b-1", "Enabled", "2026-11-09T06:00:00Z");
    item["awsAccountId"] = json!(123);
    let file = s.snapshot_file("dialect.json", &[item]);
    rejects(
        &s,
        &before,
        &file,
        &["dialect.json: item 0 (line 1): /awsAccountId:"],
    );
}

#[test]
fn a_duplicate_resource_is_an_error_naming_both_places() {
    let (s, before) = seeded();
    let file = s.snapshot_file(
        "dup.json",
        &[
            volume("vol-9", 8, true, "2026-11-09T06:00:00Z"),
            volume("vol-9", 16, true, "2026-11-09T07:00:00Z"),
        ],
    );
    rejects(
        &s,
        &before,
        &file,
        &["dup.json: item 1", "duplicate", "item 0", "--latest-wins"],
    );
}

#[test]
fn a_non_utf8_file_is_rejected_with_its_position() {
    let (s, before) = seeded();
    let mut bytes = snapshot(&[volume("vol-2", 8, true, "2026-11-09T06:00:00Z")])
        .to_string()
        .into_bytes();
    let at = bytes.windows(5).position(|w| w == b"gp3\"}").unwrap();
    bytes[at] = 0xff;
    let file = s.write("latin1.json", bytes);
    rejects(
        &s,
        &before,
        &file,
        &["latin1.json: line 1, column", "not valid UTF-8"],
    );
}

#[test]
fn errors_in_several_files_are_reported_together() {
    let (s, before) = seeded();
    let mut bad = volume("vol-2", 8, true, "2026-11-09T06:00:00Z");
    bad["relationships"] = json!("none");
    s.snapshot_file("batch/a.json", &[bad]);
    s.write("batch/b.json", "{\"configurationItems\": [");
    let run = s
        .conform(&["ingest", as_str(&s.path("batch"))])
        .fails_with(&["a.json: item 0 (line 1): /relationships"]);
    assert!(run.stderr.contains("b.json: line 1"), "{}", run.stderr);
    assert!(s.db_bytes() == before);
}

#[test]
fn ndjson_problems_are_located_by_line() {
    let (s, before) = seeded();
    let good = volume("vol-2", 8, true, "2026-11-09T06:00:00Z").to_string();
    let mut bad = volume("vol-3", 8, true, "2026-11-09T06:00:00Z");
    bad["resourceId"] = json!(7);
    let file = s.write(
        "items.ndjson",
        format!(
            "{good}\n{good2}\n{bad}\n",
            good2 = volume("vol-4", 1, true, "2026-11-09T06:00:00Z")
        ),
    );
    rejects(&s, &before, &file, &["items.ndjson: line 3: /resourceId"]);
}

#[test]
fn json_format_reports_problems_as_data() {
    let (s, _) = seeded();
    let mut bad = volume("vol-2", 8, true, "2026-11-09T06:00:00Z");
    bad["configurationItemStatus"] = json!("Vanished");
    let file = s.snapshot_file("status.json", &[bad]);
    let run = s.conform(&["ingest", "--format", "json", as_str(&file)]);
    assert_eq!(run.code, 2);
    let problems = run.json()["problems"].clone();
    assert_eq!(problems[0]["at"], "item");
    assert_eq!(problems[0]["index"], 0);
    assert_eq!(problems[0]["pointer"], "/configurationItemStatus");
    assert!(
        problems[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("status.json")
    );
}

#[test]
fn skip_invalid_stores_the_rest_and_does_not_delete_the_invalid_resource() {
    let s = Scratch::new();
    s.ingest_items(
        "w1.json",
        &[
            volume("vol-1", 8, true, "2026-11-02T06:00:00Z"),
            volume("vol-2", 8, true, "2026-11-02T06:00:00Z"),
        ],
    );
    let mut bad = volume("vol-2", 8, true, "2026-11-09T06:00:00Z");
    bad["tags"] = json!(["not", "tags"]);
    s.snapshot_file(
        "w2.json",
        &[volume("vol-1", 16, true, "2026-11-09T06:00:00Z"), bad],
    );
    let run = s
        .conform(&[
            "ingest",
            "--skip-invalid",
            "--format",
            "json",
            as_str(&s.path("w2.json")),
        ])
        .ok();
    let report = run.json();
    assert_eq!(report["snapshots"][0]["modified"], 1);
    assert_eq!(report["snapshots"][0]["skipped"], 1);
    assert_eq!(
        report["snapshots"][0]["deleted"], 0,
        "an invalid item still says its resource exists"
    );
    assert_eq!(report["skipped"][0]["pointer"], "/tags/0");
}

#[test]
fn an_older_snapshot_after_a_newer_one_is_refused() {
    let (s, before) = seeded();
    let old = s.snapshot_file(
        "old.json",
        &[volume("vol-1", 8, true, "2026-10-01T06:00:00Z")],
    );
    s.conform(&["ingest", as_str(&old)]).fails_with(&[
        "this snapshot of 123456789012/us-east-1 was taken at 2026-10-01T06:00:00Z",
        "(snapshot 1, taken at 2026-11-02T06:00:00Z)",
    ]);
    assert!(s.db_bytes() == before);
}

#[test]
fn a_full_snapshot_with_no_items_is_refused() {
    let (s, before) = seeded();
    let empty = s.snapshot_file("empty.json", &[]);
    s.conform(&["ingest", as_str(&empty)])
        .fails_with(&["would mark every resource deleted"]);
    assert!(s.db_bytes() == before);
}

#[test]
fn a_missing_file_is_named() {
    let s = Scratch::new();
    s.conform(&["ingest", as_str(&s.path("nowhere.json"))])
        .fails_with(&["nowhere.json"]);
}

#[test]
fn broken_json_in_a_stored_resources_configuration_is_found() {
    // Ingest checks the JSON of an unchanged item's configuration only by its being byte for
    // byte what the store holds; a damaged one differs, so it is checked, and refused as a
    // fresh store would refuse it. Both places: the stored resource's item, and a new one
    // after an unchanged one.
    let (s, before) = seeded();
    let text = snapshot(&[
        volume("vol-1", 8, true, "2026-11-09T06:00:00Z"),
        volume("vol-2", 9, true, "2026-11-09T06:00:00Z"),
    ])
    .to_string();
    for (name, good, bad) in [
        ("stored.json", "\"size\":8", "\"size\":08"),
        ("new.json", "\"size\":9", "\"size\":9,"),
    ] {
        assert!(text.contains(good), "{text}");
        let file = s.write(name, text.replacen(good, bad, 1));
        let run = rejects(&s, &before, &file, &[name, "line 1, column"]);
        let fresh = Scratch::new();
        let alone = fresh.write(name, text.replacen(good, bad, 1));
        let fresh_run = fresh.conform(&["ingest", as_str(&alone)]);
        assert_eq!(fresh_run.code, 2);
        assert_eq!(
            run.stderr.replace(as_str(&file), "FILE"),
            fresh_run.stderr.replace(as_str(&alone), "FILE"),
            "the same error as in an empty store"
        );
    }
}

/// A store's first ingest is written without the WAL (see ARCHITECTURE.md, "Transactions").
/// When it fails, the store keeps no row of it and is in WAL mode again; only the header's
/// change counter moved. A first ingest that succeeds is then read like any other.
#[test]
fn a_failed_first_ingest_leaves_an_empty_store_in_wal_mode() {
    let s = Scratch::new();
    let bad = s.snapshot_file(
        "bad.json",
        &[
            volume("vol-1", 8, true, "2026-11-02T06:00:00Z"),
            json!({"resourceId": "x", "configuration": {}}),
        ],
    );
    let contents = || {
        let conn = rusqlite::Connection::open(s.db()).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let rows: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM snapshots) + (SELECT count(*) FROM resources)
                      + (SELECT count(*) FROM versions)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (mode, rows)
    };
    for _ in 0..2 {
        s.conform(&["ingest", as_str(&bad)])
            .fails_with(&["bad.json: item 1", "resourceType"]);
        assert_eq!(contents(), ("wal".to_string(), 0));
    }
    s.ingest_items(
        "good.json",
        &[volume("vol-1", 8, true, "2026-11-02T06:00:00Z")],
    );
    assert_eq!(contents(), ("wal".to_string(), 3));
    s.assert_store_consistent();
}
