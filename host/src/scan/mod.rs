//! A scan: every rule over every live item of a snapshot, each evaluation stored.
//!
//! Each item is turned into the document rules read once, and shared by every rule. Resource
//! rules run as items are read: with several jobs, each job reads its own part of the snapshot
//! on its own connection and evaluates it, and the calling thread stores what they send back.
//! Estate rules run at the end, once per account, over the in-scope items gathered on the way.
//!
//! A scan is incremental unless asked otherwise (`ScanMode`): a resource rule's verdict on a
//! version depends only on the rule instance (module hash, parameters) and the version, so a
//! verdict stored by any earlier scan is reused, and an item whose every rule has one is not
//! even read whole. ERRORs are evaluated again.
//!
//! An incremental scan starts from an earlier one when it can (`delta`): then it reads only
//! what changed since, and an estate rule runs again only for the accounts where something it
//! covers changed. Otherwise it walks the whole state, as above, and estate rules run for
//! every account.

mod delta;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use serde::Serialize;

use crate::engine::document::ItemDocument;
use crate::engine::{ACCOUNT_TYPE, Compliance, Evaluator, Rule, RuleHost, RuleKind, Verdict};
use crate::ingest::{self, IngestError, IngestOptions, LiveItem, NoProgress};
use crate::model::Field;
use crate::model::{ResourceKey, SnapshotId};
use crate::store::{
    Evaluated, EvaluationSink, NewEvaluation, ScanInfo, ScanMode, ScanRule, SnapshotRole,
    SnapshotSelector, Store, StoreError, StoredEvaluation, StoredItem,
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
    /// Evaluations this scan ran, and those it took from earlier scans.
    pub evaluated: u64,
    pub reused: u64,
}

/// How to scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Threads reading and evaluating (1: the calling thread alone).
    pub jobs: usize,
    pub mode: ScanMode,
}

impl Default for ScanOptions {
    /// Every core, incremental.
    fn default() -> ScanOptions {
        ScanOptions {
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            mode: ScanMode::Incremental,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub scan: ScanInfo,
    pub items: u64,
    /// Evaluations this scan ran, and those it took from earlier scans.
    pub evaluated: u64,
    pub reused: u64,
    /// The earlier scan this one started from, reading only what changed since (`None`: it
    /// walked the whole state).
    pub base: Option<i64>,
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

/// Where evaluations go: the store's sink (a scan), or memory (`conform check`).
trait Recorder {
    fn record(&mut self, evaluation: NewEvaluation<'_>) -> Result<(), StoreError>;

    /// Rule `rule` does not apply to `version`: worth remembering only where verdicts are kept.
    fn out_of_scope(&mut self, _rule: usize, _version: i64) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Recorder for EvaluationSink<'_> {
    fn record(&mut self, evaluation: NewEvaluation<'_>) -> Result<(), StoreError> {
        EvaluationSink::record(self, evaluation)
    }

    fn out_of_scope(&mut self, rule: usize, version: i64) -> Result<(), StoreError> {
        EvaluationSink::out_of_scope(self, rule, version)
    }
}

/// What earlier scans found that this one reuses: per rule (by index), the verdict codes of
/// its instance by version (0: outside its scope). Empty for a full scan, for `conform check`,
/// and for estate rules, which run every time.
#[derive(Debug, Default)]
struct Known {
    verdicts: Vec<HashMap<i64, u8>>,
}

impl Known {
    /// The verdicts stored for each resource rule's instance, for an incremental scan.
    fn load(store: &Store, sink: &EvaluationSink<'_>, rules: &[Rule]) -> Result<Known, StoreError> {
        if sink.mode() == ScanMode::Full {
            return Ok(Known::default());
        }
        let verdicts = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| match rule.manifest.kind {
                RuleKind::Resource => store.verdicts_of(sink.instance(index)),
                RuleKind::Estate => Ok(HashMap::new()),
            })
            .collect::<Result<_, _>>()?;
        Ok(Known { verdicts })
    }

    fn verdict(&self, rule: usize, version: i64) -> Option<u8> {
        self.verdicts.get(rule)?.get(&version).copied()
    }

    /// Whether an item of `resource_type` at `version` must be read whole: some rule covering
    /// its type has no verdict on it (or is an estate rule, which reads every in-scope item).
    /// The verdicts it does have are counted into `reused`, per rule by code.
    fn needs(
        &self,
        rules: &[Rule],
        resource_type: &str,
        version: i64,
        reused: &mut Vec<[u64; 4]>,
    ) -> bool {
        let mut needed = false;
        for (index, rule) in rules.iter().enumerate() {
            if !covers_type(rule, resource_type) {
                continue;
            }
            match (rule.manifest.kind, self.verdict(index, version)) {
                (RuleKind::Resource, Some(code)) => {
                    if reused.len() < rules.len() {
                        reused.resize(rules.len(), [0; 4]);
                    }
                    reused[index][code as usize & 3] += 1;
                }
                _ => needed = true,
            }
        }
        needed
    }
}

/// Items a job evaluates before it sends what it found: large enough that channel traffic is
/// noise, small enough that evaluations do not pile up in memory.
const BATCH: usize = 256;

/// As [`scan`], with `jobs` threads reading and evaluating.
///
/// With one job (or an in-memory store, which has one connection, or a desired state, which is
/// read through an index) the calling thread reads, evaluates and stores. With more, the
/// versions table is cut into parts that the jobs take in turn: each job but this thread's
/// reads on its own read-only connection and evaluates with its own evaluator (one instance
/// per rule); this thread is a job too, and between its own items it stores what the others
/// send, in the scan's transaction. Estate rules run at the end, on the calling thread.
pub fn scan(
    store: &Store,
    host: &RuleHost,
    rules: &Arc<[Rule]>,
    snapshot: SnapshotId,
    options: &ScanOptions,
) -> Result<ScanReport, StoreError> {
    scan_then(store, host, rules, snapshot, options, |_| Ok(()))
}

/// As [`scan`], and `then` runs inside the scan's transaction once it is stored (readable on
/// `store`): what it writes commits with the scan or not at all. The daemon queues the scan's
/// notifications there.
pub fn scan_then(
    store: &Store,
    host: &RuleHost,
    rules: &Arc<[Rule]>,
    snapshot: SnapshotId,
    options: &ScanOptions,
    then: impl FnOnce(&ScanInfo) -> Result<(), StoreError>,
) -> Result<ScanReport, StoreError> {
    let jobs = options.jobs.max(1);
    let recorded: Vec<ScanRule> = rules.iter().map(scan_rule).collect();
    let mut run = Run::new(host, rules, &recorded);
    let covered = covered_types(rules);
    let readers = if jobs > 1
        && store.snapshot(SnapshotSelector::Id(snapshot))?.role == SnapshotRole::Observed
    {
        // This thread is one of the jobs.
        (1..jobs)
            .map(|_| store.reader())
            .collect::<Result<Option<Vec<Store>>, _>>()?
    } else {
        None
    };
    let mut base = None;
    let info = store.scan(
        snapshot,
        &recorded,
        options.mode,
        |sink| {
            base = delta::from_base(store, sink, &mut run, snapshot)?;
            if base.is_none() {
                walk(
                    store,
                    sink,
                    &mut run,
                    readers,
                    jobs,
                    snapshot,
                    covered.as_ref(),
                )?;
            }
            sink.counts = run
                .summaries
                .iter()
                .map(|s| [s.compliant, s.non_compliant, s.not_applicable, s.error])
                .collect();
            let summaries = run.summaries.iter();
            sink.evaluated = summaries.clone().map(|s| s.evaluated).sum();
            sink.reused = summaries.map(|s| s.reused).sum();
            Ok(())
        },
        then,
    )?;
    let mut summaries = run.summaries;
    summaries.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    Ok(ScanReport {
        scan: info,
        items: run.seen.items,
        evaluated: summaries.iter().map(|s| s.evaluated).sum(),
        reused: summaries.iter().map(|s| s.reused).sum(),
        base,
        rules: summaries,
    })
}

/// A scan that walks the whole state of `snapshot`, reusing what verdicts it can.
fn walk(
    store: &Store,
    sink: &mut EvaluationSink<'_>,
    run: &mut Run<'_>,
    readers: Option<Vec<Store>>,
    jobs: usize,
    snapshot: SnapshotId,
    covered: Option<&HashSet<String>>,
) -> Result<(), StoreError> {
    let rules = run.rules;
    let known = Known::load(store, sink, rules)?;
    let (readers, parts) = match readers {
        Some(readers) => {
            let ranges = store.version_ranges(jobs * PARTS_PER_JOB)?;
            (readers, ranges.into_iter().map(Some).collect())
        }
        None => (Vec::new(), vec![None]),
    };
    let reading = Reading {
        snapshot,
        covered,
        known: &known,
    };
    run.evaluate_parts(store, readers, &parts, &reading, sink)?;
    run.finish(sink)
}

/// Whether stored scan `scan` ran exactly `rules`: the same instances (module hashes and
/// parameters), no more and no fewer.
pub fn ran_exactly(store: &Store, scan: i64, rules: &[Rule]) -> Result<bool, StoreError> {
    let ran: BTreeSet<(String, String)> = store
        .scan_rules(scan)?
        .into_iter()
        .map(|r| {
            (
                r.module_hash,
                crate::canonical::to_canonical_string(&r.parameters),
            )
        })
        .collect();
    let now: BTreeSet<(String, String)> = rules
        .iter()
        .map(|r| {
            (
                r.module_hash.clone(),
                crate::canonical::to_canonical_string(&r.params),
            )
        })
        .collect();
    Ok(ran == now)
}

/// The scan `snapshot` is judged by: its latest scan when that ran exactly `rules` (or when
/// `any_rules` and there is one), else a new incremental scan by `rules`, which evaluates only
/// what no earlier scan of the same rules did. The second value says whether it scanned.
pub fn ensure_scanned(
    store: &Store,
    host: &RuleHost,
    rules: &Arc<[Rule]>,
    snapshot: SnapshotId,
    any_rules: bool,
) -> Result<(ScanInfo, bool), StoreError> {
    if let Some(latest) = store.latest_scan(snapshot)?
        && (any_rules || ran_exactly(store, latest.id, rules)?)
    {
        return Ok((latest, false));
    }
    let report = scan(store, host, rules, snapshot, &ScanOptions::default())?;
    Ok((report.scan, true))
}

/// Resource types some rule may cover; `None` when a rule covers every type.
fn covered_types(rules: &[Rule]) -> Option<HashSet<String>> {
    rules
        .iter()
        .map(|r| {
            let types = &r.manifest.scope.resource_types;
            (!types.is_empty()).then(|| types.iter().cloned())
        })
        .collect::<Option<Vec<_>>>()
        .map(|types| types.into_iter().flatten().collect())
}

/// What reading counted: every live item, and every account (estate rules evaluate each, even
/// one with no in-scope resource).
#[derive(Debug, Default)]
struct ReadCounts {
    items: u64,
    accounts: BTreeSet<String>,
}

impl ReadCounts {
    /// Counts an item and says whether it is read whole: items of types no rule covers are
    /// not even parsed.
    fn wants(
        &mut self,
        covered: Option<&HashSet<String>>,
        resource_type: &str,
        account: &str,
    ) -> bool {
        self.items += 1;
        if !self.accounts.contains(account) {
            self.accounts.insert(account.to_string());
        }
        covered
            .as_ref()
            .is_none_or(|types| types.contains(resource_type))
    }

    fn merge(&mut self, other: ReadCounts) {
        self.items += other.items;
        self.accounts.extend(other.accounts);
    }
}

/// What evaluating a run of items found.
#[derive(Default)]
struct Done {
    /// (rule index, resource row, version row, verdict)
    evaluations: Vec<(usize, i64, i64, Verdict)>,
    /// (rule index, version row) where the rule found the item outside its scope.
    out_of_scope: Vec<(usize, i64)>,
    /// Verdicts taken from earlier scans, per rule by code (`Known::needs`).
    reused: Vec<[u64; 4]>,
    /// In-scope items for estate rules.
    estate: Vec<EstateItem>,
    seen: ReadCounts,
}

/// An item an estate rule will see.
struct EstateItem {
    rule: usize,
    /// Its row in `resources`.
    resource: i64,
    document: Arc<ItemDocument>,
}

/// Turns one item into the document rules read and runs every rule on it (resource rules now,
/// estate rules later: those get the document).
fn evaluate_item(
    evaluator: &mut Evaluator,
    rules: &[Rule],
    known: &Known,
    item: StoredItem,
    out: &mut Done,
) -> Result<(), StoreError> {
    let (resource, version) = (item.resource, item.version);
    let document = Arc::new(ItemDocument::from_stored(item)?);
    for (index, rule) in rules.iter().enumerate() {
        if !covers_type(rule, document.resource_type()) {
            continue;
        }
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
        if known.verdict(index, version).is_some() {
            continue;
        }
        match evaluator.evaluate(index, &document) {
            Some(verdict) => out.evaluations.push((index, resource, version, verdict)),
            None => out.out_of_scope.push((index, version)),
        }
    }
    Ok(())
}

/// Whether `rule`'s scope names `resource_type` (or every type). Only such rules can apply to
/// an item of that type, so only they are run on it, or remember that it is outside their
/// scope (by other conditions, such as tags).
fn covers_type(rule: &Rule, resource_type: &str) -> bool {
    let types = &rule.manifest.scope.resource_types;
    types.is_empty() || types.iter().any(|t| t == resource_type)
}

/// What every job of a scan reads by: the snapshot, the types some rule covers (`None`: every
/// type), and the verdicts to reuse.
struct Reading<'a> {
    snapshot: SnapshotId,
    covered: Option<&'a HashSet<String>>,
    known: &'a Known,
}

impl<'a> Reading<'a> {
    /// The filter `Store::for_each_stored` reads by: it counts each item and says whether it is
    /// read whole (`ReadCounts::wants`, `Known::needs`).
    fn filter<'f>(
        &'f self,
        rules: &'f [Rule],
        seen: &'f mut ReadCounts,
        reused: &'f mut Vec<[u64; 4]>,
    ) -> impl FnMut(&str, &str, i64) -> bool + 'f {
        move |resource_type, account, version| {
            seen.wants(self.covered, resource_type, account)
                && self.known.needs(rules, resource_type, version, reused)
        }
    }
}

/// Parts of the versions table per job of a parallel scan. Jobs take parts in turn until none
/// is left, so they finish together although the calling thread also stores everything; a
/// part's query costs next to nothing.
const PARTS_PER_JOB: usize = 16;

/// A part of a snapshot: a range of rowids of `versions`, or (`None`) all of it.
type Part = Option<(i64, i64)>;

/// Hands out the parts of a scan, each once.
struct Parts<'p> {
    parts: &'p [Part],
    next: AtomicUsize,
}

impl Parts<'_> {
    fn take(&self) -> Option<Part> {
        self.parts
            .get(self.next.fetch_add(1, Ordering::Relaxed))
            .copied()
    }
}

/// A job of a parallel scan, on its own thread and connection: takes parts of the snapshot,
/// reads and evaluates them, and sends what it finds in batches.
fn job(
    mut evaluator: Evaluator,
    rules: &[Rule],
    reader: Store,
    parts: &Parts<'_>,
    reading: &Reading<'_>,
    done: &mpsc::SyncSender<Result<Done, StoreError>>,
) {
    let mut found = Done::default();
    let mut seen = ReadCounts::default();
    let mut reused = Vec::new();
    let mut read = Ok(());
    while let (Ok(()), Some(part)) = (&read, parts.take()) {
        read = reader.for_each_stored(
            reading.snapshot,
            part,
            reading.filter(rules, &mut seen, &mut reused),
            |item| {
                evaluate_item(&mut evaluator, rules, reading.known, item, &mut found)?;
                if found.evaluations.len() >= BATCH {
                    done.send(Ok(std::mem::take(&mut found)))
                        .map_err(|_| StoreError::Corrupt("the scan stopped".to_string()))?;
                }
                Ok(())
            },
        );
    }
    found.seen = seen;
    found.reused = reused;
    let _ = done.send(read.map(|()| found));
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
        resource_types: rule.manifest.scope.resource_types.clone(),
    }
}

/// The state of one scan on the calling thread: summaries, and what estate rules will need.
struct Run<'r> {
    rules: &'r [Rule],
    /// For estate rules, which run here at the end.
    evaluator: Evaluator,
    /// Per rule, in the order of `rules`.
    summaries: Vec<RuleSummary>,
    seen: ReadCounts,
    /// In-scope items per (estate rule, account).
    estate_items: HashMap<(usize, String), Vec<EstateItem>>,
}

impl<'r> Run<'r> {
    fn new(host: &RuleHost, rules: &'r Arc<[Rule]>, recorded: &[ScanRule]) -> Run<'r> {
        Run {
            rules,
            evaluator: host.evaluator(rules),
            summaries: recorded
                .iter()
                .map(|r| RuleSummary {
                    rule_id: r.rule_id.clone(),
                    version: r.rule_version.clone(),
                    severity: r.severity.clone(),
                    ..RuleSummary::default()
                })
                .collect(),
            seen: ReadCounts::default(),
            estate_items: HashMap::new(),
        }
    }

    /// Runs a job on each reader and one on this thread over the parts of the snapshot, and
    /// stores what they all find as it comes: between its own items, this thread stores what
    /// the others sent. With no reader, this thread does it all.
    #[allow(clippy::too_many_arguments)]
    fn evaluate_parts(
        &mut self,
        store: &Store,
        readers: Vec<Store>,
        parts: &[Part],
        reading: &Reading<'_>,
        sink: &mut dyn Recorder,
    ) -> Result<(), StoreError> {
        let rules = self.rules;
        let parts = Parts {
            parts,
            next: AtomicUsize::new(0),
        };
        std::thread::scope(|threads| {
            let (done_tx, done_rx) =
                mpsc::sync_channel::<Result<Done, StoreError>>(readers.len() * 4 + 1);
            for reader in readers {
                let (done_tx, parts) = (done_tx.clone(), &parts);
                let evaluator = self.evaluator.sibling();
                threads.spawn(move || job(evaluator, rules, reader, parts, reading, &done_tx));
            }
            drop(done_tx);
            // On an error the channel closes as this returns, and the jobs stop at their next
            // send.
            while let Some(part) = parts.take() {
                let mut own = Done::default();
                let mut seen = ReadCounts::default();
                let mut reused = Vec::new();
                store.for_each_stored(
                    reading.snapshot,
                    part,
                    reading.filter(rules, &mut seen, &mut reused),
                    |item| {
                        evaluate_item(&mut self.evaluator, rules, reading.known, item, &mut own)?;
                        if own.evaluations.len() >= BATCH {
                            self.absorb(std::mem::take(&mut own), sink)?;
                            while let Ok(done) = done_rx.try_recv() {
                                self.absorb(done?, sink)?;
                            }
                        }
                        Ok(())
                    },
                )?;
                own.seen = seen;
                own.reused.extend(std::mem::take(&mut reused));
                self.absorb(own, sink)?;
            }
            while let Ok(done) = done_rx.recv() {
                self.absorb(done?, sink)?;
            }
            Ok(())
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        rule: usize,
        resource: Evaluated,
        version: Option<i64>,
        compliance: Compliance,
        annotation: &str,
        sink: &mut dyn Recorder,
    ) -> Result<(), StoreError> {
        let summary = &mut self.summaries[rule];
        summary.evaluated += 1;
        match compliance {
            Compliance::Compliant => summary.compliant += 1,
            Compliance::NonCompliant => summary.non_compliant += 1,
            Compliance::NotApplicable => summary.not_applicable += 1,
            Compliance::Error => summary.error += 1,
        }
        sink.record(NewEvaluation {
            rule,
            resource,
            version,
            compliance,
            annotation,
        })
    }

    /// Counts a verdict taken from an earlier scan: `code` as verdicts store it (0: the
    /// version is outside the rule's scope, not counted).
    fn count(&mut self, rule: usize, code: u8) {
        let summary = &mut self.summaries[rule];
        match code {
            1 => summary.compliant += 1,
            2 => summary.non_compliant += 1,
            3 => summary.not_applicable += 1,
            _ => {}
        }
    }

    /// Stores again an evaluation an earlier scan stored of its own (an estate rule's, for an
    /// account where nothing it covers changed): counted, but not as evaluated.
    fn copy(
        &mut self,
        rule: usize,
        resource: Evaluated,
        compliance: Compliance,
        annotation: &str,
        sink: &mut dyn Recorder,
    ) -> Result<(), StoreError> {
        self.record(rule, resource, None, compliance, annotation, sink)?;
        self.summaries[rule].evaluated -= 1;
        Ok(())
    }

    /// Stores what evaluating found.
    fn absorb(&mut self, done: Done, sink: &mut dyn Recorder) -> Result<(), StoreError> {
        for (rule, resource, version, verdict) in done.evaluations {
            self.record(
                rule,
                Evaluated::Stored(resource),
                Some(version),
                verdict.compliance,
                &verdict.annotation,
                sink,
            )?;
        }
        for (rule, version) in done.out_of_scope {
            sink.out_of_scope(rule, version)?;
        }
        for (summary, [_, compliant, non_compliant, not_applicable]) in
            self.summaries.iter_mut().zip(done.reused)
        {
            summary.compliant += compliant;
            summary.non_compliant += non_compliant;
            summary.not_applicable += not_applicable;
            summary.reused += compliant + non_compliant + not_applicable;
        }
        for item in done.estate {
            let account = item.document.account_id();
            self.estate_items
                .entry((item.rule, account.to_string()))
                .or_default()
                .push(item);
        }
        self.seen.merge(done.seen);
        Ok(())
    }

    /// Runs the estate rules, once per account, and stores what they emit.
    fn finish(&mut self, sink: &mut dyn Recorder) -> Result<(), StoreError> {
        // Jobs send documents in whatever order they finish; estate rules see them in a
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
        let accounts: Vec<String> = self.seen.accounts.iter().cloned().collect();
        for index in 0..self.rules.len() {
            if self.rules[index].manifest.kind != RuleKind::Estate {
                continue;
            }
            for account in &accounts {
                let items = self
                    .estate_items
                    .remove(&(index, account.clone()))
                    .unwrap_or_default();
                self.evaluate_estate(index, account, items, sink)?;
            }
        }
        for note in self.evaluator.budget_notes() {
            tracing::warn!("{note}");
        }
        Ok(())
    }
}

impl Run<'_> {
    /// Runs estate rule `index` once for `account` over its in-scope `items` (in a stable
    /// order), and stores what it emits.
    fn evaluate_estate(
        &mut self,
        index: usize,
        account: &str,
        items: Vec<EstateItem>,
        sink: &mut dyn Recorder,
    ) -> Result<(), StoreError> {
        let documents = Arc::new(items.iter().map(|i| i.document.clone()).collect());
        for evaluation in self.evaluator.evaluate_estate(index, account, documents) {
            // An evaluation of one of the items refers to its row; the account, which is not
            // a stored resource, is stored by name.
            let resource = match evaluation.item {
                Some(i) => Evaluated::Stored(items[i].resource),
                None => Evaluated::Named(ResourceKey {
                    account_id: account.to_string(),
                    region: String::new(),
                    resource_type: ACCOUNT_TYPE.to_string(),
                    resource_id: account.to_string(),
                }),
            };
            self.record(
                index,
                resource,
                None,
                evaluation.compliance,
                &evaluation.annotation,
                sink,
            )?;
        }
        Ok(())
    }
}

/// What `conform check` found: a scan's summary, and its findings.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub items: u64,
    pub rules: Vec<RuleSummary>,
    /// NON_COMPLIANT and ERROR evaluations, by rule then resource.
    pub findings: Vec<StoredEvaluation>,
}

/// Items the reading thread of a check hands a job at a time.
const CHECK_BATCH: usize = 64;

/// Reads `inputs` as `ingest` does and evaluates `rules` over their items as they are read, on
/// `jobs` threads, with nothing stored: AWS Config's proactive mode. `None` when the input
/// holds no item.
///
/// The calling thread reads and hands batches of items to the other jobs; when all of them are
/// busy it evaluates the batch itself rather than wait, so no core idles whichever side is
/// slower. Nothing holds the items: an evaluation names its item by number, and once reading
/// is done, evaluations of items that do not count (replaced by a later capture) are dropped.
pub fn check(
    host: &RuleHost,
    rules: &Arc<[Rule]>,
    inputs: &[PathBuf],
    options: &IngestOptions,
    jobs: usize,
) -> Result<Option<CheckReport>, IngestError> {
    let recorded: Vec<ScanRule> = rules.iter().map(scan_rule).collect();
    let mut run = Run::new(host, rules, &recorded);
    let covered = covered_types(rules);
    let covered = covered.as_ref();
    let evaluate = |evaluator: &mut Evaluator, item: StoredItem, done: &mut Done| {
        if covered.is_none_or(|types| types.contains(item.resource_type())) {
            evaluate_item(evaluator, rules, &Known::default(), item, done)?;
        }
        Ok::<(), StoreError>(())
    };
    let (batches, to_evaluate) = mpsc::sync_channel::<Vec<StoredItem>>(jobs * 2);
    let to_evaluate = Mutex::new(to_evaluate);
    // The other jobs share the scan's budget with this thread's evaluator.
    let siblings: Vec<Evaluator> = (1..jobs.max(1)).map(|_| run.evaluator.sibling()).collect();
    let (collected, parts) = std::thread::scope(|threads| {
        let workers: Vec<_> = siblings
            .into_iter()
            .map(|mut evaluator| {
                let (to_evaluate, evaluate) = (&to_evaluate, &evaluate);
                threads.spawn(move || {
                    let mut done = Done::default();
                    loop {
                        let batch = to_evaluate.lock().expect("a check job panicked").recv();
                        let Ok(batch) = batch else { break };
                        for item in batch {
                            evaluate(&mut evaluator, item, &mut done)?;
                        }
                    }
                    Ok::<Done, StoreError>(done)
                })
            })
            .collect();
        let mut own = Done::default();
        let mut batch = Vec::with_capacity(CHECK_BATCH);
        let collected = ingest::collect(inputs, options, &NoProgress, &mut |item| {
            if workers.is_empty() {
                return evaluate(&mut run.evaluator, item, &mut own);
            }
            batch.push(item);
            if batch.len() < CHECK_BATCH {
                return Ok(());
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(CHECK_BATCH));
            match batches.try_send(full) {
                Ok(()) => Ok(()),
                Err(mpsc::TrySendError::Full(full) | mpsc::TrySendError::Disconnected(full)) => {
                    full.into_iter()
                        .try_for_each(|item| evaluate(&mut run.evaluator, item, &mut own))
                }
            }
        });
        let rest = batch
            .into_iter()
            .try_for_each(|item| evaluate(&mut run.evaluator, item, &mut own));
        drop(batches);
        let mut parts: Vec<Result<Done, StoreError>> = workers
            .into_iter()
            .map(|w| w.join().expect("a check job panicked"))
            .collect();
        parts.push(rest.map(|()| own));
        (collected, parts)
    });
    let Some(collected) = collected? else {
        return Ok(None);
    };
    // Which live resource each item is, if it is one's final state.
    let end = collected.live.iter().map(|l| l.item as usize + 1).max();
    let mut position = vec![None; end.unwrap_or(0)];
    for (at, live) in collected.live.iter().enumerate() {
        position[live.item as usize] = Some(at as i64);
    }
    let live = |item: i64| position.get(item as usize).copied().flatten();
    run.seen = ReadCounts {
        items: collected.live.len() as u64,
        accounts: collected
            .live
            .iter()
            .map(|l| {
                l.fields
                    .get(Field::AccountId)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect(),
    };
    let mut findings = Findings {
        items: &collected.live,
        rules,
        found: Vec::new(),
    };
    for done in parts {
        let mut done = done?;
        done.evaluations
            .retain_mut(|(_, item, _, _)| live(*item).map(|at| *item = at).is_some());
        done.estate
            .retain_mut(|e| live(e.resource).map(|at| e.resource = at).is_some());
        done.seen = ReadCounts::default();
        run.absorb(done, &mut findings)?;
    }
    run.finish(&mut findings)?;
    let mut found = findings.found;
    found.sort_by(|a, b| a.listing_order().cmp(&b.listing_order()));
    let mut summaries = run.summaries;
    summaries.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    Ok(Some(CheckReport {
        items: run.seen.items,
        rules: summaries,
        findings: found,
    }))
}

/// Keeps the findings of a check: its resources are positions in `items`.
struct Findings<'i> {
    items: &'i [LiveItem],
    rules: &'i [Rule],
    found: Vec<StoredEvaluation>,
}

impl Recorder for Findings<'_> {
    fn record(&mut self, e: NewEvaluation<'_>) -> Result<(), StoreError> {
        if !matches!(e.compliance, Compliance::NonCompliant | Compliance::Error) {
            return Ok(());
        }
        let (account_id, region, resource_type, resource_id) = match &e.resource {
            Evaluated::Stored(position) => {
                let item = &self.items[*position as usize];
                let text = |index| item.fields.get(index).unwrap_or_default().to_string();
                (
                    text(Field::AccountId),
                    text(Field::Region),
                    text(Field::ResourceType),
                    text(Field::ResourceId),
                )
            }
            Evaluated::Named(key) => (
                key.account_id.clone(),
                key.region.clone(),
                key.resource_type.clone(),
                key.resource_id.clone(),
            ),
        };
        self.found.push(StoredEvaluation {
            rule_id: self.rules[e.rule].manifest.id.clone(),
            account_id,
            region,
            resource_type,
            resource_id,
            compliance: e.compliance.as_str().to_string(),
            annotation: e.annotation.to_string(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Limits;

    fn volume(id: &str, encrypted: bool, captured: &str) -> serde_json::Value {
        serde_json::json!({
            "resourceType": "AWS::EC2::Volume", "resourceId": id, "accountId": "111122223333",
            "awsRegion": "eu-west-1", "configurationItemCaptureTime": captured,
            "configurationItemStatus": "OK",
            "configuration": {"volumeId": id, "encrypted": encrypted, "state": "in-use",
                              "attachments": [{"instanceId": "i-1", "deleteOnTermination": true}]}
        })
    }

    /// Checks `items` with ENCRYPTED_VOLUMES on `jobs` threads: the ids found non-compliant.
    fn unencrypted(
        items: &[serde_json::Value],
        latest_wins: bool,
        jobs: usize,
    ) -> (u64, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("items.json");
        std::fs::write(&file, serde_json::to_string(items).unwrap()).unwrap();
        let host = RuleHost::new(Limits::default()).unwrap();
        let (rules, _) = host.load_builtins(&|_| None).unwrap();
        let rules: Arc<[Rule]> = rules
            .into_iter()
            .filter(|r| r.manifest.id == "ENCRYPTED_VOLUMES")
            .collect();
        let options = IngestOptions {
            partial: true,
            latest_wins,
            ..Default::default()
        };
        let report = check(&host, &rules, &[file], &options, jobs)
            .unwrap()
            .expect("items were read");
        let ids = report
            .findings
            .iter()
            .map(|f| f.resource_id.clone())
            .collect();
        (report.items, ids)
    }

    #[test]
    fn a_check_on_several_jobs_finds_what_one_finds_and_counts_only_the_latest_capture() {
        // Enough items that jobs take batches (and the reading thread evaluates some itself
        // when they are busy); duplicates whose captures arrive in either order.
        let mut items: Vec<_> = (0..1000)
            .map(|i| volume(&format!("vol-{i:04}"), i % 3 != 0, "2026-11-02T06:00:00Z"))
            .collect();
        // A later capture fixes vol-0000; an earlier one would break vol-0001, but loses.
        items.push(volume("vol-0000", true, "2026-11-02T07:00:00Z"));
        items.push(volume("vol-0001", false, "2026-11-02T05:00:00Z"));
        let expected: Vec<String> = (3..1000)
            .step_by(3)
            .map(|i| format!("vol-{i:04}"))
            .collect();
        for jobs in [1, 2, 5] {
            let (count, found) = unencrypted(&items, true, jobs);
            assert_eq!(count, 1000, "each resource counts once, on {jobs} jobs");
            let unexpected: Vec<_> = found.iter().filter(|id| !expected.contains(id)).collect();
            let missing: Vec<_> = expected.iter().filter(|id| !found.contains(id)).collect();
            assert!(
                found.len() == expected.len() && unexpected.is_empty(),
                "on {jobs} jobs: unexpected {unexpected:?}, missing {missing:?}"
            );
        }
    }
}
