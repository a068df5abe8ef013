//! Scans and their evaluations.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use std::collections::HashMap;

use super::{Result, Store, StoreError};
use crate::model::Compliance;
use crate::model::{ResourceKey, SnapshotId};

/// A rule as a scan records it.
#[derive(Debug, Clone, Serialize)]
pub struct ScanRule {
    pub rule_id: String,
    pub rule_version: String,
    pub module_hash: String,
    pub source: String,
    pub severity: String,
    pub parameters: serde_json::Value,
    pub title: String,
    pub description: String,
    /// The resource types the rule is scoped to (empty: every type).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub resource_types: Vec<String>,
}

/// One stored evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvaluation {
    pub rule_id: String,
    pub account_id: String,
    pub region: String,
    pub resource_type: String,
    pub resource_id: String,
    pub compliance: String,
    pub annotation: String,
}

impl StoredEvaluation {
    /// The order evaluations are listed in (`results`, reports): by rule, then resource.
    pub fn listing_order(&self) -> (&str, &str, &str, &str, &str) {
        (
            &self.rule_id,
            &self.account_id,
            &self.region,
            &self.resource_type,
            &self.resource_id,
        )
    }
}

/// One stored evaluation, borrowed from the row being read (no allocation per row).
#[derive(Debug, Clone, Copy)]
pub struct EvaluationRef<'a> {
    pub rule_id: &'a str,
    pub account_id: &'a str,
    pub region: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub compliance: &'a str,
    pub annotation: &'a str,
    /// Its row in `resources`, when it is a stored resource.
    pub resource: Option<i64>,
}

impl EvaluationRef<'_> {
    /// A 128-bit hash of (rule, resource identity): joins two scans' evaluations without
    /// building a string key per row.
    pub fn identity(&self) -> u128 {
        evaluation_identity(
            self.rule_id,
            self.account_id,
            self.region,
            self.resource_type,
            self.resource_id,
        )
    }

    pub fn to_owned(self) -> StoredEvaluation {
        StoredEvaluation {
            rule_id: self.rule_id.to_string(),
            account_id: self.account_id.to_string(),
            region: self.region.to_string(),
            resource_type: self.resource_type.to_string(),
            resource_id: self.resource_id.to_string(),
            compliance: self.compliance.to_string(),
            annotation: self.annotation.to_string(),
        }
    }
}

/// The hash `EvaluationRef::identity` computes, from the parts.
pub fn evaluation_identity(
    rule_id: &str,
    account_id: &str,
    region: &str,
    resource_type: &str,
    resource_id: &str,
) -> u128 {
    crate::canonical::identity_hash(&[rule_id, account_id, region, resource_type, resource_id])
}

/// How a scan stores what it finds (schema 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// A resource rule's verdict on a version is computed once and reused by every later scan
    /// of the same rule instance (module hash and parameters); the scan evaluates only the
    /// versions its instances never saw, and stores only what it evaluated.
    Incremental,
    /// Every evaluation runs again and is stored with the scan (`--full`, and every scan
    /// stored before schema 7). Its verdicts are kept for later incremental scans too.
    Full,
}

impl ScanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanMode::Incremental => "incremental",
            ScanMode::Full => "full",
        }
    }
}

/// A scan, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ScanInfo {
    pub id: i64,
    pub snapshot: SnapshotId,
    pub started_at: String,
    pub finished_at: String,
    pub mode: ScanMode,
}

/// Which evaluations `Store::evaluations` returns.
#[derive(Debug, Clone, Default)]
pub struct EvaluationFilter {
    pub rule_id: Option<String>,
    /// A resource id, matched exactly.
    pub resource_id: Option<String>,
    pub compliance: Option<String>,
    pub account_id: Option<String>,
    pub resource_type: Option<String>,
}

/// What a compliance summary counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryBy {
    Rule,
    Account,
    ResourceType,
}

/// Where a page of evaluations ends, for the next to start after it: one of the scan's own
/// rows, or a verdict of one of its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKey {
    Own(i64),
    Verdict { rule_id: String, version: i64 },
}

/// An earlier incremental scan a new one starts from: it ran every rule instance of the new
/// scan, and kept its counts.
#[derive(Debug, Clone)]
pub struct BaseScan {
    pub id: i64,
    pub snapshot: SnapshotId,
    /// For each rule of the new scan (by index), its number in the base scan, and the base's
    /// counts for it (`[C, NC, NA, ERROR]`).
    pub rules: Vec<(i64, [u64; 4])>,
}

/// A row a scan stored of its own (for an incremental scan: ERRORs and estate evaluations).
#[derive(Debug, Clone)]
pub struct OwnRow {
    /// The rule's number in that scan.
    pub rule: i64,
    pub resource: Evaluated,
    /// The account it belongs to.
    pub account_id: String,
    pub compliance: Compliance,
    pub annotation: String,
}

/// What an evaluation is about.
#[derive(Debug, Clone)]
pub enum Evaluated {
    /// A resource of the snapshot, by its row in `resources` (`StoredItem::resource`).
    Stored(i64),
    /// Something that is not a stored resource (an estate rule's account).
    Named(ResourceKey),
}

/// An evaluation for [`EvaluationSink::record`].
#[derive(Debug, Clone)]
pub struct NewEvaluation<'a> {
    /// The rule's index in the `rules` the scan was started with.
    pub rule: usize,
    pub resource: Evaluated,
    /// The version evaluated, for a resource rule's evaluation: what makes it reusable.
    pub version: Option<i64>,
    pub compliance: Compliance,
    pub annotation: &'a str,
}

/// An evaluation of a stored resource, waiting to be written: rule, resource, compliance and
/// annotation numbers.
type PendingRow = [i64; 4];

/// An evaluation of something that is not a stored resource (an estate rule's account).
struct PendingNamed {
    rule: i64,
    key: ResourceKey,
    compliance: i64,
    annotation: i64,
}

/// Receives a scan's evaluations and stores them as compact rows (schema 4), many rows per
/// statement, each distinct annotation once.
pub struct EvaluationSink<'t> {
    tx: &'t rusqlite::Transaction<'t>,
    scan: i64,
    mode: ScanMode,
    /// Each rule's instance (`rule_instances.id`), by the rule's index.
    instances: Vec<i64>,
    /// Verdicts to store: instance, version, compliance code, annotation (`annotations.id`).
    pending_verdicts: Vec<(i64, i64, i64, Option<i64>)>,
    /// Each rule's evaluations by compliance code (`[C, NC, NA, ERROR]`), by the rule's index,
    /// as the scan counted them: stored with its rules so later scans can start from them.
    /// Left empty, the scan's counts are not stored (and are counted from its rows).
    pub counts: Vec<[u64; 4]>,
    /// Ids in `annotations`, by text.
    verdict_annotations: HashMap<String, i64>,
    /// What the scan evaluated and what it took from earlier scans, as the scan counted them.
    pub evaluated: u64,
    pub reused: u64,
    written: u64,
    pending: Vec<PendingRow>,
    pending_named: Vec<PendingNamed>,
    annotations: HashMap<String, i64>,
    /// The rowids of the first and last evaluation written.
    first: Option<i64>,
    last: Option<i64>,
}

impl std::fmt::Debug for EvaluationSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationSink")
            .field("scan", &self.scan)
            .finish()
    }
}

/// Rows per INSERT: one statement step per this many evaluations.
const ROWS_PER_INSERT: usize = 128;

/// The code `scan_evaluations.compliance` stores.
fn compliance_code(compliance: Compliance) -> i64 {
    match compliance {
        Compliance::Compliant => 1,
        Compliance::NonCompliant => 2,
        Compliance::NotApplicable => 3,
        Compliance::Error => 4,
    }
}

/// The compliance a stored code stands for (anything but 1–3 reads as ERROR).
fn compliance_of_code(code: i64) -> Compliance {
    match code {
        1 => Compliance::Compliant,
        2 => Compliance::NonCompliant,
        3 => Compliance::NotApplicable,
        _ => Compliance::Error,
    }
}

impl EvaluationSink<'_> {
    /// The scan being stored (`scans.id`).
    pub fn scan_id(&self) -> i64 {
        self.scan
    }

    /// How this scan stores what it finds.
    pub fn mode(&self) -> ScanMode {
        self.mode
    }

    /// The instance of rule `rule` (its index in the scan's rules).
    pub fn instance(&self, rule: usize) -> i64 {
        self.instances[rule]
    }

    /// Stores an evaluation. A resource rule's verdict (not ERROR) is kept for reuse; what is
    /// not reused, and everything a full scan finds, is stored with the scan.
    pub fn record(&mut self, e: NewEvaluation<'_>) -> Result<()> {
        let reusable = e.version.is_some() && e.compliance != Compliance::Error;
        if let (true, Some(version)) = (reusable, e.version) {
            let annotation = self.verdict_annotation(e.annotation)?;
            self.verdict(
                e.rule,
                version,
                compliance_code(e.compliance),
                Some(annotation),
            )?;
            if self.mode == ScanMode::Incremental {
                return Ok(());
            }
        }
        let annotation = match self.annotations.get(e.annotation) {
            Some(number) => *number,
            None => {
                let number = self.annotations.len() as i64;
                self.tx
                    .prepare_cached(
                        "INSERT INTO scan_annotations (scan_id, number, text) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![self.scan, number, e.annotation])?;
                self.annotations.insert(e.annotation.to_string(), number);
                number
            }
        };
        let (rule, compliance) = (e.rule as i64, compliance_code(e.compliance));
        match e.resource {
            Evaluated::Stored(resource) => {
                self.pending.push([rule, resource, compliance, annotation]);
                if self.pending.len() == ROWS_PER_INSERT {
                    self.flush()?;
                }
            }
            Evaluated::Named(key) => self.pending_named.push(PendingNamed {
                rule,
                key,
                compliance,
                annotation,
            }),
        }
        Ok(())
    }

    /// Records that rule `rule` does not apply to `version` (outside its scope): no evaluation,
    /// and nothing to evaluate again.
    pub fn out_of_scope(&mut self, rule: usize, version: i64) -> Result<()> {
        self.verdict(rule, version, 0, None)
    }

    fn verdict(
        &mut self,
        rule: usize,
        version: i64,
        code: i64,
        annotation: Option<i64>,
    ) -> Result<()> {
        self.pending_verdicts
            .push((self.instances[rule], version, code, annotation));
        if self.pending_verdicts.len() == ROWS_PER_INSERT {
            self.flush_verdicts()?;
        }
        Ok(())
    }

    fn verdict_annotation(&mut self, text: &str) -> Result<i64> {
        if let Some(id) = self.verdict_annotations.get(text) {
            return Ok(*id);
        }
        let found: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM annotations WHERE text = ?1")?
            .query_row([text], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                self.tx
                    .prepare_cached("INSERT INTO annotations (text) VALUES (?1)")?
                    .execute([text])?;
                self.tx.last_insert_rowid()
            }
        };
        self.verdict_annotations.insert(text.to_string(), id);
        Ok(id)
    }

    /// Writes the pending verdicts, one statement for them all. A verdict already stored (a
    /// full scan evaluating again what an earlier scan evaluated) is kept as it was: later
    /// scans and earlier ones read the same.
    fn flush_verdicts(&mut self) -> Result<()> {
        let n = self.pending_verdicts.len();
        if n == 0 {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT OR IGNORE INTO verdicts (scan, instance, version, compliance, annotation) VALUES ",
        );
        for i in 0..n {
            sql.push_str(if i == 0 {
                "(?1, ?, ?, ?, ?)"
            } else {
                ", (?1, ?, ?, ?, ?)"
            });
        }
        let mut stmt = self.tx.prepare_cached(&sql)?;
        stmt.raw_bind_parameter(1, self.scan)?;
        for (i, (instance, version, code, annotation)) in self.pending_verdicts.iter().enumerate() {
            stmt.raw_bind_parameter(i * 4 + 2, instance)?;
            stmt.raw_bind_parameter(i * 4 + 3, version)?;
            stmt.raw_bind_parameter(i * 4 + 4, code)?;
            stmt.raw_bind_parameter(i * 4 + 5, annotation)?;
        }
        stmt.raw_execute()?;
        self.pending_verdicts.clear();
        Ok(())
    }

    /// Writes the pending evaluations of stored resources, one statement for them all: they
    /// name their resource by row, so the four columns that name anything else stay NULL and
    /// are not bound (binding them was a third of storing a row).
    fn flush(&mut self) -> Result<()> {
        let n = self.pending.len();
        if n == 0 {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO scan_evaluations (scan_id, rule, resource, compliance, annotation) VALUES ",
        );
        for i in 0..n {
            sql.push_str(if i == 0 {
                "(?1, ?, ?, ?, ?)"
            } else {
                ", (?1, ?, ?, ?, ?)"
            });
        }
        let mut stmt = self.tx.prepare_cached(&sql)?;
        stmt.raw_bind_parameter(1, self.scan)?;
        let mut at = 2;
        for row in &self.pending {
            for (offset, value) in row.iter().enumerate() {
                stmt.raw_bind_parameter(at + offset, value)?;
            }
            at += row.len();
        }
        stmt.raw_execute()?;
        self.wrote(n);
        self.pending.clear();
        Ok(())
    }

    /// Writes the pending evaluations of what is not a stored resource, by name.
    fn flush_named(&mut self) -> Result<()> {
        for row in std::mem::take(&mut self.pending_named) {
            self.tx
                .prepare_cached(
                    "INSERT INTO scan_evaluations (scan_id, rule, resource, compliance, annotation,
                                               account_id, region, resource_type, resource_id)
                     VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    self.scan,
                    row.rule,
                    row.compliance,
                    row.annotation,
                    row.key.account_id,
                    row.key.region,
                    row.key.resource_type,
                    row.key.resource_id
                ])?;
            self.wrote(1);
        }
        Ok(())
    }

    /// Notes the `n` rows the last statement wrote: a scan's rows take consecutive rowids (it
    /// holds the write lock), so its range runs from its first row to its last.
    fn wrote(&mut self, n: usize) {
        let last = self.tx.last_insert_rowid();
        self.first.get_or_insert(last - n as i64 + 1);
        self.last = Some(last);
        self.written += n as u64;
    }
}

impl Store {
    /// Records a scan of `snapshot` by `rules` and stores what `evaluate` records through the
    /// sink, all in one transaction: a scan is stored whole or not at all. `evaluate` reads the
    /// snapshot as it likes: on this connection (reading inside the transaction is allowed) or
    /// on [`Store::reader`]s in other threads. `then` runs last, inside the transaction, with
    /// the scan stored and readable on this connection: what it writes (the daemon's outbox)
    /// commits with the scan or not at all.
    pub fn scan(
        &self,
        snapshot: SnapshotId,
        rules: &[ScanRule],
        mode: ScanMode,
        evaluate: impl FnOnce(&mut EvaluationSink<'_>) -> Result<()>,
        then: impl FnOnce(&ScanInfo) -> Result<()>,
    ) -> Result<ScanInfo> {
        let started_at = now();
        // Reading the snapshot and writing evaluations share one connection and transaction.
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO scans (snapshot_id, started_at, finished_at, mode) VALUES (?1, ?2, ?2, ?3)",
            params![snapshot.0, started_at, mode.as_str()],
        )?;
        let scan = tx.last_insert_rowid();
        let mut instances = Vec::with_capacity(rules.len());
        for (number, rule) in rules.iter().enumerate() {
            let parameters = crate::canonical::to_canonical_string(&rule.parameters);
            tx.prepare_cached(
                "INSERT INTO rule_instances (module_hash, parameters) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![rule.module_hash, parameters])?;
            let instance: i64 = tx
                .prepare_cached(
                    "SELECT id FROM rule_instances WHERE module_hash = ?1 AND parameters = ?2",
                )?
                .query_row(params![rule.module_hash, parameters], |r| r.get(0))?;
            instances.push(instance);
            tx.execute(
                "INSERT INTO scan_rules (scan_id, rule_id, rule_version, module_hash, source, severity,
                                         parameters, title, description, number, instance,
                                         resource_types)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    scan,
                    rule.rule_id,
                    rule.rule_version,
                    rule.module_hash,
                    rule.source,
                    rule.severity,
                    rule.parameters.to_string(),
                    rule.title,
                    rule.description,
                    number as i64,
                    instance,
                    serde_json::to_string(&rule.resource_types).expect("json")
                ],
            )?;
        }
        let mut sink = EvaluationSink {
            tx: &tx,
            scan,
            mode,
            instances,
            pending_verdicts: Vec::with_capacity(ROWS_PER_INSERT),
            counts: Vec::new(),
            verdict_annotations: HashMap::new(),
            evaluated: 0,
            reused: 0,
            written: 0,
            pending: Vec::with_capacity(ROWS_PER_INSERT),
            pending_named: Vec::new(),
            annotations: HashMap::new(),
            first: None,
            last: None,
        };
        evaluate(&mut sink)?;
        sink.flush()?;
        sink.flush_named()?;
        sink.flush_verdicts()?;
        if sink.counts.len() == rules.len() {
            let mut stmt = tx.prepare_cached(
                "UPDATE scan_rules SET compliant = ?3, non_compliant = ?4, not_applicable = ?5,
                                       error = ?6
                 WHERE scan_id = ?1 AND number = ?2",
            )?;
            for (number, [c, nc, na, error]) in sink.counts.iter().enumerate() {
                let counts = [*c, *nc, *na, *error].map(|n| n as i64);
                stmt.execute(params![
                    scan,
                    number as i64,
                    counts[0],
                    counts[1],
                    counts[2],
                    counts[3]
                ])?;
            }
        }
        let finished_at = now();
        tx.execute(
            "UPDATE scans SET finished_at = ?2, first_evaluation = ?3, last_evaluation = ?4,
                              evaluated = ?5, reused = ?6
             WHERE id = ?1",
            params![
                scan,
                finished_at,
                sink.first,
                sink.last,
                sink.evaluated as i64,
                sink.reused as i64
            ],
        )?;
        let info = ScanInfo {
            id: scan,
            snapshot,
            started_at,
            finished_at,
            mode,
        };
        then(&info)?;
        tracing::info!(
            scan,
            rows = sink.written,
            evaluated = sink.evaluated,
            reused = sink.reused,
            "scan stored"
        );
        tx.commit()?;
        Ok(info)
    }

    /// The verdicts stored for a rule instance: compliance code (0: outside its scope) by
    /// version. An incremental scan evaluates only the versions missing here.
    pub fn verdicts_of(&self, instance: i64) -> Result<HashMap<i64, u8>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT version, compliance FROM verdicts WHERE instance = ?1")?;
        let rows = stmt.query_map([instance], |r| Ok((r.get(0)?, r.get::<_, u8>(1)?)))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The latest incremental scan, other than `scan`, that a new incremental scan whose rules
    /// are the instances `instances` can start from: one that ran each of them (and perhaps
    /// more), of an observed snapshot, with its counts kept. Only the last few scans are
    /// looked at: a base further back would differ in too much to be worth it.
    pub fn scan_base(&self, scan: i64, instances: &[i64]) -> Result<Option<BaseScan>> {
        const LOOK_BACK: i64 = 8;
        let candidates: Vec<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT s.id, s.snapshot_id FROM scans s JOIN snapshots sn ON sn.id = s.snapshot_id
                 WHERE s.id <> ?1 AND s.mode = 'incremental' AND sn.role <> 'desired'
                 ORDER BY s.id DESC LIMIT ?2",
            )?
            .query_map(params![scan, LOOK_BACK], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT instance, number, compliant, non_compliant, not_applicable, error
             FROM scan_rules WHERE scan_id = ?1 AND instance IS NOT NULL AND compliant IS NOT NULL",
        )?;
        for (id, snapshot) in candidates {
            let ran: HashMap<i64, (i64, [u64; 4])> = stmt
                .query_map([id], |r| {
                    let count = |i| r.get::<_, i64>(i).map(|n| n as u64);
                    Ok((
                        r.get(0)?,
                        (r.get(1)?, [count(2)?, count(3)?, count(4)?, count(5)?]),
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let rules: Option<Vec<_>> = instances.iter().map(|i| ran.get(i).copied()).collect();
            if let Some(rules) = rules {
                return Ok(Some(BaseScan {
                    id,
                    snapshot: SnapshotId(snapshot),
                    rules,
                }));
            }
        }
        Ok(None)
    }

    /// Every row scan `scan` stored of its own, in the order stored.
    pub fn own_rows(&self, scan: i64) -> Result<Vec<OwnRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.rule, e.resource, e.compliance, a.text, coalesce(res.account_id, e.account_id),
                    e.region, e.resource_type, e.resource_id
             FROM scans s
             JOIN scan_evaluations e
               ON e.rowid BETWEEN coalesce(s.first_evaluation, 0) AND coalesce(s.last_evaluation, -1)
              AND e.scan_id = s.id
             JOIN scan_annotations a ON a.scan_id = e.scan_id AND a.number = e.annotation
             LEFT JOIN resources res ON res.id = e.resource
             WHERE s.id = ?1
             ORDER BY e.rowid",
        )?;
        let rows = stmt.query_map([scan], |r| {
            let account_id: String = r.get(4)?;
            let resource = match r.get::<_, Option<i64>>(1)? {
                Some(row) => Evaluated::Stored(row),
                None => Evaluated::Named(ResourceKey {
                    account_id: account_id.clone(),
                    region: r.get(5)?,
                    resource_type: r.get(6)?,
                    resource_id: r.get(7)?,
                }),
            };
            Ok(OwnRow {
                rule: r.get(0)?,
                resource,
                account_id,
                compliance: compliance_of_code(r.get(2)?),
                annotation: r.get(3)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(StoreError::from)
    }

    /// The verdict code of rule instance `instance` on version `version` (0: outside its
    /// scope), if one is stored.
    pub fn verdict_code(&self, instance: i64, version: i64) -> Result<Option<u8>> {
        Ok(self
            .conn
            .prepare_cached("SELECT compliance FROM verdicts WHERE instance = ?1 AND version = ?2")?
            .query_row(params![instance, version], |r| r.get(0))
            .optional()?)
    }

    /// The verdicts of `instance` on those of `versions` it has one on, read in batches:
    /// version → compliance code.
    pub fn verdict_codes(&self, instance: i64, versions: &[i64]) -> Result<HashMap<i64, u8>> {
        let mut found = HashMap::new();
        for chunk in versions.chunks(super::PER_STATEMENT) {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT version, compliance FROM verdicts WHERE instance = ? AND version IN ({})",
                super::marks(chunk.len())
            ))?;
            let bound = std::iter::once(&instance).chain(chunk);
            let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
            while let Some(r) = rows.next()? {
                found.insert(r.get(0)?, r.get(1)?);
            }
        }
        Ok(found)
    }

    /// The ARN of the resource in row `resource`, if it has one.
    pub fn arn_of(&self, resource: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT arn FROM resources WHERE id = ?1")?
            .query_row([resource], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// The latest scan of a snapshot.
    pub fn latest_scan(&self, snapshot: SnapshotId) -> Result<Option<ScanInfo>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, snapshot_id, started_at, finished_at, mode FROM scans
                 WHERE snapshot_id = ?1 ORDER BY id DESC LIMIT 1",
                [snapshot.0],
                scan_info_from_row,
            )
            .optional()?)
    }

    /// A scan by id.
    pub fn scan_info(&self, scan: i64) -> Result<Option<ScanInfo>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, snapshot_id, started_at, finished_at, mode FROM scans WHERE id = ?1",
                [scan],
                scan_info_from_row,
            )
            .optional()?)
    }

    /// The latest scan stored before scan `scan`.
    pub fn scan_before(&self, scan: i64) -> Result<Option<ScanInfo>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, snapshot_id, started_at, finished_at, mode FROM scans
                 WHERE id < ?1 ORDER BY id DESC LIMIT 1",
                [scan],
                scan_info_from_row,
            )
            .optional()?)
    }

    /// How many evaluations of each compliance each rule of a scan has: (rule, compliance,
    /// count), in rule order and then COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ERROR.
    pub fn compliance_counts(&self, scan: i64) -> Result<Vec<(String, String, u64)>> {
        // Kept with the scan's rules since schema 9: no need to count its rows.
        let kept: Vec<(String, Option<[i64; 4]>)> = self
            .conn
            .prepare_cached(
                "SELECT rule_id, compliant, non_compliant, not_applicable, error
                 FROM scan_rules WHERE scan_id = ?1 ORDER BY rule_id",
            )?
            .query_map([scan], |r| {
                let counts = match r.get::<_, Option<i64>>(1)? {
                    Some(c) => Some([c, r.get(2)?, r.get(3)?, r.get(4)?]),
                    None => None,
                };
                Ok((r.get(0)?, counts))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if !kept.is_empty() && kept.iter().all(|(_, counts)| counts.is_some()) {
            let words = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "ERROR"];
            return Ok(kept
                .into_iter()
                .flat_map(|(rule, counts)| {
                    let counts = counts.expect("checked above");
                    words
                        .iter()
                        .zip(counts)
                        .filter(|(_, n)| *n > 0)
                        .map(|(word, n)| (rule.clone(), word.to_string(), n as u64))
                        .collect::<Vec<_>>()
                })
                .collect());
        }
        let (view, bound) = self.scan_view(scan)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{view} SELECT rule_id, compliance, count(*) FROM scan_view
             GROUP BY rule_id, compliance
             ORDER BY rule_id, CASE compliance WHEN 'COMPLIANT' THEN 1 WHEN 'NON_COMPLIANT' THEN 2
                                               WHEN 'NOT_APPLICABLE' THEN 3 ELSE 4 END"
        ))?;
        let rows = stmt.query_map(bound, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// A scan's evaluations as a common table expression, `scan_view`, of (rule_id,
    /// account_id, region, resource_type, resource_id, compliance, annotation, resource), and
    /// what it binds: ?1 the scan, ?2 and ?3 the range of rowids its own rows occupy, ?4 its
    /// snapshot.
    ///
    /// A scan's own rows are contiguous (it writes them in one transaction, holding the write
    /// lock), so reading its range walks the table in order. An incremental scan adds the
    /// verdicts of its rules' instances on the versions of its snapshot.
    fn scan_view(&self, scan: i64) -> Result<(String, [i64; 4])> {
        let (first, last, snapshot, mode): (i64, i64, i64, String) = self
            .conn
            .prepare_cached(
                "SELECT coalesce(first_evaluation, 0), coalesce(last_evaluation, -1), snapshot_id,
                        mode
                 FROM scans WHERE id = ?1",
            )?
            .query_row([scan], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?
            .unwrap_or((0, -1, 0, String::new()));
        let own = "SELECT rule_id, account_id, region, resource_type, resource_id, compliance,
                          annotation, resource
                   FROM evaluations WHERE row BETWEEN ?2 AND ?3 AND scan_id = ?1";
        let view = if mode == "incremental" {
            let state = self.state_of(SnapshotId(snapshot))?.replace("?1", "?4");
            format!(
                "WITH scan_view AS ({own}
                 UNION ALL
                 SELECT sr.rule_id, res.account_id, res.region, res.resource_type, res.resource_id,
                        {VERDICT_COMPLIANCE},
                        an.text, res.id
                 FROM scan_rules sr
                 JOIN verdicts vd ON vd.instance = sr.instance
                 JOIN versions v ON v.id = vd.version
                 JOIN resources res ON res.id = v.resource
                 JOIN annotations an ON an.id = vd.annotation
                 WHERE sr.scan_id = ?1 AND vd.compliance > 0 AND {state}
                   AND (vd.scan IS NULL OR vd.scan <= ?1))"
            )
        } else {
            // The snapshot is bound whatever the form, so that every query binds the same.
            format!("WITH scan_view AS ({own} AND ?4 IS NOT NULL)")
        };
        Ok((view, [scan, first, last, snapshot]))
    }

    /// Calls `each` with every evaluation of a scan, borrowed from the row, in the order
    /// they are read.
    pub fn for_each_evaluation(
        &self,
        scan: i64,
        each: impl FnMut(EvaluationRef<'_>) -> Result<()>,
    ) -> Result<()> {
        self.read_evaluations(scan, "", each)
    }

    /// As [`Store::for_each_evaluation`], in listing order (rule, account, region, type, id):
    /// SQLite sorts them, spilling to a temporary file, so a million are never held here.
    pub fn for_each_evaluation_in_order(
        &self,
        scan: i64,
        each: impl FnMut(EvaluationRef<'_>) -> Result<()>,
    ) -> Result<()> {
        self.read_evaluations(
            scan,
            "ORDER BY rule_id, account_id, region, resource_type, resource_id",
            each,
        )
    }

    fn read_evaluations(
        &self,
        scan: i64,
        order: &str,
        mut each: impl FnMut(EvaluationRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let (view, bound) = self.scan_view(scan)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{view} SELECT rule_id, account_id, region, resource_type, resource_id, compliance,
                           annotation, resource
                    FROM scan_view {order}"
        ))?;
        let mut rows = stmt.query(bound)?;
        while let Some(r) = rows.next()? {
            let text = |i: usize| -> Result<&str> {
                Ok(r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?)
            };
            each(EvaluationRef {
                rule_id: text(0)?,
                account_id: text(1)?,
                region: text(2)?,
                resource_type: text(3)?,
                resource_id: text(4)?,
                compliance: text(5)?,
                annotation: text(6)?,
                resource: r.get(7)?,
            })?;
        }
        Ok(())
    }

    /// The evaluations of one resource in a scan.
    pub fn evaluations_of(&self, scan: i64, key: &ResourceKey) -> Result<Vec<StoredEvaluation>> {
        let (view, [scan, first, last, snapshot]) = self.scan_view(scan)?;
        let row: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM resources WHERE resource_id = ?1 AND resource_type = ?2
                   AND account_id = ?3 AND region = ?4",
            )?
            .query_row(
                params![
                    key.resource_id,
                    key.resource_type,
                    key.account_id,
                    key.region
                ],
                |r| r.get(0),
            )
            .optional()?;
        // A stored resource is matched by its row, tested before anything is joined; anything
        // else (an account) by name.
        let mut stmt = self.conn.prepare_cached(&format!(
            "{view}
             SELECT rule_id, account_id, region, resource_type, resource_id, compliance, annotation
             FROM scan_view
             WHERE (CASE WHEN ?9 IS NOT NULL THEN resource = ?9
                         ELSE resource IS NULL AND resource_id = ?5 AND resource_type = ?6
                              AND account_id = ?7 AND region = ?8 END)
             ORDER BY rule_id"
        ))?;
        let rows = stmt.query_map(
            params![
                scan,
                first,
                last,
                snapshot,
                key.resource_id,
                key.resource_type,
                key.account_id,
                key.region,
                row
            ],
            evaluation_from_row,
        )?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The rule instance each rule of a scan ran as, by rule id (`None` for scans stored
    /// before schema 7).
    pub fn scan_instances(&self, scan: i64) -> Result<HashMap<String, Option<i64>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule_id, instance FROM scan_rules WHERE scan_id = ?1")?;
        let rows = stmt.query_map([scan], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// A scan's own rows for one rule (for an incremental scan: its ERRORs and estate
    /// evaluations; for a full scan: all of them), with each one's resource row when it is a
    /// stored resource.
    pub fn own_evaluations(
        &self,
        scan: i64,
        rule_id: &str,
    ) -> Result<Vec<(Option<i64>, StoredEvaluation)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.rule_id, e.account_id, e.region, e.resource_type, e.resource_id,
                    e.compliance, e.annotation, e.resource
             FROM scans s JOIN evaluations e
               ON e.row BETWEEN coalesce(s.first_evaluation, 0) AND coalesce(s.last_evaluation, -1)
              AND e.scan_id = s.id
             WHERE s.id = ?1 AND e.rule_id = ?2",
        )?;
        let rows = stmt.query_map(params![scan, rule_id], |r| {
            Ok((r.get(7)?, evaluation_from_row(r)?))
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The verdict of rule instance `instance` on version `version`, if it has one and the
    /// version is in the rule's scope: (compliance, annotation).
    pub fn verdict(&self, instance: i64, version: i64) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {VERDICT_COMPLIANCE}, an.text
                 FROM verdicts vd JOIN annotations an ON an.id = vd.annotation
                 WHERE vd.instance = ?1 AND vd.version = ?2 AND vd.compliance > 0"
            ))?
            .query_row(params![instance, version], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The rules a scan ran, by id.
    pub fn scan_rules(&self, scan: i64) -> Result<Vec<ScanRule>> {
        let mut stmt = self.conn.prepare(
            "SELECT rule_id, rule_version, module_hash, source, severity, parameters, title,
                    description, resource_types
             FROM scan_rules WHERE scan_id = ?1 ORDER BY rule_id",
        )?;
        let rows = stmt.query_map([scan], |r| {
            let parameters: String = r.get(5)?;
            let types: Option<String> = r.get(8)?;
            Ok(ScanRule {
                rule_id: r.get(0)?,
                rule_version: r.get(1)?,
                module_hash: r.get(2)?,
                source: r.get(3)?,
                severity: r.get(4)?,
                parameters: serde_json::from_str(&parameters).unwrap_or(serde_json::Value::Null),
                title: r.get(6)?,
                description: r.get(7)?,
                resource_types: types
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default(),
            })
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// Evaluations of a scan, filtered, in rule then resource order.
    pub fn evaluations(
        &self,
        scan: i64,
        filter: &EvaluationFilter,
    ) -> Result<Vec<StoredEvaluation>> {
        let (view, [scan, first, last, snapshot]) = self.scan_view(scan)?;
        let mut stmt = self.conn.prepare(&format!(
            "{view}
             SELECT rule_id, account_id, region, resource_type, resource_id, compliance, annotation
             FROM scan_view
             WHERE (?5 IS NULL OR rule_id = ?5) AND (?6 IS NULL OR resource_id = ?6)
               AND (?7 IS NULL OR compliance = ?7) AND (?8 IS NULL OR account_id = ?8)
               AND (?9 IS NULL OR resource_type = ?9)
             ORDER BY rule_id, account_id, region, resource_type, resource_id"
        ))?;
        let rows = stmt.query_map(
            params![
                scan,
                first,
                last,
                snapshot,
                filter.rule_id,
                filter.resource_id,
                filter.compliance,
                filter.account_id,
                filter.resource_type
            ],
            evaluation_from_row,
        )?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// Up to `limit` evaluations of a scan, filtered, after `after`, in the order the store
    /// holds them (the scan's own rows, then its rules' verdicts by rule id and version), and
    /// where the next page starts (`None` after the last). Each page is index range reads
    /// that stop at `limit`: its cost does not grow with the scan.
    pub fn evaluations_page(
        &self,
        scan: i64,
        filter: &EvaluationFilter,
        after: Option<&PageKey>,
        limit: usize,
    ) -> Result<(Vec<StoredEvaluation>, Option<PageKey>)> {
        let (first, last, mode): (i64, i64, String) = self
            .conn
            .prepare_cached(
                "SELECT coalesce(first_evaluation, 0), coalesce(last_evaluation, -1), mode
                 FROM scans WHERE id = ?1",
            )?
            .query_row([scan], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .unwrap_or((0, -1, String::new()));
        let mut page = Vec::with_capacity(limit.min(1024));
        let mut next = None;
        // The scan's own rows, by row.
        if let None | Some(PageKey::Own(_)) = after {
            let from = match after {
                Some(PageKey::Own(row)) => *row,
                _ => first - 1,
            };
            let mut stmt = self.conn.prepare_cached(
                "SELECT rule_id, account_id, region, resource_type, resource_id, compliance,
                        annotation, row
                 FROM evaluations WHERE row BETWEEN ?2 AND ?3 AND scan_id = ?1 AND row > ?4
                   AND (?5 IS NULL OR rule_id = ?5) AND (?6 IS NULL OR resource_id = ?6)
                   AND (?7 IS NULL OR compliance = ?7) AND (?8 IS NULL OR account_id = ?8)
                   AND (?9 IS NULL OR resource_type = ?9)
                 ORDER BY row LIMIT ?10",
            )?;
            let mut rows = stmt.query(params![
                scan,
                first,
                last,
                from,
                filter.rule_id,
                filter.resource_id,
                filter.compliance,
                filter.account_id,
                filter.resource_type,
                limit as i64
            ])?;
            while let Some(r) = rows.next()? {
                page.push(evaluation_from_row(r)?);
                next = Some(PageKey::Own(r.get(7)?));
            }
            if page.len() == limit {
                return Ok((page, next));
            }
        }
        let code = match filter.compliance.as_deref() {
            None => None,
            Some("COMPLIANT") => Some(1),
            Some("NON_COMPLIANT") => Some(2),
            Some("NOT_APPLICABLE") => Some(3),
            // ERROR is never a verdict.
            Some(_) => return Ok((page, None)),
        };
        if mode != "incremental" {
            return Ok((page, None));
        }
        let snapshot: i64 = self
            .conn
            .prepare_cached("SELECT snapshot_id FROM scans WHERE id = ?1")?
            .query_row([scan], |r| r.get(0))?;
        let (from_rule, from_version) = match after {
            Some(PageKey::Verdict { rule_id, version }) => (rule_id.as_str(), *version),
            _ => ("", i64::MIN),
        };
        let rules: Vec<(String, i64, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT rule_id, instance, resource_types FROM scan_rules
                 WHERE scan_id = ?1 AND rule_id >= ?2 AND instance IS NOT NULL
                   AND (?3 IS NULL OR rule_id = ?3)
                 ORDER BY rule_id",
            )?
            .query_map(params![scan, from_rule, filter.rule_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        // A rule scoped to other types has no verdict on the type asked for.
        let in_scope = |types: &Option<String>| match (&filter.resource_type, types) {
            (Some(wanted), Some(types)) => {
                let types: Vec<String> = serde_json::from_str(types).unwrap_or_default();
                types.is_empty() || types.contains(wanted)
            }
            _ => true,
        };
        let state = self.state_of(SnapshotId(snapshot))?.replace("?1", "?3");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT ?1, res.account_id, res.region, res.resource_type, res.resource_id,
                    {VERDICT_COMPLIANCE},
                    an.text, vd.version
             FROM verdicts vd
             JOIN versions v ON v.id = vd.version
             JOIN resources res ON res.id = v.resource
             JOIN annotations an ON an.id = vd.annotation
             WHERE vd.instance = ?2 AND vd.version > ?4 AND vd.compliance > 0 AND {state}
               AND (?5 IS NULL OR vd.compliance = ?5) AND (?6 IS NULL OR res.resource_id = ?6)
               AND (?7 IS NULL OR res.account_id = ?7) AND (?8 IS NULL OR res.resource_type = ?8)
               AND (vd.scan IS NULL OR vd.scan <= ?10)
             ORDER BY vd.version LIMIT ?9"
        ))?;
        for (rule_id, instance, types) in rules {
            if !in_scope(&types) {
                continue;
            }
            let after_version = if rule_id == from_rule {
                from_version
            } else {
                i64::MIN
            };
            let mut rows = stmt.query(params![
                rule_id,
                instance,
                snapshot,
                after_version,
                code,
                filter.resource_id,
                filter.account_id,
                filter.resource_type,
                (limit - page.len()) as i64,
                scan
            ])?;
            while let Some(r) = rows.next()? {
                page.push(evaluation_from_row(r)?);
                next = Some(PageKey::Verdict {
                    rule_id: rule_id.clone(),
                    version: r.get(7)?,
                });
            }
            if page.len() == limit {
                return Ok((page, next));
            }
        }
        Ok((page, None))
    }

    /// How many evaluations of each compliance a scan has per rule, account or resource
    /// type: (key, compliance, count), by key.
    pub fn compliance_summary(
        &self,
        scan: i64,
        by: SummaryBy,
    ) -> Result<Vec<(String, String, u64)>> {
        if by == SummaryBy::Rule {
            // Kept with the scan since schema 9 (else counted from its rows).
            let mut counts = self.compliance_counts(scan)?;
            counts.sort();
            return Ok(counts);
        }
        let column = match by {
            SummaryBy::Rule => "rule_id",
            SummaryBy::Account => "account_id",
            SummaryBy::ResourceType => "resource_type",
        };
        let (view, bound) = self.scan_view(scan)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{view} SELECT {column}, compliance, count(*) FROM scan_view
             GROUP BY {column}, compliance ORDER BY {column}, compliance"
        ))?;
        let rows = stmt.query_map(bound, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }
}

/// A row of `SELECT id, snapshot_id, started_at, finished_at, mode FROM scans`.
fn scan_info_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScanInfo> {
    Ok(ScanInfo {
        id: r.get(0)?,
        snapshot: SnapshotId(r.get(1)?),
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
        mode: if r.get_ref(4)?.as_str()? == "incremental" {
            ScanMode::Incremental
        } else {
            ScanMode::Full
        },
    })
}

/// A row of `SELECT rule_id, account_id, region, resource_type, resource_id, compliance,
/// annotation FROM evaluations`.
fn evaluation_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvaluation> {
    Ok(StoredEvaluation {
        rule_id: r.get(0)?,
        account_id: r.get(1)?,
        region: r.get(2)?,
        resource_type: r.get(3)?,
        resource_id: r.get(4)?,
        compliance: r.get(5)?,
        annotation: r.get(6)?,
    })
}

/// A verdict's compliance code (`verdicts vd`) as the word: 1 COMPLIANT, 2 NON_COMPLIANT,
/// 3 NOT_APPLICABLE (0, out of scope, is never read as an evaluation).
const VERDICT_COMPLIANCE: &str = "CASE vd.compliance WHEN 1 THEN 'COMPLIANT' \
     WHEN 2 THEN 'NON_COMPLIANT' ELSE 'NOT_APPLICABLE' END";

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store made by an earlier conform (schema 2) keeps its scans readable after migrating:
    /// schema 3 records where each scan's evaluations lie before it drops the old index, and
    /// schema 4 turns each row into a compact one without losing who or what it was about.
    #[test]
    fn scans_from_schema_2_read_after_migrating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            let old = rusqlite_migration::Migrations::new(
                super::super::MIGRATIONS[..2]
                    .iter()
                    .map(|sql| rusqlite_migration::M::up(sql))
                    .collect(),
            );
            old.to_latest(&mut conn).unwrap();
            conn.execute_batch(
                "INSERT INTO snapshots VALUES (1, 't', 't', 'l', 'full', 0, 0, 0, 0, 0, 0, 0);
                 INSERT INTO resources (id, account_id, region, resource_type, resource_id)
                   VALUES (5, 'a', 'r', 'T', 'x');
                 INSERT INTO scans VALUES (1, 1, 't', 't'), (2, 1, 't', 't');
                 INSERT INTO evaluations VALUES
                   (1, 'R', 'a', 'r', 'T', 'x', 'COMPLIANT', ''),
                   (2, 'R', 'a', 'r', 'T', 'x', 'NON_COMPLIANT', 'no'),
                   (2, 'R', 'a', 'r', 'T', 'y', 'COMPLIANT', ''),
                   (2, 'C', 'a', '', 'AWS::::Account', 'a', 'ERROR', 'no');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let second = store.evaluations(2, &EvaluationFilter::default()).unwrap();
        let shown: Vec<String> = second
            .iter()
            .map(|e| {
                format!(
                    "{} {}/{}/{}/{} {} {}",
                    e.rule_id,
                    e.account_id,
                    e.region,
                    e.resource_type,
                    e.resource_id,
                    e.compliance,
                    e.annotation
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "C a//AWS::::Account/a ERROR no",
                "R a/r/T/x NON_COMPLIANT no",
                "R a/r/T/y COMPLIANT ",
            ]
        );
        // The stored resource is now referred to by its row; the others by name.
        let rows: Vec<Option<i64>> = store
            .conn
            .prepare("SELECT resource FROM scan_evaluations WHERE scan_id = 2 ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [Some(5), None, None]);
        let counts = store.compliance_counts(1).unwrap();
        assert_eq!(counts, vec![("R".to_string(), "COMPLIANT".to_string(), 1)]);
    }
}
