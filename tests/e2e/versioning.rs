//! Versioned records: a resource gets a new version only when its content changes.

use crate::support::*;

#[test]
fn both_dialects_normalise_to_the_same_item() {
    let api = Scratch::new();
    api.ingest(&[as_str(&fixture("volume-api-dialect.json"))]);
    let notification = Scratch::new();
    notification.ingest(&[as_str(&fixture("volume-notification-dialect.json"))]);

    let show = |s: &Scratch| {
        s.conform(&["show", "vol-0b7c3e9d21f4a6c58", "--format", "json"])
            .ok()
            .json()
    };
    let (a, b) = (show(&api), show(&notification));
    assert_eq!(
        a, b,
        "the same item read in either dialect must be stored alike"
    );
    // The stored item is in the API dialect whatever was read.
    assert_eq!(b["accountId"], "210987654321");
    assert_eq!(b["configurationStateId"], "1791184462118");
    assert_eq!(
        b["relationships"][0]["relationshipName"],
        "Is attached to Instance"
    );
    assert!(b.get("awsAccountId").is_none() && b.get("ARN").is_none());
    assert_eq!(b["configuration"]["size"], 200);
}

#[test]
fn the_other_dialect_of_the_same_content_is_not_a_new_version() {
    let s = Scratch::new();
    s.ingest(&[as_str(&fixture("volume-api-dialect.json"))]);
    let second = s.ingest(&[
        "--partial",
        as_str(&fixture("volume-notification-dialect.json")),
    ]);
    assert_eq!(second["unchanged"], 1);
    assert_eq!(second["modified"], 0);
    assert_eq!(s.versions(), 1);
    s.assert_store_consistent();
}

#[test]
fn unchanged_content_writes_no_version_even_with_new_capture_metadata_and_key_order() {
    let s = Scratch::new();
    let first = volume("vol-1", 8, true, "2026-11-02T06:00:00Z");
    s.ingest_items("week1.json", std::slice::from_ref(&first));

    // A week later: new capture time and state id, keys reordered, pretty-printed.
    let mut again = first;
    again["configurationItemCaptureTime"] = "2026-11-09T06:00:00Z".into();
    again["configurationStateId"] = "2".into();
    again["configurationItemMD5Hash"] = "e3b0c44298fc1c149afbf4c8996fb924".into();
    let reordered: serde_json::Map<String, serde_json::Value> = again
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .rev()
        .collect();
    let text =
        serde_json::to_string_pretty(&snapshot(&[serde_json::Value::Object(reordered)])).unwrap();
    s.write("week2.json", text);
    let second = s.ingest(&[as_str(&s.path("week2.json"))]);

    assert_eq!(second["unchanged"], 1);
    assert_eq!(
        second["added"].as_u64().unwrap() + second["modified"].as_u64().unwrap(),
        0
    );
    assert_eq!(
        s.versions(),
        1,
        "volatile capture metadata must not make versions"
    );
    let history = s
        .conform(&["history", "vol-1", "--format", "json"])
        .ok()
        .json();
    assert_eq!(history["versions"][0]["seen_in"], serde_json::json!([1, 2]));
    s.assert_store_consistent();
}

#[test]
fn a_changed_field_writes_exactly_one_version() {
    let s = Scratch::new();
    let a = volume("vol-a", 8, true, "2026-11-02T06:00:00Z");
    let b = volume("vol-b", 8, true, "2026-11-02T06:00:00Z");
    s.ingest_items("w1.json", &[a.clone(), b.clone()]);

    let mut b2 = b;
    b2["configuration"]["encrypted"] = false.into();
    s.snapshot_file("w2.json", &[a, b2]);
    let second = s.ingest(&[as_str(&s.path("w2.json"))]);

    assert_eq!(
        (second["modified"].as_u64(), second["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s.versions(), 3);
    let now = s
        .conform(&["show", "vol-b", "--format", "json"])
        .ok()
        .json();
    let before = s
        .conform(&["show", "vol-b", "--at", "1", "--format", "json"])
        .ok()
        .json();
    assert_eq!(now["configuration"]["encrypted"], false);
    assert_eq!(before["configuration"]["encrypted"], true);
    s.assert_store_consistent();
}

#[test]
fn a_resource_missing_from_a_full_snapshot_is_deleted_there_and_keeps_its_history() {
    let s = Scratch::new();
    let keep = volume("vol-keep", 8, true, "2026-11-02T06:00:00Z");
    let gone = volume("vol-gone", 16, false, "2026-11-02T06:00:00Z");
    s.ingest_items("w1.json", &[keep.clone(), gone]);
    s.snapshot_file("w2.json", &[keep]);
    let second = s.ingest(&[as_str(&s.path("w2.json"))]);
    assert_eq!(second["deleted"], 1);
    assert_eq!(second["live"], 1);

    let now = s
        .conform(&["show", "vol-gone", "--format", "json"])
        .ok()
        .json();
    assert_eq!(now["configurationItemStatus"], "ResourceDeleted");
    let then = s
        .conform(&["show", "vol-gone", "--at", "1", "--format", "json"])
        .ok()
        .json();
    assert_eq!(then["configuration"]["size"], 16);
    let history = s
        .conform(&["history", "vol-gone", "--format", "json"])
        .ok()
        .json();
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["seen_in"], serde_json::json!([1]));
    assert_eq!(versions[1]["status"], "ResourceDeleted");
    assert_eq!(versions[1]["seen_in"], serde_json::json!([2]));
    s.assert_store_consistent();
}

#[test]
fn a_partial_snapshot_only_touches_what_it_names() {
    let s = Scratch::new();
    s.ingest_items(
        "w1.json",
        &[
            volume("vol-1", 8, true, "2026-11-02T06:00:00Z"),
            volume("vol-2", 8, true, "2026-11-02T06:00:00Z"),
        ],
    );
    s.write(
        "change.ndjson",
        format!("{}\n", volume("vol-2", 32, true, "2026-11-03T06:00:00Z")),
    );
    let partial = s.ingest(&["--partial", as_str(&s.path("change.ndjson"))]);
    assert_eq!(partial["modified"], 1);
    assert_eq!(partial["deleted"], 0);
    assert_eq!(partial["live"], 2);
    let untouched = s
        .conform(&["show", "vol-1", "--at", "2", "--format", "json"])
        .ok()
        .json();
    assert_eq!(untouched["configurationItemStatus"], "OK");
    s.assert_store_consistent();
}

#[test]
fn a_resource_deleted_status_deletes_and_a_return_is_an_addition() {
    let s = Scratch::new();
    s.ingest_items(
        "w1.json",
        &[volume("vol-1", 8, true, "2026-11-02T06:00:00Z")],
    );
    let mut deleted = volume("vol-1", 8, true, "2026-11-03T06:00:00Z");
    deleted["configurationItemStatus"] = "ResourceDeleted".into();
    deleted["configuration"] = serde_json::Value::Null;
    s.write("delete.json", serde_json::json!({"configurationItem": deleted, "messageType": "ConfigurationItemChangeNotification"}).to_string());
    assert_eq!(s.ingest(&[as_str(&s.path("delete.json"))])["deleted"], 1);
    s.snapshot_file(
        "w3.json",
        &[volume("vol-1", 8, true, "2026-11-04T06:00:00Z")],
    );
    let back = s.ingest(&[as_str(&s.path("w3.json"))]);
    assert_eq!(
        (back["added"].as_u64(), back["live"].as_u64()),
        (Some(1), Some(1))
    );
    s.assert_store_consistent();
}

#[test]
fn latest_wins_keeps_the_later_capture_of_a_duplicate() {
    let s = Scratch::new();
    let early = volume("vol-1", 8, true, "2026-11-02T06:00:00Z");
    let late = volume("vol-1", 64, true, "2026-11-02T09:00:00Z");
    s.snapshot_file("dup.json", &[late, early]);
    let snap = s.ingest(&["--latest-wins", as_str(&s.path("dup.json"))]);
    assert_eq!(snap["added"], 1);
    let item = s
        .conform(&["show", "vol-1", "--format", "json"])
        .ok()
        .json();
    assert_eq!(item["configuration"]["size"], 64);
    assert_eq!(s.versions(), 1);
    s.assert_store_consistent();
}

/// The earlier capture read first: what it wrote is taken back, whether the resource is new
/// (its rows may still wait in the writer's batch) or stored (its head moves back first), and
/// in a store's first snapshot as in a later one.
#[test]
fn latest_wins_takes_back_an_earlier_capture_read_first() {
    let s = Scratch::new();
    let mut first = vec![volume("vol-0", 8, true, "2026-11-01T06:00:00Z")];
    first.extend((0..40).map(|i| volume(&format!("vol-x{i}"), 8, true, "2026-11-01T06:00:00Z")));
    first.push(volume("vol-0", 16, true, "2026-11-01T09:00:00Z"));
    s.snapshot_file("first.json", &first);
    let snap = s.ingest(&["--latest-wins", as_str(&s.path("first.json"))]);
    assert_eq!(
        (snap["added"].as_u64(), snap["live"].as_u64()),
        (Some(41), Some(41))
    );

    let mut second: Vec<_> = (0..40)
        .map(|i| volume(&format!("vol-x{i}"), 8, true, "2026-11-08T06:00:00Z"))
        .collect();
    second.insert(0, volume("vol-0", 32, true, "2026-11-08T06:00:00Z"));
    second.insert(1, volume("vol-new", 8, false, "2026-11-08T06:00:00Z"));
    second.push(volume("vol-0", 64, true, "2026-11-08T09:00:00Z"));
    second.push(volume("vol-new", 128, false, "2026-11-08T09:00:00Z"));
    s.snapshot_file("second.json", &second);
    let snap = s.ingest(&["--latest-wins", as_str(&s.path("second.json"))]);
    assert_eq!(
        (snap["added"].as_u64(), snap["modified"].as_u64()),
        (Some(1), Some(1))
    );
    for (id, size) in [("vol-0", 64), ("vol-new", 128)] {
        let item = s.conform(&["show", id, "--format", "json"]).ok().json();
        assert_eq!(item["configuration"]["size"], size, "{id}");
    }
    let history = s
        .conform(&["history", "vol-0", "--format", "json"])
        .ok()
        .json();
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
    // 41 resources, vol-0 twice, vol-new once.
    assert_eq!(s.versions(), 43);
    s.assert_store_consistent();
}

/// A partial ingest looks up only the resources it names; its live count still follows what
/// it added, deleted and brought back, across several snapshots of one ingest, and agrees with
/// the store's own count.
#[test]
fn a_partial_ingests_live_count_follows_its_changes() {
    let s = Scratch::new();
    s.ingest_items(
        "w1.json",
        &[
            volume("vol-1", 8, true, "2026-11-02T06:00:00Z"),
            volume("vol-2", 8, true, "2026-11-02T06:00:00Z"),
        ],
    );
    let mut gone = volume("vol-1", 8, true, "2026-11-03T06:00:00Z");
    gone["configurationItemStatus"] = "ResourceDeleted".into();
    s.write(
        "changes.ndjson",
        format!(
            "{}\n{}\n",
            volume("vol-3", 8, true, "2026-11-03T06:00:00Z"),
            gone
        ),
    );
    let stored_live = |s: &Scratch| {
        s.conform(&["stats", "--format", "json"]).ok().json()["live_resources"]
            .as_u64()
            .unwrap()
    };
    let first = s.ingest(&["--partial", as_str(&s.path("changes.ndjson"))]);
    assert_eq!(
        (first["added"].as_u64(), first["deleted"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(first["live"], 2, "{first}");
    assert_eq!(stored_live(&s), 2);
    // Two snapshots in one ingest (one per file): vol-1 comes back, then vol-4 is new.
    s.write(
        "back.ndjson",
        format!("{}\n", volume("vol-1", 8, true, "2026-11-04T06:00:00Z")),
    );
    s.write(
        "new.ndjson",
        format!("{}\n", volume("vol-4", 8, true, "2026-11-05T06:00:00Z")),
    );
    let run = s
        .conform(&[
            "ingest",
            "--partial",
            "--each",
            as_str(&s.path("back.ndjson")),
            as_str(&s.path("new.ndjson")),
            "--format",
            "json",
        ])
        .ok()
        .json();
    let lives: Vec<u64> = run
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["snapshots"][0]["live"].as_u64().unwrap())
        .collect();
    assert_eq!(lives, [3, 4]);
    assert_eq!(stored_live(&s), 4);
    s.assert_store_consistent();
}
