//! A scan: every rule over every live item of a snapshot, each evaluation stored.
//!
//! Each item is turned into the JSON document rules read once, and shared by every rule.
//! Resource rules run as items stream by, on worker threads (one per core); estate rules run at
//! the end, once per account, over the in-scope items gathered on the way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, mpsc};

use serde::Serialize;
use serde_json::Value;

use crate::engine::{Compliance, Evaluation, Evaluator, Rule, RuleHost, RuleKind};
use crate::model::SnapshotId;
use crate::store::{
    EvaluationSink, ScanInfo, ScanRule, ScanVisitor, Store, StoreError, StoredEvaluation,
    StoredItem,
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

/// Evaluates `rules` over `snapshot` and stores the evaluations as one scan, on every core.
pub fn scan(
    store: &Store,
    host: &RuleHost,
    rules: &[Rule],
    snapshot: SnapshotId,
) -> Result<ScanReport, StoreError> {
    let jobs = std::thread::available_parallelism().map_or(1, usize::from);
    scan_with_jobs(store, host, rules, snapshot, jobs)
}

/// Items per message between the reading thread and the workers: large enough that channel
/// traffic is noise, small enough that every worker has work.
const BATCH: usize = 256;

/// As [`scan`], with `jobs` worker threads.
///
/// The calling thread reads the snapshot from SQLite and stores evaluations (one connection,
/// one transaction); `jobs` workers each own an evaluator (one instance per rule) and turn
/// batches of stored items into documents and evaluations. Estate rules run at the end, on the
/// calling thread, over the in-scope documents the workers sent back.
pub fn scan_with_jobs(
    store: &Store,
    host: &RuleHost,
    rules: &[Rule],
    snapshot: SnapshotId,
    jobs: usize,
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
    std::thread::scope(|threads| {
        let (work_tx, work_rx) = mpsc::sync_channel::<Vec<StoredItem>>(jobs.max(1) * 4);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = mpsc::channel::<Result<Done, StoreError>>();
        for _ in 0..jobs.max(1) {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            threads.spawn(move || work(host, rules, &work_rx, &done_tx));
        }
        drop(done_tx);
        let mut run = Run {
            rules,
            evaluator: host.evaluator(rules),
            summaries,
            items: 0,
            accounts: BTreeSet::new(),
            estate_items: HashMap::new(),
            batch: Vec::with_capacity(BATCH),
            work: Some(work_tx),
            done: done_rx,
        };
        let info = store.scan(snapshot, &recorded, &mut run);
        // On an error the work channel closes with `run`, and the workers end.
        let items = run.items;
        let summaries = std::mem::take(&mut run.summaries);
        drop(run);
        Ok(ScanReport {
            scan: info?,
            items,
            rules: summaries.into_values().collect(),
        })
    })
}

/// What a worker sends back for a batch.
#[derive(Default)]
struct Done {
    /// (account, region, evaluation)
    evaluations: Vec<(String, String, Evaluation)>,
    /// In-scope documents for estate rules: (rule index, account, document).
    estate: Vec<(usize, String, Arc<Value>)>,
}

/// A worker: batches of stored items in, evaluations out, until the work channel closes.
fn work(
    host: &RuleHost,
    rules: &[Rule],
    work: &Mutex<mpsc::Receiver<Vec<StoredItem>>>,
    done: &mpsc::Sender<Result<Done, StoreError>>,
) {
    let mut evaluator = host.evaluator(rules);
    loop {
        let batch = match work.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(batch) = batch else { return };
        let result = evaluate_batch(&mut evaluator, rules, batch);
        if done.send(result).is_err() {
            return;
        }
    }
}

fn evaluate_batch(
    evaluator: &mut Evaluator<'_>,
    rules: &[Rule],
    batch: Vec<StoredItem>,
) -> Result<Done, StoreError> {
    let mut out = Done::default();
    for item in batch {
        let (key, _, document) = item.into_document()?;
        let document = Arc::new(document);
        for (index, rule) in rules.iter().enumerate() {
            if rule.manifest.kind == RuleKind::Estate {
                if rule
                    .manifest
                    .scope
                    .includes(&key.resource_type, document.get("tags"))
                {
                    out.estate
                        .push((index, key.account_id.clone(), document.clone()));
                }
                continue;
            }
            if let Some(evaluation) = evaluator.evaluate(index, &document) {
                out.evaluations
                    .push((key.account_id.clone(), key.region.clone(), evaluation));
            }
        }
    }
    Ok(out)
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

/// The state of one scan as items stream through it, on the calling thread.
struct Run<'r> {
    rules: &'r [Rule],
    /// For estate rules, which run here at the end.
    evaluator: Evaluator<'r>,
    summaries: BTreeMap<String, RuleSummary>,
    items: u64,
    /// Every account seen: estate rules evaluate each, even one with no in-scope resource.
    accounts: BTreeSet<String>,
    /// In-scope items per (estate rule, account).
    estate_items: HashMap<(usize, String), Vec<Arc<Value>>>,
    /// Items read and not yet sent to the workers.
    batch: Vec<StoredItem>,
    /// To the workers; `None` once closed.
    work: Option<mpsc::SyncSender<Vec<StoredItem>>>,
    done: mpsc::Receiver<Result<Done, StoreError>>,
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
        sink.record(StoredEvaluation {
            rule_id: e.rule_id,
            account_id: account.to_string(),
            region: region.to_string(),
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            compliance: e.compliance.as_str().to_string(),
            annotation: e.annotation,
        })
    }

    /// Stores what a worker sent back.
    fn absorb(&mut self, done: Done, sink: &mut EvaluationSink<'_>) -> Result<(), StoreError> {
        for (account, region, evaluation) in done.evaluations {
            self.record(evaluation, &account, &region, sink)?;
        }
        for (index, account, document) in done.estate {
            self.estate_items
                .entry((index, account))
                .or_default()
                .push(document);
        }
        Ok(())
    }

    fn send_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let work = self
            .work
            .as_ref()
            .expect("the work channel is open while reading");
        work.send(batch)
            .map_err(|_| StoreError::Corrupt("every scan worker has stopped".to_string()))
    }
}

impl ScanVisitor for Run<'_> {
    fn item(&mut self, item: StoredItem, sink: &mut EvaluationSink<'_>) -> Result<(), StoreError> {
        self.items += 1;
        if !self.accounts.contains(&item.key.account_id) {
            self.accounts.insert(item.key.account_id.clone());
        }
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.send_batch()?;
        }
        // Store what is ready without waiting for it.
        while let Ok(done) = self.done.try_recv() {
            self.absorb(done?, sink)?;
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut EvaluationSink<'_>) -> Result<(), StoreError> {
        self.send_batch()?;
        self.work = None; // the workers finish their queue, then stop
        while let Ok(done) = self.done.recv() {
            self.absorb(done?, sink)?;
        }
        // Workers send documents in whatever order they finish; estate rules see them in a
        // stable order.
        for documents in self.estate_items.values_mut() {
            documents.sort_by_cached_key(|d| {
                let text = |k: &str| {
                    d.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                (text("awsRegion"), text("resourceType"), text("resourceId"))
            });
        }
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
