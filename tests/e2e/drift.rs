//! Baselines, drift and diff, through the real binary.

use serde_json::{Value, json};

use crate::support::{Scratch, as_str, volume};

/// A security group with inbound rules on `ports`, in the API dialect.
fn security_group(id: &str, ports: &[u16], captured: &str) -> Value {
    let permissions: Vec<Value> = ports
        .iter()
        .map(|p| json!({"fromPort": p, "toPort": p, "ipProtocol": "tcp", "ipv4Ranges": [{"cidrIp": "10.0.0.0/16"}]}))
        .collect();
    let mut item = volume(id, 0, false, captured);
    item["resourceType"] = json!("AWS::EC2::SecurityGroup");
    item["arn"] = json!(format!(
        "arn:aws:ec2:us-east-1:123456789012:security-group/{id}"
    ));
    item["configuration"] =
        json!({"groupId": id, "groupName": "web", "ipPermissions": permissions});
    item
}

/// Snapshot 1: vol-a, vol-b, sg-1. Snapshot 2: vol-a grown and tagged, vol-b gone, vol-c new,
/// sg-1 with a rule added in the middle; every item recaptured (new times and state ids).
fn two_weeks() -> Scratch {
    let s = Scratch::new();
    let t1 = "2026-11-02T10:00:00.000Z";
    s.ingest_items(
        "week1.json",
        &[
            volume("vol-a", 8, false, t1),
            volume("vol-b", 8, true, t1),
            security_group("sg-1", &[80, 443], t1),
        ],
    );
    let t2 = "2026-11-09T10:00:00.000Z";
    let mut grown = volume("vol-a", 16, false, t2);
    grown["tags"]["Owner"] = json!("platform");
    grown["configurationStateId"] = json!("7");
    s.ingest_items(
        "week2.json",
        &[
            grown,
            volume("vol-c", 8, true, t2),
            security_group("sg-1", &[80, 22, 443], t2),
        ],
    );
    s.conform(&["baseline", "set", "base", "--snapshot", "1"])
        .ok();
    s
}

fn by_id(report: &Value) -> std::collections::BTreeMap<String, Value> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["resource_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn pointers(resource: &Value) -> Vec<(String, String)> {
    resource["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|c| {
                    (
                        c["pointer"].as_str().unwrap().to_string(),
                        c["kind"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn drift_names_added_removed_and_modified_resources_with_exact_pointers() {
    let s = two_weeks();
    let report = s.conform(&["drift", "--format", "json"]).ok().json();
    assert_eq!(report["before"]["baseline"], "base");
    assert_eq!(
        (
            report["added"].as_u64(),
            report["removed"].as_u64(),
            report["modified"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(report["compared"], 4);
    let drifted = by_id(&report);
    assert_eq!(drifted["vol-b"]["kind"], "removed");
    assert_eq!(drifted["vol-c"]["kind"], "added");
    let vol_a = &drifted["vol-a"];
    assert_eq!(
        pointers(vol_a),
        vec![
            ("/configuration/size".to_string(), "changed".to_string()),
            ("/tags/Owner".to_string(), "added".to_string()),
        ]
    );
    assert_eq!(vol_a["changes"][0]["before"], 8);
    assert_eq!(vol_a["changes"][0]["after"], 16);
    // Capture time and state id changed on every item: never drift.
    let all: Vec<String> = drifted
        .values()
        .flat_map(pointers)
        .map(|(p, _)| p)
        .collect();
    assert!(
        all.iter()
            .all(|p| !p.contains("capture") && !p.contains("StateId")),
        "{all:?}"
    );

    // The same comparison by snapshot ids, and text for people.
    let diff = s
        .conform(&["diff", "1", "2", "--format", "json"])
        .ok()
        .json();
    assert_eq!(diff["modified"], 2);
    let text = s.conform(&["drift"]).ok().stdout;
    assert!(text.contains("~ AWS::EC2::Volume/vol-a"), "{text}");
    assert!(
        text.contains("/configuration/size") && text.contains("8 → 16"),
        "{text}"
    );
    assert!(
        !text.contains("\u{1b}["),
        "no colour codes when stdout is not a terminal"
    );
    let markdown = s.conform(&["drift", "--format", "markdown"]).ok().stdout;
    assert!(
        markdown.starts_with("### Drift from baseline 'base'"),
        "{markdown}"
    );
    assert!(markdown.contains("| modified | `AWS::EC2::Volume/vol-a` | 123456789012 | us-east-1 | `/configuration/size`, `/tags/Owner` |"), "{markdown}");
    s.conform(&["drift", "--format", "junit"])
        .fails_with(&["conform drift writes text, json, markdown, json-patch; not junit"]);
}

#[test]
fn an_inserted_array_element_is_one_added_element() {
    let s = two_weeks();
    let report = s.conform(&["drift", "--format", "json"]).ok().json();
    let sg = &by_id(&report)["sg-1"];
    assert_eq!(
        pointers(sg),
        vec![(
            "/configuration/ipPermissions/1".to_string(),
            "added".to_string()
        )]
    );
    assert_eq!(sg["changes"][0]["after"]["fromPort"], 22);
}

#[test]
fn json_patch_applies_to_the_old_item_and_yields_the_new_one() {
    let s = two_weeks();
    let patches = s.conform(&["drift", "--format", "json-patch"]).ok().json();
    for id in ["vol-a", "sg-1"] {
        let entry = patches
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["resource_id"] == id)
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_value(entry["patch"].clone()).unwrap();
        let mut old = s
            .conform(&["show", id, "--at", "1", "--format", "json"])
            .ok()
            .json();
        let new = s
            .conform(&["show", id, "--at", "2", "--format", "json"])
            .ok()
            .json();
        json_patch::patch(&mut old, &patch).unwrap();
        for field in [
            "configuration",
            "tags",
            "relationships",
            "supplementaryConfiguration",
        ] {
            assert_eq!(old[field], new[field], "{id} {field}");
        }
        // A changed value is tested before it is replaced, so the patch refuses a state it
        // was not made for (here: the new one).
        if id == "vol-a" {
            let ops = entry["patch"].as_array().unwrap();
            assert_eq!(
                ops[0],
                json!({"op": "test", "path": "/configuration/size", "value": 8})
            );
            let mut again = new.clone();
            assert!(json_patch::patch(&mut again, &patch).is_err());
        }
    }
    let added = patches
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["resource_id"] == "vol-c")
        .unwrap();
    assert_eq!(added["patch"][0]["op"], "add");
    assert_eq!(
        added["patch"][0]["value"]["configuration"]["volumeId"],
        "vol-c"
    );
}

#[test]
fn ignore_patterns_in_conform_toml_leave_fields_out_and_bad_ones_are_named() {
    let s = two_weeks();
    s.write(
        "conform.toml",
        "[drift.ignore]\n\"AWS::EC2::*\" = [\"/tags/*\", \"/configuration/ipPermissions/*\"]\n",
    );
    let report = s.conform(&["drift", "--format", "json"]).ok().json();
    let drifted = by_id(&report);
    assert_eq!(
        pointers(&drifted["vol-a"]),
        vec![("/configuration/size".to_string(), "changed".to_string())]
    );
    assert!(!drifted.contains_key("sg-1"), "only ignored fields changed");
    assert_eq!(report["ignored_only"], 1);
    assert_eq!(report["modified"], 1);

    s.write(
        "conform.toml",
        "[drift]\ndefaults = true\n\n[drift.ignore]\n\"AWS::EC2::Volume\" = [\n  \"/tags/Owner\",\n  \"configuration/size\",\n]\n",
    );
    s.conform(&["drift"]).fails_with(&[
        "conform.toml, line 7",
        "ignore pattern 'configuration/size' for 'AWS::EC2::Volume'",
        "starts with '/'",
    ]);
    let other = s.write("strict.toml", "[drift.ignore]\n\"*\" = [\"/tags/[x\"]\n");
    s.conform(&["drift", "--config", as_str(&other)])
        .fails_with(&["strict.toml, line 2", "'/tags/[x'"]);
}

#[test]
fn a_desired_state_file_is_a_baseline_outside_the_history() {
    let s = two_weeks();
    // The desired state: vol-a as it should be (encrypted), sg-1 as in week 1.
    let mut want = volume("vol-a", 16, true, "2026-11-01T00:00:00Z");
    want["tags"]["Owner"] = json!("platform");
    let file = s.write(
        "desired.json",
        serde_json::to_string(&[
            want,
            security_group("sg-1", &[80, 443], "2026-11-01T00:00:00Z"),
        ])
        .unwrap(),
    );
    let set = s
        .conform(&[
            "baseline",
            "set",
            "golden",
            "--from-file",
            as_str(&file),
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(set["snapshot"]["role"], "desired");
    let desired_id = set["snapshot"]["id"].clone();

    let report = s
        .conform(&["drift", "--baseline", "golden", "--format", "json"])
        .ok()
        .json();
    let drifted = by_id(&report);
    assert_eq!(
        pointers(&drifted["vol-a"]),
        vec![(
            "/configuration/encrypted".to_string(),
            "changed".to_string()
        )]
    );
    assert_eq!(
        drifted["vol-c"]["kind"], "added",
        "not in the desired state"
    );
    let listed = s
        .conform(&["baseline", "list", "--format", "json"])
        .ok()
        .json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["base", "golden"]);
    let shown = s.conform(&["baseline", "show", "golden"]).ok().stdout;
    assert!(
        shown.contains("desired state") && shown.contains("desired.json"),
        "{shown}"
    );
    // Two baselines: a command must be told which.
    s.conform(&["drift"])
        .fails_with(&["several baselines (base, golden)", "--baseline"]);

    // The desired state is no part of the history: latest, history and new ingests ignore it.
    let latest = s
        .conform(&["show", "vol-a", "--format", "json"])
        .ok()
        .json();
    assert_eq!(latest["configuration"]["encrypted"], false);
    let history = s
        .conform(&["history", "vol-a", "--format", "json"])
        .ok()
        .json();
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
    s.ingest_items(
        "week3.json",
        &[volume("vol-a", 16, false, "2026-11-16T10:00:00.000Z")],
    );
    let snaps = s.conform(&["snapshots", "--format", "json"]).ok().json();
    assert_eq!(snaps.as_array().unwrap().len(), 4);
    s.assert_store_consistent();

    s.conform(&["baseline", "rm", "golden"]).ok();
    let snaps = s.conform(&["snapshots", "--format", "json"]).ok().json();
    assert!(
        snaps
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["id"] != desired_id)
    );
    s.conform(&["drift", "--baseline", "golden"])
        .fails_with(&["no baseline 'golden'", "base"]);
    s.conform(&["baseline", "set", "bad name"])
        .fails_with(&["'bad name' is not a baseline name"]);
    s.assert_store_consistent();
}
