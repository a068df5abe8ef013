//! Drift: what differs between two states of an estate, resource by resource and field by field.
//!
//! The store says which resources differ by comparing content hashes (see
//! `store::compare`); only those resources' bodies are read and diffed ([`diff`]). Capture
//! metadata (capture time, state id, MD5 hash) is not part of a version's content, so it never
//! shows as drift; [`IgnoreRules`] leave out fields that change by themselves.

mod diff;
mod ignore;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

pub use diff::{ChangeKind, Diff, FieldChange, PatchOp, diff, push_token};
pub use ignore::{BadPattern, DEFAULT_IGNORES, IgnoreRules, STATUS_POINTER};

use crate::model::{ResourceKey, ResourceRowId, SnapshotId, VersionId};
use crate::store::{SnapshotInfo, SnapshotRole, StateDifference, Store, StoreError, VersionRef};

/// One side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct StateRef {
    pub snapshot: SnapshotId,
    pub label: String,
    pub taken_at: String,
    pub role: SnapshotRole,
    /// The baseline this state is, when it was chosen as one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

impl StateRef {
    pub fn new(info: &SnapshotInfo, baseline: Option<&str>) -> StateRef {
        StateRef {
            snapshot: info.id,
            label: info.label.clone(),
            taken_at: info.taken_at.clone(),
            role: info.role,
            baseline: baseline.map(str::to_owned),
        }
    }
}

/// How a resource differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    /// Present now, absent (or deleted) before.
    Added,
    /// Present before, absent (or deleted) now.
    Removed,
    /// Present in both, with fields that differ.
    Modified,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Added => "added",
            DriftKind::Removed => "removed",
            DriftKind::Modified => "modified",
        }
    }
}

/// One drifted resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDrift {
    pub kind: DriftKind,
    #[serde(flatten)]
    pub resource: ResourceKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Every changed field (modified resources).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// The RFC 6902 patch from the old document to the new one. For an added resource it adds
    /// the whole document; for a removed one it tests the old document and replaces it by null.
    #[serde(skip)]
    pub patch: Vec<PatchOp>,
    /// Changed fields left out by ignore patterns.
    #[serde(skip_serializing_if = "is_zero")]
    pub ignored: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Counts of a comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DriftCounts {
    /// Resources present in either state.
    pub compared: u64,
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    /// Resources whose every change was ignored: counted as unchanged.
    pub ignored_only: u64,
    pub unchanged: u64,
}

impl DriftCounts {
    pub fn drifted(&self) -> u64 {
        self.added + self.removed + self.modified
    }
}

/// The drift from one state to another.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub before: StateRef,
    pub after: StateRef,
    #[serde(flatten)]
    pub counts: DriftCounts,
    /// Drifted resources, in identity order.
    pub resources: Vec<ResourceDrift>,
}

/// What to read beyond the changed fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct DriftOptions {
    /// Read added and removed resources' documents, for whole-document patches.
    pub documents: bool,
}

/// The drift from `before` to `after`.
pub fn drift(
    store: &Store,
    before: StateRef,
    after: StateRef,
    ignore: &IgnoreRules,
    options: DriftOptions,
) -> Result<DriftReport, StoreError> {
    let differences = store.state_differences(before.snapshot, after.snapshot)?;
    let mut counts = DriftCounts::default();
    let mut resources = Vec::new();
    for difference in differences {
        let Some((kind, resource)) = classify(&difference) else {
            continue;
        };
        let info = store.resource(difference.resource)?;
        let mut drift = ResourceDrift {
            kind,
            resource: info.key,
            arn: info.arn,
            resource_name: info.resource_name,
            changes: Vec::new(),
            patch: Vec::new(),
            ignored: 0,
        };
        match kind {
            DriftKind::Modified => {
                let (b, a) = resource;
                let d = compare_versions(store, b, a, ignore, &drift.resource.resource_type)?;
                if d.changes.is_empty() {
                    counts.ignored_only += 1;
                    continue;
                }
                drift.changes = d.changes;
                drift.patch = d.patch;
                drift.ignored = d.ignored;
                counts.modified += 1;
            }
            DriftKind::Added => {
                counts.added += 1;
                if options.documents {
                    let doc = document(store, resource.1.expect("added has an after"))?;
                    drift.patch = vec![PatchOp::Add {
                        path: String::new(),
                        value: doc,
                    }];
                }
            }
            DriftKind::Removed => {
                counts.removed += 1;
                if options.documents {
                    let doc = document(store, resource.0.expect("removed has a before"))?;
                    drift.patch = vec![
                        PatchOp::Test {
                            path: String::new(),
                            value: doc,
                        },
                        PatchOp::Replace {
                            path: String::new(),
                            value: Value::Null,
                        },
                    ];
                }
            }
        }
        resources.push(drift);
    }
    resources.sort_by(|a, b| a.resource.cmp(&b.resource));
    let live_before = live_count(store, &before)?;
    counts.compared = live_before + counts.added;
    counts.unchanged = counts.compared - counts.drifted();
    Ok(DriftReport {
        before,
        after,
        counts,
        resources,
    })
}

/// A resource's live versions in the two states compared (before, after).
type VersionPair = (Option<VersionId>, Option<VersionId>);

/// Whether a difference is drift, and the versions to compare.
fn classify(d: &StateDifference) -> Option<(DriftKind, VersionPair)> {
    let live = |v: Option<VersionRef>| v.filter(VersionRef::is_live).map(|v| v.version);
    match (live(d.before), live(d.after)) {
        (None, None) => None,
        (None, Some(a)) => Some((DriftKind::Added, (None, Some(a)))),
        (Some(b), None) => Some((DriftKind::Removed, (Some(b), None))),
        (Some(b), Some(a)) => Some((DriftKind::Modified, (Some(b), Some(a)))),
    }
}

/// A version as the document drift compares: the content fields and the item status.
fn document(store: &Store, version: VersionId) -> Result<Value, StoreError> {
    let (status, mut body) = store.version_body(version)?;
    if let Value::Object(map) = &mut body {
        map.insert(
            "configurationItemStatus".to_string(),
            Value::String(status.as_str().to_string()),
        );
    }
    Ok(body)
}

fn compare_versions(
    store: &Store,
    before: Option<VersionId>,
    after: Option<VersionId>,
    ignore: &IgnoreRules,
    resource_type: &str,
) -> Result<Diff, StoreError> {
    let (Some(before), Some(after)) = (before, after) else {
        return Ok(Diff::default());
    };
    let (b, a) = (document(store, before)?, document(store, after)?);
    Ok(diff(&b, &a, &ignore.for_type(resource_type)))
}

/// Live resources in a state.
fn live_count(store: &Store, state: &StateRef) -> Result<u64, StoreError> {
    Ok(store
        .snapshot(crate::store::SnapshotSelector::Id(state.snapshot))?
        .counts
        .live)
}

/// A resource whose drift from the baseline changed between two states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftStep {
    pub resource: ResourceRowId,
    pub before: Option<DriftKind>,
    pub after: Option<DriftKind>,
}

/// Counts drift from a baseline for a series of states in order (the timeline), in time that
/// follows what changed rather than the size of the estate: the first state is compared with
/// the baseline in full, and each later one only for the resources that changed since the
/// state before it. Each distinct pair of versions is diffed once.
#[derive(Debug)]
pub struct DriftWalker {
    baseline: SnapshotId,
    role: SnapshotRole,
    /// The state the drifts are of.
    at: Option<SnapshotId>,
    /// Resources drifted (or changed only in ignored fields) at `at`.
    drifts: HashMap<ResourceRowId, PairDrift>,
    /// (baseline version, version) → whether it is drift once ignores are applied.
    pairs: HashMap<(VersionId, VersionId), bool>,
    /// Resource types, by row, for ignore patterns.
    types: HashMap<ResourceRowId, std::sync::Arc<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairDrift {
    Drift(DriftKind),
    IgnoredOnly,
}

impl DriftWalker {
    pub fn new(store: &Store, baseline: SnapshotId) -> Result<DriftWalker, StoreError> {
        Ok(DriftWalker {
            baseline,
            role: store.role_of(baseline)?,
            at: None,
            drifts: HashMap::new(),
            pairs: HashMap::new(),
            types: store.resource_types()?,
        })
    }

    /// The baseline walked against.
    pub fn baseline(&self) -> SnapshotId {
        self.baseline
    }

    /// Moves the walk to `state` and returns every resource whose drift it changed: (row,
    /// drift before, drift after), `None` where it matched the baseline (or differed only in
    /// ignored fields). The first call compares `state` with the baseline whole and reports
    /// nothing; each later one reads only what changed since the state before.
    pub fn advance(
        &mut self,
        store: &Store,
        state: SnapshotId,
        ignore: &IgnoreRules,
    ) -> Result<Vec<DriftStep>, StoreError> {
        let mut steps = Vec::new();
        match self.at {
            None => {
                for d in store.state_differences(self.baseline, state)? {
                    self.judge(store, d, ignore)?;
                }
            }
            Some(previous) => {
                let kind = |d: Option<&PairDrift>| match d {
                    Some(PairDrift::Drift(k)) => Some(*k),
                    _ => None,
                };
                for step in store.state_differences(previous, state)? {
                    let before = store.version_in(step.resource, self.baseline, self.role)?;
                    let d = StateDifference {
                        resource: step.resource,
                        before,
                        after: step.after,
                    };
                    let was = kind(self.drifts.get(&d.resource));
                    self.judge(store, d, ignore)?;
                    let now = kind(self.drifts.get(&step.resource));
                    if was != now {
                        steps.push(DriftStep {
                            resource: step.resource,
                            before: was,
                            after: now,
                        });
                    }
                }
            }
        }
        self.at = Some(state);
        Ok(steps)
    }

    /// Drift counts of `state` against the baseline. States should come in order.
    pub fn counts(
        &mut self,
        store: &Store,
        state: SnapshotId,
        ignore: &IgnoreRules,
    ) -> Result<DriftCounts, StoreError> {
        self.advance(store, state, ignore)?;
        let mut counts = DriftCounts::default();
        for drift in self.drifts.values() {
            match drift {
                PairDrift::Drift(DriftKind::Added) => counts.added += 1,
                PairDrift::Drift(DriftKind::Removed) => counts.removed += 1,
                PairDrift::Drift(DriftKind::Modified) => counts.modified += 1,
                PairDrift::IgnoredOnly => counts.ignored_only += 1,
            }
        }
        let base = store.snapshot(crate::store::SnapshotSelector::Id(self.baseline))?;
        counts.compared = base.counts.live + counts.added;
        counts.unchanged = counts.compared - counts.drifted();
        Ok(counts)
    }

    /// Records what `d` (baseline version → current version of one resource) makes it.
    fn judge(
        &mut self,
        store: &Store,
        d: StateDifference,
        ignore: &IgnoreRules,
    ) -> Result<(), StoreError> {
        let same = match (d.before, d.after) {
            (Some(b), Some(a)) => b.content_hash == a.content_hash && b.status == a.status,
            (None, None) => true,
            _ => false,
        };
        let drift = if same {
            None
        } else {
            match classify(&d) {
                None => None,
                Some((DriftKind::Modified, (Some(b), Some(a)))) => {
                    let drifted = match self.pairs.get(&(b, a)) {
                        Some(v) => *v,
                        None => {
                            let kind = match self.types.get(&d.resource) {
                                Some(k) => k.clone(),
                                None => {
                                    // A resource new since the walk began.
                                    let k: std::sync::Arc<str> =
                                        store.resource(d.resource)?.key.resource_type.into();
                                    self.types.insert(d.resource, k.clone());
                                    k
                                }
                            };
                            let same_status =
                                d.before.map(|v| v.status) == d.after.map(|v| v.status);
                            // Same status, different content, nothing ignored in the body: a
                            // field that counts changed, and no diff is needed to know it.
                            let v = if same_status && !ignore.reaches_body(&kind) {
                                true
                            } else {
                                let diff =
                                    compare_versions(store, Some(b), Some(a), ignore, &kind)?;
                                !diff.changes.is_empty()
                            };
                            self.pairs.insert((b, a), v);
                            v
                        }
                    };
                    Some(if drifted {
                        PairDrift::Drift(DriftKind::Modified)
                    } else {
                        PairDrift::IgnoredOnly
                    })
                }
                Some((kind, _)) => Some(PairDrift::Drift(kind)),
            }
        };
        match drift {
            Some(v) => self.drifts.insert(d.resource, v),
            None => self.drifts.remove(&d.resource),
        };
        Ok(())
    }
}
