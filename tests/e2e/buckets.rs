//! Real AWS Config buckets: per-account-region deliveries, whole-bucket ingest in time order,
//! re-ingest of a synced bucket, out-of-order and corrupt deliveries.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::*;

const A: &str = "111122223333";
const B: &str = "444455556666";

/// An item moved to another account and region (either dialect).
fn at(mut item: Value, account: &str, region: &str) -> Value {
    let key = if item.get("awsAccountId").is_some() {
        "awsAccountId"
    } else {
        "accountId"
    };
    item[key] = json!(account);
    item["awsRegion"] = json!(region);
    item
}

fn vol(id: &str, size: u64, account: &str, region: &str, captured: &str) -> Value {
    at(volume(id, size, true, captured), account, region)
}

/// Writes a snapshot delivery under `root` as AWS names it in S3, gzipped.
fn delivery(
    s: &Scratch,
    root: &str,
    account: &str,
    region: &str,
    time: &str,
    items: &[Value],
) -> PathBuf {
    let compact = compact(time);
    let (y, m, d) = (
        &time[0..4],
        time[5..7].trim_start_matches('0'),
        time[8..10].trim_start_matches('0'),
    );
    let name = format!(
        "{root}/AWSLogs/{account}/Config/{region}/{y}/{m}/{d}/ConfigSnapshot/{account}_Config_{region}_ConfigSnapshot_{compact}_{}.json.gz",
        uuid_for(account, region, time)
    );
    // As AWS writes it: each delivery has its own snapshot id.
    let file = json!({"fileVersion": "1.0", "configSnapshotId": uuid_for(account, region, time), "configurationItems": items});
    s.write(&name, gz(&file))
}

/// Writes a history file (changes of one resource type over a window ending at `end`).
fn history(
    s: &Scratch,
    root: &str,
    account: &str,
    region: &str,
    start: &str,
    end: &str,
    items: &[Value],
) -> PathBuf {
    let (y, m, d) = (
        &end[0..4],
        end[5..7].trim_start_matches('0'),
        end[8..10].trim_start_matches('0'),
    );
    let name = format!(
        "{root}/AWSLogs/{account}/Config/{region}/{y}/{m}/{d}/ConfigHistory/{account}_Config_{region}_ConfigHistory_AWS::EC2::Volume_{}_{}_1.json.gz",
        compact(start),
        compact(end)
    );
    let file = json!({"fileVersion": "1.0", "configurationItems": items});
    s.write(&name, gz(&file))
}

fn compact(time: &str) -> String {
    time.replace(['-', ':'], "")
}

fn uuid_for(account: &str, region: &str, time: &str) -> String {
    let n = xxhash(&format!("{account}{region}{time}"));
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        n as u32,
        n & 0xffff_ffff_ffff
    )
}

fn xxhash(text: &str) -> u64 {
    // Any stable function will do: the name only has to be unique per delivery.
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn gz(value: &Value) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(value.to_string().as_bytes()).unwrap();
    e.finish().unwrap()
}

fn ingest_json(s: &Scratch, args: &[&str]) -> Value {
    let mut all = vec!["ingest", "--format", "json"];
    all.extend_from_slice(args);
    s.conform(&all).ok().json()
}

fn status_at(s: &Scratch, resource: &str, snapshot: &str) -> String {
    let run = s.conform(&["show", resource, "--at", snapshot, "--format", "json"]);
    if run.code != 0 {
        return format!("absent: {}", run.stderr.trim());
    }
    run.json()["configurationItemStatus"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The first case: one account's delivery must not delete the other account's (or the
/// other region's) resources, nor end their versions.
#[test]
fn a_delivery_of_one_account_leaves_the_others_live_and_their_history_intact() {
    let s = Scratch::new();
    let t1 = "2026-11-02T06:00:00Z";
    for (account, region, id) in [
        (A, "us-east-1", "vol-a1"),
        (A, "eu-west-1", "vol-a2"),
        (B, "us-east-1", "vol-b1"),
    ] {
        delivery(
            &s,
            "day1",
            account,
            region,
            t1,
            &[vol(id, 8, account, region, t1)],
        );
    }
    s.ingest(&[as_str(&s.path("day1"))]);
    let versions = s.versions();
    // Account A, us-east-1 only: vol-a1 grew, vol-a3 is new.
    let t2 = "2026-11-03T06:00:00Z";
    let file = delivery(
        &s,
        "day2",
        A,
        "us-east-1",
        t2,
        &[
            vol("vol-a1", 16, A, "us-east-1", t2),
            vol("vol-a3", 8, A, "us-east-1", t2),
        ],
    );
    let snap = s.ingest(&[as_str(&file)]);
    assert_eq!(snap["deleted"], 0, "{snap}");
    assert_eq!(
        (snap["added"].as_u64(), snap["modified"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(snap["live"], 4);
    assert_eq!(
        snap["scopes"],
        json!([{"account_id": A, "region": "us-east-1", "kind": "full", "delivered_at": t2}])
    );
    assert_eq!(
        s.versions(),
        versions + 2,
        "only the two changes are new versions"
    );
    // The others are as they last were, in snapshot 2 as in 1, with one version each.
    for id in ["vol-a2", "vol-b1"] {
        assert_eq!(status_at(&s, id, "2"), "OK", "{id}");
        let history = s.conform(&["history", id, "--format", "json"]).ok().json();
        let versions = history["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1, "{id}: {history}");
        assert_eq!(versions[0]["until_snapshot"], Value::Null);
    }
    // Drift and diff see only account A's change.
    let diff = s
        .conform(&["diff", "1", "2", "--format", "json"])
        .ok()
        .json();
    let text = diff.to_string();
    assert!(text.contains("vol-a1") && text.contains("vol-a3"), "{text}");
    assert!(
        !text.contains("vol-a2") && !text.contains("vol-b1"),
        "{text}"
    );
    // Scans, drift, the timeline and the gate read the estate as of snapshot 2: every scope.
    s.conform(&["scan", "-q", "--snapshot", "2"]).ok();
    let results = s
        .conform(&["results", "--rule", "ENCRYPTED_VOLUMES", "--format", "json"])
        .ok()
        .json();
    let mut ids: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["vol-a1", "vol-a2", "vol-a3", "vol-b1"]);
    s.conform(&["baseline", "set", "prod", "--snapshot", "1"])
        .ok();
    let drift = s.conform(&["drift", "--format", "json"]).ok().json();
    assert_eq!(
        (
            drift["added"].as_u64(),
            drift["modified"].as_u64(),
            drift["removed"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{drift}"
    );
    assert_eq!(drift["unchanged"], 2, "the other scopes, as they last were");
    let timeline = s.conform(&["timeline", "--format", "json"]).ok().json();
    assert_eq!(timeline["snapshots"].as_array().unwrap().len(), 2);
    assert_eq!(s.conform(&["gate", "--fail-on", "drift"]).code, 1);
    // A later delivery of that scope without vol-a3 deletes it, and only it.
    let t3 = "2026-11-04T06:00:00Z";
    let file = delivery(
        &s,
        "day3",
        A,
        "us-east-1",
        t3,
        &[vol("vol-a1", 16, A, "us-east-1", t3)],
    );
    let snap = s.ingest(&[as_str(&file)]);
    assert_eq!(snap["deleted"], 1);
    assert_eq!(snap["live"], 3);
    assert!(status_at(&s, "vol-a3", "3").starts_with("ResourceDeleted"));
    s.assert_store_consistent();
}

/// Three days of two accounts and two regions in one tree, as `aws s3 sync` leaves it: account
/// B misses a day in us-east-1, and a history file records a change after a snapshot.
#[test]
fn a_multi_day_multi_account_tree_ingests_in_one_command() {
    let s = Scratch::new();
    let days = ["2026-11-02", "2026-11-03", "2026-11-04"];
    for (n, day) in days.iter().enumerate() {
        for (account, hour) in [(A, "05"), (B, "07")] {
            for region in ["us-east-1", "eu-west-1"] {
                if account == B && region == "us-east-1" && n == 1 {
                    continue; // missed delivery
                }
                let t = format!("{day}T{hour}:00:00Z");
                let mut items = vec![vol(
                    &format!("vol-{account}-{region}"),
                    8,
                    account,
                    region,
                    "2026-11-01T00:00:00Z",
                )];
                // A resource of A/us-east-1 that is gone from day 3.
                if account == A && region == "us-east-1" && n < 2 {
                    items.push(vol("vol-short", 8, account, region, "2026-11-01T00:00:00Z"));
                }
                // B/eu-west-1's volume grows on day 2.
                if account == B && region == "eu-west-1" && n >= 1 {
                    items[0] = vol(
                        &format!("vol-{account}-{region}"),
                        32,
                        account,
                        region,
                        &format!("{}T06:00:00Z", days[1]),
                    );
                }
                delivery(&s, "bucket", account, region, &t, &items);
            }
        }
    }
    // A history file of A/eu-west-1 on day 3: a change captured at 12:00, after the 05:00
    // snapshot, and one captured at 03:00, before it (already reflected there).
    history(
        &s,
        "bucket",
        A,
        "eu-west-1",
        "2026-11-04T00:00:00Z",
        "2026-11-04T18:00:00Z",
        &[
            vol(
                &format!("vol-{A}-eu-west-1"),
                999,
                A,
                "eu-west-1",
                "2026-11-04T03:00:00Z",
            ),
            vol(
                &format!("vol-{A}-eu-west-1"),
                64,
                A,
                "eu-west-1",
                "2026-11-04T12:00:00Z",
            ),
        ],
    );
    let report = ingest_json(&s, &[as_str(&s.path("bucket"))]);
    let snaps = report["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 3, "one snapshot per day: {report}");
    assert_eq!(
        report["notes"],
        json!([
            "1 change in history files captured before their scope's snapshot, which already reflects it: skipped"
        ])
    );
    assert_eq!(
        snaps[1]["scopes"].as_array().unwrap().len(),
        3,
        "B/us-east-1 missed day 2: {report:#}"
    );
    assert_eq!(
        snaps[1]["live"], 5,
        "B/us-east-1's volume is still live on the day it missed"
    );
    assert_eq!(snaps[1]["modified"], 1, "B/eu-west-1 grew");
    assert_eq!(snaps[2]["deleted"], 1, "vol-short is gone on day 3");
    assert_eq!(
        snaps[2]["modified"], 1,
        "the history file's later change: {report:#}"
    );
    assert_eq!(
        snaps[2]["label"],
        "2026-11-04: 4 snapshot deliveries, 1 history file"
    );
    let day3 = &snaps[2]["scopes"];
    assert!(
        day3.as_array().unwrap().iter().all(|s| s["kind"] == "full"),
        "{day3}"
    );
    // The 03:00 change is not a version; the 12:00 one is current.
    let shown = s
        .conform(&["show", &format!("vol-{A}-eu-west-1"), "--format", "json"])
        .ok()
        .json();
    assert_eq!(shown["configuration"]["size"], 64);
    let history = s
        .conform(&["history", &format!("vol-{A}-eu-west-1"), "--format", "json"])
        .ok()
        .json();
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        2,
        "{history}"
    );
    assert!(status_at(&s, "vol-short", "3").starts_with("ResourceDeleted"));
    assert_eq!(status_at(&s, "vol-short", "2"), "OK");
    // The bucket again: nothing new.
    let again = s.conform(&["ingest", as_str(&s.path("bucket"))]).ok();
    assert!(
        again
            .stdout
            .contains("12 files already stored, 0 new: nothing to do"),
        "{}",
        again.stdout
    );
    assert_eq!(s.snapshot_count(), 3);
    s.assert_store_consistent();
}

/// Re-running on the synced bucket after one more delivery reads that delivery alone; a copy
/// of a stored file under another path is known by its content.
#[test]
fn re_ingest_after_one_more_delivery_adds_exactly_that() {
    let s = Scratch::new();
    let t1 = "2026-11-02T06:00:00Z";
    for (account, region) in [(A, "us-east-1"), (B, "us-east-1")] {
        delivery(
            &s,
            "bucket",
            account,
            region,
            t1,
            &[vol(&format!("vol-{account}"), 8, account, region, t1)],
        );
    }
    s.ingest(&[as_str(&s.path("bucket"))]);
    let t2 = "2026-11-03T06:00:00Z";
    delivery(
        &s,
        "bucket",
        B,
        "us-east-1",
        t2,
        &[
            vol(&format!("vol-{B}"), 8, B, "us-east-1", t1),
            vol("vol-new", 8, B, "us-east-1", t2),
        ],
    );
    let report = ingest_json(&s, &[as_str(&s.path("bucket"))]);
    assert_eq!(report["already_stored"].as_array().unwrap().len(), 2);
    assert_eq!(report["new_deliveries"], 1);
    assert_eq!(
        report["files"].as_array().unwrap().len(),
        1,
        "only the new file is read"
    );
    let snaps = report["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(
        (snaps[0]["added"].as_u64(), snaps[0]["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    // The same bytes under another name, and the same bucket again: nothing to do.
    let stored = std::fs::read_dir(s.path("bucket/AWSLogs")).unwrap().count();
    assert_eq!(stored, 2);
    let first = std::fs::read(find(&s.path("bucket"), "20261102T060000Z").unwrap()).unwrap();
    s.write("elsewhere/renamed.json.gz", first);
    let run = s
        .conform(&[
            "ingest",
            as_str(&s.path("bucket")),
            as_str(&s.path("elsewhere")),
        ])
        .ok();
    assert!(
        run.stdout.contains("4 files already stored, 0 new"),
        "{}",
        run.stdout
    );
    assert_eq!(s.snapshot_count(), 2);
    // --again reads a stored file anyway, as a new snapshot of the same content; an older
    // delivery read again is out of its scope's order.
    let latest = find(&s.path("bucket"), "20261103T060000Z").unwrap();
    let again = ingest_json(&s, &["--again", as_str(&latest)]);
    assert_eq!(again["snapshots"][0]["unchanged"], 2);
    s.conform(&["ingest", "--again", as_str(&s.path("bucket"))])
        .fails_with(&["444455556666/us-east-1 was taken at 2026-11-02T06:00:00Z"]);
}

fn find(dir: &std::path::Path, fragment: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find(&path, fragment) {
                return Some(found);
            }
        } else if path.to_string_lossy().contains(fragment) {
            return Some(path);
        }
    }
    None
}

/// Account B's 05:00 delivery synced after account A's 06:00 one ingests; a delivery older
/// than what its own scope holds is refused, naming both times, or skipped with
/// --skip-invalid.
#[test]
fn deliveries_of_other_scopes_may_arrive_out_of_order_but_not_of_the_same_scope() {
    let s = Scratch::new();
    let (a6, b5) = ("2026-11-02T06:00:00Z", "2026-11-02T05:00:00Z");
    let a = delivery(
        &s,
        "sync1",
        A,
        "us-east-1",
        a6,
        &[vol("vol-a", 8, A, "us-east-1", a6)],
    );
    s.ingest(&[as_str(&a)]);
    let b = delivery(
        &s,
        "sync2",
        B,
        "us-east-1",
        b5,
        &[vol("vol-b", 8, B, "us-east-1", b5)],
    );
    let snap = s.ingest(&[as_str(&b)]);
    assert_eq!(snap["id"], 2);
    assert_eq!(snap["taken_at"], b5);
    assert_eq!(snap["live"], 2, "account A is still there");
    assert_eq!(status_at(&s, "vol-a", "2"), "OK");

    // An older delivery of A's own scope: refused, nothing stored.
    let before = s.db_bytes();
    let old = delivery(&s, "sync3", A, "us-east-1", "2026-11-01T06:00:00Z", &[]);
    s.conform(&["ingest", as_str(&old)]).fails_with(&[
        "111122223333/us-east-1 was taken at 2026-11-01T06:00:00Z",
        "data taken at 2026-11-02T06:00:00Z (snapshot 1)",
    ]);
    // (The reads above left an empty WAL beside the store, which this ingest's close removed.)
    let after = s.db_bytes();
    assert!(after.0 == before.0 && after.1.unwrap_or_default().is_empty());
    // With --skip-invalid it is reported and left out; the newer one beside it is stored.
    let newer = delivery(
        &s,
        "sync3",
        B,
        "us-east-1",
        "2026-11-03T05:00:00Z",
        &[vol("vol-b", 8, B, "us-east-1", b5)],
    );
    let report = ingest_json(&s, &["--skip-invalid", as_str(&old), as_str(&newer)]);
    assert_eq!(report["snapshots"].as_array().unwrap().len(), 1);
    assert!(
        report["skipped"][0]["message"]
            .as_str()
            .unwrap()
            .contains("before what the store already holds")
    );
}

/// One corrupt delivery among many: every problem reported and nothing stored; with
/// --skip-invalid the others are stored, and the corrupt one's scope keeps its state.
#[test]
fn a_corrupt_delivery_fails_the_bucket_or_is_skipped_alone() {
    let s = Scratch::new();
    let t1 = "2026-11-02T06:00:00Z";
    for account in [A, B] {
        delivery(
            &s,
            "bucket",
            account,
            "us-east-1",
            t1,
            &[vol(&format!("vol-{account}"), 8, account, "us-east-1", t1)],
        );
    }
    s.ingest(&[as_str(&s.path("bucket"))]);
    let before = s.db_bytes();
    let t2 = "2026-11-03T06:00:00Z";
    delivery(
        &s,
        "bucket",
        A,
        "us-east-1",
        t2,
        &[vol(&format!("vol-{A}"), 16, A, "us-east-1", t2)],
    );
    let bad = delivery(
        &s,
        "bucket",
        B,
        "us-east-1",
        t2,
        &[vol("vol-new", 8, B, "us-east-1", t2)],
    );
    // Truncate B's delivery: its first item is read, then the file ends.
    let bytes = {
        let text = snapshot(&[
            vol("vol-new", 8, B, "us-east-1", t2),
            vol("vol-other", 8, B, "us-east-1", t2),
        ])
        .to_string();
        let cut = &text[..text.len() - 40];
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, cut.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    std::fs::write(&bad, bytes).unwrap();
    s.conform(&["ingest", as_str(&s.path("bucket"))])
        .fails_with(&[bad.file_name().unwrap().to_str().unwrap(), "truncated JSON"]);
    assert!(s.db_bytes() == before, "nothing stored");

    let report = ingest_json(&s, &["--skip-invalid", as_str(&s.path("bucket"))]);
    let snaps = report["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(
        snaps[0]["scopes"].as_array().unwrap().len(),
        1,
        "only A's delivery: {report}"
    );
    assert_eq!(
        (
            snaps[0]["modified"].as_u64(),
            snaps[0]["added"].as_u64(),
            snaps[0]["deleted"].as_u64()
        ),
        (Some(1), Some(0), Some(0))
    );
    assert!(
        report["skipped"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the delivery was skipped"),
        "{report}"
    );
    assert!(
        status_at(&s, "vol-new", "2").starts_with("absent"),
        "the corrupt delivery's first item was taken back"
    );
    assert_eq!(status_at(&s, &format!("vol-{B}"), "2"), "OK");
    s.assert_store_consistent();
    // Fixed and synced again, it is read.
    delivery(
        &s,
        "bucket",
        B,
        "us-east-1",
        t2,
        &[vol("vol-new", 8, B, "us-east-1", t2)],
    );
    let report = ingest_json(&s, &[as_str(&s.path("bucket"))]);
    assert_eq!(report["new_deliveries"], 1);
    assert_eq!(report["snapshots"][0]["added"], 1);
    assert_eq!(
        report["snapshots"][0]["deleted"], 1,
        "vol-B is not in B's new delivery"
    );
}

/// Items outside a delivery's scope are refused; global resources belong to the delivery
/// that records them.
#[test]
fn items_must_lie_in_their_deliverys_scope_and_global_ones_belong_to_it() {
    let s = Scratch::new();
    let t1 = "2026-11-02T06:00:00Z";
    let user = |captured: &str| {
        json!({
            "version": "1.3", "accountId": A, "configurationItemCaptureTime": captured,
            "configurationItemStatus": "OK", "configurationStateId": "1",
            "arn": "arn:aws:iam::111122223333:user/ci", "resourceType": "AWS::IAM::User",
            "resourceId": "AIDA0000000000000001", "resourceName": "ci", "awsRegion": "global",
            "tags": {}, "relationships": [], "configuration": {"userName": "ci"}
        })
    };
    let stray = delivery(
        &s,
        "bad",
        A,
        "us-east-1",
        t1,
        &[
            vol("vol-b", 8, B, "us-east-1", t1),
            vol("vol-eu", 8, A, "eu-west-1", t1),
        ],
    );
    s.conform(&["ingest", as_str(&stray)]).fails_with(&[
        "item 0: /accountId: the item is in account 444455556666, region us-east-1: outside 111122223333/us-east-1",
        "item 1: /awsRegion: the item is in account 111122223333, region eu-west-1",
    ]);
    delivery(
        &s,
        "ok",
        A,
        "us-east-1",
        t1,
        &[vol("vol-a", 8, A, "us-east-1", t1), user(t1)],
    );
    let snap = s.ingest(&[as_str(&s.path("ok"))]);
    assert_eq!(snap["added"], 2);
    // The user is recorded by us-east-1's deliveries: A's global scope is theirs.
    let scopes = &snap["scopes"];
    assert_eq!(
        scopes[0],
        json!({"account_id": A, "region": "global", "kind": "full", "delivered_at": t1, "recorded_by": "us-east-1"}),
        "{scopes}"
    );
    // Another region's delivery does not touch it.
    let t2 = "2026-11-03T06:00:00Z";
    let eu = delivery(
        &s,
        "ok2",
        A,
        "eu-west-1",
        t2,
        &[vol("vol-eu", 8, A, "eu-west-1", t2)],
    );
    let snap = s.ingest(&[as_str(&eu)]);
    assert_eq!(snap["deleted"], 0);
    assert_eq!(snap["live"], 3);
    // us-east-1's next delivery no longer holds it (nor any global resource): deleted there.
    let t3 = "2026-11-04T06:00:00Z";
    let next = delivery(
        &s,
        "ok3",
        A,
        "us-east-1",
        t3,
        &[vol("vol-a", 8, A, "us-east-1", t1)],
    );
    let snap = s.ingest(&[as_str(&next)]);
    assert_eq!(
        (snap["deleted"].as_u64(), snap["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        status_at(&s, "AIDA0000000000000001", "3").starts_with("ResourceDeleted"),
        "{}",
        status_at(&s, "AIDA0000000000000001", "3")
    );
    assert_eq!(status_at(&s, "vol-eu", "3"), "OK");
}

/// Files without an AWS name: their items' accounts and regions are the scope, unless
/// --scope states it.
#[test]
fn an_inventory_is_complete_for_what_its_items_name_or_for_the_scope_given() {
    let s = Scratch::new();
    let t1 = "2026-11-02T06:00:00Z";
    let both = s.snapshot_file(
        "both.json",
        &[
            vol("vol-a", 8, A, "us-east-1", t1),
            vol("vol-b", 8, B, "us-east-1", t1),
        ],
    );
    s.ingest(&[as_str(&both)]);
    let t2 = "2026-11-03T06:00:00Z";
    let only_a = s.snapshot_file("a.json", &[vol("vol-a2", 8, A, "us-east-1", t2)]);
    let snap = s.ingest(&[as_str(&only_a)]);
    assert_eq!(
        snap["deleted"], 1,
        "vol-a is gone from A/us-east-1; vol-b is untouched"
    );
    assert_eq!(snap["live"], 2);
    // The whole estate, stated: B's volume is deleted too.
    let t3 = "2026-11-04T06:00:00Z";
    let estate = s.snapshot_file("estate.json", &[vol("vol-a2", 8, A, "us-east-1", t3)]);
    let snap = s.ingest(&["--scope", "*", as_str(&estate)]);
    assert_eq!(snap["deleted"], 1);
    assert_eq!(snap["scopes"][0]["account_id"], "*");
    let listed = s.conform(&["snapshots"]).ok().stdout;
    assert!(listed.contains("the whole estate"), "{listed}");
    // An item outside the scope given is refused.
    let t4 = "2026-11-05T06:00:00Z";
    let other = s.snapshot_file("other.json", &[vol("vol-b2", 8, B, "us-east-1", t4)]);
    s.conform(&["ingest", "--scope", A, as_str(&other)])
        .fails_with(&["outside 111122223333, the scope --scope gives"]);
    s.conform(&["ingest", "--scope", "a//b", as_str(&other)])
        .fails_with(&["is not a scope"]);
}
