//! JUnit XML, as CI systems (GitLab, Jenkins, Azure Pipelines, GitHub test reporters) read it.
//!
//! One test suite per rule, one test case per (rule, resource) evaluation of the scan, named
//! uniquely by resource identity. A finding that fails the gate is a `<failure>` carrying the
//! rule's annotation; a waived one is `<skipped>` with its justification; NOT_APPLICABLE is
//! skipped; a finding that does not fail the gate (an old one under `new-noncompliant`) passes
//! and says so in `<system-out>`. Drift findings form a `DRIFT` suite.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use quick_xml::escape::escape;

use crate::gate::{DRIFT_RULE, Finding, GateReport};
use crate::model::{Compliance, ResourceKey};
use crate::store::{EvaluationRef, Store, StoreError, evaluation_identity};

/// Why a JUnit report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
}

enum Outcome<'a> {
    Pass(Option<String>),
    Fail { kind: &'a str, message: String },
    Skip(String),
}

/// A suite's counts, which its opening tag carries before its cases.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tests: u64,
    failures: u64,
    skipped: u64,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome<'_>) {
        self.tests += 1;
        match outcome {
            Outcome::Fail { .. } => self.failures += 1,
            Outcome::Skip(_) => self.skipped += 1,
            Outcome::Pass(_) => {}
        }
    }
}

/// Writes the JUnit XML of a gate report, reading the scan's evaluations from `store`
/// twice: once for every suite's counts, which come first, then in listing order for the
/// cases, written as they are read. Only the findings and a hash per case name are held, so a
/// million evaluations cost what their findings cost.
pub fn write(report: &GateReport, store: &Store, out: &mut dyn Write) -> Result<(), JunitError> {
    let findings: HashMap<u128, &Finding> = report
        .findings
        .iter()
        .map(|f| {
            let r = &f.resource;
            let identity = evaluation_identity(
                &f.rule_id,
                &r.account_id,
                &r.region,
                &r.resource_type,
                &r.resource_id,
            );
            (identity, f)
        })
        .collect();
    let outcome = |e: &EvaluationRef<'_>| -> Outcome<'static> {
        match findings.get(&e.identity()) {
            Some(f) => finding_outcome(
                f,
                Compliance::parse(e.compliance)
                    .unwrap_or(Compliance::Error)
                    .as_str(),
            ),
            None if e.compliance == "NOT_APPLICABLE" => {
                Outcome::Skip(format!("not applicable: {}", e.annotation))
            }
            None => Outcome::Pass(None),
        }
    };
    let drift: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == DRIFT_RULE)
        .collect();

    let mut suites: BTreeMap<String, Counts> = BTreeMap::new();
    for rule in &report.rules {
        suites.entry(rule.rule_id.clone()).or_default();
    }
    let scan = report.scan.as_ref().map(|scan| scan.id);
    if let Some(scan) = scan {
        store.for_each_evaluation(scan, |e| {
            let counts = match suites.get_mut(e.rule_id) {
                Some(counts) => counts,
                None => suites.entry(e.rule_id.to_string()).or_default(),
            };
            counts.add(&outcome(&e));
            Ok(())
        })?;
    }
    for f in &drift {
        suites
            .entry(DRIFT_RULE.to_string())
            .or_default()
            .add(&finding_outcome(f, "DRIFT"));
    }
    let total = suites.values().fold(Counts::default(), |a, c| Counts {
        tests: a.tests + c.tests,
        failures: a.failures + c.failures,
        skipped: a.skipped + c.skipped,
    });
    writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"conform gate\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        total.tests, total.failures, total.skipped
    )?;

    let mut writer = Suites {
        out,
        pending: suites.iter(),
        open: None,
        names: HashMap::new(),
        drift: &drift,
    };
    if let Some(scan) = scan {
        // A write that fails stops the read; its error is the one reported.
        let mut failed = None;
        let read = store.for_each_evaluation_in_order(scan, |e| {
            let name = case_name(e.resource_type, e.resource_id, e.account_id, e.region);
            writer.case(e.rule_id, name, &outcome(&e)).map_err(|error| {
                failed = Some(error);
                StoreError::Corrupt("the report could not be written".into())
            })
        });
        if let Some(error) = failed {
            return Err(error.into());
        }
        read?;
    }
    writer.finish()?;
    writeln!(writer.out, "</testsuites>")?;
    Ok(())
}

/// The suites being written, in name order: cases arrive sorted by rule, so each suite is
/// opened when its first case (or the suite after it) arrives and closed before the next.
struct Suites<'w, 'r> {
    out: &'w mut dyn Write,
    pending: std::collections::btree_map::Iter<'r, String, Counts>,
    open: Option<&'r str>,
    /// The current suite's case names, hashed, with how often each was used: names are
    /// unique within a suite even if a rule evaluated a resource twice.
    names: HashMap<u128, u32>,
    drift: &'r [&'r Finding],
}

impl<'r> Suites<'_, 'r> {
    /// A case of `suite`: the suites before it are written out first.
    fn case(&mut self, suite: &str, name: String, outcome: &Outcome<'_>) -> std::io::Result<()> {
        while self.open != Some(suite) {
            if !self.next()? {
                break;
            }
        }
        self.write_case(suite, name, outcome)
    }

    /// Writes out every suite not yet closed.
    fn finish(&mut self) -> std::io::Result<()> {
        while self.next()? {}
        Ok(())
    }

    /// Closes the open suite and opens the next; false when none is left.
    fn next(&mut self) -> std::io::Result<bool> {
        if let Some(open) = self.open.take() {
            if open == DRIFT_RULE {
                for f in self.drift {
                    self.write_case(open, key_name(&f.resource), &finding_outcome(f, "DRIFT"))?;
                }
            }
            writeln!(self.out, "  </testsuite>")?;
        }
        let Some((name, counts)) = self.pending.next() else {
            return Ok(false);
        };
        writeln!(
            self.out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="0" skipped="{}">"#,
            attr(name),
            counts.tests,
            counts.failures,
            counts.skipped
        )?;
        self.open = Some(name);
        self.names.clear();
        Ok(true)
    }

    fn write_case(
        &mut self,
        suite: &str,
        base: String,
        outcome: &Outcome<'_>,
    ) -> std::io::Result<()> {
        let used = self
            .names
            .entry(crate::canonical::identity_hash(&[&base]))
            .or_insert(0);
        *used += 1;
        let name = match *used {
            1 => base,
            n => format!("{base} #{n}"),
        };
        write!(
            self.out,
            r#"    <testcase classname="conform.{}" name="{}""#,
            attr(suite),
            attr(&name)
        )?;
        match outcome {
            Outcome::Pass(None) => self.out.write_all(b"/>\n"),
            Outcome::Pass(Some(note)) => writeln!(
                self.out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                text(note)
            ),
            Outcome::Fail { kind, message } => writeln!(
                self.out,
                ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                attr(kind),
                attr(message),
                text(message)
            ),
            Outcome::Skip(why) => writeln!(
                self.out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(why)
            ),
        }
    }
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

/// A case's name: the resource's identity, whole.
fn case_name(resource_type: &str, resource_id: &str, account_id: &str, region: &str) -> String {
    format!("{resource_type}/{resource_id} ({account_id} {region})")
}

fn key_name(key: &ResourceKey) -> String {
    case_name(
        &key.resource_type,
        &key.resource_id,
        &key.account_id,
        &key.region,
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
