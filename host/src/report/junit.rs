//! JUnit XML, as CI systems (GitLab, Jenkins, Azure Pipelines, GitHub test reporters) read it.
//!
//! One test suite per rule, one test case per (rule, resource) evaluation of the scan, named
//! uniquely by resource identity. A finding that fails the gate is a `<failure>` carrying the
//! rule's annotation; a waived one is `<skipped>` with its justification; NOT_APPLICABLE is
//! skipped; a finding that does not fail the gate (an old one under `new-noncompliant`) passes
//! and says so in `<system-out>`. Drift findings form a `DRIFT` suite.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use quick_xml::escape::escape;

use crate::gate::{DRIFT_RULE, Finding, GateReport};
use crate::model::ResourceKey;

enum Outcome<'a> {
    Pass(Option<String>),
    Fail { kind: &'a str, message: String },
    Skip(String),
}

struct Case<'a> {
    name: String,
    outcome: Outcome<'a>,
}

/// The JUnit XML of a gate report.
pub fn junit(report: &GateReport) -> String {
    let findings: std::collections::HashMap<(&str, &ResourceKey), &Finding> = report
        .findings
        .iter()
        .map(|f| ((f.rule_id.as_str(), &f.resource), f))
        .collect();
    let mut suites: BTreeMap<&str, Vec<Case<'_>>> = BTreeMap::new();
    for rule in &report.rules {
        suites.entry(rule.rule_id.as_str()).or_default();
    }
    for e in &report.evaluations {
        let key = ResourceKey {
            account_id: e.account_id.clone(),
            region: e.region.clone(),
            resource_type: e.resource_type.clone(),
            resource_id: e.resource_id.clone(),
        };
        let outcome = match findings.get(&(e.rule_id.as_str(), &key)) {
            Some(f) => finding_outcome(f, &e.compliance),
            None if e.compliance == "NOT_APPLICABLE" => {
                Outcome::Skip(format!("not applicable: {}", e.annotation))
            }
            None => Outcome::Pass(None),
        };
        suites.entry(e.rule_id.as_str()).or_default().push(Case {
            name: case_name(&key),
            outcome,
        });
    }
    for f in report.findings.iter().filter(|f| f.rule_id == DRIFT_RULE) {
        suites.entry(DRIFT_RULE).or_default().push(Case {
            name: case_name(&f.resource),
            outcome: finding_outcome(f, "DRIFT"),
        });
    }

    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    let mut body = String::new();
    for (suite, cases) in &suites {
        let fails = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail { .. }))
            .count();
        let skips = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skip(_)))
            .count();
        tests += cases.len();
        failures += fails;
        skipped += skips;
        let _ = writeln!(
            body,
            r#"  <testsuite name="{}" tests="{}" failures="{fails}" errors="0" skipped="{skips}">"#,
            attr(suite),
            cases.len()
        );
        let mut seen = HashSet::new();
        for case in cases {
            // Names are unique within a suite, even if a rule evaluated a resource twice.
            let mut name = case.name.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{} #{n}", case.name);
                n += 1;
            }
            let _ = write!(
                body,
                r#"    <testcase classname="conform.{}" name="{}""#,
                attr(suite),
                attr(&name)
            );
            match &case.outcome {
                Outcome::Pass(None) => body.push_str("/>\n"),
                Outcome::Pass(Some(note)) => {
                    let _ = writeln!(
                        body,
                        ">\n      <system-out>{}</system-out>\n    </testcase>",
                        text(note)
                    );
                }
                Outcome::Fail { kind, message } => {
                    let _ = writeln!(
                        body,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                        attr(kind),
                        attr(message),
                        text(message)
                    );
                }
                Outcome::Skip(why) => {
                    let _ = writeln!(
                        body,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        attr(why)
                    );
                }
            }
        }
        body.push_str("  </testsuite>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"conform gate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{body}</testsuites>\n"
    )
}

fn finding_outcome<'a>(f: &Finding, compliance: &'a str) -> Outcome<'a> {
    let message = if f.message.is_empty() {
        f.kind_text().to_string()
    } else {
        f.message.clone()
    };
    if f.is_waived() {
        let w = f.waiver.as_ref().expect("waived");
        return Outcome::Skip(format!("waived (waiver {}): {}", w.waiver, w.justification));
    }
    if f.fails {
        let mut message = message;
        if f.waiver.as_ref().is_some_and(|w| w.expired) {
            message.push_str(" (its waiver has expired)");
        }
        return Outcome::Fail {
            kind: compliance,
            message,
        };
    }
    Outcome::Pass(Some(format!(
        "{compliance}, not failing the gate ({}): {message}",
        if f.new {
            "below the gate's threshold"
        } else {
            "also so in the baseline"
        }
    )))
}

fn case_name(key: &ResourceKey) -> String {
    format!(
        "{}/{} ({} {})",
        key.resource_type, key.resource_id, key.account_id, key.region
    )
}

/// An attribute value: line breaks and tabs as references, which attribute-value
/// normalisation would otherwise turn into spaces.
fn attr(s: &str) -> String {
    escape(crate::escape::xml(s).as_ref())
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

fn text(s: &str) -> String {
    escape(crate::escape::xml(s).as_ref()).into_owned()
}
