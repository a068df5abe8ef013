//! An incremental scan that starts from an earlier one (its base), so that a rescan after a
//! little churn costs what changed, not what is stored.
//!
//! The base is a recent incremental scan that ran every rule instance of this one and kept its
//! counts (schema 9). Between the base's snapshot and this one, only the resources whose
//! version differs can be judged differently (`Store::version_differences`, which reads by
//! version ranges, not the whole state). So, per resource rule:
//!
//! - this scan's counts are the base's, less what the old versions of the changed resources
//!   counted there, less the base's ERRORs;
//! - plus what the new versions count now and what the ERRORs' resources count now, each taken
//!   from a stored verdict when the instance has one and evaluated otherwise.
//!
//! An estate rule runs again for an account only where a resource of a type it covers changed
//! there (or the account lost a resource, which may be its last, or the base found an ERROR);
//! for every other account the base's evaluations are copied.
//!
//! Everything the readers show of an incremental scan (its verdicts on its snapshot's versions
//! and its own rows) is then exactly what a walk of the whole state would have stored. When the
//! two states differ in much of the estate, walking is no slower and the scan walks instead.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::{EstateItem, Run, covers_type};
use crate::engine::RuleKind;
use crate::engine::document::ItemDocument;
use crate::model::{Compliance, ResourceRowId, SnapshotId};
use crate::store::{
    Evaluated, EvaluationSink, OwnRow, ScanMode, SnapshotRole, SnapshotSelector, Store, StoreError,
};

/// Differences beyond which the scan walks the whole state: this many, and more than half
/// the live resources.
const MOST_DIFFERENCES: usize = 4096;

/// Which rules to run on a version read again.
enum Wanted {
    /// Every resource rule that covers its type: the version is new since the base.
    All,
    /// Only these: the base found an ERROR with them on this (unchanged) version.
    Rules(Vec<usize>),
}

/// Scans `snapshot` from a base, if there is one worth starting from: then the evaluations are
/// recorded through `sink`, `run`'s summaries hold the scan's counts, and the base's id is
/// returned. `None` when the scan must walk the state instead (nothing recorded).
pub(super) fn from_base(
    store: &Store,
    sink: &mut EvaluationSink<'_>,
    run: &mut Run<'_>,
    snapshot: SnapshotId,
) -> Result<Option<i64>, StoreError> {
    if sink.mode() != ScanMode::Incremental {
        return Ok(None);
    }
    let rules = run.rules;
    let instances: Vec<i64> = (0..rules.len()).map(|i| sink.instance(i)).collect();
    let info = store.snapshot(SnapshotSelector::Id(snapshot))?;
    if info.role != SnapshotRole::Observed {
        return Ok(None);
    }
    let Some(base) = store.scan_base(sink.scan_id(), &instances)? else {
        return Ok(None);
    };
    let differences = store.version_differences(base.snapshot, snapshot)?;
    if differences.len() > MOST_DIFFERENCES && differences.len() as u64 > info.counts.live / 2 {
        return Ok(None);
    }
    let rule_of: HashMap<i64, usize> = base
        .rules
        .iter()
        .enumerate()
        .map(|(index, (number, _))| (*number, index))
        .collect();

    // The base's counts, less what is judged again. Counted apart first: should the base's
    // counts not hold what its rows say (a store edited by hand), the scan walks instead.
    let mut counts: Vec<[i64; 4]> = base
        .rules
        .iter()
        .zip(rules)
        .map(|((_, counts), rule)| match rule.manifest.kind {
            RuleKind::Resource => counts.map(|n| n as i64),
            RuleKind::Estate => [0; 4],
        })
        .collect();
    let mut errors: HashSet<(usize, i64)> = HashSet::new();
    let mut estate_rows: HashMap<usize, Vec<OwnRow>> = HashMap::new();
    for row in store.own_rows(base.id)? {
        let Some(&index) = rule_of.get(&row.rule) else {
            continue;
        };
        match (rules[index].manifest.kind, &row.resource) {
            (RuleKind::Estate, _) => estate_rows.entry(index).or_default().push(row),
            (RuleKind::Resource, Evaluated::Stored(resource)) => {
                if row.compliance == Compliance::Error && errors.insert((index, *resource)) {
                    counts[index][3] -= 1;
                }
            }
            (RuleKind::Resource, Evaluated::Named(_)) => {}
        }
    }
    let mut wanted: HashMap<i64, Wanted> = HashMap::new();
    let mut order: Vec<i64> = Vec::new();
    let mut changed: HashSet<i64> = HashSet::new();
    // Per account, the types that changed there; and the accounts that lost a resource.
    let mut changed_types: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut lost: BTreeSet<String> = BTreeSet::new();
    let mut keys = store.resources(&differences.iter().map(|d| d.resource).collect::<Vec<_>>())?;
    // Per resource rule, the old versions whose verdicts leave the counts.
    let mut old: Vec<Vec<i64>> = vec![Vec::new(); rules.len()];
    // Per resource rule, the new versions it may run on.
    let mut new: Vec<Vec<i64>> = vec![Vec::new(); rules.len()];
    for difference in &differences {
        let ResourceRowId(resource) = difference.resource;
        changed.insert(resource);
        let key = keys
            .remove(&difference.resource)
            .ok_or_else(|| StoreError::Corrupt(format!("no resource row {resource}")))?
            .key;
        if let Some(before) = difference.before.filter(|v| v.is_live()) {
            for (index, rule) in rules.iter().enumerate() {
                if rule.manifest.kind == RuleKind::Resource
                    && covers_type(rule, &key.resource_type)
                    && !errors.contains(&(index, resource))
                {
                    old[index].push(before.version.0);
                }
            }
        }
        match difference.after.filter(|v| v.is_live()) {
            Some(after) => {
                wanted.insert(after.version.0, Wanted::All);
                order.push(after.version.0);
                for (index, rule) in rules.iter().enumerate() {
                    if rule.manifest.kind == RuleKind::Resource
                        && covers_type(rule, &key.resource_type)
                    {
                        new[index].push(after.version.0);
                    }
                }
            }
            None => {
                lost.insert(key.account_id.clone());
            }
        }
        changed_types
            .entry(key.account_id)
            .or_default()
            .insert(key.resource_type);
    }
    for (index, versions) in old.iter().enumerate() {
        for code in store
            .verdict_codes(instances[index], versions)?
            .into_values()
        {
            if let code @ 1..=3 = code {
                counts[index][code as usize - 1] -= 1;
            }
        }
    }
    if counts.iter().flatten().any(|n| *n < 0) {
        tracing::warn!(
            base = base.id,
            "the base scan's counts do not match its rows: walking the whole state"
        );
        return Ok(None);
    }
    // The base's ERRORs on resources that did not change: judged again on the same version.
    let mut again: Vec<&(usize, i64)> = errors
        .iter()
        .filter(|(_, r)| !changed.contains(r))
        .collect();
    again.sort();
    for &(index, resource) in again {
        let found = store.version_in(ResourceRowId(resource), snapshot, SnapshotRole::Observed)?;
        if let Some(version) = found.map(|v| v.version.0) {
            match wanted.entry(version).or_insert_with(|| {
                order.push(version);
                Wanted::Rules(Vec::new())
            }) {
                Wanted::Rules(list) => list.push(index),
                Wanted::All => {}
            }
        }
    }

    for (summary, [compliant, non_compliant, not_applicable, error]) in
        run.summaries.iter_mut().zip(&counts)
    {
        summary.compliant = *compliant as u64;
        summary.non_compliant = *non_compliant as u64;
        summary.not_applicable = *not_applicable as u64;
        summary.error = *error as u64;
    }
    // What the instances already hold on the versions read: those are counted, not evaluated.
    // (ERRORs judged again are few: those are looked up one by one.)
    let known: Vec<HashMap<i64, u8>> = instances
        .iter()
        .zip(&new)
        .map(|(instance, versions)| store.verdict_codes(*instance, versions))
        .collect::<Result<_, _>>()?;
    store.for_each_version(&order, |item| {
        let (resource, version) = (item.resource, item.version);
        let document = Arc::new(ItemDocument::from_stored(item)?);
        for (index, rule) in rules.iter().enumerate() {
            let runs = match &wanted[&version] {
                Wanted::All => {
                    rule.manifest.kind == RuleKind::Resource
                        && covers_type(rule, document.resource_type())
                }
                Wanted::Rules(list) => list.contains(&index),
            };
            if !runs {
                continue;
            }
            let code = match &wanted[&version] {
                Wanted::All => known[index].get(&version).copied(),
                Wanted::Rules(_) => store.verdict_code(instances[index], version)?,
            };
            if let Some(code) = code {
                run.count(index, code);
                continue;
            }
            match run.evaluator.evaluate(index, &document) {
                Some(verdict) => run.record(
                    index,
                    Evaluated::Stored(resource),
                    Some(version),
                    verdict.compliance,
                    &verdict.annotation,
                    sink,
                )?,
                None => sink.out_of_scope(index, version)?,
            }
        }
        Ok(())
    })?;

    for (index, rule) in rules.iter().enumerate() {
        if rule.manifest.kind != RuleKind::Estate {
            continue;
        }
        let types = &rule.manifest.scope.resource_types;
        let mut by_account: BTreeMap<String, Vec<OwnRow>> = BTreeMap::new();
        for row in estate_rows.remove(&index).unwrap_or_default() {
            by_account
                .entry(row.account_id.clone())
                .or_default()
                .push(row);
        }
        let mut rerun: BTreeSet<String> = lost.clone();
        for (account, changed) in &changed_types {
            if types.is_empty() || changed.iter().any(|t| types.contains(t)) {
                rerun.insert(account.clone());
            }
        }
        for (account, rows) in &by_account {
            if rows.iter().any(|r| r.compliance == Compliance::Error) {
                rerun.insert(account.clone());
            }
        }
        for (account, rows) in by_account {
            if rerun.contains(&account) {
                continue;
            }
            for row in rows {
                run.copy(index, row.resource, row.compliance, &row.annotation, sink)?;
            }
        }
        for account in rerun {
            let mut items = Vec::new();
            for item in store.stored_of_account(snapshot, &account, types)? {
                let resource = item.resource;
                let document = Arc::new(ItemDocument::from_stored(item)?);
                if rule.manifest.scope.includes_item(&document) {
                    items.push(EstateItem {
                        rule: index,
                        resource,
                        document,
                    });
                }
            }
            if items.is_empty() && !store.account_is_live(snapshot, &account)? {
                continue;
            }
            run.evaluate_estate(index, &account, items, sink)?;
        }
    }
    for summary in &mut run.summaries {
        let total =
            summary.compliant + summary.non_compliant + summary.not_applicable + summary.error;
        summary.reused = total - summary.evaluated;
    }
    run.seen.items = info.counts.live;
    tracing::debug!(
        base = base.id,
        differences = differences.len(),
        read = order.len(),
        "scanned from a base"
    );
    Ok(Some(base.id))
}
