//! Writing snapshots, all of one ingest in one transaction.
//!
//! The ingest engine decides what changed; this module only knows how to record it. Nothing
//! is visible to readers, and nothing already stored is touched, until [`SnapshotWriter::commit`]:
//! dropping the writer (on any error) rolls every snapshot of the ingest back. A bucket of many
//! deliveries is many snapshots in a row ([`SnapshotWriter::open_snapshot`],
//! [`SnapshotWriter::close_snapshot`]); a [`Savepoint`] lets one of them be taken back alone
//! (a corrupt delivery skipped with `--skip-invalid`).

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::batch::RowBatch;
use super::{Result, ScopeInfo, SnapshotInfo, SnapshotKind, SnapshotRole, SourceInfo, StoreError};
use crate::audited::sqlite::{BorrowingStatement, Value};
use crate::canonical::ContentHash;
use crate::model::{ItemStatus, ResourceKey, ResourceRowId, SnapshotId, VersionId};

/// A resource's latest version, as ingest needs it to decide whether an item is a change.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub resource: ResourceRowId,
    pub version: VersionId,
    pub status: ItemStatus,
    pub content_hash: ContentHash,
    pub raw_hash: ContentHash,
}

impl Head {
    /// The head a resource has once `version`, written as `id`, is its latest.
    pub(crate) fn of(resource: ResourceRowId, id: VersionId, version: &NewVersion<'_>) -> Head {
        Head {
            resource,
            version: id,
            status: version.status,
            content_hash: version.content_hash,
            raw_hash: version.raw_hash,
        }
    }
}

/// Which resource a new version belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Target<'k> {
    /// A resource seen for the first time; it is created with the version.
    New(&'k ResourceKey),
    /// A stored resource, and its version that the new one ends (if it has one).
    Existing {
        resource: ResourceRowId,
        previous: Option<VersionId>,
    },
}

/// A version to write.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    pub status: ItemStatus,
    pub content_hash: ContentHash,
    pub raw_hash: ContentHash,
    pub meta: &'a VersionMeta,
    pub body: &'a [u8],
    pub arn: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Capture metadata stored with a version (of its first capture).
#[derive(Debug, Clone, Default)]
pub struct VersionMeta {
    pub capture_time: Option<String>,
    pub state_id: Option<String>,
    pub md5_hash: Option<String>,
    pub item_version: Option<String>,
}

/// What a snapshot did to the estate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotCounts {
    pub items: u64,
    pub added: u64,
    pub modified: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub skipped: u64,
    pub live: u64,
}

/// Where ingest puts the versions it decides on: a snapshot being written to the store
/// ([`SnapshotWriter`]), or, for `conform check`, items kept in memory.
pub trait VersionSink {
    fn add_version(&mut self, target: Target<'_>, version: &NewVersion<'_>) -> Result<Head>;
    /// Takes back a version added in this ingest (a duplicate whose later capture wins).
    fn undo_version(
        &mut self,
        resource: ResourceRowId,
        version: VersionId,
        previous: Option<VersionId>,
    ) -> Result<()>;
    /// The row and head of one stored resource, for an ingest that looks heads up as items
    /// name them instead of loading all of them first. A sink with no store has none.
    fn head_of(&self, _key: [&str; 4]) -> Result<Option<(ResourceRowId, Option<Head>)>> {
        Ok(None)
    }
}

impl VersionSink for SnapshotWriter<'_> {
    fn add_version(&mut self, target: Target<'_>, version: &NewVersion<'_>) -> Result<Head> {
        SnapshotWriter::add_version(self, target, version)
    }

    fn undo_version(
        &mut self,
        resource: ResourceRowId,
        version: VersionId,
        previous: Option<VersionId>,
    ) -> Result<()> {
        SnapshotWriter::undo_version(self, resource, version, previous)
    }

    fn head_of(&self, key: [&str; 4]) -> Result<Option<(ResourceRowId, Option<Head>)>> {
        SnapshotWriter::head_of(self, key)
    }
}

/// A head from a row holding, from column `at` on: version, status, content hash, raw hash.
fn head_from_row(r: &rusqlite::Row<'_>, resource: ResourceRowId, at: usize) -> Result<Head> {
    let status = r.get_ref(at + 1)?.as_str().map_err(rusqlite::Error::from)?;
    let status = ItemStatus::parse(status).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "unknown status '{status}' of resource row {}",
            resource.0
        ))
    })?;
    let hash = |i: usize| -> Result<ContentHash> {
        let bytes = r.get_ref(i)?.as_blob().map_err(rusqlite::Error::from)?;
        ContentHash::from_bytes(bytes)
            .ok_or_else(|| StoreError::Corrupt(format!("bad hash for resource row {}", resource.0)))
    };
    Ok(Head {
        resource,
        version: VersionId(r.get(at)?),
        status,
        content_hash: hash(at + 2)?,
        raw_hash: hash(at + 3)?,
    })
}

/// An open snapshot: a write transaction with the snapshot's row already reserved.
#[derive(Debug)]
pub struct SnapshotWriter<'c> {
    // Declared before the transaction, so they are finalised before it ends.
    statements: Statements<'c>,
    tx: Transaction<'c>,
    /// The snapshot being written, between `open_snapshot` and `close_snapshot`.
    snapshot: Option<SnapshotId>,
    next_snapshot: i64,
    role: SnapshotRole,
    /// The id of this snapshot's first version; it hands out ids from there, in order.
    first_version: i64,
    next_version: i64,
    /// Likewise for resources first seen in this ingest.
    first_resource: i64,
    next_resource: i64,
    /// Dropped last, after the transaction has ended either way.
    _settings: WriteSettings<'c>,
}

/// How the connection writes one snapshot, set before its transaction and put back after it
/// ends, committed or not (SQLite takes neither setting inside a transaction).
///
/// - **Foreign keys are not enforced.** Every reference the writer stores (a version's
///   resource and snapshots) is to a row it has just written or read, and enforcing them cost
///   about 5% of a first ingest: a look-up in `resources` and one in `snapshots` per version.
///   The schema keeps its foreign keys, enforced for every other writer, and the tests check
///   each store they build with `PRAGMA foreign_key_check`.
/// - **A store with no snapshot yet is written through a rollback journal, not the WAL.** Its
///   first ingest writes every page new. The WAL writes each page twice (into the log, then
///   into the database when it is checkpointed at commit), which was a fifth of the time of a
///   first ingest; a rollback journal keeps only the few pages that existed before, and the
///   database is written once. The transaction is as atomic either way. It needs the store to
///   itself: when another connection has it open, the switch is refused at once and the WAL
///   is used. Durability is kept by syncing fully (`synchronous = FULL`) while out of WAL mode.
#[derive(Debug)]
struct WriteSettings<'c> {
    conn: &'c Connection,
    out_of_wal: bool,
}

impl<'c> WriteSettings<'c> {
    fn apply(conn: &'c Connection, store_is_empty: bool) -> Result<WriteSettings<'c>> {
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        // Held by the value from here on, so that a failure below still puts back what was set.
        let mut settings = WriteSettings {
            conn,
            out_of_wal: false,
        };
        if store_is_empty {
            settings.out_of_wal = leave_wal(conn)?;
            if settings.out_of_wal {
                conn.pragma_update(None, "synchronous", "FULL")?;
            }
        }
        Ok(settings)
    }
}

/// Switches the connection to a rollback journal if nothing else has the store open, without
/// waiting for that. Whether it did.
fn leave_wal(conn: &Connection) -> Result<bool> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let switched =
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0));
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    match switched {
        Ok(mode) => Ok(mode.eq_ignore_ascii_case("delete")),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
            tracing::debug!("the store is open elsewhere: writing through the WAL");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

impl Drop for WriteSettings<'_> {
    fn drop(&mut self) {
        let mut put_back = vec![("foreign_keys", "ON")];
        if self.out_of_wal {
            put_back.extend([("journal_mode", "WAL"), ("synchronous", "NORMAL")]);
        }
        for (setting, value) in put_back {
            if let Err(e) = self.conn.pragma_update(None, setting, value) {
                tracing::warn!("could not set {setting} back to {value}: {e}");
            }
        }
    }
}

/// The statements every new version runs, prepared once per snapshot: looking each up in the
/// connection's cache by its text, per version, cost as much as binding its parameters. They
/// bind the item's bytes where they lie ([`BorrowingStatement`]). New rows go in batches
/// ([`RowBatch`]), so a row this snapshot wrote may not be in its table yet: the writer
/// flushes a batch before it updates or deletes what the batch may hold.
#[derive(Debug)]
struct Statements<'c> {
    new_resources: RowBatch<'c>,
    new_versions: RowBatch<'c>,
    end_version: BorrowingStatement<'c>,
    move_head: BorrowingStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c Connection) -> Result<Statements<'c>> {
        let prepare = |sql| BorrowingStatement::prepare(conn, sql);
        Ok(Statements {
            new_resources: RowBatch::new(
                conn,
                "resources",
                &[
                    "id",
                    "account_id",
                    "region",
                    "resource_type",
                    "resource_id",
                    "arn",
                    "resource_name",
                    "head_version",
                    "head_status",
                    "head_content_hash",
                    "head_raw_hash",
                ],
            )?,
            new_versions: RowBatch::new(
                conn,
                "versions",
                &[
                    "id",
                    "resource",
                    "first_snapshot",
                    "status",
                    "content_hash",
                    "raw_hash",
                    "capture_time",
                    "state_id",
                    "md5_hash",
                    "item_version",
                    "body",
                ],
            )?,
            end_version: prepare("UPDATE versions SET until_snapshot = ?1 WHERE id = ?2")?,
            move_head: prepare(
                "UPDATE resources SET head_version = ?1, head_status = ?2, head_content_hash = ?3,
                        head_raw_hash = ?4, arn = coalesce(?5, arn),
                        resource_name = coalesce(?6, resource_name)
                 WHERE id = ?7",
            )?,
        })
    }

    /// Inserts every pending new row.
    fn flush(&mut self) -> Result<()> {
        self.new_resources.flush()?;
        self.new_versions.flush()?;
        Ok(())
    }
}

impl<'c> SnapshotWriter<'c> {
    pub(super) fn begin(
        conn: &'c mut Connection,
        role: SnapshotRole,
    ) -> Result<SnapshotWriter<'c>> {
        // The writer holds the connection exclusively (it was borrowed mutably); sharing it
        // between the transaction and the prepared statements is what lets both live here.
        let conn: &'c Connection = conn;
        let store_is_empty: bool =
            conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM snapshots)", [], |r| {
                r.get(0)
            })?;
        let settings = WriteSettings::apply(conn, store_is_empty)?;
        // IMMEDIATE takes the write lock now, so two ingests cannot interleave their snapshots.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let next_snapshot =
            tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM snapshots", [], |r| {
                r.get(0)
            })?;
        let next_version: i64 =
            tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM versions", [], |r| {
                r.get(0)
            })?;
        let next_resource: i64 =
            tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM resources", [], |r| {
                r.get(0)
            })?;
        Ok(SnapshotWriter {
            statements: Statements::prepare(conn)?,
            tx,
            snapshot: None,
            next_snapshot,
            role,
            first_version: next_version,
            next_version,
            first_resource: next_resource,
            next_resource,
            _settings: settings,
        })
    }

    /// Reserves the next snapshot's row: versions added from here on begin in it.
    pub fn open_snapshot(&mut self) -> Result<SnapshotId> {
        assert!(self.snapshot.is_none(), "one snapshot open at a time");
        let snapshot = SnapshotId(self.next_snapshot);
        self.next_snapshot += 1;
        self.tx.execute(
            "INSERT INTO snapshots (id, taken_at, ingested_at, label, kind, items, added, modified,
                                    unchanged, deleted, skipped, live, role)
             VALUES (?1, '', '', '', 'full', 0, 0, 0, 0, 0, 0, 0, ?2)",
            params![snapshot.0, self.role.as_str()],
        )?;
        self.snapshot = Some(snapshot);
        self.first_version = self.next_version;
        Ok(snapshot)
    }

    /// The open snapshot; writing a version outside one is a bug of the caller.
    fn current(&self) -> SnapshotId {
        self.snapshot
            .expect("a version is written between open_snapshot and close_snapshot")
    }

    /// Marks where the ingest stands, to come back to it with [`SnapshotWriter::rollback_to`].
    /// Taken between snapshots.
    pub fn savepoint(&mut self) -> Result<Savepoint> {
        assert!(
            self.snapshot.is_none(),
            "a savepoint is taken between snapshots"
        );
        self.statements.flush()?;
        self.tx.execute_batch("SAVEPOINT delivery")?;
        Ok(Savepoint {
            next_snapshot: self.next_snapshot,
            next_version: self.next_version,
            next_resource: self.next_resource,
        })
    }

    /// Keeps what was written since the savepoint.
    pub fn release(&mut self, _savepoint: Savepoint) -> Result<()> {
        self.statements.flush()?;
        self.tx.execute_batch("RELEASE delivery")?;
        Ok(())
    }

    /// Takes back everything written since the savepoint, an open snapshot included.
    pub fn rollback_to(&mut self, savepoint: Savepoint) -> Result<()> {
        self.statements.new_resources.discard();
        self.statements.new_versions.discard();
        self.tx
            .execute_batch("ROLLBACK TO delivery; RELEASE delivery")?;
        self.snapshot = None;
        self.next_snapshot = savepoint.next_snapshot;
        self.next_version = savepoint.next_version;
        self.next_resource = savepoint.next_resource;
        self.first_version = savepoint.next_version;
        Ok(())
    }

    /// When each scope's latest data was taken, over every stored observed snapshot: ingest
    /// keeps each scope's deliveries in time order. The snapshot holding it, too.
    pub fn scope_times(&self) -> Result<Vec<(ScopeInfo, SnapshotId)>> {
        let mut stmt = self.tx.prepare(
            "SELECT s.snapshot_id, s.account_id, s.region, s.kind, s.delivered_at, s.recorded_by
             FROM snapshot_scopes s JOIN snapshots n ON n.id = s.snapshot_id
             WHERE n.role = 'observed'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((super::scope_from_row(r, 1)?, SnapshotId(r.get(0)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every source file stored with its hash, size and time: ingest skips what it holds.
    pub fn stored_sources(&self) -> Result<Vec<(SnapshotId, SourceInfo)>> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT snapshot_id, {} FROM snapshot_sources
             WHERE content_hash IS NOT NULL
               AND snapshot_id IN (SELECT id FROM snapshots WHERE role = 'observed')",
            super::SOURCE_COLUMNS
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((SnapshotId(r.get(0)?), super::source_from_row(r, 1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The connection the snapshot is written on, for tests to look at its settings.
    #[cfg(test)]
    pub(super) fn connection(&self) -> &Connection {
        &self.tx
    }

    /// How many resources the store holds, to size in-memory maps before loading them.
    pub fn resource_count(&self) -> Result<usize> {
        if self.role == SnapshotRole::Desired {
            return Ok(0);
        }
        Ok(self
            .tx
            .query_row("SELECT count(*) FROM resources", [], |r| r.get::<_, i64>(0))?
            as usize)
    }

    /// Calls `each` with every resource's identity hash ([`super::resource_identity`]), row,
    /// latest observed version (`None` for a resource only a desired state names), account
    /// and region.
    ///
    /// Reads only `resources`, which keeps a copy of each head's status and hashes: loading
    /// heads must not read version bodies. The identity is hashed from the columns' bytes as
    /// stored, without building or checking a string per resource. A desired state starts
    /// from nothing: it has no heads.
    pub fn for_each_head(
        &self,
        mut each: impl FnMut(u128, ResourceRowId, Option<Head>, &[u8], &[u8]),
    ) -> Result<()> {
        if self.role == SnapshotRole::Desired {
            return Ok(());
        }
        let mut stmt = self.tx.prepare(
            "SELECT id, account_id, region, resource_type, resource_id,
                    head_version, head_status, head_content_hash, head_raw_hash
             FROM resources",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let resource = ResourceRowId(r.get(0)?);
            let bytes = |i: usize| -> Result<&[u8]> {
                Ok(r.get_ref(i)?.as_bytes().map_err(rusqlite::Error::from)?)
            };
            let identity =
                crate::canonical::identity_hash(&[bytes(1)?, bytes(2)?, bytes(3)?, bytes(4)?]);
            if r.get_ref(5)?.data_type() == rusqlite::types::Type::Null {
                each(identity, resource, None, bytes(1)?, bytes(2)?);
                continue;
            }
            let head = head_from_row(r, resource, 5)?;
            each(identity, resource, Some(head), bytes(1)?, bytes(2)?);
        }
        Ok(())
    }

    /// The row and head of the resource `[account, region, type, id]`, if stored.
    pub fn head_of(&self, key: [&str; 4]) -> Result<Option<(ResourceRowId, Option<Head>)>> {
        if self.role == SnapshotRole::Desired {
            return Ok(None);
        }
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, head_version, head_status, head_content_hash, head_raw_hash
             FROM resources
             WHERE resource_id = ?4 AND resource_type = ?3 AND account_id = ?1 AND region = ?2",
        )?;
        let mut rows = stmt.query(key)?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let resource = ResourceRowId(r.get(0)?);
        if r.get_ref(1)?.data_type() == rusqlite::types::Type::Null {
            return Ok(Some((resource, None)));
        }
        Ok(Some((resource, Some(head_from_row(r, resource, 1)?))))
    }

    /// How many stored resources are live (their head is not a deletion).
    pub fn live_resources(&self) -> Result<u64> {
        if self.role == SnapshotRole::Desired {
            return Ok(0);
        }
        Ok(self.tx.query_row(
            "SELECT count(*) FROM resources
             WHERE head_version IS NOT NULL AND head_status <> 'ResourceDeleted'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Records a new content of a resource as current from this snapshot on, ending the
    /// previous one, and returns the resource's new head.
    pub fn add_version(&mut self, target: Target<'_>, version: &NewVersion<'_>) -> Result<Head> {
        let snapshot = self.current();
        let id = VersionId(self.next_version);
        self.next_version += 1;
        let status = version.status.as_str();
        let (content_hash, raw_hash) =
            (version.content_hash.to_bytes(), version.raw_hash.to_bytes());
        if self.role == SnapshotRole::Desired {
            return self.add_desired_version(id, target, version);
        }
        let statements = &mut self.statements;
        let (status, content_hash, raw_hash) = (
            Value::text(status),
            Value::Blob(&content_hash),
            Value::Blob(&raw_hash),
        );
        let resource = match target {
            Target::New(key) => {
                let resource = ResourceRowId(self.next_resource);
                self.next_resource += 1;
                statements.new_resources.push(&[
                    Value::Int(resource.0),
                    Value::text(&key.account_id),
                    Value::text(&key.region),
                    Value::text(&key.resource_type),
                    Value::text(&key.resource_id),
                    version.arn.into(),
                    version.name.into(),
                    Value::Int(id.0),
                    status,
                    content_hash,
                    raw_hash,
                ])?;
                resource
            }
            Target::Existing { resource, previous } => {
                if let Some(previous) = previous {
                    if previous.0 >= self.first_version {
                        statements.new_versions.flush()?;
                    }
                    statements
                        .end_version
                        .execute(&[Value::Int(snapshot.0), Value::Int(previous.0)])?;
                }
                if resource.0 >= self.first_resource {
                    statements.new_resources.flush()?;
                }
                statements.move_head.execute(&[
                    Value::Int(id.0),
                    status,
                    content_hash,
                    raw_hash,
                    version.arn.into(),
                    version.name.into(),
                    Value::Int(resource.0),
                ])?;
                resource
            }
        };
        let meta = version.meta;
        statements.new_versions.push(&[
            Value::Int(id.0),
            Value::Int(resource.0),
            Value::Int(snapshot.0),
            status,
            content_hash,
            raw_hash,
            meta.capture_time.as_deref().into(),
            meta.state_id.as_deref().into(),
            meta.md5_hash.as_deref().into(),
            meta.item_version.as_deref().into(),
            Value::Blob(version.body),
        ])?;
        Ok(Head::of(resource, id, version))
    }

    /// A desired state's version: the resource's row is shared with what is observed (created
    /// without a head if it was never observed), its head is left alone, and the version's range
    /// is empty so that no observed snapshot includes it.
    fn add_desired_version(
        &mut self,
        id: VersionId,
        target: Target<'_>,
        version: &NewVersion<'_>,
    ) -> Result<Head> {
        let resource = match target {
            Target::Existing { resource, .. } => resource,
            Target::New(key) => {
                let found = self
                    .tx
                    .prepare_cached(
                        "SELECT id FROM resources
                         WHERE resource_id = ?1 AND resource_type = ?2 AND account_id = ?3 AND region = ?4",
                    )?
                    .query_row(
                        params![key.resource_id, key.resource_type, key.account_id, key.region],
                        |r| r.get(0),
                    )
                    .optional()?;
                match found {
                    Some(row) => ResourceRowId(row),
                    None => {
                        self.tx
                            .prepare_cached(
                                "INSERT INTO resources (account_id, region, resource_type, resource_id,
                                                        arn, resource_name)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            )?
                            .execute(params![
                                key.account_id,
                                key.region,
                                key.resource_type,
                                key.resource_id,
                                version.arn,
                                version.name,
                            ])?;
                        ResourceRowId(self.tx.last_insert_rowid())
                    }
                }
            }
        };
        let meta = version.meta;
        self.tx
            .prepare_cached(
                "INSERT INTO versions (id, resource, first_snapshot, until_snapshot, status, content_hash,
                                       raw_hash, capture_time, state_id, md5_hash, item_version, body)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                id.0,
                resource.0,
                self.current().0,
                version.status.as_str(),
                version.content_hash.to_bytes(),
                version.raw_hash.to_bytes(),
                meta.capture_time,
                meta.state_id,
                meta.md5_hash,
                meta.item_version,
                version.body,
            ])?;
        Ok(Head::of(resource, id, version))
    }

    /// Takes back a version written earlier in this same snapshot, making `previous` current
    /// again: a later capture of the same resource replaces an earlier one.
    pub fn undo_version(
        &mut self,
        resource: ResourceRowId,
        version: VersionId,
        previous: Option<VersionId>,
    ) -> Result<()> {
        self.statements.flush()?;
        self.tx
            .prepare_cached("DELETE FROM versions WHERE id = ?1 AND first_snapshot = ?2")?
            .execute(params![version.0, self.current().0])?;
        if self.role == SnapshotRole::Desired {
            return Ok(()); // a desired state never moved a head
        }
        if let Some(previous) = previous {
            self.tx
                .prepare_cached("UPDATE versions SET until_snapshot = NULL WHERE id = ?1")?
                .execute([previous.0])?;
        }
        // With no previous version the sub-select is empty and the head becomes NULL.
        self.tx
            .prepare_cached(
                "UPDATE resources SET (head_version, head_status, head_content_hash, head_raw_hash) =
                     (SELECT id, status, content_hash, raw_hash FROM versions WHERE id = ?1)
                 WHERE id = ?2",
            )?
            .execute(params![previous.map(|v| v.0), resource.0])?;
        Ok(())
    }

    /// Fills in the open snapshot's row: what it did and where it came from.
    pub fn close_snapshot(&mut self, record: &SnapshotRecord<'_>) -> Result<SnapshotInfo> {
        let id = self.current();
        self.statements.flush()?;
        let ingested_at = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let counts = record.counts;
        // Where this snapshot's versions lie, for readers of "the versions it began".
        let versions = (self.next_version > self.first_version)
            .then_some((self.first_version, self.next_version - 1));
        self.tx.execute(
            "UPDATE snapshots SET taken_at = ?2, ingested_at = ?3, label = ?4, kind = ?5, items = ?6,
                    added = ?7, modified = ?8, unchanged = ?9, deleted = ?10, skipped = ?11, live = ?12,
                    first_version = ?13, last_version = ?14
             WHERE id = ?1",
            params![
                id.0,
                record.taken_at,
                ingested_at,
                record.label,
                record.kind.as_str(),
                counts.items as i64,
                counts.added as i64,
                counts.modified as i64,
                counts.unchanged as i64,
                counts.deleted as i64,
                counts.skipped as i64,
                counts.live as i64,
                versions.map(|v| v.0),
                versions.map(|v| v.1),
            ],
        )?;
        {
            let mut insert = self.tx.prepare_cached(
                "INSERT OR REPLACE INTO snapshot_sources (snapshot_id, path, form, items, content_hash,
                                                          bytes, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for source in record.sources {
                insert.execute(params![
                    id.0,
                    source.path,
                    source.form,
                    source.items as i64,
                    source.content_hash.map(|h| h.to_bytes()),
                    source.bytes.map(|b| b as i64),
                    source.modified_at,
                ])?;
            }
            let mut insert = self.tx.prepare_cached(
                "INSERT INTO snapshot_scopes (snapshot_id, account_id, region, kind, delivered_at,
                                              recorded_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            if self.role == SnapshotRole::Observed {
                for scope in record.scopes {
                    insert.execute(params![
                        id.0,
                        scope.account_id,
                        scope.region,
                        scope.kind.as_str(),
                        scope.delivered_at,
                        scope.recorded_by,
                    ])?;
                }
            }
        }
        self.snapshot = None;
        Ok(SnapshotInfo {
            id,
            taken_at: record.taken_at.to_string(),
            ingested_at,
            label: record.label.to_string(),
            kind: record.kind,
            counts,
            sources: record.sources.to_vec(),
            scopes: if self.role == SnapshotRole::Observed {
                record.scopes.to_vec()
            } else {
                Vec::new()
            },
            role: self.role,
        })
    }

    /// Drops the open snapshot, which wrote no version (its input held no item): its id is
    /// handed out again.
    pub fn discard_snapshot(&mut self) -> Result<()> {
        let id = self.current();
        assert_eq!(
            self.next_version, self.first_version,
            "only a snapshot that wrote nothing is discarded"
        );
        self.statements.flush()?;
        self.tx
            .execute("DELETE FROM snapshots WHERE id = ?1", [id.0])?;
        self.snapshot = None;
        self.next_snapshot = id.0;
        Ok(())
    }

    /// Commits every snapshot closed since `begin`.
    pub fn commit(mut self) -> Result<()> {
        assert!(
            self.snapshot.is_none(),
            "every snapshot is closed before commit"
        );
        self.statements.flush()?;
        drop(self.statements);
        self.tx.commit()?;
        Ok(())
    }
}

/// What a snapshot records when it is closed.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRecord<'a> {
    pub taken_at: &'a str,
    pub label: &'a str,
    pub kind: SnapshotKind,
    pub counts: SnapshotCounts,
    pub sources: &'a [SourceInfo],
    pub scopes: &'a [ScopeInfo],
}

/// Where an ingest stood, to come back to ([`SnapshotWriter::rollback_to`]).
#[derive(Debug)]
#[must_use = "a savepoint is released or rolled back to"]
pub struct Savepoint {
    next_snapshot: i64,
    next_version: i64,
    next_resource: i64,
}

impl Savepoint {
    /// The first resource row written after it.
    pub fn first_resource(&self) -> ResourceRowId {
        ResourceRowId(self.next_resource)
    }
}
