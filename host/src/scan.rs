//! A scan: every rule over every live item of a snapshot, each evaluation stored.
//!
//! Each item is turned into the JSON document rules read once, and shared by every rule.
//! Resource rules run as items stream by, on worker threads (one per core); estate rules run at
//! the end, once per account, over the in-scope items gathered on the way.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, mpsc};

use serde::Serialize;

use crate::engine::document::ItemDocument;
use crate::engine::{Compliance, Evaluator, Rule, RuleHost, RuleKind, Verdict};
use crate::model::{ResourceKey, SnapshotId};
use crate::store::{
    Evaluated, EvaluationSink, NewEvaluation, ScanInfo, ScanRule, ScanVisitor, Store, StoreError,
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

/// As [`scan`], with `jobs` threads evaluating.
///
/// The calling thread reads the snapshot from SQLite and stores evaluations (one connection,
/// one transaction). With one job it also evaluates, and no thread is started; with more,
/// `jobs` workers each own an evaluator (one instance per rule) and turn batches of stored
/// items into documents and evaluations. Estate rules run at the end, on the calling thread,
/// over the in-scope documents gathered on the way.
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
        .map(|r| RuleSummary {
            rule_id: r.rule_id.clone(),
            version: r.rule_version.clone(),
            severity: r.severity.clone(),
            ..RuleSummary::default()
        })
        .collect();
    // Types some rule may cover; `None`: a rule covers every type.
    let covered: Option<HashSet<&str>> = rules
        .iter()
        .map(|r| {
            let types = &r.manifest.scope.resource_types;
            (!types.is_empty()).then(|| types.iter().map(String::as_str))
        })
        .collect::<Option<Vec<_>>>()
        .map(|types| types.into_iter().flatten().collect());
    std::thread::scope(|threads| {
        let (work_tx, work_rx) = mpsc::sync_channel::<Vec<StoredItem>>(jobs.max(1) * 4);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = mpsc::channel::<Result<Done, StoreError>>();
        let inline = jobs <= 1;
        if !inline {
            for _ in 0..jobs {
                let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
                threads.spawn(move || work(host, rules, &work_rx, &done_tx));
            }
        }
        drop(done_tx);
        let mut run = Run {
            rules,
            covered,
            evaluator: host.evaluator(rules),
            summaries,
            items: 0,
            accounts: BTreeSet::new(),
            estate_items: HashMap::new(),
            batch: Vec::with_capacity(BATCH),
            inline,
            work: (!inline).then_some(work_tx),
            done: done_rx,
        };
        let info = store.scan(snapshot, &recorded, &mut run);
        // On an error the work channel closes with `run`, and the workers end.
        let items = run.items;
        let mut summaries = std::mem::take(&mut run.summaries);
        drop(run);
        summaries.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
        Ok(ScanReport {
            scan: info?,
            items,
            rules: summaries,
        })
    })
}

/// What a worker sends back for a batch.
#[derive(Default)]
struct Done {
    /// (rule index, resource row, verdict)
    evaluations: Vec<(usize, i64, Verdict)>,
    /// In-scope items for estate rules.
    estate: Vec<EstateItem>,
}

/// An item an estate rule will see.
struct EstateItem {
    rule: usize,
    /// Its row in `resources`.
    resource: i64,
    document: Arc<ItemDocument>,
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
        evaluate_item(evaluator, rules, item, &mut out)?;
    }
    Ok(out)
}

/// Turns one item into the document rules read and runs every rule on it (resource rules now,
/// estate rules later: those get the document).
fn evaluate_item(
    evaluator: &mut Evaluator<'_>,
    rules: &[Rule],
    item: StoredItem,
    out: &mut Done,
) -> Result<(), StoreError> {
    let resource = item.resource;
    let document = Arc::new(item.into_document()?);
    for (index, rule) in rules.iter().enumerate() {
        if rule.manifest.kind == RuleKind::Estate {
            if rule.manifest.scope.includes_item(&document) {
                out.estate.push(EstateItem {
                    rule: index,
                    resource,
                    document: document.clone(),
                });
            }
            continue;
        }
        if let Some(verdict) = evaluator.evaluate(index, &document) {
            out.evaluations.push((index, resource, verdict));
        }
    }
    Ok(())
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
    /// Resource types some rule may cover (`None`: all); items of others are only counted.
    covered: Option<HashSet<&'r str>>,
    /// For estate rules, which run here at the end.
    evaluator: Evaluator<'r>,
    /// Per rule, in the order of `rules`.
    summaries: Vec<RuleSummary>,
    items: u64,
    /// Every account seen: estate rules evaluate each, even one with no in-scope resource.
    accounts: BTreeSet<String>,
    /// In-scope items per (estate rule, account).
    estate_items: HashMap<(usize, String), Vec<EstateItem>>,
    /// Items read and not yet sent to the workers.
    batch: Vec<StoredItem>,
    /// Whether this thread evaluates items itself (one job).
    inline: bool,
    /// To the workers; `None` once closed (or with one job).
    work: Option<mpsc::SyncSender<Vec<StoredItem>>>,
    done: mpsc::Receiver<Result<Done, StoreError>>,
}

impl Run<'_> {
    fn record(
        &mut self,
        rule: usize,
        resource: Evaluated,
        compliance: Compliance,
        annotation: &str,
        sink: &mut EvaluationSink<'_>,
    ) -> Result<(), StoreError> {
        let summary = &mut self.summaries[rule];
        match compliance {
            Compliance::Compliant => summary.compliant += 1,
            Compliance::NonCompliant => summary.non_compliant += 1,
            Compliance::NotApplicable => summary.not_applicable += 1,
            Compliance::Error => summary.error += 1,
        }
        sink.record(NewEvaluation {
            rule,
            resource,
            compliance,
            annotation,
        })
    }

    /// Stores what a worker sent back.
    fn absorb(&mut self, done: Done, sink: &mut EvaluationSink<'_>) -> Result<(), StoreError> {
        for (rule, resource, verdict) in done.evaluations {
            self.record(
                rule,
                Evaluated::Stored(resource),
                verdict.compliance,
                &verdict.annotation,
                sink,
            )?;
        }
        for item in done.estate {
            let account = item.document.account_id();
            self.estate_items
                .entry((item.rule, account.to_string()))
                .or_default()
                .push(item);
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
    fn wants(&mut self, resource_type: &str, account: &str) -> bool {
        self.items += 1;
        if !self.accounts.contains(account) {
            self.accounts.insert(account.to_string());
        }
        self.covered
            .as_ref()
            .is_none_or(|types| types.contains(resource_type))
    }

    fn item(&mut self, item: StoredItem, sink: &mut EvaluationSink<'_>) -> Result<(), StoreError> {
        if self.inline {
            let mut done = Done::default();
            evaluate_item(&mut self.evaluator, self.rules, item, &mut done)?;
            return self.absorb(done, sink);
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
        if !self.inline {
            self.send_batch()?;
        }
        self.work = None; // the workers finish their queue, then stop
        while let Ok(done) = self.done.recv() {
            self.absorb(done?, sink)?;
        }
        // Workers send documents in whatever order they finish; estate rules see them in a
        // stable order.
        for items in self.estate_items.values_mut() {
            items.sort_by(|a, b| {
                let (a, b) = (&a.document, &b.document);
                (a.region(), a.resource_type(), a.resource_id()).cmp(&(
                    b.region(),
                    b.resource_type(),
                    b.resource_id(),
                ))
            });
        }
        let accounts: Vec<String> = self.accounts.iter().cloned().collect();
        for index in 0..self.rules.len() {
            if self.rules[index].manifest.kind != RuleKind::Estate {
                continue;
            }
            for account in &accounts {
                let items = self
                    .estate_items
                    .remove(&(index, account.clone()))
                    .unwrap_or_default();
                let documents = Arc::new(items.iter().map(|i| i.document.clone()).collect());
                for evaluation in self.evaluator.evaluate_estate(index, account, documents) {
                    // An evaluation of one of the items refers to its row; anything else (the
                    // account) is stored by name.
                    let resource = items
                        .iter()
                        .find(|i| {
                            i.document.resource_type() == evaluation.resource_type
                                && i.document.resource_id() == evaluation.resource_id
                        })
                        .map_or_else(
                            || {
                                Evaluated::Named(ResourceKey {
                                    account_id: account.clone(),
                                    region: String::new(),
                                    resource_type: evaluation.resource_type.clone(),
                                    resource_id: evaluation.resource_id.clone(),
                                })
                            },
                            |i| Evaluated::Stored(i.resource),
                        );
                    self.record(
                        index,
                        resource,
                        evaluation.compliance,
                        &evaluation.annotation,
                        sink,
                    )?;
                }
            }
        }
        Ok(())
    }
}
