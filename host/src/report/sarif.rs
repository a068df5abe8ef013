//! SARIF 2.1.0, as GitHub code scanning reads it.
//!
//! Code scanning needs, per result, a rule id described in the driver's rules, a message, and
//! a location with a repository-relative artifact path. A cloud resource has no source file, so
//! its location is a stable path naming it (`conform/ACCOUNT/REGION/TYPE/ID`, which need not
//! exist in the repository) plus a logical location carrying its ARN. `partialFingerprints`
//! hold the finding's identity (rule and resource), so an alert keeps its identity across runs
//! whatever else changes; `baselineState` says whether it is new since the baseline, and a
//! waiver becomes an accepted external suppression with its justification.

use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::Severity;
use crate::gate::{DRIFT_RULE, Finding, FindingKind, GateReport};
use crate::model::ResourceKey;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key under which findings' fingerprints are written.
pub const FINGERPRINT_KEY: &str = "conformFinding/v1";

/// Writes the SARIF log of a gate report. Results are serialized one by one as they are
/// written, never built as a tree: a 100k-resource estate can have tens of thousands.
pub fn write_sarif(
    report: &GateReport,
    tool_version: &str,
    out: impl std::io::Write,
) -> serde_json::Result<()> {
    let mut rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| {
            let severity = serde_json::from_value(json!(r.severity)).unwrap_or(Severity::Medium);
            let title = if r.title.is_empty() {
                r.rule_id.clone()
            } else {
                r.title.clone()
            };
            let description = if r.description.is_empty() {
                title.clone()
            } else {
                r.description.clone()
            };
            rule(
                &r.rule_id,
                &title,
                &description,
                severity,
                &format!(
                    "{description}\n\nRule {} version {} (module {}), parameters: {}.",
                    r.rule_id,
                    r.rule_version,
                    short_hash(&r.module_hash),
                    r.parameters
                ),
            )
        })
        .collect();
    let drift_used =
        report.baseline.is_some() || report.findings.iter().any(|f| f.kind == FindingKind::Drift);
    if drift_used {
        rules.push(rule(
            DRIFT_RULE,
            "Resource drifted from its baseline",
            "The resource was added, removed or changed since the baseline the gate compares against.",
            Severity::Medium,
            "The resource differs from the baseline: it was added, removed, or changed in the fields listed. \
             Bring it back to the baseline, or set a new baseline if the change is approved (`conform baseline set`).",
        ));
    }
    let index: std::collections::HashMap<String, usize> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r["id"].as_str().map(|id| (id.to_string(), i)))
        .collect();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: json!({"driver": {
                "name": "conform",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": "https://example.invalid/conform",
                "rules": rules,
            }}),
            invocations: json!([{"executionSuccessful": true}]),
            results: Results {
                findings: &report.findings,
                index: &index,
            },
            properties: json!({
                "snapshot": report.snapshot.snapshot,
                "baseline": report.baseline.as_ref().and_then(|b| b.baseline.clone()),
                "passed": report.passed,
            }),
        }],
    };
    serde_json::to_writer_pretty(out, &log)
}

/// The log: small parts as JSON values, the results streamed.
#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Value,
    invocations: Value,
    results: Results<'a>,
    properties: Value,
}

struct Results<'a> {
    findings: &'a [Finding],
    index: &'a std::collections::HashMap<String, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.findings
                .iter()
                .map(|f| SarifResult::new(f, self.index.get(&f.rule_id).copied())),
        )
    }
}

fn rule(id: &str, title: &str, description: &str, severity: Severity, help: &str) -> Value {
    json!({
        "id": id,
        "name": id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        // Titles and descriptions come from rule manifests: code scanning renders this markdown.
        "help": {"text": help, "markdown": crate::escape::markdown(help)},
        "defaultConfiguration": {"level": level(severity)},
        "properties": {
            "tags": ["compliance", "configuration"],
            "precision": "very-high",
            "problem.severity": problem_severity(severity),
            // Code scanning ranks security alerts by this CVSS-like number.
            "security-severity": security_severity(severity),
        },
    })
}

/// One result, borrowing from its finding.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    kind: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
    partial_fingerprints: Fingerprints<'a>,
    baseline_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[Suppression<'a>; 1]>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation,
    logical_locations: [LogicalLocation<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Fingerprints<'a> {
    #[serde(rename = "conformFinding/v1")]
    finding: &'a str,
}

#[derive(Serialize)]
struct Suppression<'a> {
    kind: &'static str,
    status: &'static str,
    justification: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    /// The finding's stable code (`gate::FindingCode`).
    code: &'static str,
    account_id: &'a str,
    region: &'a str,
    resource_type: &'a str,
    resource_id: &'a str,
    fails_gate: bool,
}

impl<'a> SarifResult<'a> {
    fn new(f: &'a Finding, rule_index: Option<usize>) -> SarifResult<'a> {
        let name = format!("{}/{}", f.resource.resource_type, f.resource.resource_id);
        let text = if f.message.is_empty() {
            format!("{name}: {}", f.kind_text())
        } else {
            format!("{name}: {}", f.message)
        };
        SarifResult {
            rule_id: &f.rule_id,
            rule_index,
            level: if f.fails { "error" } else { level(f.severity) },
            kind: "fail",
            message: Text { text },
            locations: [Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: resource_uri(&f.resource),
                    },
                    region: Region { start_line: 1 },
                },
                logical_locations: [LogicalLocation {
                    name: &f.resource.resource_id,
                    fully_qualified_name: f.arn.clone().unwrap_or(name),
                    kind: "resource",
                }],
            }],
            partial_fingerprints: Fingerprints {
                finding: &f.fingerprint,
            },
            baseline_state: if f.new { "new" } else { "unchanged" },
            suppressions: f.waiver.as_ref().filter(|w| !w.expired).map(|w| {
                [Suppression {
                    kind: "external",
                    status: "accepted",
                    justification: &w.justification,
                }]
            }),
            properties: ResultProperties {
                code: f.code.as_str(),
                account_id: &f.resource.account_id,
                region: &f.resource.region,
                resource_type: &f.resource.resource_type,
                resource_id: &f.resource.resource_id,
                fails_gate: f.fails,
            },
        }
    }
}

/// A repository-relative path that names a resource: stable, and safe in a URI. Each part is
/// one segment (`crate::escape::uri_segment`), so no id can add a segment or climb out of
/// `conform/`; a type's `::` separators make segments of their own.
pub fn resource_uri(key: &ResourceKey) -> String {
    use crate::escape::uri_segment;
    let kind: Vec<String> = key.resource_type.split("::").map(uri_segment).collect();
    format!(
        "conform/{}/{}/{}/{}",
        uri_segment(&key.account_id),
        uri_segment(&key.region),
        kind.join("/"),
        uri_segment(&key.resource_id)
    )
}

fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

fn problem_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "recommendation",
    }
}

fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_uris_are_relative_paths_with_ids_encoded() {
        let key = ResourceKey {
            account_id: "123".into(),
            region: "us-east-1".into(),
            resource_type: "AWS::CloudTrail::Trail".into(),
            resource_id: "arn:aws:cloudtrail:us-east-1:123:trail/main trail".into(),
        };
        assert_eq!(
            resource_uri(&key),
            "conform/123/us-east-1/AWS/CloudTrail/Trail/arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123%3Atrail%2Fmain%20trail"
        );
    }
}
