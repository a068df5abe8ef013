//! Inventories that are not configuration items: Terraform state and Kubernetes object lists,
//! turned into items that the rest of ingest reads like any other.
//!
//! Both are detected by content, from the keys of the document's top-level object:
//! - Terraform state (`terraform.tfstate`, format version 4): `terraform_version` and
//!   `resources`; `terraform show -json`: `format_version` and `values`.
//! - A Kubernetes list (`kubectl get -A -o json`): `apiVersion` with `items`, and a `kind` of
//!   `List` or any `…List` when it is seen.
//!
//! | item field | Terraform resource instance | Kubernetes object |
//! |---|---|---|
//! | `resourceType` | `terraform:` + type (`terraform:aws_ebs_volume`) | `kubernetes:` + apiVersion + `/` + kind (`kubernetes:apps/v1/Deployment`) |
//! | `resourceId` | its address (`module.db.aws_db_instance.main[0]`) | `namespace/name`, or `name` when cluster-scoped |
//! | `accountId`, `awsRegion` | from the `arn` attribute (`arn:aws:SERVICE:REGION:ACCOUNT:…`), else `region`; empty when neither | empty |
//! | `configuration` | its attributes, sensitive values replaced by `"(sensitive)"` | the object without `status`, `metadata.managedFields` and `metadata.resourceVersion` (they change without the configuration changing) |
//! | `tags` | the `tags` attribute | `metadata.labels` |
//! | `relationships` | `dependencies` / `depends_on`: "Depends on" | `metadata.ownerReferences`: "Is owned by" |
//! | `resourceName`, `arn` | the `id` attribute, the `arn` attribute | `metadata.name` |
//! | `resourceCreationTime` | — | `metadata.creationTimestamp` |
//!
//! Data sources (`mode: data`) are reads, not resources: they are left out, and counted.
//! Neither form records when it was taken: a snapshot of one is taken now, or `--taken-at`.

use serde_json::{Map, Value, json};

/// The inventory forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inventory {
    TerraformState,
    TerraformShow,
    KubernetesList,
}

impl Inventory {
    pub fn name(self) -> &'static str {
        match self {
            Inventory::TerraformState => "Terraform state",
            Inventory::TerraformShow => "Terraform show output",
            Inventory::KubernetesList => "Kubernetes list",
        }
    }
}

/// How much of a document's start [`detect`] looks at.
pub const PREFIX: usize = 64 * 1024;

/// The inventory form of a document, from the top-level keys its first [`PREFIX`] bytes hold
/// (its start, cut anywhere: the keys read before the cut are enough).
pub fn detect(prefix: &[u8]) -> Option<Inventory> {
    let start = crate::json::skip_space(prefix, 0);
    if prefix.get(start) != Some(&b'{') {
        return None;
    }
    // Every key met counts, that of a member whose value the prefix cuts too.
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut kind: Option<&[u8]> = None;
    crate::json::members(prefix, start, |key, at| {
        keys.push(key);
        let end = crate::json::value_end(prefix, at).ok()?;
        if key == b"\"kind\"" {
            kind = Some(&prefix[at..end]);
        }
        Some(end)
    });
    let has = |k: &str| {
        keys.iter()
            .any(|key| key.len() == k.len() + 2 && &key[1..key.len() - 1] == k.as_bytes())
    };
    if has("terraform_version") && has("format_version") {
        return Some(Inventory::TerraformShow);
    }
    if has("terraform_version") && (has("resources") || has("lineage")) {
        return Some(Inventory::TerraformState);
    }
    let list_kind = kind.is_none_or(|k| k.ends_with(b"List\""));
    // A configuration item has `resourceType`; a Kubernetes list never does.
    if has("apiVersion") && has("items") && list_kind && !has("resourceType") {
        return Some(Inventory::KubernetesList);
    }
    None
}

/// What a translation made: the items as one JSON array, and what was left out.
#[derive(Debug)]
pub struct Translated {
    pub items: String,
    pub notes: Vec<String>,
}

/// Turns an inventory document into configuration items. `Err` names what is wrong with the
/// document's shape, with its JSON Pointer.
pub fn translate(form: Inventory, document: Value) -> Result<Translated, (String, String)> {
    let mut items = Vec::new();
    let mut notes = Vec::new();
    match form {
        Inventory::TerraformState => terraform_state(&document, &mut items, &mut notes)?,
        Inventory::TerraformShow => {
            let root = document
                .pointer("/values/root_module")
                .ok_or_else(|| ("/values/root_module".to_string(), "missing".to_string()))?;
            let mut data = 0;
            terraform_module(root, "/values/root_module", &mut items, &mut data)?;
            note_data_sources(data, &mut notes);
        }
        Inventory::KubernetesList => kubernetes_list(&document, &mut items)?,
    }
    Ok(Translated {
        items: Value::Array(items).to_string(),
        notes,
    })
}

fn shape(pointer: impl Into<String>, message: impl Into<String>) -> (String, String) {
    (pointer.into(), message.into())
}

/// The string `key` of `object` (found at pointer `at`), or the problem naming it.
fn string_at<'v>(object: &'v Value, at: &str, key: &str) -> Result<&'v str, (String, String)> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| shape(format!("{at}/{key}"), "missing, or not a string"))
}

fn note_data_sources(n: usize, notes: &mut Vec<String>) {
    if n > 0 {
        notes.push(format!(
            "{n} data source instance{} left out: they are reads, not resources",
            if n == 1 { "" } else { "s" }
        ));
    }
}

/// `terraform.tfstate`, version 4.
fn terraform_state(
    state: &Value,
    items: &mut Vec<Value>,
    notes: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match state.get("version").and_then(Value::as_u64) {
        Some(4) => {}
        Some(v) => {
            return Err(shape(
                "/version",
                format!(
                    "state format version {v} is not supported (only 4, Terraform 0.12 and later)"
                ),
            ));
        }
        None => return Err(shape("/version", "missing, or not a number")),
    }
    let resources = state
        .get("resources")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("/resources", "missing, or not an array"))?;
    let mut data = 0;
    for (r, resource) in resources.iter().enumerate() {
        let at = format!("/resources/{r}");
        let text = |key: &str| string_at(resource, &at, key);
        let (mode, kind, name) = (text("mode")?, text("type")?, text("name")?);
        let instances = resource
            .get("instances")
            .and_then(Value::as_array)
            .ok_or_else(|| shape(format!("{at}/instances"), "missing, or not an array"))?;
        if mode == "data" {
            data += instances.len();
            continue;
        }
        let module = resource.get("module").and_then(Value::as_str);
        for (i, instance) in instances.iter().enumerate() {
            let at = format!("{at}/instances/{i}");
            let mut address = String::new();
            if let Some(module) = module {
                address.push_str(module);
                address.push('.');
            }
            address.push_str(&format!("{kind}.{name}"));
            match instance.get("index_key") {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => address.push_str(&format!("[{n}]")),
                Some(Value::String(s)) => {
                    address.push_str(&format!("[{}]", Value::from(s.as_str())))
                }
                Some(_) => {
                    return Err(shape(
                        format!("{at}/index_key"),
                        "neither a number nor a string",
                    ));
                }
            }
            let mut attributes = instance
                .get("attributes")
                .cloned()
                .ok_or_else(|| shape(format!("{at}/attributes"), "missing"))?;
            if let Some(paths) = instance
                .get("sensitive_attributes")
                .and_then(Value::as_array)
            {
                for path in paths {
                    redact_path(&mut attributes, path);
                }
            }
            let depends = instance.get("dependencies").and_then(Value::as_array);
            items.push(terraform_item(kind, &address, attributes, depends));
        }
    }
    note_data_sources(data, notes);
    Ok(())
}

/// A module of `terraform show -json` output, and its child modules.
fn terraform_module(
    module: &Value,
    at: &str,
    items: &mut Vec<Value>,
    data: &mut usize,
) -> Result<(), (String, String)> {
    if let Some(resources) = module.get("resources").and_then(Value::as_array) {
        for (r, resource) in resources.iter().enumerate() {
            let at = format!("{at}/resources/{r}");
            let text = |key: &str| string_at(resource, &at, key);
            if text("mode")? == "data" {
                *data += 1;
                continue;
            }
            let (kind, address) = (text("type")?, text("address")?);
            let mut values = resource
                .get("values")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            if let Some(sensitive) = resource.get("sensitive_values") {
                redact_marked(&mut values, sensitive);
            }
            let depends = resource.get("depends_on").and_then(Value::as_array);
            items.push(terraform_item(kind, address, values, depends));
        }
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for (c, child) in children.iter().enumerate() {
            terraform_module(child, &format!("{at}/child_modules/{c}"), items, data)?;
        }
    }
    Ok(())
}

const SENSITIVE: &str = "(sensitive)";

/// Replaces the value at a state's sensitive path (`[{"type": "get_attr", "value": "password"},
/// {"type": "index", "value": {"value": 0, "type": "number"}}]`).
fn redact_path(value: &mut Value, path: &Value) {
    let Some(steps) = path.as_array() else {
        return;
    };
    let mut at = value;
    for step in steps {
        let next = match (step.get("type").and_then(Value::as_str), step.get("value")) {
            (Some("get_attr"), Some(Value::String(name))) => at.get_mut(name.as_str()),
            (Some("index"), Some(index)) => match index.get("value") {
                Some(Value::Number(n)) => n.as_u64().and_then(|n| at.get_mut(n as usize)),
                Some(Value::String(key)) => at.get_mut(key.as_str()),
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return,
        }
    }
    *at = json!(SENSITIVE);
}

/// Replaces every value that `marks` (`terraform show`'s `sensitive_values`, a mirror of the
/// values with `true` where sensitive) marks.
fn redact_marked(value: &mut Value, marks: &Value) {
    match (value, marks) {
        (v, Value::Bool(true)) => *v = json!(SENSITIVE),
        (Value::Object(values), Value::Object(marks)) => {
            for (key, mark) in marks {
                if let Some(v) = values.get_mut(key) {
                    redact_marked(v, mark);
                }
            }
        }
        (Value::Array(values), Value::Array(marks)) => {
            for (v, mark) in values.iter_mut().zip(marks) {
                redact_marked(v, mark);
            }
        }
        _ => {}
    }
}

fn terraform_item(
    kind: &str,
    address: &str,
    attributes: Value,
    depends: Option<&Vec<Value>>,
) -> Value {
    let arn = attributes
        .get("arn")
        .and_then(Value::as_str)
        .map(str::to_string);
    // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
    let arn_parts: Vec<&str> = arn
        .as_deref()
        .map(|a| a.splitn(6, ':').collect())
        .unwrap_or_default();
    let from_arn = |i: usize| {
        arn_parts
            .get(i)
            .filter(|p| !p.is_empty())
            .map(|p| p.to_string())
    };
    let account = from_arn(4).unwrap_or_default();
    let region = from_arn(3)
        .or_else(|| {
            attributes
                .get("region")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let tags = match attributes.get("tags") {
        Some(Value::Object(tags)) => Value::Object(tags.clone()),
        _ => json!({}),
    };
    let relationships: Vec<Value> = depends
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|target| {
            // An address names its type before its name, after any module path.
            let kind = target
                .rsplit('.')
                .nth(1)
                .filter(|k| !k.starts_with("module"))
                .map_or_else(
                    || "terraform:module".to_string(),
                    |k| format!("terraform:{k}"),
                );
            json!({"resourceType": kind, "resourceId": target, "relationshipName": "Depends on"})
        })
        .collect();
    let mut item = json!({
        "resourceType": format!("terraform:{kind}"),
        "resourceId": address,
        "accountId": account,
        "awsRegion": region,
        "configurationItemStatus": "OK",
        "tags": tags,
        "relationships": relationships,
        "configuration": attributes,
    });
    if let Some(id) = item["configuration"]
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        item["resourceName"] = json!(id);
    }
    if let Some(arn) = arn {
        item["arn"] = json!(arn);
    }
    item
}

/// `kubectl get … -o json`: a `List` of objects, or an API `…List` whose items carry no kind.
fn kubernetes_list(list: &Value, items: &mut Vec<Value>) -> Result<(), (String, String)> {
    let objects = list
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("/items", "missing, or not an array"))?;
    let list_version = list
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let list_kind = list.get("kind").and_then(Value::as_str).unwrap_or("List");
    let item_kind = list_kind.strip_suffix("List").filter(|k| !k.is_empty());
    for (i, object) in objects.iter().enumerate() {
        let at = format!("/items/{i}");
        let mut object = object.clone();
        let text = |o: &Value, pointer: &str| {
            o.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let version = text(&object, "/apiVersion").unwrap_or_else(|| list_version.to_string());
        let kind = text(&object, "/kind")
            .or_else(|| item_kind.map(str::to_string))
            .ok_or_else(|| {
                shape(
                    format!("{at}/kind"),
                    "missing, and the list's kind does not say it",
                )
            })?;
        let name = text(&object, "/metadata/name")
            .ok_or_else(|| shape(format!("{at}/metadata/name"), "missing, or not a string"))?;
        let namespace = text(&object, "/metadata/namespace");
        let id = match &namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.clone(),
        };
        let labels = match object.pointer("/metadata/labels") {
            Some(Value::Object(labels)) => Value::Object(labels.clone()),
            _ => json!({}),
        };
        let owners: Vec<Value> = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|owner| {
                let kind = owner.get("kind")?.as_str()?;
                let version = owner.get("apiVersion")?.as_str()?;
                let owner_name = owner.get("name")?.as_str()?;
                let owner_id = match &namespace {
                    Some(ns) => format!("{ns}/{owner_name}"),
                    None => owner_name.to_string(),
                };
                Some(json!({"resourceType": format!("kubernetes:{version}/{kind}"), "resourceId": owner_id, "relationshipName": "Is owned by"}))
            })
            .collect();
        let created = text(&object, "/metadata/creationTimestamp");
        if let Some(o) = object.as_object_mut() {
            o.remove("status");
            o.insert("apiVersion".into(), json!(version));
            o.insert("kind".into(), json!(kind));
            if let Some(Value::Object(metadata)) = o.get_mut("metadata") {
                metadata.remove("managedFields");
                metadata.remove("resourceVersion");
            }
        }
        let mut item = json!({
            "resourceType": format!("kubernetes:{version}/{kind}"),
            "resourceId": id,
            "resourceName": name,
            "accountId": "",
            "awsRegion": "",
            "configurationItemStatus": "OK",
            "tags": labels,
            "relationships": owners,
            "configuration": object,
        });
        if let Some(created) = created {
            item["resourceCreationTime"] = json!(created);
        }
        items.push(item);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_told_by_their_top_level_keys_even_from_a_cut_prefix() {
        let state = br#"{"version": 4, "terraform_version": "1.9.5", "serial": 3, "lineage": "x", "resources": [{"mode": "#;
        assert_eq!(detect(state), Some(Inventory::TerraformState));
        let show =
            br#"{"format_version":"1.0","terraform_version":"1.9.5","values":{"root_module":{}}}"#;
        assert_eq!(detect(show), Some(Inventory::TerraformShow));
        let kubectl = br#"{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Po"#;
        assert_eq!(detect(kubectl), Some(Inventory::KubernetesList));
        let api = br#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#;
        assert_eq!(detect(api), Some(Inventory::KubernetesList));
        for other in [
            &br#"{"apiVersion": "v1", "kind": "Pod", "items": []}"#[..],
            br#"{"version": "1.3", "resourceType": "AWS::EC2::Volume", "resourceId": "v"}"#,
            br#"{"fileVersion": "1.0", "configurationItems": []}"#,
            br#"[{"resourceType": "x"}]"#,
            b"",
        ] {
            assert_eq!(detect(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn terraform_instances_become_items_with_secrets_redacted() {
        let state = json!({
            "version": 4, "terraform_version": "1.9.5", "serial": 1, "lineage": "l",
            "resources": [
                {"mode": "managed", "type": "aws_ebs_volume", "name": "data", "provider": "p",
                 "instances": [{"index_key": 0, "attributes": {"id": "vol-1", "arn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1", "encrypted": false, "tags": {"Team": "db"}}, "dependencies": ["module.net.aws_subnet.a"]}]},
                {"mode": "managed", "type": "aws_db_instance", "name": "main", "module": "module.db", "provider": "p",
                 "instances": [{"index_key": "blue", "attributes": {"id": "db-1", "password": "hunter2", "region": "us-east-1"},
                                "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]]}]},
                {"mode": "data", "type": "aws_caller_identity", "name": "me", "provider": "p", "instances": [{"attributes": {}}]}
            ]
        });
        let out = translate(Inventory::TerraformState, state).unwrap();
        let items: Vec<Value> = serde_json::from_str(&out.items).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["resourceType"], "terraform:aws_ebs_volume");
        assert_eq!(items[0]["resourceId"], "aws_ebs_volume.data[0]");
        assert_eq!(
            (
                items[0]["accountId"].as_str(),
                items[0]["awsRegion"].as_str()
            ),
            (Some("123456789012"), Some("eu-west-1"))
        );
        assert_eq!(items[0]["tags"], json!({"Team": "db"}));
        assert_eq!(
            items[0]["relationships"][0]["resourceType"],
            "terraform:aws_subnet"
        );
        assert_eq!(
            items[1]["resourceId"],
            r#"module.db.aws_db_instance.main["blue"]"#
        );
        assert_eq!(items[1]["configuration"]["password"], "(sensitive)");
        assert_eq!(
            (
                items[1]["accountId"].as_str(),
                items[1]["awsRegion"].as_str()
            ),
            (Some(""), Some("us-east-1"))
        );
        assert_eq!(
            out.notes,
            ["1 data source instance left out: they are reads, not resources"]
        );
        let old = json!({"version": 3, "terraform_version": "0.11", "modules": []});
        assert_eq!(
            translate(Inventory::TerraformState, old).unwrap_err().0,
            "/version"
        );
    }

    #[test]
    fn kubernetes_objects_become_items_without_their_status() {
        let list = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
            {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}, "resourceVersion": "9", "managedFields": [],
                          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web"}]},
             "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}, "status": {"phase": "Running"}}
        ]});
        let out = translate(Inventory::KubernetesList, list).unwrap();
        let items: Vec<Value> = serde_json::from_str(&out.items).unwrap();
        assert_eq!(items[0]["resourceType"], "kubernetes:v1/Pod");
        assert_eq!(items[0]["resourceId"], "shop/web-1");
        assert_eq!(items[0]["tags"], json!({"app": "web"}));
        assert_eq!(items[0]["relationships"][0]["resourceId"], "shop/web");
        let config = &items[0]["configuration"];
        assert!(config.get("status").is_none());
        assert!(config["metadata"].get("resourceVersion").is_none());
        assert_eq!(config["kind"], "Pod");
        assert_eq!(
            config["spec"]["containers"][0]["securityContext"]["privileged"],
            true
        );
        let bad =
            json!({"kind": "List", "apiVersion": "v1", "items": [{"metadata": {"name": "x"}}]});
        assert_eq!(
            translate(Inventory::KubernetesList, bad).unwrap_err().0,
            "/items/0/kind"
        );
    }
}
