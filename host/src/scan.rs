//! A scan: every rule over every live item of a snapshot, each evaluation stored.
//!
//! Each item is turned into the JSON document rules read once, and shared by every rule.
//! Resource rules run as items stream by; estate rules run at the end, once per account, over
//! the in-scope items gathered on the way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::engine::{Compliance, Evaluation, Evaluator, Rule, RuleHost, RuleKind};
use crate::model::{ResourceKey, SnapshotId};
use crate::store::{
    EvaluationSink, ScanInfo, ScanRule, ScanVisitor, Store, StoreError, StoredEvaluation,
};

/// Counts per rule, for the summary a scan prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleSummary {
    pub rule_id: String,
    pub version: String,
    pub severity: String,
    pub compliant: u64,
    pub non_compliant: u64,
    pub not_applicable: u64,
    pub error: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub scan: ScanInfo,
    pub items: u64,
    pub rules: Vec<RuleSummary>,
}

impl ScanReport {
    pub fn errors(&self) -> u64 {
        self.rules.iter().map(|r| r.error).sum()
    }

    pub fn non_compliant(&self) -> u64 {
        self.rules.iter().map(|r| r.non_compliant).sum()
    }
}

/// Evaluates `rules` over `snapshot` and stores the evaluations as one scan.
pub fn scan(
    store: &Store,
    host: &RuleHost,
    rules: &[Rule],
    snapshot: SnapshotId,
) -> Result<ScanReport, StoreError> {
    let recorded: Vec<ScanRule> = rules.iter().map(scan_rule).collect();
    let summaries = recorded
        .iter()
        .map(|r| {
            let summary = RuleSummary {
                rule_id: r.rule_id.clone(),
                version: r.rule_version.clone(),
                severity: r.severity.clone(),
                ..RuleSummary::default()
            };
            (r.rule_id.clone(), summary)
        })
        .collect();
    let mut run = Run {
        rules,
        evaluator: host.evaluator(rules),
        summaries,
        items: 0,
        accounts: BTreeSet::new(),
        estate_items: HashMap::new(),
    };
    let info = store.scan(snapshot, &recorded, &mut run)?;
    Ok(ScanReport {
        scan: info,
        items: run.items,
        rules: run.summaries.into_values().collect(),
    })
}

fn scan_rule(rule: &Rule) -> ScanRule {
    ScanRule {
        rule_id: rule.manifest.id.clone(),
        rule_version: rule.manifest.version.clone(),
        module_hash: rule.module_hash.clone(),
        source: rule.source.clone(),
        severity: serde_json::to_value(rule.manifest.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        parameters: (*rule.params).clone(),
        title: rule.manifest.title.clone(),
        description: rule.manifest.description.clone(),
    }
}

/// The state of one scan as items stream through it.
struct Run<'r> {
    rules: &'r [Rule],
    evaluator: Evaluator<'r>,
    summaries: BTreeMap<String, RuleSummary>,
    items: u64,
    /// Every account seen: estate rules evaluate each, even one with no in-scope resource.
    accounts: BTreeSet<String>,
    /// In-scope items per (estate rule, account).
    estate_items: HashMap<(usize, String), Vec<Arc<Value>>>,
}

impl Run<'_> {
    fn record(
        &mut self,
        e: Evaluation,
        account: &str,
        region: &str,
        sink: &mut EvaluationSink<'_>,
    ) -> Result<(), StoreError> {
        let summary = self
            .summaries
            .get_mut(&e.rule_id)
            .expect("every rule has a summary");
        match e.compliance {
            Compliance::Compliant => summary.compliant += 1,
            Compliance::NonCompliant => summary.non_compliant += 1,
            Compliance::NotApplicable => summary.not_applicable += 1,
            Compliance::Error => summary.error += 1,
        }
        sink.record(&StoredEvaluation {
            rule_id: e.rule_id,
            account_id: account.to_string(),
            region: region.to_string(),
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            compliance: e.compliance.as_str().to_string(),
            annotation: e.annotation,
        })
    }
}

impl ScanVisitor for Run<'_> {
    fn item(
        &mut self,
        key: &ResourceKey,
        document: Value,
        sink: &mut EvaluationSink<'_>,
    ) -> Result<(), StoreError> {
        self.items += 1;
        let (account, region) = (key.account_id.clone(), key.region.clone());
        let document = Arc::new(document);
        self.accounts.insert(account.clone());
        for index in 0..self.rules.len() {
            let manifest = &self.rules[index].manifest;
            if manifest.kind == RuleKind::Estate {
                if manifest
                    .scope
                    .includes(&key.resource_type, document.get("tags"))
                {
                    self.estate_items
                        .entry((index, account.clone()))
                        .or_default()
                        .push(document.clone());
                }
                continue;
            }
            if let Some(evaluation) = self.evaluator.evaluate(index, &document) {
                self.record(evaluation, &account, &region, sink)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut EvaluationSink<'_>) -> Result<(), StoreError> {
        let accounts: Vec<String> = self.accounts.iter().cloned().collect();
        for index in 0..self.rules.len() {
            if self.rules[index].manifest.kind != RuleKind::Estate {
                continue;
            }
            for account in &accounts {
                let items = Arc::new(
                    self.estate_items
                        .remove(&(index, account.clone()))
                        .unwrap_or_default(),
                );
                for evaluation in self
                    .evaluator
                    .evaluate_estate(index, account, items.clone())
                {
                    // An evaluation of one of the items takes that item's region.
                    let region = items
                        .iter()
                        .find(|i| {
                            i.get("resourceType").and_then(Value::as_str)
                                == Some(&evaluation.resource_type)
                                && i.get("resourceId").and_then(Value::as_str)
                                    == Some(&evaluation.resource_id)
                        })
                        .and_then(|i| i.get("awsRegion").and_then(Value::as_str))
                        .unwrap_or_default()
                        .to_string();
                    self.record(evaluation, account, &region, sink)?;
                }
            }
        }
        Ok(())
    }
}
