//! Every input form conform detects by content: AWS snapshot and history files, plain or
//! gzipped, directory trees, SNS and Lambda notifications, and native arrays and NDJSON.

use std::io::Write;

use serde_json::{Value, json};

use crate::support::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gzipped_files_are_detected_by_content_not_name() {
    let s = Scratch::new();
    let text = snapshot(&[volume("vol-1", 8, true, "2026-11-02T06:00:00Z")]).to_string();
    // AWS's own name, and a misleading one: both are gzip inside.
    s.write(
        "a/123456789012_Config_us-east-1_ConfigSnapshot_20261102T060000Z_x.json.gz",
        gzip(text.as_bytes()),
    );
    s.write(
        "b/plain-looking.json",
        gzip(
            snapshot(&[bucket("b-1", "Enabled", "2026-11-02T06:00:00Z")])
                .to_string()
                .as_bytes(),
        ),
    );
    // The AWS-named delivery is one snapshot, the other file one more.
    let run = s
        .conform(&[
            "ingest",
            "--format",
            "json",
            as_str(&s.path("a")),
            as_str(&s.path("b")),
        ])
        .ok()
        .json();
    let added: Vec<&Value> = run["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["added"])
        .collect();
    assert_eq!(added, [1, 1]);
    assert_eq!(run["files"][0]["form"], "snapshot file");
    assert_eq!(run["files"][1]["form"], "snapshot file");
}

#[test]
fn a_gzipped_truncated_file_is_an_error() {
    let s = Scratch::new();
    let text = snapshot(&[volume("vol-1", 8, true, "2026-11-02T06:00:00Z")]).to_string();
    s.write("cut.json.gz", gzip(&text.as_bytes()[..text.len() - 10]));
    let run = s.conform(&["ingest", as_str(&s.path("cut.json.gz"))]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cut.json.gz: line 1") && run.stderr.contains("truncated JSON"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_awslogs_tree_is_walked_and_other_files_are_ignored() {
    let s = Scratch::new();
    let base = "sync/AWSLogs/123456789012/Config";
    s.write(
        &format!("{base}/us-east-1/2026/11/2/ConfigSnapshot/123456789012_Config_us-east-1_ConfigSnapshot_20261102T060000Z_a.json.gz"),
        gzip(snapshot(&[volume("vol-1", 8, true, "2026-11-02T06:00:00Z")]).to_string().as_bytes()),
    );
    s.write(
        &format!("{base}/eu-west-1/2026/11/2/ConfigSnapshot/123456789012_Config_eu-west-1_ConfigSnapshot_20261102T060000Z_b.json.gz"),
        gzip(snapshot(&[in_region(bucket("b-1", "Enabled", "2026-11-02T06:00:00Z"), "eu-west-1")]).to_string().as_bytes()),
    );
    s.write(
        "sync/AWSLogs/123456789012/Config/ConfigWritabilityCheckFile",
        "Not a config file",
    );
    let run = s
        .conform(&["ingest", "--format", "json", as_str(&s.path("sync"))])
        .ok()
        .json();
    assert_eq!(run["files"].as_array().unwrap().len(), 2);
    assert_eq!(run["snapshots"][0]["added"], 2);
    assert_eq!(run["files"][0]["form"], "snapshot file");
}

#[test]
fn sns_messages_with_the_item_as_object_or_string_and_lambda_events() {
    let s = Scratch::new();
    let inner = json!({
        "configurationItem": bucket("b-1", "Enabled", "2026-11-02T06:00:00Z"),
        "messageType": "ConfigurationItemChangeNotification",
        "notificationCreationTime": "2026-11-02T06:00:01.000Z",
        "recordVersion": "1.3"
    });
    s.write(
        "1-object.json",
        json!({"Type": "Notification", "Message": inner}).to_string(),
    );
    let mut changed = inner.clone();
    changed["configurationItem"] = bucket("b-1", "Suspended", "2026-11-03T06:00:00Z");
    s.write(
        "2-string.json",
        json!({"Type": "Notification", "Message": changed.to_string()}).to_string(),
    );
    let mut again = inner;
    again["configurationItem"] = bucket("b-1", "Enabled", "2026-11-04T06:00:00Z");
    s.write(
        "3-lambda.json",
        json!({"invokingEvent": again.to_string(), "ruleParameters": "{}", "version": "1.0"})
            .to_string(),
    );

    let first = s.ingest(&[as_str(&s.path("1-object.json"))]);
    assert_eq!(
        (first["kind"].as_str(), first["added"].as_u64()),
        (Some("partial"), Some(1))
    );
    assert_eq!(s.ingest(&[as_str(&s.path("2-string.json"))])["modified"], 1);
    assert_eq!(s.ingest(&[as_str(&s.path("3-lambda.json"))])["modified"], 1);
    let history = s
        .conform(&["history", "b-1", "--format", "json"])
        .ok()
        .json();
    assert_eq!(history["versions"].as_array().unwrap().len(), 3);
}

#[test]
fn messages_without_items_store_nothing_and_say_why() {
    let s = Scratch::new();
    s.write(
        "compliance.json",
        json!({"Type": "Notification", "Message": {"messageType": "ComplianceChangeNotification", "configRuleName": "r", "newEvaluationResult": {}}})
            .to_string(),
    );
    let run = s
        .conform(&["ingest", as_str(&s.path("compliance.json"))])
        .ok();
    assert!(
        run.stderr
            .contains("ComplianceChangeNotification, which carries no configuration item"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("nothing stored"));
    assert_eq!(
        s.conform(&["snapshots", "--format", "json"]).ok().json(),
        json!([])
    );
}

#[test]
fn an_email_notification_body_is_read_after_its_text() {
    let s = Scratch::new();
    let message = json!({"configurationItem": volume("vol-1", 8, true, "2026-11-02T06:00:00Z"), "messageType": "ConfigurationItemChangeNotification"});
    let text = format!(
        "View the Timeline for this Resource in the Console:\n    https://console.example/timeline\n\n    New State Record:\n    ----------------------------\n{}\n",
        serde_json::to_string_pretty(&message).unwrap()
    );
    s.write("mail.txt", text);
    assert_eq!(s.ingest(&[as_str(&s.path("mail.txt"))])["added"], 1);
}

#[test]
fn native_arrays_and_ndjson_need_only_type_id_and_configuration() {
    let s = Scratch::new();
    let pods = json!([
        {"resourceType": "k8s::core/v1::Pod", "resourceId": "default/web-0", "configuration": {"spec": {"containers": [{"image": "nginx:1.27"}]}}},
        {"resourceType": "k8s::core/v1::Pod", "resourceId": "default/web-1", "configuration": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}
    ]);
    s.write("pods.json", pods.to_string());
    let snap = s.ingest(&[as_str(&s.path("pods.json"))]);
    assert_eq!(
        (snap["added"].as_u64(), snap["kind"].as_str()),
        (Some(2), Some("full"))
    );

    s.write(
        "pods.ndjson",
        "{\"resourceType\":\"k8s::core/v1::Pod\",\"resourceId\":\"default/web-0\",\"configuration\":{\"spec\":{\"containers\":[{\"image\":\"nginx:1.28\"}]}}}\n\n\
         {\"resourceType\":\"k8s::core/v1::Pod\",\"resourceId\":\"default/web-1\",\"configuration\":{\"spec\":{\"containers\":[{\"image\":\"nginx:1.27\"}]}}}\n",
    );
    let snap = s.ingest(&["--taken-at", "2030-01-01", as_str(&s.path("pods.ndjson"))]);
    assert_eq!(
        (snap["modified"].as_u64(), snap["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let pod = s
        .conform(&[
            "show",
            "k8s::core/v1::Pod/default/web-0",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(
        pod["configuration"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
}

#[test]
fn a_history_file_named_as_aws_names_it_is_partial() {
    let s = Scratch::new();
    s.ingest_items(
        "w1.json",
        &[
            volume("vol-1", 8, true, "2026-11-02T06:00:00Z"),
            volume("vol-2", 8, true, "2026-11-02T06:00:00Z"),
        ],
    );
    let history = json!({"fileVersion": "1.0", "configurationItems": [volume("vol-1", 12, true, "2026-11-02T12:00:00Z")]});
    s.write("123456789012_Config_us-east-1_ConfigHistory_AWS::EC2::Volume_20261102T060000Z_20261102T120000Z_1.json", history.to_string());
    let snap = s.ingest(&[as_str(&s.path("123456789012_Config_us-east-1_ConfigHistory_AWS::EC2::Volume_20261102T060000Z_20261102T120000Z_1.json"))]);
    assert_eq!(
        (
            snap["kind"].as_str(),
            snap["modified"].as_u64(),
            snap["deleted"].as_u64()
        ),
        (Some("partial"), Some(1), Some(0))
    );
}

#[test]
fn per_type_schemas_check_configuration() {
    let s = Scratch::new();
    s.write(
        "schemas/AWS_EC2_Volume.json",
        json!({"type": "object", "required": ["size"], "properties": {"size": {"type": "integer", "maximum": 16384}}}).to_string(),
    );
    let file = s.snapshot_file(
        "big.json",
        &[
            volume("vol-1", 99_999, true, "2026-11-02T06:00:00Z"),
            bucket("b-1", "Enabled", "2026-11-02T06:00:00Z"),
        ],
    );
    let run = s
        .conform(&[
            "ingest",
            "--schemas",
            as_str(&s.path("schemas")),
            as_str(&file),
        ])
        .fails_with(&[
            "big.json: item 0 (line 1): /configuration/size: value is greater than the maximum",
        ]);
    assert!(
        !run.stderr.contains("item 1"),
        "buckets have no schema here: {}",
        run.stderr
    );
}
