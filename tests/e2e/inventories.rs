//! Terraform state and Kubernetes lists as first-class inventories: detected by content, mapped
//! to items, scoped apart from AWS data, and checked by the example rules written in C.

use serde_json::{Value, json};

use crate::support::*;

fn sample(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../snapshots")
        .join(name);
    as_str(&path).to_string()
}

#[test]
fn terraform_state_ingests_as_items_and_the_example_rule_finds_the_unencrypted_volumes() {
    let s = Scratch::new();
    let run = s
        .conform(&[
            "ingest",
            "--format",
            "json",
            "--taken-at",
            "2026-12-01",
            &sample("terraform/terraform.tfstate"),
        ])
        .ok()
        .json();
    assert_eq!(run["files"][0]["form"], "Terraform state");
    assert!(
        run["notes"][0]
            .as_str()
            .unwrap()
            .contains("1 data source instance left out")
    );
    let snap = &run["snapshots"][0];
    assert_eq!(snap["added"], 5);
    assert_eq!(
        snap["scopes"],
        json!([{"account_id": "210987654321", "region": "eu-west-1", "kind": "full", "delivered_at": "2026-12-01T00:00:00Z"}])
    );
    // The database's password is not stored.
    let db = s
        .conform(&[
            "show",
            "terraform:aws_db_instance/module.database.aws_db_instance.main",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(db["configuration"]["password"], "(sensitive)");
    assert_eq!(db["relationships"][0]["resourceId"], "aws_ebs_volume.data");
    let stored = std::fs::read(s.db()).unwrap();
    assert!(
        !stored.windows(12).any(|w| w == b"correct-hors"),
        "the secret is nowhere in the store"
    );

    let rule = c_rule(&s, "terraform_ebs_encrypted");
    s.conform(&["scan", "-q", "--no-builtins", "--rules", &rule])
        .ok();
    assert_eq!(
        verdicts(&s, "TERRAFORM_EBS_ENCRYPTED"),
        [
            (
                "aws_ebs_volume.data[0]".into(),
                "COMPLIANT".into(),
                "".into()
            ),
            (
                "aws_ebs_volume.data[1]".into(),
                "NON_COMPLIANT".into(),
                "the volume is not encrypted".into()
            ),
            (
                r#"module.assets.aws_ebs_volume.scratch["build"]"#.into(),
                "NON_COMPLIANT".into(),
                "the volume does not set encrypted (it defaults to false)".into()
            ),
        ]
    );
}

#[test]
fn terraform_show_json_and_a_gzipped_state_are_read_too() {
    let s = Scratch::new();
    let show = json!({
        "format_version": "1.0", "terraform_version": "1.9.5",
        "values": {"root_module": {
            "resources": [
                {"address": "aws_ebs_volume.logs", "mode": "managed", "type": "aws_ebs_volume", "name": "logs", "provider_name": "registry.terraform.io/hashicorp/aws",
                 "schema_version": 0, "values": {"id": "vol-1", "encrypted": true, "region": "us-east-1"}, "sensitive_values": {}},
                {"address": "data.aws_region.here", "mode": "data", "type": "aws_region", "name": "here", "values": {}}
            ],
            "child_modules": [{"address": "module.app", "resources": [
                {"address": "module.app.aws_db_instance.db", "mode": "managed", "type": "aws_db_instance", "name": "db",
                 "values": {"id": "db-1", "password": "s3cret", "region": "us-east-1"}, "sensitive_values": {"password": true}, "depends_on": ["aws_ebs_volume.logs"]}
            ]}]
        }}
    });
    let file = s.write("plan.json", show.to_string());
    let snap = s.ingest(&["--taken-at", "2026-12-01", as_str(&file)]);
    assert_eq!(snap["added"], 2);
    let db = s
        .conform(&["show", "module.app.aws_db_instance.db", "--format", "json"])
        .ok()
        .json();
    assert_eq!(db["configuration"]["password"], "(sensitive)");
    assert_eq!(
        (db["accountId"].as_str(), db["awsRegion"].as_str()),
        (Some(""), Some("us-east-1"))
    );

    // The sample state, gzipped: detected through the decompressed start.
    let state = std::fs::read(sample("terraform/terraform.tfstate")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &state).unwrap();
    let file = s.write("state.gz", gz.finish().unwrap());
    let snap = s.ingest(&["--taken-at", "2026-12-02", as_str(&file)]);
    assert_eq!(snap["added"], 5);
    assert_eq!(
        snap["deleted"], 0,
        "the plan's resources are in other scopes"
    );
}

#[test]
fn a_kubernetes_list_ingests_and_the_example_rule_finds_privileged_pods() {
    let s = Scratch::new();
    let snap = s.ingest(&[
        "--taken-at",
        "2026-12-01",
        &sample("kubernetes/cluster.json"),
    ]);
    assert_eq!(snap["added"], 5);
    let pod = s
        .conform(&[
            "show",
            "kubernetes:v1/Pod/shop/web-7d9f8c6b5-x2kqp",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(pod["tags"]["app"], "web");
    assert_eq!(
        pod["relationships"][0],
        json!({"relationshipName": "Is owned by", "resourceId": "shop/web-7d9f8c6b5", "resourceType": "kubernetes:apps/v1/ReplicaSet"})
    );
    assert!(pod["configuration"].get("status").is_none());
    let ns = s
        .conform(&["show", "kubernetes:v1/Namespace/shop", "--format", "json"])
        .ok()
        .json();
    assert_eq!(ns["resourceId"], "shop", "cluster-scoped: the name alone");

    let rule = c_rule(&s, "kubernetes_no_privileged");
    s.conform(&["scan", "-q", "--no-builtins", "--rules", &rule])
        .ok();
    assert_eq!(
        verdicts(&s, "KUBERNETES_NO_PRIVILEGED_CONTAINERS"),
        [
            (
                "kube-system/node-agent-9xq4z".into(),
                "NON_COMPLIANT".into(),
                "container agent in containers runs privileged".into()
            ),
            (
                "shop/migrate-db".into(),
                "NON_COMPLIANT".into(),
                "container fix-perms in initContainers runs privileged".into()
            ),
            (
                "shop/web-7d9f8c6b5-x2kqp".into(),
                "COMPLIANT".into(),
                "".into()
            ),
        ]
    );

    // The next listing lacks the finished migration pod: it is deleted, nothing else is.
    let mut list: Value =
        serde_json::from_str(&std::fs::read_to_string(sample("kubernetes/cluster.json")).unwrap())
            .unwrap();
    list["items"]
        .as_array_mut()
        .unwrap()
        .retain(|o| o["metadata"]["name"] != "migrate-db");
    let next = s.write("next.json", list.to_string());
    let snap = s.ingest(&["--taken-at", "2026-12-02", as_str(&next)]);
    assert_eq!(
        (snap["deleted"].as_u64(), snap["unchanged"].as_u64()),
        (Some(1), Some(4))
    );
}

#[test]
fn a_misshapen_inventory_names_file_and_pointer_and_stores_nothing() {
    let s = Scratch::new();
    s.ingest(&[
        "--taken-at",
        "2026-12-01",
        &sample("kubernetes/cluster.json"),
    ]);
    let before = s.db_bytes();
    let old = s.write("old.tfstate", json!({"version": 3, "terraform_version": "0.11.14", "serial": 1, "lineage": "x", "modules": []}).to_string());
    s.conform(&["ingest", as_str(&old)])
        .fails_with(&["old.tfstate: /version: state format version 3 is not supported"]);
    let pods = s.write("pods.json", json!({"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "metadata": {"name": "x"}}]}).to_string());
    s.conform(&["ingest", as_str(&pods)])
        .fails_with(&["pods.json: /items/0/kind: missing"]);
    // An item the mapping makes, refused by the item checks like any other.
    let bad = s.write("bad.json", json!({"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "", "labels": {"a": 1}}}]}).to_string());
    s.conform(&["ingest", as_str(&bad)])
        .fails_with(&["bad.json: item 0"]);
    assert!(s.db_bytes() == before);
}
