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

/// A scan, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ScanInfo {
    pub id: i64,
    pub snapshot: SnapshotId,
    pub started_at: String,
    pub finished_at: String,
}

/// Which evaluations `Store::evaluations` returns.
#[derive(Debug, Clone, Default)]
pub struct EvaluationFilter {
    pub rule_id: Option<String>,
    /// A resource id, matched exactly.
    pub resource_id: Option<String>,
    pub compliance: Option<String>,
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

impl EvaluationSink<'_> {
    pub fn record(&mut self, e: NewEvaluation<'_>) -> Result<()> {
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
    /// on [`Store::reader`]s in other threads.
    pub fn scan(
        &self,
        snapshot: SnapshotId,
        rules: &[ScanRule],
        evaluate: impl FnOnce(&mut EvaluationSink<'_>) -> Result<()>,
    ) -> Result<ScanInfo> {
        let started_at = now();
        // Reading the snapshot and writing evaluations share one connection and transaction.
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO scans (snapshot_id, started_at, finished_at) VALUES (?1, ?2, ?2)",
            params![snapshot.0, started_at],
        )?;
        let scan = tx.last_insert_rowid();
        for (number, rule) in rules.iter().enumerate() {
            tx.execute(
                "INSERT INTO scan_rules (scan_id, rule_id, rule_version, module_hash, source, severity,
                                         parameters, title, description, number)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                    number as i64
                ],
            )?;
        }
        let mut sink = EvaluationSink {
            tx: &tx,
            scan,
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
        let finished_at = now();
        tx.execute(
            "UPDATE scans SET finished_at = ?2, first_evaluation = ?3, last_evaluation = ?4
             WHERE id = ?1",
            params![scan, finished_at, sink.first, sink.last],
        )?;
        tracing::info!(scan, evaluations = sink.written, "scan stored");
        tx.commit()?;
        Ok(ScanInfo {
            id: scan,
            snapshot,
            started_at,
            finished_at,
        })
    }

    /// The latest scan of a snapshot.
    pub fn latest_scan(&self, snapshot: SnapshotId) -> Result<Option<ScanInfo>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, snapshot_id, started_at, finished_at FROM scans WHERE snapshot_id = ?1
                 ORDER BY id DESC LIMIT 1",
                [snapshot.0],
                |r| {
                    Ok(ScanInfo {
                        id: r.get(0)?,
                        snapshot: SnapshotId(r.get(1)?),
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// How many evaluations of each compliance each rule of a scan has: (rule, compliance,
    /// count).
    pub fn compliance_counts(&self, scan: i64) -> Result<Vec<(String, String, u64)>> {
        let (first, last) = self.scan_rows(scan)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.rule_id,
                    CASE c.compliance WHEN 1 THEN 'COMPLIANT' WHEN 2 THEN 'NON_COMPLIANT'
                                      WHEN 3 THEN 'NOT_APPLICABLE' ELSE 'ERROR' END,
                    c.n
             FROM (SELECT rule, compliance, count(*) AS n FROM scan_evaluations
                   WHERE rowid BETWEEN ?2 AND ?3 AND scan_id = ?1
                   GROUP BY rule, compliance) c
             JOIN scan_rules r ON r.scan_id = ?1 AND r.number = c.rule
             ORDER BY r.rule_id, c.compliance",
        )?;
        let rows = stmt.query_map(params![scan, first, last], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The range of rowids a scan's evaluations occupy, as the scan recorded it. A scan writes
    /// them in one transaction, holding the write lock, so they are contiguous: reading the
    /// range walks the table in order (the `scan_id` test stays all the same).
    fn scan_rows(&self, scan: i64) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(first_evaluation, 0), coalesce(last_evaluation, -1)
                 FROM scans WHERE id = ?1",
            )?
            .query_row([scan], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, -1)))
    }

    /// Calls `each` with every evaluation of a scan, borrowed from the row.
    pub fn for_each_evaluation(
        &self,
        scan: i64,
        mut each: impl FnMut(EvaluationRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let (first, last) = self.scan_rows(scan)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT rule_id, account_id, region, resource_type, resource_id, compliance, annotation
             FROM evaluations WHERE row BETWEEN ?2 AND ?3 AND scan_id = ?1",
        )?;
        let mut rows = stmt.query(params![scan, first, last])?;
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
            })?;
        }
        Ok(())
    }

    /// The evaluations of one resource in a scan.
    pub fn evaluations_of(&self, scan: i64, key: &ResourceKey) -> Result<Vec<StoredEvaluation>> {
        let (first, last) = self.scan_rows(scan)?;
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
        let mut stmt = self.conn.prepare_cached(
            "SELECT rule_id, account_id, region, resource_type, resource_id, compliance, annotation
             FROM evaluations
             WHERE row BETWEEN ?6 AND ?7 AND scan_id = ?1
               AND (CASE WHEN ?8 IS NOT NULL THEN resource = ?8
                         ELSE resource IS NULL AND resource_id = ?2 AND resource_type = ?3
                              AND account_id = ?4 AND region = ?5 END)
             ORDER BY rule_id",
        )?;
        let rows = stmt.query_map(
            params![
                scan,
                key.resource_id,
                key.resource_type,
                key.account_id,
                key.region,
                first,
                last,
                row
            ],
            evaluation_from_row,
        )?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The rules a scan ran, by id.
    pub fn scan_rules(&self, scan: i64) -> Result<Vec<ScanRule>> {
        let mut stmt = self.conn.prepare(
            "SELECT rule_id, rule_version, module_hash, source, severity, parameters, title, description
             FROM scan_rules WHERE scan_id = ?1 ORDER BY rule_id",
        )?;
        let rows = stmt.query_map([scan], |r| {
            let parameters: String = r.get(5)?;
            Ok(ScanRule {
                rule_id: r.get(0)?,
                rule_version: r.get(1)?,
                module_hash: r.get(2)?,
                source: r.get(3)?,
                severity: r.get(4)?,
                parameters: serde_json::from_str(&parameters).unwrap_or(serde_json::Value::Null),
                title: r.get(6)?,
                description: r.get(7)?,
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
        let (first, last) = self.scan_rows(scan)?;
        let mut stmt = self.conn.prepare(
            "SELECT rule_id, account_id, region, resource_type, resource_id, compliance, annotation
             FROM evaluations
             WHERE row BETWEEN ?5 AND ?6 AND scan_id = ?1
               AND (?2 IS NULL OR rule_id = ?2) AND (?3 IS NULL OR resource_id = ?3)
               AND (?4 IS NULL OR compliance = ?4)
             ORDER BY rule_id, account_id, region, resource_type, resource_id",
        )?;
        let rows = stmt.query_map(
            params![
                scan,
                filter.rule_id,
                filter.resource_id,
                filter.compliance,
                first,
                last
            ],
            evaluation_from_row,
        )?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }
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
