//! SARIF 2.1.0, as GitHub code scanning reads it.
//!
//! Code scanning needs, per result, a rule id described in the driver's rules, a message, and
//! a location with a repository-relative artifact path. A cloud resource has no source file, so
//! its location is a stable path naming it (`conform/ACCOUNT/REGION/TYPE/ID`, which need not
//! exist in the repository) plus a logical location carrying its ARN. `partialFingerprints`
//! hold the finding's identity (rule and resource), so an alert keeps its identity across runs
//! whatever else changes; `baselineState` says whether it is new since the baseline, and a
//! waiver becomes an accepted external suppression with its justification.

use serde_json::{Value, json};

use crate::engine::Severity;
use crate::gate::{DRIFT_RULE, Finding, FindingKind, GateReport};
use crate::model::ResourceKey;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key under which findings' fingerprints are written.
pub const FINGERPRINT_KEY: &str = "conformFinding/v1";

/// The SARIF log of a gate report.
pub fn sarif(report: &GateReport, tool_version: &str) -> Value {
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
    let index_of = |id: &str| rules.iter().position(|r| r["id"] == id);
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, index_of(&f.rule_id)))
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "conform",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": "https://example.invalid/conform",
                "rules": rules,
            }},
            "invocations": [{"executionSuccessful": true}],
            "results": results,
            "properties": {
                "snapshot": report.snapshot.snapshot,
                "baseline": report.baseline.as_ref().and_then(|b| b.baseline.clone()),
                "passed": report.passed,
            },
        }],
    })
}

fn rule(id: &str, title: &str, description: &str, severity: Severity, help: &str) -> Value {
    json!({
        "id": id,
        "name": id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": {"text": help, "markdown": help},
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

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let name = format!("{}/{}", f.resource.resource_type, f.resource.resource_id);
    let text = if f.message.is_empty() {
        format!("{name}: {}", f.kind_text())
    } else {
        format!("{name}: {}", f.message)
    };
    let mut result = json!({
        "ruleId": f.rule_id,
        "level": if f.fails { "error" } else { level(f.severity) },
        "kind": "fail",
        "message": {"text": text},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": resource_uri(&f.resource)},
                "region": {"startLine": 1},
            },
            "logicalLocations": [{
                "name": f.resource.resource_id,
                "fullyQualifiedName": f.arn.clone().unwrap_or_else(|| name.clone()),
                "kind": "resource",
            }],
        }],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "baselineState": if f.new { "new" } else { "unchanged" },
        "properties": {
            "accountId": f.resource.account_id,
            "region": f.resource.region,
            "resourceType": f.resource.resource_type,
            "resourceId": f.resource.resource_id,
            "failsGate": f.fails,
        },
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    if let Some(w) = f.waiver.as_ref().filter(|w| !w.expired) {
        result["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": w.justification,
        }]);
    }
    result
}

/// A repository-relative path that names a resource: stable, and safe in a URI.
pub fn resource_uri(key: &ResourceKey) -> String {
    let part = |s: &str| {
        if s.is_empty() {
            "_".to_string()
        } else {
            percent_encode(s)
        }
    };
    let kind: Vec<String> = key.resource_type.split("::").map(part).collect();
    format!(
        "conform/{}/{}/{}/{}",
        part(&key.account_id),
        part(&key.region),
        kind.join("/"),
        part(&key.resource_id)
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
