//! A rule's manifest: read from its `conform.manifest` custom section without instantiating the
//! module, checked for the ABI version before anything runs (see `rules-sdk/ABI.md`, §2).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EngineError;
use super::document::ItemDocument;

/// The ABI version this host speaks.
pub const ABI_VERSION: u32 = 1;

/// Longest rule id (AWS Config's rule names are at most 128 characters).
pub const MAX_ID_CHARS: usize = 128;

/// The custom section that holds a rule's manifest.
pub const MANIFEST_SECTION: &str = "conform.manifest";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub abi: u32,
    pub id: String,
    pub version: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity: Severity,
    pub kind: RuleKind,
    #[serde(default)]
    pub scope: Scope,
    /// A JSON Schema for the parameters object, with defaults.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// One configuration item in, one evaluation out.
    Resource,
    /// Once per account per snapshot, over all in-scope resources.
    Estate,
}

impl RuleKind {
    /// The export the host calls (ABI §3).
    pub fn entry_point(self) -> &'static str {
        match self {
            RuleKind::Resource => "conform_evaluate",
            RuleKind::Estate => "conform_evaluate_estate",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scope {
    /// Resource types the rule evaluates; empty means all.
    #[serde(default)]
    pub resource_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
}

impl Scope {
    /// Whether an item (as the JSON document rules see) is in scope. The host filters, so an
    /// out-of-scope item costs no call into the guest.
    pub fn includes(&self, resource_type: &str, tags: Option<&Value>) -> bool {
        self.covers_type(resource_type)
            && self.tag_matches(|key| {
                tags.and_then(|t| t.get(key))
                    .map(|v| v.as_str().map(std::borrow::Cow::Borrowed))
            })
    }

    /// As [`Scope::includes`], for an item as a scan reads it.
    pub fn includes_item(&self, item: &ItemDocument) -> bool {
        self.covers_type(item.resource_type())
            && self.tag_matches(|key| {
                let tag = item.root().member("tags")?.member(key)?;
                Some(tag.as_str())
            })
    }

    /// Whether items of `resource_type` may be in scope (their tags decide the rest).
    pub fn covers_type(&self, resource_type: &str) -> bool {
        self.resource_types.is_empty() || self.resource_types.iter().any(|t| t == resource_type)
    }

    /// `tag` gives what the item's tag of a key holds: `None` if it has no such tag,
    /// `Some(None)` if the value is not a string.
    fn tag_matches<'a>(
        &self,
        tag: impl FnOnce(&str) -> Option<Option<std::borrow::Cow<'a, str>>>,
    ) -> bool {
        match &self.tag_key {
            None => true,
            Some(key) => match tag(key) {
                None => false,
                Some(value) => self
                    .tag_value
                    .as_ref()
                    .is_none_or(|want| value.as_deref() == Some(want.as_str())),
            },
        }
    }
}

impl Manifest {
    /// Reads the manifest of a module from its custom section, without compiling it.
    pub fn from_module(name: &str, bytes: &[u8]) -> Result<Manifest, EngineError> {
        let text = manifest_section(bytes)
            .map_err(|e| EngineError::load(name, e))?
            .ok_or_else(|| {
                EngineError::load(
                    name,
                    format!("has no `{MANIFEST_SECTION}` custom section; add one with `conform rules annotate`"),
                )
            })?;
        Manifest::from_json(name, text)
    }

    /// Parses a manifest, checking the ABI version first so that a manifest of another version
    /// gets that error rather than a confusing one about its fields.
    pub fn from_json(name: &str, text: &[u8]) -> Result<Manifest, EngineError> {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| EngineError::load(name, format!("manifest is not JSON: {e}")))?;
        let abi = value.get("abi").and_then(Value::as_u64);
        if abi != Some(u64::from(ABI_VERSION)) {
            let id = value.get("id").and_then(Value::as_str).unwrap_or(name);
            let built_for =
                abi.map_or_else(|| "no ABI version".to_string(), |v| format!("ABI {v}"));
            return Err(EngineError::load(
                name,
                format!("rule {id} was built for {built_for}; this host speaks ABI {ABI_VERSION}"),
            ));
        }
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| EngineError::load(name, format!("manifest: {e}")))?;
        manifest
            .check_text()
            .map_err(|e| EngineError::load(name, e))?;
        jsonschema::validator_for(&manifest.parameters).map_err(|e| {
            EngineError::load(
                name,
                format!(
                    "rule {}: parameters is not a valid JSON Schema: {e}",
                    manifest.id
                ),
            )
        })?;
        Ok(manifest)
    }

    /// Refuses ids that could not be named on a command line, in a params file or a waiver
    /// (and that reports would have to escape), and text fields beyond what reports show.
    fn check_text(&self) -> Result<(), String> {
        let id_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
        if self.id.is_empty() {
            return Err("manifest: the rule id is empty".into());
        }
        if self.id.len() > MAX_ID_CHARS
            || !self.id.chars().all(id_ok)
            || !self.id.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(format!(
                "manifest: rule id {} is not 1 to {MAX_ID_CHARS} letters, digits, '_', '-', '.' \
                 or ':' starting with a letter or digit",
                super::abi::excerpt(&self.id)
            ));
        }
        for (field, text, max) in [
            ("version", &self.version, 64),
            ("title", &self.title, 256),
            ("description", &self.description, 4_096),
        ] {
            if text.chars().count() > max {
                return Err(format!(
                    "manifest: rule {}: {field} is {} characters; the limit is {max}",
                    self.id,
                    text.chars().count()
                ));
            }
        }
        Ok(())
    }

    /// Fills in defaults from the parameters schema and validates `given` against it.
    pub fn parameters(&self, given: Option<&Value>) -> Result<Value, EngineError> {
        let mut params = given.cloned().unwrap_or_else(|| serde_json::json!({}));
        if let (Some(props), Some(object)) = (
            self.parameters.get("properties").and_then(Value::as_object),
            params.as_object_mut(),
        ) {
            for (key, schema) in props {
                if let Some(default) = schema.get("default") {
                    object.entry(key.clone()).or_insert_with(|| default.clone());
                }
            }
        }
        let validator =
            jsonschema::validator_for(&self.parameters).map_err(|e| EngineError::Params {
                rule: self.id.clone(),
                message: e.to_string(),
            })?;
        let problems: Vec<String> = validator
            .iter_errors(&params)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() {
                    "parameters".to_string()
                } else {
                    format!("parameter {at}")
                };
                format!("{at}: {}", e.masked())
            })
            .collect();
        if problems.is_empty() {
            Ok(params)
        } else {
            Err(EngineError::Params {
                rule: self.id.clone(),
                message: problems.join("; "),
            })
        }
    }
}

/// The payload of the manifest section, if the module has one. Two are refused: which one a
/// tool reads would be up to the tool.
pub fn manifest_section(bytes: &[u8]) -> Result<Option<&[u8]>, String> {
    let mut found = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::CustomSection(section) =
            payload.map_err(|e| format!("not a WebAssembly module: {e}"))?
            && section.name() == MANIFEST_SECTION
        {
            if found.is_some() {
                return Err(format!(
                    "has two `{MANIFEST_SECTION}` custom sections; a rule has one manifest \
                     (`conform rules annotate` replaces it)"
                ));
            }
            found = Some(section.data());
        }
    }
    Ok(found)
}

/// Returns `module` with its manifest section replaced by (or added as) `manifest`.
///
/// Custom sections may stand anywhere after the header, so the new one is appended.
pub fn annotate(module: &[u8], manifest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(module.len() + manifest.len() + 32);
    let mut kept_until = 0;
    // Only a top-level section can be cut out: one inside a component's nested module is
    // counted in that module's size. `depth` is 1 at the top level of the binary.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| format!("not a WebAssembly module: {e}"))?;
        match &payload {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == MANIFEST_SECTION
        {
            if depth > 1 {
                return Err(
                    "its manifest is inside one of its core modules: rebuild that \
                            module with the new manifest rather than annotating the component"
                        .to_string(),
                );
            }
            // The section starts with its id byte and size before the name; find the id.
            let data_end = section.data_offset() + section.data().len();
            let start = section_start(module, section.range().start);
            out.extend_from_slice(&module[kept_until..start]);
            kept_until = data_end;
        }
    }
    out.extend_from_slice(&module[kept_until..]);
    let mut body = Vec::new();
    leb128(&mut body, MANIFEST_SECTION.len() as u64);
    body.extend_from_slice(MANIFEST_SECTION.as_bytes());
    body.extend_from_slice(manifest);
    out.push(0); // custom section id
    leb128(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The offset of the id byte of the custom section whose contents (name first) start at `at`.
fn section_start(module: &[u8], at: usize) -> usize {
    // Walk back over the size's LEB128 bytes (at most 5) to the id byte (0 for custom).
    let mut i = at - 1;
    while i > 0 && module[i - 1] & 0x80 != 0 {
        i -= 1;
    }
    i - 1
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_json(abi: u32) -> String {
        format!(
            r#"{{"abi": {abi}, "id": "R", "version": "1.0.0", "title": "t", "severity": "low", "kind": "resource",
                "scope": {{"resourceTypes": ["AWS::EC2::Volume"]}},
                "parameters": {{"type": "object", "properties": {{"kmsId": {{"type": "string", "default": "any"}},
                  "limit": {{"type": "integer", "minimum": 1}}}}}}}}"#
        )
    }

    #[test]
    fn another_abi_version_is_named() {
        let err = Manifest::from_json("r.wasm", manifest_json(2).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rule R was built for ABI 2; this host speaks ABI 1"),
            "{err}"
        );
    }

    #[test]
    fn defaults_fill_in_and_bad_parameters_are_named() {
        let m = Manifest::from_json("r.wasm", manifest_json(1).as_bytes()).unwrap();
        assert_eq!(
            m.parameters(None).unwrap(),
            serde_json::json!({"kmsId": "any"})
        );
        let err = m
            .parameters(Some(&serde_json::json!({"limit": 0})))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rule R") && err.contains("parameter /limit"),
            "{err}"
        );
    }

    #[test]
    fn annotate_adds_then_replaces_the_section() {
        let module = wat::parse_str("(module)").unwrap();
        let once = annotate(&module, b"{\"a\":1}").unwrap();
        assert_eq!(manifest_section(&once).unwrap(), Some(&b"{\"a\":1}"[..]));
        let twice = annotate(&once, b"{\"b\":2}").unwrap();
        assert_eq!(manifest_section(&twice).unwrap(), Some(&b"{\"b\":2}"[..]));
        assert_eq!(
            twice.len(),
            once.len(),
            "the old section is replaced, not kept"
        );
        wasmparser::Validator::new().validate_all(&twice).unwrap();
    }

    #[test]
    fn a_component_is_annotated_at_its_top_level_and_a_nested_manifest_is_found_not_cut() {
        let component =
            wat::parse_str("(component (core module $m (memory (export \"memory\") 1)))").unwrap();
        let once = annotate(&component, b"{\"a\":1}").unwrap();
        let twice = annotate(&once, b"{\"b\":2}").unwrap();
        assert_eq!(manifest_section(&twice).unwrap(), Some(&b"{\"b\":2}"[..]));
        assert_eq!(twice.len(), once.len());
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&twice)
            .unwrap();
        // A manifest in a nested module (a Rust rule built for wasm32-wasip2) is read, but
        // cutting it out would break that module's size: annotate refuses.
        let nested = wat::parse_str(
            r#"(component (core module $m (@custom "conform.manifest" "{\"c\":3}")))"#,
        )
        .unwrap();
        assert_eq!(manifest_section(&nested).unwrap(), Some(&b"{\"c\":3}"[..]));
        let err = annotate(&nested, b"{}").unwrap_err();
        assert!(err.contains("inside one of its core modules"), "{err}");
    }

    #[test]
    fn a_module_with_two_manifests_is_refused() {
        let module = wat::parse_str(
            r#"(module (@custom "conform.manifest" "{}") (@custom "conform.manifest" "{}"))"#,
        )
        .unwrap();
        let err = manifest_section(&module).unwrap_err();
        assert!(
            err.contains("two `conform.manifest` custom sections"),
            "{err}"
        );
    }

    #[test]
    fn rule_ids_are_names_not_text() {
        for (id, ok) in [
            ("ENCRYPTED_VOLUMES", true),
            ("my-org.s3:v2", true),
            ("", false),
            ("-leading", false),
            ("with space", false),
            ("x`|![p](https://evil.example/p.png)", false),
            ("line\nbreak", false),
        ] {
            let text = manifest_json(1).replace(r#""id": "R""#, &format!(r#""id": "{id}""#));
            let got = Manifest::from_json("r.wasm", text.as_bytes());
            assert_eq!(got.is_ok(), ok, "{id:?}: {got:?}");
        }
        let long =
            manifest_json(1).replace(r#""id": "R""#, &format!(r#""id": "{}""#, "A".repeat(129)));
        assert!(Manifest::from_json("r.wasm", long.as_bytes()).is_err());
        let err = Manifest::from_json(
            "r.wasm",
            manifest_json(1)
                .replace(r#""id": "R""#, r#""id": """#)
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("the rule id is empty"), "{err}");
    }

    #[test]
    fn scope_by_type_and_tag() {
        let scope = Scope {
            resource_types: vec!["AWS::S3::Bucket".into()],
            tag_key: Some("env".into()),
            tag_value: Some("prod".into()),
        };
        let tags = serde_json::json!({"env": "prod"});
        assert!(scope.includes("AWS::S3::Bucket", Some(&tags)));
        assert!(!scope.includes("AWS::EC2::Volume", Some(&tags)));
        assert!(!scope.includes("AWS::S3::Bucket", Some(&serde_json::json!({"env": "dev"}))));
        assert!(Scope::default().includes("anything", None));
    }
}
