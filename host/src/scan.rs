//! A scan: every rule over every live item of a snapshot, each evaluation stored.
//!
//! Each item is turned into the JSON document rules read once, and shared by every rule.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::engine::{Compliance, Rule, RuleHost};
use crate::model::SnapshotId;
use crate::store::{ScanInfo, ScanRule, Store, StoreError, StoredEvaluation};

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
    let recorded: Vec<ScanRule> = rules
        .iter()
        .map(|r| ScanRule {
            rule_id: r.manifest.id.clone(),
            rule_version: r.manifest.version.clone(),
            module_hash: r.module_hash.clone(),
            source: r.source.clone(),
            severity: serde_json::to_value(r.manifest.severity)
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .unwrap_or_default(),
            parameters: (*r.params).clone(),
        })
        .collect();
    let mut summaries: BTreeMap<String, RuleSummary> = recorded
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
    let mut evaluator = host.evaluator(rules);
    let mut items = 0u64;
    let info = store.scan(snapshot, &recorded, |item, sink| {
        items += 1;
        let (account_id, region) = (item.account_id.clone(), item.aws_region.clone());
        let document = Arc::new(serde_json::to_value(&item).expect("an item serialises"));
        for index in 0..rules.len() {
            let Some(evaluation) = evaluator.evaluate(index, &document) else {
                continue;
            };
            let summary = summaries
                .get_mut(&evaluation.rule_id)
                .expect("every rule has a summary");
            match evaluation.compliance {
                Compliance::Compliant => summary.compliant += 1,
                Compliance::NonCompliant => summary.non_compliant += 1,
                Compliance::NotApplicable => summary.not_applicable += 1,
                Compliance::Error => summary.error += 1,
            }
            sink.record(&StoredEvaluation {
                rule_id: evaluation.rule_id,
                account_id: account_id.clone(),
                region: region.clone(),
                resource_type: evaluation.resource_type,
                resource_id: evaluation.resource_id,
                compliance: evaluation.compliance.as_str().to_string(),
                annotation: evaluation.annotation,
            })?;
        }
        Ok(())
    })?;
    Ok(ScanReport {
        scan: info,
        items,
        rules: summaries.into_values().collect(),
    })
}
