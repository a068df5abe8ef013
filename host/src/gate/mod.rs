//! The gate: may this snapshot pass? Findings are data (like cargo-deny's diagnostics): each
//! says what, where, since when, whether a waiver covers it and whether it fails the gate;
//! renderers (text, JSON, markdown, SARIF, JUnit) only present them.
//!
//! A finding is a NON_COMPLIANT or ERROR evaluation of the snapshot's latest scan, or a
//! resource drifted from the baseline. What fails the gate is chosen with [`FailOn`]; the
//! default, `new-noncompliant`, fails only on findings the baseline did not have, so a gate can
//! be adopted on an estate that already has old ones.

pub mod waivers;

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::drift::{self, DriftCounts, DriftOptions, FieldChange, IgnoreRules, StateRef};
use crate::engine::Severity;
use crate::model::{Compliance, ResourceKey};
use crate::store::{Baseline, ScanInfo, ScanRule, SnapshotSelector, Store, StoreError};
pub use waivers::{Waiver, WaiverError, Waivers};

/// The rule id drift findings carry (in SARIF, JUnit and waivers).
pub const DRIFT_RULE: &str = "DRIFT";

/// What makes the gate fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailOn {
    /// Any resource drifted from the baseline.
    Drift,
    /// Any non-compliant evaluation.
    Noncompliant,
    /// A non-compliant evaluation whose resource was compliant, or absent, in the baseline.
    NewNoncompliant,
    /// Any ERROR evaluation (a rule that trapped, timed out or answered garbage).
    Error,
}

impl FailOn {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::Drift => "drift",
            FailOn::Noncompliant => "noncompliant",
            FailOn::NewNoncompliant => "new-noncompliant",
            FailOn::Error => "error",
        }
    }
}

/// "drift, new-noncompliant": what a gate fails on, for people.
pub fn fail_on_names(fail_on: &BTreeSet<FailOn>) -> String {
    fail_on
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("snapshot {0} has not been scanned; run `conform scan --snapshot {0}` first")]
    NotScanned(i64),
    #[error(
        "baseline '{name}' (snapshot {snapshot}) has not been scanned, so new findings cannot be told from old; run `conform scan --snapshot {snapshot}`"
    )]
    BaselineNotScanned { name: String, snapshot: i64 },
}

/// How the gate judges.
#[derive(Debug, Clone)]
pub struct GateOptions {
    pub baseline: Option<String>,
    pub snapshot: SnapshotSelector,
    pub fail_on: BTreeSet<FailOn>,
    /// Rule findings below this severity are reported but never fail the gate.
    pub min_severity: Severity,
    /// The day waivers are judged on.
    pub today: jiff::civil::Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    Noncompliant,
    Error,
    Drift,
}

/// What a finding is, as a stable code: scripts and waivers may match on it, so a published
/// code never changes meaning and is never reused; a new kind of finding gets a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum FindingCode {
    /// A rule found the resource NON_COMPLIANT.
    #[serde(rename = "CF001")]
    Noncompliant,
    /// A rule failed on the resource (ERROR: a trap, a timeout, no result).
    #[serde(rename = "CF002")]
    RuleError,
    /// The resource is not in the baseline.
    #[serde(rename = "CF101")]
    DriftAdded,
    /// The resource is in the baseline and gone now.
    #[serde(rename = "CF102")]
    DriftRemoved,
    /// The resource's configuration differs from the baseline's.
    #[serde(rename = "CF103")]
    DriftModified,
}

impl FindingCode {
    pub const ALL: [FindingCode; 5] = [
        FindingCode::Noncompliant,
        FindingCode::RuleError,
        FindingCode::DriftAdded,
        FindingCode::DriftRemoved,
        FindingCode::DriftModified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::Noncompliant => "CF001",
            FindingCode::RuleError => "CF002",
            FindingCode::DriftAdded => "CF101",
            FindingCode::DriftRemoved => "CF102",
            FindingCode::DriftModified => "CF103",
        }
    }
}

/// A waiver as it applied to one finding.
#[derive(Debug, Clone, Serialize)]
pub struct WaiverUse {
    /// The waiver's number in its file, from 1.
    pub waiver: usize,
    pub justification: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// An expired waiver no longer waives; the finding counts as if it had none.
    pub expired: bool,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    pub kind: FindingKind,
    pub rule_id: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub resource: ResourceKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    pub message: String,
    /// Not in the baseline: the resource was compliant or absent there (for drift: always).
    pub new: bool,
    /// The rule's verdict on the resource in the baseline's scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_compliance: Option<Compliance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverUse>,
    /// Whether this finding fails the gate.
    pub fails: bool,
    /// Stable across runs: rule and resource identity, hashed.
    pub fingerprint: String,
    /// For drift: the changed fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

impl Finding {
    pub fn is_waived(&self) -> bool {
        self.waiver.as_ref().is_some_and(|w| !w.expired)
    }

    /// What the finding is, in a few words (when a rule gave no annotation).
    pub fn kind_text(&self) -> &'static str {
        match self.kind {
            FindingKind::Noncompliant => "non-compliant",
            FindingKind::Error => "the rule failed to evaluate",
            FindingKind::Drift => "drifted from the baseline",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct GateCounts {
    pub evaluations: u64,
    pub findings: u64,
    pub failing: u64,
    pub waived: u64,
    pub noncompliant: u64,
    pub new_noncompliant: u64,
    pub errors: u64,
    pub drifted: u64,
    /// Findings whose only waiver has expired.
    pub expired_waivers: u64,
}

/// A waiver and how it was used.
#[derive(Debug, Clone, Serialize)]
pub struct WaiverStatus {
    #[serde(flatten)]
    pub waiver: Waiver,
    pub expired: bool,
    /// Findings it named.
    pub matched: u64,
}

/// The gate's verdict and everything it was based on.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub passed: bool,
    pub snapshot: StateRef,
    /// The scan judged; none when only drift can fail the gate and the snapshot has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<StateRef>,
    pub fail_on: BTreeSet<FailOn>,
    pub min_severity: Severity,
    pub counts: GateCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftCounts>,
    /// Findings, failing ones first, then by rule and resource.
    pub findings: Vec<Finding>,
    pub waivers: Vec<WaiverStatus>,
    /// The rules of the scan (for SARIF rule metadata).
    #[serde(skip)]
    pub rules: Vec<ScanRule>,
}

/// A verdict as stored with its scan; anything else (which no scan writes) reads as ERROR.
fn stored_compliance(text: &str) -> Compliance {
    Compliance::parse(text).unwrap_or(Compliance::Error)
}

/// A rule's severity as stored with its scan.
fn severity_of(text: &str) -> Severity {
    serde_json::from_value(serde_json::Value::String(text.to_string())).unwrap_or(Severity::Medium)
}

/// A finding's identity across runs: its rule and its resource, nothing that changes.
pub fn fingerprint(rule_id: &str, key: &ResourceKey) -> String {
    let text = format!(
        "{rule_id}\0{}\0{}\0{}\0{}",
        key.account_id, key.region, key.resource_type, key.resource_id
    );
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// Judges a snapshot.
pub fn gate(
    store: &Store,
    options: &GateOptions,
    waivers: &Waivers,
    ignore: &IgnoreRules,
) -> Result<GateReport, GateError> {
    let snapshot = store.snapshot(options.snapshot)?;
    // Drift is read from the store alone: a gate that only drift can fail needs no scan.
    let judges_evaluations = options.fail_on.iter().any(|f| *f != FailOn::Drift);
    let scan = store.latest_scan(snapshot.id)?;
    if scan.is_none() && judges_evaluations {
        return Err(GateError::NotScanned(snapshot.id.0));
    }
    let needs_baseline = options.fail_on.contains(&FailOn::Drift)
        || options.fail_on.contains(&FailOn::NewNoncompliant);
    let baseline: Option<Baseline> = match store.choose_baseline(options.baseline.as_deref()) {
        Ok(b) => Some(b),
        Err(e) if needs_baseline || options.baseline.is_some() => return Err(e.into()),
        Err(_) => None,
    };

    // The baseline's scan, to tell new findings from old (read once the findings are known).
    let baseline_scan = match baseline.as_ref().filter(|_| scan.is_some()) {
        Some(b) => match store.latest_scan(b.snapshot.id)? {
            Some(s) => Some(s.id),
            None if options.fail_on.contains(&FailOn::NewNoncompliant) => {
                return Err(GateError::BaselineNotScanned {
                    name: b.name.clone(),
                    snapshot: b.snapshot.id.0,
                });
            }
            None => None,
        },
        None => None,
    };

    let rules = match &scan {
        Some(scan) => store.scan_rules(scan.id)?,
        None => Vec::new(),
    };
    let severities: HashMap<&str, Severity> = rules
        .iter()
        .map(|r| (r.rule_id.as_str(), severity_of(&r.severity)))
        .collect();
    let mut counts = GateCounts::default();
    let mut findings = Vec::new();
    // Each rule finding's place in `findings`, by a hash of (rule, resource), for the
    // baseline's verdicts to be joined without a string key per evaluation.
    let mut by_identity: HashMap<u128, usize> = HashMap::new();
    let evaluated = scan.as_ref().map(|scan| scan.id);
    evaluated.map_or(Ok(()), |scan| {
        store.for_each_evaluation(scan, |e| {
            counts.evaluations += 1;
            let compliance = stored_compliance(e.compliance);
            let (code, kind) = match compliance {
                Compliance::NonCompliant => (FindingCode::Noncompliant, FindingKind::Noncompliant),
                Compliance::Error => (FindingCode::RuleError, FindingKind::Error),
                Compliance::Compliant | Compliance::NotApplicable => return Ok(()),
            };
            by_identity.insert(e.identity(), findings.len());
            let resource = ResourceKey {
                account_id: e.account_id.to_string(),
                region: e.region.to_string(),
                resource_type: e.resource_type.to_string(),
                resource_id: e.resource_id.to_string(),
            };
            findings.push(Finding {
                code,
                kind,
                severity: severities
                    .get(e.rule_id)
                    .copied()
                    .unwrap_or(Severity::Medium),
                fingerprint: fingerprint(e.rule_id, &resource),
                rule_id: e.rule_id.to_string(),
                resource,
                // Looked up for findings only: the store's ARNs are a million strings.
                arn: match e.resource {
                    Some(row) => store.arn_of(row)?,
                    None => None,
                },
                message: e.annotation.to_string(),
                new: true,
                baseline_compliance: None,
                waiver: None,
                fails: false,
                changes: Vec::new(),
            });
            Ok(())
        })
    })?;
    if let Some(before) = baseline_scan {
        store.for_each_evaluation(before, |e| {
            if let Some(&at) = by_identity.get(&e.identity()) {
                let f: &mut Finding = &mut findings[at];
                let compliance = stored_compliance(e.compliance);
                f.baseline_compliance = Some(compliance);
                let now = match f.kind {
                    FindingKind::Error => Compliance::Error,
                    _ => Compliance::NonCompliant,
                };
                f.new = compliance != now;
            }
            Ok(())
        })?;
    }
    drop(by_identity);

    // Drift findings are made when drift can fail the gate; `conform drift` reports it always.
    let mut drift_counts = None;
    if let Some(b) = baseline
        .as_ref()
        .filter(|_| options.fail_on.contains(&FailOn::Drift))
    {
        let report = drift::drift(
            store,
            StateRef::new(&b.snapshot, Some(&b.name)),
            StateRef::new(&snapshot, None),
            ignore,
            DriftOptions::default(),
        )?;
        drift_counts = Some(report.counts);
        for r in report.resources {
            let message = match r.kind {
                drift::DriftKind::Added => format!("not in baseline '{}'", b.name),
                drift::DriftKind::Removed => format!("in baseline '{}', gone now", b.name),
                drift::DriftKind::Modified => {
                    let fields: Vec<&str> = r
                        .changes
                        .iter()
                        .take(5)
                        .map(|c| c.pointer.as_str())
                        .collect();
                    let more = r.changes.len().saturating_sub(5);
                    format!(
                        "changed since baseline '{}': {}{}",
                        b.name,
                        fields.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    )
                }
            };
            findings.push(Finding {
                code: match r.kind {
                    drift::DriftKind::Added => FindingCode::DriftAdded,
                    drift::DriftKind::Removed => FindingCode::DriftRemoved,
                    drift::DriftKind::Modified => FindingCode::DriftModified,
                },
                kind: FindingKind::Drift,
                rule_id: DRIFT_RULE.to_string(),
                severity: Severity::Medium,
                fingerprint: fingerprint(DRIFT_RULE, &r.resource),
                resource: r.resource,
                arn: r.arn,
                message: format!("{} {}", r.kind.as_str(), message),
                new: true,
                baseline_compliance: None,
                waiver: None,
                fails: false,
                changes: r.changes,
            });
        }
    }

    let mut statuses: Vec<WaiverStatus> = waivers
        .list
        .iter()
        .map(|w| WaiverStatus {
            waiver: w.clone(),
            expired: w.is_expired(options.today),
            matched: 0,
        })
        .collect();
    for f in &mut findings {
        if let Some(w) = waivers.find(&f.rule_id, &f.resource, f.arn.as_deref()) {
            statuses[w.number - 1].matched += 1;
            f.waiver = Some(WaiverUse {
                waiver: w.number,
                justification: w.justification.clone(),
                expires: w.expires.clone(),
                expired: w.is_expired(options.today),
            });
        }
        let chosen = match f.kind {
            FindingKind::Drift => options.fail_on.contains(&FailOn::Drift),
            FindingKind::Error => options.fail_on.contains(&FailOn::Error),
            FindingKind::Noncompliant => {
                options.fail_on.contains(&FailOn::Noncompliant)
                    || (f.new && options.fail_on.contains(&FailOn::NewNoncompliant))
            }
        };
        let severe = f.kind == FindingKind::Drift || f.severity >= options.min_severity;
        f.fails = chosen && severe && !f.is_waived();

        counts.findings += 1;
        counts.failing += f.fails as u64;
        counts.waived += f.is_waived() as u64;
        counts.expired_waivers += f.waiver.as_ref().is_some_and(|w| w.expired) as u64;
        match f.kind {
            FindingKind::Noncompliant => {
                counts.noncompliant += 1;
                counts.new_noncompliant += f.new as u64;
            }
            FindingKind::Error => counts.errors += 1,
            FindingKind::Drift => counts.drifted += 1,
        }
    }
    findings.sort_by(|a, b| {
        (!a.fails, a.kind, &a.rule_id, &a.resource).cmp(&(
            !b.fails,
            b.kind,
            &b.rule_id,
            &b.resource,
        ))
    });

    Ok(GateReport {
        passed: counts.failing == 0,
        snapshot: StateRef::new(&snapshot, None),
        scan,
        baseline: baseline.map(|b| StateRef::new(&b.snapshot, Some(&b.name))),
        fail_on: options.fail_on.clone(),
        min_severity: options.min_severity,
        counts,
        drift: drift_counts,
        findings,
        waivers: statuses,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_finding_code_is_written_as_its_code_and_none_is_used_twice() {
        let mut seen = BTreeSet::new();
        for code in FindingCode::ALL {
            let written = serde_json::to_value(code).unwrap();
            assert_eq!(written, serde_json::json!(code.as_str()));
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
        }
        // Published codes keep their meaning: scripts reading reports match on them.
        assert_eq!(FindingCode::Noncompliant.as_str(), "CF001");
        assert_eq!(FindingCode::DriftModified.as_str(), "CF103");
    }
}
