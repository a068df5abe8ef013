//! The estate over time: per snapshot, what changed, how far it has drifted from the baseline
//! and how each rule judged it; one resource's versions and verdicts; and compliance changes
//! between scans, like AWS Config's ComplianceChangeNotification.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::drift::{DriftCounts, DriftWalker, FieldChange, IgnoreRules, StateRef, diff};
use crate::model::ResourceRowId;
use crate::model::{ResourceKey, SnapshotId};
use crate::store::{
    Baseline, EvaluationFilter, ResourceInfo, ScanInfo, ScanMode, SnapshotInfo, SnapshotRole,
    Store, StoreError, StoredEvaluation,
};

/// How one rule judged a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleCompliance {
    pub rule_id: String,
    pub compliant: u64,
    pub non_compliant: u64,
    pub not_applicable: u64,
    pub error: u64,
}

/// One snapshot in the estate's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub snapshot: StateRef,
    /// Resources added, modified and deleted by this snapshot (since the previous one).
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
    pub live: u64,
    /// Drift from the baseline, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftCounts>,
    /// The snapshot's latest scan, if it was scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanInfo>,
    pub compliance: Vec<RuleCompliance>,
}

/// Which snapshots a timeline covers (by taken-at time, inclusive).
#[derive(Debug, Clone, Default)]
pub struct Range {
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
}

impl Range {
    /// Whether snapshot `s` was taken in the range.
    pub fn holds(&self, s: &SnapshotInfo) -> bool {
        let Ok(taken) = s.taken_at.parse::<jiff::Timestamp>() else {
            return true;
        };
        self.since.is_none_or(|t| taken >= t) && self.until.is_none_or(|t| taken <= t)
    }
}

/// The observed snapshots in range, oldest first.
fn observed(store: &Store, range: &Range) -> Result<Vec<SnapshotInfo>, StoreError> {
    Ok(store
        .snapshots()?
        .into_iter()
        .filter(|s| s.role == SnapshotRole::Observed && range.holds(s))
        .collect())
}

/// The estate's history: one entry per observed snapshot in `range`.
pub fn estate_timeline(
    store: &Store,
    range: &Range,
    baseline: Option<&Baseline>,
    ignore: &IgnoreRules,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut walker = match baseline {
        Some(b) => Some(DriftWalker::new(store, b.snapshot.id)?),
        None => None,
    };
    let mut entries = Vec::new();
    for s in observed(store, range)? {
        let drift = match &mut walker {
            Some(w) => Some(w.counts(store, s.id, ignore)?),
            None => None,
        };
        let scan = store.latest_scan(s.id)?;
        let mut by_rule: BTreeMap<String, RuleCompliance> = BTreeMap::new();
        if let Some(scan) = &scan {
            for (rule_id, compliance, n) in store.compliance_counts(scan.id)? {
                let entry = by_rule.entry(rule_id.clone()).or_insert(RuleCompliance {
                    rule_id,
                    ..RuleCompliance::default()
                });
                match compliance.as_str() {
                    "COMPLIANT" => entry.compliant += n,
                    "NON_COMPLIANT" => entry.non_compliant += n,
                    "NOT_APPLICABLE" => entry.not_applicable += n,
                    _ => entry.error += n,
                }
            }
        }
        entries.push(TimelineEntry {
            snapshot: StateRef::new(&s, None),
            added: s.counts.added,
            modified: s.counts.modified,
            deleted: s.counts.deleted,
            live: s.counts.live,
            drift,
            scan,
            compliance: by_rule.into_values().collect(),
        });
    }
    Ok(entries)
}

/// One version of a resource and what changed in it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionStep {
    pub number: u32,
    pub status: crate::model::ItemStatus,
    pub first_snapshot: SnapshotId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_snapshot: Option<SnapshotId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_time: Option<String>,
    /// Changed fields since the previous version (none for the first).
    pub changes: Vec<FieldChange>,
    pub ignored: usize,
}

/// A resource in one snapshot: which version, and each rule's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceAt {
    pub snapshot: SnapshotId,
    pub taken_at: String,
    /// The version current then (`None`: the resource did not exist).
    pub version: Option<u32>,
    /// Rule id → compliance, from the snapshot's latest scan.
    pub compliance: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceTimeline {
    pub resource: ResourceInfo,
    pub versions: Vec<VersionStep>,
    pub snapshots: Vec<ResourceAt>,
}

/// One resource's history: each version with its changed fields, and its compliance per rule
/// in each snapshot of `range`.
pub fn resource_timeline(
    store: &Store,
    resource: ResourceInfo,
    range: &Range,
    ignore: &IgnoreRules,
) -> Result<ResourceTimeline, StoreError> {
    let history = store.history(resource.row)?;
    let matcher = ignore.for_type(&resource.key.resource_type);
    let mut versions = Vec::new();
    let mut previous: Option<serde_json::Value> = None;
    for v in &history {
        let (status, mut body) = store.version_body(v.id)?;
        if let serde_json::Value::Object(map) = &mut body {
            map.insert(
                "configurationItemStatus".to_string(),
                serde_json::Value::String(status.as_str().to_string()),
            );
        }
        let d = previous
            .as_ref()
            .map(|p| diff(p, &body, &matcher))
            .unwrap_or_default();
        versions.push(VersionStep {
            number: v.number,
            status: v.status,
            first_snapshot: v.first_snapshot,
            until_snapshot: v.until_snapshot,
            capture_time: v.capture_time.clone(),
            changes: d.changes,
            ignored: d.ignored,
        });
        previous = Some(body);
    }
    let mut snapshots = Vec::new();
    for s in observed(store, range)? {
        let version = history
            .iter()
            .find(|v| v.seen_in.contains(&s.id))
            .filter(|v| !v.status.is_deleted())
            .map(|v| v.number);
        let mut compliance = BTreeMap::new();
        if version.is_some()
            && let Some(scan) = store.latest_scan(s.id)?
        {
            for e in store.evaluations_of(scan.id, &resource.key)? {
                compliance.insert(e.rule_id, e.compliance);
            }
        }
        snapshots.push(ResourceAt {
            snapshot: s.id,
            taken_at: s.taken_at.clone(),
            version,
            compliance,
        });
    }
    Ok(ResourceTimeline {
        resource,
        versions,
        snapshots,
    })
}

/// One (rule, resource) whose compliance changed between two scans.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceChange {
    pub rule_id: String,
    #[serde(flatten)]
    pub resource: ResourceKey,
    /// `None`: not evaluated by the previous scan (new resource, new rule, or no previous scan).
    pub old_compliance: Option<String>,
    /// `None`: no longer evaluated (the resource is gone or out of scope).
    pub new_compliance: Option<String>,
    pub annotation: String,
    /// The previous evaluation's annotation (empty when there was none).
    pub old_annotation: String,
}

/// Every (rule, resource) whose compliance differs between scan `previous` (none: every
/// evaluation of `scan` is new) and `scan`, in rule then resource order.
///
/// A rule that ran as the same instance in two incremental scans can only have changed where
/// a resource's version changed between their snapshots (its verdicts are per version), or
/// where either scan has a row of its own (an ERROR, an estate evaluation): only those are
/// compared, so the cost follows what changed, not the estate. Any other rule (new, removed,
/// its code or parameters changed, or a full scan on either side) is compared whole.
pub fn changes_between(
    store: &Store,
    previous: Option<i64>,
    scan: i64,
) -> Result<Vec<ComplianceChange>, StoreError> {
    let infos = match previous {
        Some(p) => (store.scan_info(p)?, store.scan_info(scan)?),
        None => (None, None),
    };
    let (Some(old), Some(new)) = infos else {
        return merged(store, previous, scan, None);
    };
    let incremental = old.mode == ScanMode::Incremental && new.mode == ScanMode::Incremental;
    let (old_instances, new_instances) =
        (store.scan_instances(old.id)?, store.scan_instances(new.id)?);
    let rules: BTreeSet<&String> = old_instances.keys().chain(new_instances.keys()).collect();
    let mut changed: Option<Vec<VersionChange>> = None;
    let mut changes = Vec::new();
    for rule in rules {
        let instance = match (old_instances.get(rule), new_instances.get(rule)) {
            (Some(Some(a)), Some(Some(b))) if a == b && incremental => *a,
            _ => {
                changes.extend(merged(store, Some(old.id), new.id, Some(rule))?);
                continue;
            }
        };
        if changed.is_none() {
            let mut list = Vec::new();
            for d in store.state_differences(old.snapshot, new.snapshot)? {
                let key = store.resource(d.resource)?.key;
                let version = |v: Option<crate::store::VersionRef>| v.map(|v| v.version.0);
                list.push((key, version(d.before), version(d.after)));
            }
            changed = Some(list);
        }
        // (resource row, key) → (old, new) evaluation: compliance and annotation.
        type Side = Option<(String, String)>;
        let mut pairs: BTreeMap<ResourceKey, (Option<ResourceRowId>, Side, Side)> = BTreeMap::new();
        let (own_old, own_new) = (
            store.own_evaluations(old.id, rule)?,
            store.own_evaluations(new.id, rule)?,
        );
        for (row, e) in own_old {
            let key = key_of(&e);
            pairs
                .entry(key)
                .or_insert((row.map(ResourceRowId), None, None))
                .1 = Some((e.compliance, e.annotation));
        }
        for (row, e) in own_new {
            let key = key_of(&e);
            pairs
                .entry(key)
                .or_insert((row.map(ResourceRowId), None, None))
                .2 = Some((e.compliance, e.annotation));
        }
        let verdict = |version: Option<i64>| -> Result<Side, StoreError> {
            match version {
                Some(v) => store.verdict(instance, v),
                None => Ok(None),
            }
        };
        // What changed version: its verdicts, unless a row of the scan's own stands for it.
        let mut done = BTreeSet::new();
        for (key, before, after) in changed.as_ref().expect("set above") {
            let (own_o, own_n) = match pairs.get(key) {
                Some((_, o, n)) => (o.clone(), n.clone()),
                None => (None, None),
            };
            let o = match own_o {
                Some(o) => Some(o),
                None => verdict(*before)?,
            };
            let n = match own_n {
                Some(n) => Some(n),
                None => verdict(*after)?,
            };
            push_change(&mut changes, rule, key, o, n);
            done.insert(key.clone());
        }
        // Rows of their own on resources whose version did not change: the other side is the
        // other scan's row, or the verdict on that same version.
        for (key, (row, o, n)) in pairs {
            if done.contains(&key) {
                continue;
            }
            let same_version = |snapshot: SnapshotId| -> Result<Option<i64>, StoreError> {
                match row {
                    Some(r) => Ok(store
                        .version_in(r, snapshot, store.role_of(snapshot)?)?
                        .map(|v| v.version.0)),
                    None => Ok(None),
                }
            };
            let o = match o {
                Some(o) => Some(o),
                None => verdict(same_version(old.snapshot)?)?,
            };
            let n = match n {
                Some(n) => Some(n),
                None => verdict(same_version(new.snapshot)?)?,
            };
            push_change(&mut changes, rule, &key, o, n);
        }
    }
    changes.sort_by(|a, b| (&a.rule_id, &a.resource).cmp(&(&b.rule_id, &b.resource)));
    Ok(changes)
}

/// A resource whose version differs between two snapshots: its key, its version before and
/// after (none where it did not exist).
type VersionChange = (ResourceKey, Option<i64>, Option<i64>);

fn key_of(e: &StoredEvaluation) -> ResourceKey {
    ResourceKey {
        account_id: e.account_id.clone(),
        region: e.region.clone(),
        resource_type: e.resource_type.clone(),
        resource_id: e.resource_id.clone(),
    }
}

fn push_change(
    changes: &mut Vec<ComplianceChange>,
    rule: &str,
    key: &ResourceKey,
    old: Option<(String, String)>,
    new: Option<(String, String)>,
) {
    if old.as_ref().map(|o| &o.0) == new.as_ref().map(|n| &n.0) {
        return;
    }
    let (old_compliance, old_annotation) = match old {
        Some((c, a)) => (Some(c), a),
        None => (None, String::new()),
    };
    let (new_compliance, annotation) = match new {
        Some((c, a)) => (Some(c), a),
        None => (None, String::new()),
    };
    changes.push(ComplianceChange {
        rule_id: rule.to_string(),
        resource: key.clone(),
        old_compliance,
        new_compliance,
        annotation,
        old_annotation,
    });
}

/// The changes of [`changes_between`] found by reading both scans whole (of one rule, if
/// given) in listing order and merging them.
fn merged(
    store: &Store,
    previous: Option<i64>,
    scan: i64,
    rule: Option<&str>,
) -> Result<Vec<ComplianceChange>, StoreError> {
    let filter = EvaluationFilter {
        rule_id: rule.map(str::to_string),
        ..Default::default()
    };
    let before = match previous {
        Some(p) => store.evaluations(p, &filter)?,
        None => Vec::new(),
    };
    let after = store.evaluations(scan, &filter)?;
    let mut changes = Vec::new();
    let (mut old, mut new) = (before.into_iter().peekable(), after.into_iter().peekable());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(o), Some(n)) => o.listing_order().cmp(&n.listing_order()),
        };
        let (o, n) = match order {
            std::cmp::Ordering::Less => (old.next(), None),
            std::cmp::Ordering::Greater => (None, new.next()),
            std::cmp::Ordering::Equal => (old.next(), new.next()),
        };
        let any = n.as_ref().or(o.as_ref()).expect("one side");
        let (rule_id, key) = (any.rule_id.clone(), key_of(any));
        push_change(
            &mut changes,
            &rule_id,
            &key,
            o.map(|e| (e.compliance, e.annotation)),
            n.map(|e| (e.compliance, e.annotation)),
        );
    }
    Ok(changes)
}

/// The compliance changes of a snapshot's latest scan since the previous scanned snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceChanges {
    pub snapshot: StateRef,
    pub scan: ScanInfo,
    /// The snapshot and scan compared against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<(StateRef, ScanInfo)>,
    pub changes: Vec<ComplianceChange>,
}

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("snapshot {0} has not been scanned; run `conform scan --snapshot {0}` first")]
    NotScanned(i64),
}

/// What changed in compliance with `snapshot`'s latest scan, against the latest scan of the
/// closest earlier observed snapshot that was scanned.
pub fn compliance_changes(
    store: &Store,
    snapshot: &SnapshotInfo,
) -> Result<ComplianceChanges, TimelineError> {
    let scan = store
        .latest_scan(snapshot.id)?
        .ok_or(TimelineError::NotScanned(snapshot.id.0))?;
    let mut previous = None;
    for s in observed(store, &Range::default())?.into_iter().rev() {
        if s.id >= snapshot.id {
            continue;
        }
        if let Some(p) = store.latest_scan(s.id)? {
            previous = Some((StateRef::new(&s, None), p));
            break;
        }
    }
    let changes = changes_between(store, previous.as_ref().map(|(_, p)| p.id), scan.id)?;
    Ok(ComplianceChanges {
        snapshot: StateRef::new(snapshot, None),
        scan,
        previous,
        changes,
    })
}
