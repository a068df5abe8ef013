//! The daemon's one writer: ingests what arrives, scans each new snapshot incrementally, and
//! queues the compliance changes in the scan's transaction. Work comes in order over a channel
//! (files from the watchers, ticks from the schedules, rule reloads) and is done one item at a
//! time, so the store has one writer and every step is a whole transaction.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use super::ServeError;
use super::messages::{self, Judged};
use super::metrics::Metrics;
use crate::config::WatchConfig;
use crate::drift::{DriftWalker, IgnoreRules};
use crate::engine::{RuleHost, RuleSet};
use crate::ingest::{IngestOptions, NoProgress};
use crate::model::SnapshotId;
use crate::scan::ScanOptions;
use crate::store::{ScanInfo, SnapshotInfo, SnapshotRole, SnapshotSelector, Store, StoreError};

/// Something for the worker to do.
#[derive(Debug)]
pub enum Work {
    /// Files landed (or changed) in watch number `watch`.
    Arrived { watch: usize, paths: Vec<PathBuf> },
    /// Everything in watch number `watch` (a poll, or a watcher that lost events).
    Sweep { watch: usize },
    /// Schedule `name` is due: evaluate the latest snapshot again.
    Scheduled { name: String },
    /// A rule file changed: load the rules again and evaluate with them.
    RulesChanged,
}

/// What the API reports about the worker.
#[derive(Debug, Default)]
pub struct Status {
    /// The first catch-up (files that landed while the daemon was down) is done.
    pub ready: AtomicBool,
    pub last: Mutex<LastRun>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LastRun {
    pub snapshot: Option<i64>,
    pub scan: Option<i64>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// Why the rules last failed to load again, until a reload succeeds (the rules in use
    /// meanwhile are the ones loaded before).
    pub rules_error: Option<String>,
}

pub struct Worker {
    pub store: Store,
    pub host: RuleHost,
    pub rules: RuleSet,
    pub watches: Vec<WatchConfig>,
    pub metrics: Arc<Metrics>,
    /// One per sink: notified when messages are queued.
    pub wakes: Vec<Arc<Notify>>,
    pub status: Arc<Status>,
    pub jobs: usize,
    /// Files that failed to ingest, by (size, modified): tried again once they change.
    pub failed: HashMap<PathBuf, (u64, Option<SystemTime>)>,
    /// Drift messages compare each snapshot with this baseline, with these ignore patterns.
    pub baseline: Option<String>,
    pub ignore: IgnoreRules,
    /// Where the drift walk is: the resources drifted at the last notified snapshot.
    pub drift: Option<DriftWalker>,
    /// Called after each scan commits (the API computes the new scan's summaries).
    pub scanned: Box<dyn Fn() + Send>,
    /// The sinks' names, and how long what they all delivered stays in the outbox.
    pub sinks: Vec<String>,
    pub retention: Duration,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("watches", &self.watches)
            .finish()
    }
}

impl Worker {
    /// Catches up, then works until `stop` is set (checked between items: the item in hand
    /// is finished, so no transaction is cut short) or the senders are gone.
    pub fn run(mut self, work: Receiver<Work>, stop: Arc<AtomicBool>) {
        if let Err(e) = self.catch_up() {
            self.failed_run(&e);
        }
        // What the API reports until the next run: the store's latest scan.
        if let Ok(Some(scan)) = self.store.scan_before(i64::MAX) {
            let mut last = self.status.last.lock().expect("status");
            if last.scan.is_none() {
                last.snapshot = Some(scan.snapshot.0);
                last.scan = Some(scan.id);
                last.finished_at = Some(scan.finished_at);
            }
        }
        (self.scanned)();
        self.status.ready.store(true, Ordering::SeqCst);
        tracing::info!("ready");
        while !stop.load(Ordering::SeqCst) {
            let item = match work.recv_timeout(Duration::from_millis(200)) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let job = match &item {
                Work::Arrived { watch, .. } | Work::Sweep { watch } => {
                    format!("watch {}", self.watches[*watch].path.display())
                }
                Work::Scheduled { name } => format!("schedule {name}"),
                Work::RulesChanged => "rules".to_string(),
            };
            match self.handle(item) {
                Ok(()) => self.metrics.succeeded(&job),
                Err(e) => self.failed_run(&e),
            }
        }
        tracing::info!("worker stopped");
    }

    fn failed_run(&self, e: &ServeError) {
        tracing::error!("{e}");
        self.status.last.lock().expect("status").error = Some(e.to_string());
    }

    fn handle(&mut self, item: Work) -> Result<(), ServeError> {
        match item {
            Work::Arrived { watch, paths } => {
                let snapshots = self.ingest(watch, paths)?;
                self.scan_each(&snapshots)
            }
            Work::Sweep { watch } => {
                let snapshots = self.ingest(watch, vec![self.watches[watch].path.clone()])?;
                self.scan_each(&snapshots)
            }
            Work::Scheduled { name } => {
                tracing::info!(schedule = %name, "scheduled evaluation");
                self.scan_latest()
            }
            Work::RulesChanged => {
                match self.rules.reload_tolerant(&self.host) {
                    Ok((rules, refused)) => {
                        tracing::info!(rules = rules.rules.len(), "rules loaded again");
                        for e in &refused {
                            tracing::error!("rule left out: {e}");
                        }
                        self.rules = rules;
                        self.status.last.lock().expect("status").rules_error =
                            (!refused.is_empty()).then(|| refused.join("; "));
                    }
                    Err(e) => {
                        // The rules in use stay in use.
                        self.status.last.lock().expect("status").rules_error = Some(e.to_string());
                        return Err(ServeError::Rules(e.to_string()));
                    }
                }
                self.scan_latest()
            }
        }
    }

    /// Ingests the watched directories (what landed while the daemon was down is new to
    /// the store), then scans every snapshot the daemon has not judged: those after the last
    /// notified scan, or only the latest on a store it never served. The latest is scanned
    /// again if the rules changed since.
    fn catch_up(&mut self) -> Result<(), ServeError> {
        for watch in 0..self.watches.len() {
            let path = self.watches[watch].path.clone();
            self.ingest(watch, vec![path])?;
        }
        let last = match self.store.notified_before(i64::MAX)? {
            Some(n) => self.store.scan_info(n)?,
            None => None,
        };
        let observed: Vec<SnapshotInfo> = self
            .store
            .snapshots()?
            .into_iter()
            .filter(|s| s.role == SnapshotRole::Observed)
            .collect();
        let pending: Vec<SnapshotInfo> = match &last {
            Some(scan) => observed
                .into_iter()
                .filter(|s| s.id > scan.snapshot)
                .collect(),
            None => observed.into_iter().last().into_iter().collect(),
        };
        if let (true, Some(scan)) = (pending.is_empty(), &last)
            && !self.same_rules(scan.id)?
        {
            tracing::info!("the rules changed since the last scan");
            return self.scan_latest();
        }
        self.scan_each(&pending)
    }

    /// Whether scan `scan` ran exactly the rule instances loaded now.
    fn same_rules(&self, scan: i64) -> Result<bool, ServeError> {
        Ok(crate::scan::ran_exactly(
            &self.store,
            scan,
            &self.rules.rules,
        )?)
    }

    /// Ingests `paths` of watch `watch` as one batch; if that fails, file by file, so that a
    /// bad file is reported (and left alone until it changes) and the others land.
    fn ingest(
        &mut self,
        watch: usize,
        paths: Vec<PathBuf>,
    ) -> Result<Vec<SnapshotInfo>, ServeError> {
        let config = &self.watches[watch];
        let options = IngestOptions {
            partial: config.partial,
            ..Default::default()
        };
        let mut paths: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| p.exists() && !self.known_bad(p))
            .collect();
        paths.sort();
        paths.dedup();
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        tracing::info!(paths = paths.len(), "ingesting");
        let snapshots = match crate::ingest(&mut self.store, &paths, &options, &NoProgress) {
            Ok(report) => report.snapshots,
            Err(e) if paths.len() == 1 && paths[0].is_file() => {
                self.remember_bad(&paths[0]);
                return Err(ServeError::Ingest(e.to_string()));
            }
            Err(batch_error) => {
                tracing::warn!(
                    "ingesting {} paths at once failed ({batch_error}); one by one",
                    paths.len()
                );
                let files = crate::ingest::expand(&paths)
                    .map_err(|(path, e)| ServeError::Ingest(format!("{}: {e}", path.display())))?;
                let mut snapshots = Vec::new();
                let mut first_error = None;
                for file in files {
                    if self.known_bad(&file) {
                        continue;
                    }
                    match crate::ingest(
                        &mut self.store,
                        std::slice::from_ref(&file),
                        &options,
                        &NoProgress,
                    ) {
                        Ok(report) => snapshots.extend(report.snapshots),
                        Err(e) => {
                            tracing::error!("{e}");
                            self.remember_bad(&file);
                            first_error.get_or_insert(e.to_string());
                        }
                    }
                }
                if let (true, Some(e)) = (snapshots.is_empty(), first_error) {
                    return Err(ServeError::Ingest(e));
                }
                snapshots
            }
        };
        self.metrics
            .ingested(started.elapsed().as_secs_f64(), snapshots.len());
        if !snapshots.is_empty() {
            tracing::info!(
                snapshots = snapshots.len(),
                seconds = started.elapsed().as_secs_f64(),
                "ingested"
            );
        }
        Ok(snapshots)
    }

    fn known_bad(&self, path: &Path) -> bool {
        self.failed
            .get(path)
            .is_some_and(|seen| *seen == file_stamp(path))
    }

    fn remember_bad(&mut self, path: &Path) {
        self.failed.insert(path.to_path_buf(), file_stamp(path));
    }

    fn scan_each(&mut self, snapshots: &[SnapshotInfo]) -> Result<(), ServeError> {
        for snapshot in snapshots {
            if snapshot.role == SnapshotRole::Observed {
                self.scan(snapshot.id)?;
            }
        }
        Ok(())
    }

    fn scan_latest(&mut self) -> Result<(), ServeError> {
        let latest = self
            .store
            .snapshots()?
            .into_iter()
            .rev()
            .find(|s| s.role == SnapshotRole::Observed);
        match latest {
            Some(s) => self.scan(s.id),
            None => Ok(()),
        }
    }

    /// Scans `snapshot` incrementally and, in the scan's transaction, queues a message for
    /// every compliance change since the last scan the daemon notified (on a store it never
    /// served: since the latest scan before).
    fn scan(&mut self, snapshot: SnapshotId) -> Result<(), ServeError> {
        let started = Instant::now();
        tracing::info!(snapshot = snapshot.0, "scanning");
        let store = &self.store;
        let options = ScanOptions {
            jobs: self.jobs,
            ..Default::default()
        };
        let queued = std::cell::Cell::new(0usize);
        let (baseline, ignore, drift) = (&self.baseline, &self.ignore, &mut self.drift);
        let report = crate::scan::scan_then(
            store,
            &self.host,
            &self.rules.rules,
            snapshot,
            &options,
            |info| {
                let mut n = queue_changes(store, info)?;
                if let Some(name) = baseline {
                    n += queue_drift(store, name, ignore, drift, info)?;
                }
                queued.set(n);
                Ok(())
            },
        );
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                // The walk may have gone past what the rolled-back transaction stored.
                self.drift = None;
                return Err(e.into());
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let counts: Vec<(String, u64)> = report
            .rules
            .iter()
            .flat_map(|r| {
                [
                    ("COMPLIANT".to_string(), r.compliant),
                    ("NON_COMPLIANT".to_string(), r.non_compliant),
                    ("NOT_APPLICABLE".to_string(), r.not_applicable),
                    ("ERROR".to_string(), r.error),
                ]
            })
            .collect();
        self.metrics
            .scanned(seconds, report.evaluated, report.reused, &counts);
        self.metrics.queued(queued.get());
        tracing::info!(
            snapshot = snapshot.0,
            scan = report.scan.id,
            evaluated = report.evaluated,
            reused = report.reused,
            notifications = queued.get(),
            seconds,
            "scanned"
        );
        for wake in &self.wakes {
            wake.notify_one();
        }
        (self.scanned)();
        self.prune();
        let mut last = self.status.last.lock().expect("status");
        last.snapshot = Some(snapshot.0);
        last.scan = Some(report.scan.id);
        last.finished_at = Some(report.scan.finished_at.clone());
        last.error = None;
        Ok(())
    }
}

impl Worker {
    /// Drops delivered messages older than the retention: the outbox holds what is owed and
    /// a recent past, not every message ever sent.
    fn prune(&self) {
        let before = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::try_from(self.retention).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MIN)
            .to_string();
        let sinks: Vec<&str> = self.sinks.iter().map(String::as_str).collect();
        match self.store.prune_outbox(&sinks, &before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "outbox pruned"),
            Err(e) => tracing::warn!("pruning the outbox: {e}"),
        }
    }
}

/// Queues the compliance changes of scan `info` (stored, not yet committed) against the last
/// notified scan before it, and marks it notified. Evaluations of rules the scan did not run
/// are not changes: a rule taken out is not a resource turned compliant.
fn queue_changes(store: &Store, info: &ScanInfo) -> Result<usize, StoreError> {
    let previous = match store.notified_before(info.id)? {
        Some(p) => store.scan_info(p)?,
        None => store.scan_before(info.id)?,
    };
    let ran: BTreeSet<String> = store
        .scan_rules(info.id)?
        .into_iter()
        .map(|r| r.rule_id)
        .collect();
    let changes =
        crate::timeline::changes_between(store, previous.as_ref().map(|p| p.id), info.id)?;
    let taken_at = |s: SnapshotId| -> Result<String, StoreError> {
        Ok(store.snapshot(SnapshotSelector::Id(s))?.taken_at)
    };
    let now_taken = taken_at(info.snapshot)?;
    let old_taken = match &previous {
        Some(p) => Some(taken_at(p.snapshot)?),
        None => None,
    };
    let now = jiff::Timestamp::now().to_string();
    let new = Judged {
        scan: info,
        taken_at: &now_taken,
    };
    let old = previous
        .as_ref()
        .zip(old_taken.as_deref())
        .map(|(scan, taken_at)| Judged { scan, taken_at });
    let messages: Vec<_> = changes
        .iter()
        .filter(|c| ran.contains(&c.rule_id))
        .map(|c| messages::compliance_change(c, new, old, &now))
        .collect();
    let queued = store.enqueue(&messages)?;
    store.mark_notified(info.id)?;
    Ok(queued)
}

/// Queues a message for every resource that started or stopped differing from baseline
/// `name` with scan `info`'s snapshot, since the last notified one. The walk starts (and starts
/// again when the baseline is moved) at the last notified snapshot, with no messages: what
/// differed then was reported then, or before the daemon watched.
fn queue_drift(
    store: &Store,
    name: &str,
    ignore: &IgnoreRules,
    walker: &mut Option<DriftWalker>,
    info: &ScanInfo,
) -> Result<usize, StoreError> {
    let baseline = match store.baseline(name) {
        Ok(b) => b,
        Err(StoreError::NoSuchBaseline { .. }) => {
            tracing::debug!(baseline = name, "no such baseline yet; no drift messages");
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    if walker
        .as_ref()
        .is_none_or(|w| w.baseline() != baseline.snapshot.id)
    {
        let mut w = DriftWalker::new(store, baseline.snapshot.id)?;
        let start = match store.notified_before(info.id)? {
            Some(p) => store.scan_info(p)?.map(|s| s.snapshot),
            None => None,
        };
        w.advance(store, start.unwrap_or(info.snapshot), ignore)?;
        *walker = Some(w);
    }
    let walk = walker.as_mut().expect("set above");
    let steps = walk.advance(store, info.snapshot, ignore)?;
    if steps.is_empty() {
        return Ok(0);
    }
    let taken_at = store
        .snapshot(SnapshotSelector::Id(info.snapshot))?
        .taken_at;
    let now = jiff::Timestamp::now().to_string();
    let mut messages = Vec::with_capacity(steps.len());
    for step in steps {
        let resource = store.resource(step.resource)?;
        messages.push(messages::drift_change(
            &resource.key,
            name,
            info.snapshot,
            &taken_at,
            step.after.map(|k| k.as_str()),
            &now,
        ));
    }
    store.enqueue(&messages)
}

fn file_stamp(path: &Path) -> (u64, Option<SystemTime>) {
    match std::fs::metadata(path) {
        Ok(m) => (m.len(), m.modified().ok()),
        Err(_) => (0, None),
    }
}
