//! The versioned snapshot store, in one SQLite file.
//!
//! Three tables carry the model (see `migrations/` and ARCHITECTURE.md): `snapshots`,
//! `resources` (identity) and `versions` (distinct contents, each current over a range of
//! snapshot ids). Reading a snapshot is one range query; a resource's history is its versions.

mod baselines;
mod batch;
mod compare;
mod outbox;
mod scans;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;
use tracing::instrument;

use crate::canonical::ContentHash;
use crate::model::{
    ConfigurationItem, ItemStatus, ResourceKey, ResourceRowId, Scope, SnapshotId, VersionId,
};
use crate::model::{Field, Fields};

pub use baselines::{Baseline, check_baseline_name};

pub use compare::{StateDifference, VersionRef, resource_identity};
pub use outbox::{OutboxMessage, QueuedMessage};
pub use scans::{
    BaseScan, Evaluated, EvaluationFilter, EvaluationRef, EvaluationSink, NewEvaluation, OwnRow,
    PageKey, ScanInfo, ScanMode, ScanRule, StoredEvaluation, SummaryBy, evaluation_identity,
};
pub use writer::{
    Head, NewVersion, Savepoint, SnapshotCounts, SnapshotRecord, SnapshotWriter, Target,
    VersionMeta, VersionSink,
};

/// Every migration, in order. Add new files at the end; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_snapshots_resources_versions.sql"),
    include_str!("../../migrations/0002_scans_evaluations.sql"),
    include_str!("../../migrations/0003_baselines_drift.sql"),
    include_str!("../../migrations/0004_compact_evaluations.sql"),
    include_str!("../../migrations/0005_version_ranges.sql"),
    include_str!("../../migrations/0006_scopes_and_sources.sql"),
    include_str!("../../migrations/0007_reused_evaluations.sql"),
    include_str!("../../migrations/0008_outbox.sql"),
    include_str!("../../migrations/0009_scan_counts.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: schema migration failed: {source}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: rusqlite_migration::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this conform ({known}); upgrade conform"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(
        "database {path} has schema version {found}, older than this conform's ({known}), and \
         this command only reads; any command that writes (ingest, scan) migrates it"
    )]
    NeedsMigration {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("no snapshot {0}")]
    NoSuchSnapshot(String),
    #[error("the store holds no snapshot yet; run `conform ingest` first")]
    Empty,
    #[error("no resource matches '{0}' (name it by resource id, TYPE/ID or ARN)")]
    NoSuchResource(String),
    #[error("'{name}' matches {} resources: {}; name one by ARN or TYPE/ID", .candidates.len(), .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("'{0}' is not a baseline name: use letters, digits, '-', '_' and '.' (at most 64)")]
    BadBaselineName(String),
    #[error("no baseline '{name}'{}", if .known.is_empty() { String::new() } else { format!(" (baselines: {})", .known.join(", ")) })]
    NoSuchBaseline { name: String, known: Vec<String> },
    #[error(
        "no baseline is set; set one with `conform baseline set NAME` (e.g. `conform baseline set prod --snapshot 1`)"
    )]
    NoBaseline,
    #[error("there are several baselines ({}); name one with --baseline", .0.join(", "))]
    WhichBaseline(Vec<String>),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

/// How long a connection waits for another's lock before giving up.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The columns `query_resources` maps to a `ResourceInfo`.
const RESOURCE_COLUMNS: &str =
    "SELECT id, account_id, region, resource_type, resource_id, arn, resource_name FROM resources";

/// Ids bound per statement by the readers that take many at once (`IN (?, ?, ...)`): one
/// statement instead of a look-up each, well under SQLite's limit on bound values.
const PER_STATEMENT: usize = 256;

/// `n` placeholders for an `IN` list.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// An open store. Cheap to open; one per command.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Which snapshot a command means: `latest`, or an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotSelector {
    Latest,
    Id(SnapshotId),
}

impl std::str::FromStr for SnapshotSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("latest") {
            return Ok(SnapshotSelector::Latest);
        }
        s.trim_start_matches('#')
            .parse::<i64>()
            .map(|id| SnapshotSelector::Id(SnapshotId(id)))
            .map_err(|_| format!("'{s}' is not a snapshot: use a snapshot id or 'latest'"))
    }
}

/// One snapshot, as listed by `conform snapshots`.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub id: SnapshotId,
    pub taken_at: String,
    pub ingested_at: String,
    pub label: String,
    pub kind: SnapshotKind,
    #[serde(flatten)]
    pub counts: SnapshotCounts,
    pub sources: Vec<SourceInfo>,
    /// Where the snapshot is complete or partial; empty for a desired state.
    pub scopes: Vec<ScopeInfo>,
    pub role: SnapshotRole,
}

/// What a snapshot records: the estate as it was observed, or as it should be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotRole {
    /// Read from the estate (AWS Config files, an inventory): part of its history.
    #[default]
    Observed,
    /// A desired state (a baseline file): compared against, never part of the history.
    Desired,
}

impl SnapshotRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotRole::Observed => "observed",
            SnapshotRole::Desired => "desired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// A complete inventory: resources it does not name are deleted in it.
    Full,
    /// Change records: resources it does not name keep their previous state.
    Partial,
}

impl SnapshotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Full => "full",
            SnapshotKind::Partial => "partial",
        }
    }
}

/// A file a snapshot was read from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub path: String,
    pub form: String,
    pub items: u64,
    /// The hash of the file's bytes, its size and modification time (RFC 3339), by which a
    /// later ingest knows it is already stored. `None` in stores older than schema 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<ContentHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
}

/// One scope of a snapshot: where it is complete (full) or only names changes (partial), and
/// when the scope's data was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeInfo {
    /// `*` for every account.
    pub account_id: String,
    /// `*` for every region.
    pub region: String,
    pub kind: SnapshotKind,
    pub delivered_at: String,
    /// For an account's global resources: the region whose delivery recorded them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<String>,
}

impl ScopeInfo {
    pub fn new(scope: &Scope, kind: SnapshotKind, delivered_at: String) -> ScopeInfo {
        ScopeInfo {
            account_id: Scope::column(&scope.account_id).to_string(),
            region: Scope::column(&scope.region).to_string(),
            kind,
            delivered_at,
            recorded_by: None,
        }
    }

    pub fn scope(&self) -> Scope {
        Scope::from_columns(self.account_id.clone(), self.region.clone())
    }
}

/// A resource's identity and descriptive names.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceInfo {
    #[serde(skip)]
    pub row: ResourceRowId,
    #[serde(flatten)]
    pub key: ResourceKey,
    pub arn: Option<String>,
    pub resource_name: Option<String>,
}

/// One version of a resource and the snapshots it was current in.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    #[serde(skip)]
    pub id: VersionId,
    /// 1 for the first version of the resource.
    pub number: u32,
    pub status: ItemStatus,
    pub content_hash: ContentHash,
    pub capture_time: Option<String>,
    pub first_snapshot: SnapshotId,
    /// The first snapshot where it was no longer current; `None` while it still is.
    pub until_snapshot: Option<SnapshotId>,
    /// Every snapshot it was current in.
    pub seen_in: Vec<SnapshotId>,
}

/// Sizes and counts, for `conform stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub path: String,
    pub schema_version: usize,
    pub snapshots: u64,
    pub resources: u64,
    pub live_resources: u64,
    pub versions: u64,
    pub body_bytes: u64,
    pub database_bytes: u64,
    pub resources_by_type: Vec<(String, u64)>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    #[instrument(skip_all, err(level = "debug"), fields(path = %path.as_ref().display()))]
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Store::setup(conn, path)
    }

    /// Opens an existing store only to read it, as every command that writes nothing does: it
    /// works on a store this process may not write (a CI artifact, a read-only mount, a 0444
    /// file) and never changes one.
    ///
    /// Where the file or its directory cannot be written, the store is opened `immutable`: no
    /// lock, no `-wal` or `-shm` file made (SQLite would make them with the database's own
    /// mode, and a 0444 `-shm` breaks the next writer). A store left with a non-empty `-wal`
    /// (a writer that did not close) is read through it instead, as SQLite can when its `-shm`
    /// exists. The schema must be current: migrating is writing.
    #[instrument(skip_all, err(level = "debug"), fields(path = %path.as_ref().display()))]
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        use rusqlite::OpenFlags;
        let path = path.as_ref().to_path_buf();
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let writable = |p: &Path| rustix::fs::access(p, rustix::fs::Access::WRITE_OK).is_ok();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let pending_wal = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = if (writable(&path) && writable(&dir)) || pending_wal {
            Connection::open_with_flags(&path, flags - OpenFlags::SQLITE_OPEN_URI)
        } else {
            Connection::open_with_flags(file_uri(&path, "immutable=1"), flags)
        }
        .map_err(open_err)?;
        conn.pragma_update(None, "mmap_size", 1i64 << 40)
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let found: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .map_err(open_err)? as usize;
        if found != MIGRATIONS.len() {
            if found > MIGRATIONS.len() {
                return Err(StoreError::TooNew {
                    path,
                    found,
                    known: MIGRATIONS.len(),
                });
            }
            return Err(StoreError::NeedsMigration {
                path,
                found,
                known: MIGRATIONS.len(),
            });
        }
        Ok(Store { conn, path })
    }

    /// Another connection to the same database, read-only, for reading on another thread (a
    /// scan reads a snapshot on every core). `None` for an in-memory store, which has one
    /// connection only.
    pub fn reader(&self) -> Result<Option<Store>> {
        if self.path == Path::new(":memory:") {
            return Ok(None);
        }
        let open_err = |source| StoreError::Open {
            path: self.path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.pragma_update(None, "mmap_size", 1i64 << 40)
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        Ok(Some(Store {
            conn,
            path: self.path.clone(),
        }))
    }

    /// The rowids of `versions`, split into `parts` contiguous ranges of about equal size, for
    /// reading a snapshot in parallel ([`Store::for_each_stored`]).
    pub fn version_ranges(&self, parts: usize) -> Result<Vec<(i64, i64)>> {
        let (first, last): (Option<i64>, Option<i64>) =
            self.conn
                .query_row("SELECT min(rowid), max(rowid) FROM versions", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Vec::new());
        };
        let parts = parts.max(1) as i64;
        let size = (last - first + parts) / parts;
        Ok((0..parts)
            .map(|p| (first + p * size, (first + (p + 1) * size - 1).min(last)))
            .filter(|(from, to)| from <= to)
            .collect())
    }

    /// An in-memory store, for tests.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Store::setup(conn, PathBuf::from(":memory:"))
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        // Version bodies are about a kilobyte or more: 16 KiB pages hold many per page and split
        // less often. Only a new database takes it; an existing one keeps its page size.
        conn.pragma_update(None, "page_size", 16384)
            .map_err(open_err)?;
        // WAL lets readers (a dashboard, a second `conform show`) run during an ingest;
        // NORMAL sync is durable across application crashes, which is what WAL needs.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(open_err)?; // 64 MiB
        // Reads go through a memory map: a scan reads every body of a snapshot, and copying
        // each page out of the OS cache into SQLite's took as long as the rest of reading.
        conn.pragma_update(None, "mmap_size", 1i64 << 40)
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let found: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .map_err(open_err)? as usize;
        if found > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                path,
                found,
                known: MIGRATIONS.len(),
            });
        }
        if found < MIGRATIONS.len() {
            let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
            migrations
                .to_latest(&mut conn)
                .map_err(|source| StoreError::Migrate {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(Store { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts an ingest: snapshots written in one transaction, none visible to others until
    /// [`SnapshotWriter::commit`].
    pub fn begin_ingest(&mut self, role: SnapshotRole) -> Result<SnapshotWriter<'_>> {
        SnapshotWriter::begin(&mut self.conn, role)
    }

    /// Whether `snapshot` was observed or is a desired state.
    pub fn role_of(&self, snapshot: SnapshotId) -> Result<SnapshotRole> {
        let role: Option<String> = self
            .conn
            .prepare_cached("SELECT role FROM snapshots WHERE id = ?1")?
            .query_row([snapshot.0], |r| r.get(0))
            .optional()?;
        match role.as_deref() {
            None => Err(StoreError::NoSuchSnapshot(snapshot.to_string())),
            Some("desired") => Ok(SnapshotRole::Desired),
            Some(_) => Ok(SnapshotRole::Observed),
        }
    }

    /// The SQL condition selecting the versions that make up `snapshot`'s state (over
    /// `versions` aliased `v`, with the snapshot id as `?1`): a range test for an observed
    /// snapshot, the versions it wrote for a desired state.
    fn state_of(&self, snapshot: SnapshotId) -> Result<&'static str> {
        Ok(match self.role_of(snapshot)? {
            SnapshotRole::Desired => {
                "v.id BETWEEN (SELECT first_version FROM snapshots WHERE id = ?1)
                          AND (SELECT last_version FROM snapshots WHERE id = ?1)
                 AND v.first_snapshot = ?1"
            }
            SnapshotRole::Observed => {
                "v.first_snapshot <= ?1 AND (v.until_snapshot IS NULL OR v.until_snapshot > ?1)"
            }
        })
    }

    #[instrument(skip_all, err(level = "debug"))]
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, taken_at, ingested_at, label, kind, items, added, modified, unchanged,
                    deleted, skipped, live, role
             FROM snapshots ORDER BY id",
        )?;
        let mut list = stmt
            .query_map([], snapshot_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let mut sources = self.conn.prepare(&format!(
            "SELECT snapshot_id, {SOURCE_COLUMNS} FROM snapshot_sources ORDER BY snapshot_id, path"
        ))?;
        let mut rows = sources.query([])?;
        while let Some(row) = rows.next()? {
            let id = SnapshotId(row.get(0)?);
            if let Ok(i) = list.binary_search_by_key(&id, |s| s.id) {
                list[i].sources.push(source_from_row(row, 1)?);
            }
        }
        let mut scopes = self.conn.prepare(&format!(
            "SELECT snapshot_id, {SCOPE_COLUMNS} FROM snapshot_scopes ORDER BY snapshot_id, account_id, region"
        ))?;
        let mut rows = scopes.query([])?;
        while let Some(row) = rows.next()? {
            let id = SnapshotId(row.get(0)?);
            if let Ok(i) = list.binary_search_by_key(&id, |s| s.id) {
                list[i].scopes.push(scope_from_row(row, 1)?);
            }
        }
        Ok(list)
    }

    /// The snapshot a selector names.
    pub fn snapshot(&self, selector: SnapshotSelector) -> Result<SnapshotInfo> {
        let row = match selector {
            SnapshotSelector::Latest => self
                .conn
                .query_row(
                    "SELECT id, taken_at, ingested_at, label, kind, items, added, modified, unchanged,
                            deleted, skipped, live, role FROM snapshots WHERE role = 'observed'
                     ORDER BY id DESC LIMIT 1",
                    [],
                    snapshot_from_row,
                )
                .optional()?
                .ok_or(StoreError::Empty)?,
            SnapshotSelector::Id(id) => self
                .conn
                .query_row(
                    "SELECT id, taken_at, ingested_at, label, kind, items, added, modified, unchanged,
                            deleted, skipped, live, role FROM snapshots WHERE id = ?1",
                    [id.0],
                    snapshot_from_row,
                )
                .optional()?
                .ok_or_else(|| StoreError::NoSuchSnapshot(id.to_string()))?,
        };
        let mut row = row;
        let mut sources = self.conn.prepare_cached(&format!(
            "SELECT {SOURCE_COLUMNS} FROM snapshot_sources WHERE snapshot_id = ?1 ORDER BY path"
        ))?;
        row.sources = sources
            .query_map([row.id.0], |r| source_from_row(r, 0))?
            .collect::<Result<_, _>>()?;
        let mut scopes = self.conn.prepare_cached(&format!(
            "SELECT {SCOPE_COLUMNS} FROM snapshot_scopes WHERE snapshot_id = ?1 ORDER BY account_id, region"
        ))?;
        row.scopes = scopes
            .query_map([row.id.0], |r| scope_from_row(r, 0))?
            .collect::<Result<_, _>>()?;
        Ok(row)
    }

    /// Finds the one resource that `name` designates: an ARN, `TYPE/ID`, or a resource id.
    #[instrument(skip(self), err(level = "debug"))]
    pub fn resolve_resource(&self, name: &str) -> Result<ResourceInfo> {
        const COLUMNS: &str = RESOURCE_COLUMNS;
        let mut found: Vec<ResourceInfo> = if name.starts_with("arn:") {
            // Most ARNs end with the resource's id (`...:volume/vol-1`, `arn:aws:s3:::logs`):
            // try that through the identity index before reading the whole table.
            let tail = name.rsplit(['/', ':']).next().unwrap_or(name);
            let by_tail = self.query_resources(
                &format!("{COLUMNS} WHERE resource_id = ?1 AND arn = ?2"),
                &[&tail, &name],
            )?;
            if by_tail.is_empty() {
                self.query_resources(&format!("{COLUMNS} WHERE arn = ?1"), &[&name])?
            } else {
                by_tail
            }
        } else {
            // TYPE/ID, where a type may itself hold slashes (`kubernetes:apps/v1/Deployment`)
            // and an id too (`shop/web`): try every split whose left side looks like a type
            // (`AWS::EC2::Volume`, `terraform:aws_ebs_volume`), then the plain id.
            let mut found = Vec::new();
            for (at, _) in name.match_indices('/') {
                let (kind, id) = (&name[..at], &name[at + 1..]);
                if kind.contains(':') {
                    let sql = format!("{COLUMNS} WHERE resource_type = ?1 AND resource_id = ?2");
                    found.extend(self.query_resources(&sql, &[&kind, &id])?);
                }
            }
            if found.is_empty() {
                found =
                    self.query_resources(&format!("{COLUMNS} WHERE resource_id = ?1"), &[&name])?;
            }
            found
        };
        match found.len() {
            0 => Err(StoreError::NoSuchResource(name.to_string())),
            1 => Ok(found.remove(0)),
            _ => Err(StoreError::Ambiguous {
                name: name.to_string(),
                candidates: found.iter().map(|r| r.key.to_string()).collect(),
            }),
        }
    }

    /// Resources read with [`RESOURCE_COLUMNS`] and a condition.
    fn query_resources(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<ResourceInfo>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok(ResourceInfo {
                row: ResourceRowId(r.get(0)?),
                key: ResourceKey {
                    account_id: r.get(1)?,
                    region: r.get(2)?,
                    resource_type: r.get(3)?,
                    resource_id: r.get(4)?,
                },
                arn: r.get(5)?,
                resource_name: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every version of a resource, oldest first, with the snapshots each was current in.
    #[instrument(skip(self), err(level = "debug"))]
    pub fn history(&self, resource: ResourceRowId) -> Result<Vec<VersionInfo>> {
        let snapshot_ids: Vec<SnapshotId> = self
            .conn
            .prepare("SELECT id FROM snapshots WHERE role = 'observed' ORDER BY id")?
            .query_map([], |r| Ok(SnapshotId(r.get(0)?)))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT id, status, content_hash, capture_time, first_snapshot, until_snapshot
             FROM versions WHERE resource = ?1
               AND (until_snapshot IS NULL OR until_snapshot > first_snapshot) -- not desired states
             ORDER BY first_snapshot, id",
        )?;
        let rows = stmt.query_map([resource.0], |r| {
            Ok((
                VersionId(r.get(0)?),
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<String>>(3)?,
                SnapshotId(r.get(4)?),
                r.get::<_, Option<i64>>(5)?.map(SnapshotId),
            ))
        })?;
        let mut versions = Vec::new();
        for (number, row) in rows.enumerate() {
            let (id, status, hash, capture_time, first, until) = row?;
            let seen_in = snapshot_ids
                .iter()
                .copied()
                .filter(|s| *s >= first && until.is_none_or(|u| *s < u))
                .collect();
            versions.push(VersionInfo {
                id,
                number: number as u32 + 1,
                status: parse_status(&status)?,
                content_hash: ContentHash::from_bytes(&hash).ok_or_else(|| {
                    StoreError::Corrupt(format!("version {} has a bad content hash", id.0))
                })?,
                capture_time,
                first_snapshot: first,
                until_snapshot: until,
                seen_in,
            });
        }
        Ok(versions)
    }

    /// The resource as it stood in `snapshot`, or `None` if it did not exist yet.
    #[instrument(skip(self), err(level = "debug"))]
    pub fn item_at(
        &self,
        resource: &ResourceInfo,
        snapshot: SnapshotId,
    ) -> Result<Option<ConfigurationItem>> {
        let sql = format!(
            "SELECT status, capture_time, state_id, md5_hash, item_version, body FROM versions v
             WHERE v.resource = ?2 AND {}",
            self.state_of(snapshot)?
        );
        let row = self
            .conn
            .query_row(&sql, params![snapshot.0, resource.row.0], |r| {
                Ok(VersionRow {
                    status: r.get(0)?,
                    capture_time: r.get(1)?,
                    state_id: r.get(2)?,
                    md5_hash: r.get(3)?,
                    item_version: r.get(4)?,
                    body: r.get(5)?,
                })
            })
            .optional()?;
        row.map(|row| row.into_item(&resource.key)).transpose()
    }

    /// Every item of a snapshot, including deletion markers, in storage order (sorting a
    /// snapshot's bodies would cost a scan as much as evaluating them).
    ///
    /// One range query over `versions`: this is how scans and drift read a snapshot.
    #[instrument(skip(self, each), err(level = "debug"))]
    pub fn for_each_item(
        &self,
        snapshot: SnapshotId,
        mut each: impl FnMut(ConfigurationItem) -> Result<()>,
    ) -> Result<()> {
        self.for_each_row(snapshot, |key, row| each(row.into_item(&key)?))
    }

    /// Every live item of a snapshot, unparsed, in storage order; with `rows`, only the
    /// versions of that range of rowids (see [`Store::version_ranges`]). `wanted(resource_type,
    /// account, version)` chooses the items read whole; the others cost only a look at three
    /// columns.
    pub fn for_each_stored(
        &self,
        snapshot: SnapshotId,
        rows: Option<(i64, i64)>,
        mut wanted: impl FnMut(&str, &str, i64) -> bool,
        mut each: impl FnMut(StoredItem) -> Result<()>,
    ) -> Result<()> {
        // A range is read in table order, not through an index: reading a part of a snapshot
        // on each core, every core reads its own pages.
        let (table, range) = match rows {
            Some(_) => ("versions v NOT INDEXED", "v.rowid BETWEEN ?2 AND ?3 AND"),
            None => ("versions v", ""),
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {STORED_COLUMNS}
             FROM {table} JOIN resources r ON r.id = v.resource
             WHERE {range} {}",
            self.state_of(snapshot)?
        ))?;
        let mut rows = match rows {
            Some((from, to)) => stmt.query(params![snapshot.0, from, to])?,
            None => stmt.query([snapshot.0])?,
        };
        while let Some(r) = rows.next()? {
            let text = |i: usize| -> Result<&str> {
                Ok(r.get_ref(i)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?
                    .unwrap_or_default())
            };
            let status = parse_status(text(4)?)?;
            if status.is_deleted() || !wanted(text(2)?, text(0)?, r.get(11)?) {
                continue;
            }
            each(stored_item(r, status)?)?;
        }
        Ok(())
    }

    /// The live items among versions `versions` (rows of `versions`; deletions are left out),
    /// in the order given, read a few hundred per statement: what a scan that starts from an
    /// earlier one reads, which is what changed since.
    pub fn for_each_version(
        &self,
        versions: &[i64],
        mut each: impl FnMut(StoredItem) -> Result<()>,
    ) -> Result<()> {
        let mut found = std::collections::HashMap::with_capacity(PER_STATEMENT);
        for chunk in versions.chunks(PER_STATEMENT) {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {STORED_COLUMNS}
                 FROM versions v JOIN resources r ON r.id = v.resource
                 WHERE v.id IN ({})",
                marks(chunk.len())
            ))?;
            let rows = stmt.query(rusqlite::params_from_iter(chunk))?;
            live_items(rows, |item| {
                found.insert(item.version, item);
                Ok(())
            })?;
            for version in chunk {
                if let Some(item) = found.remove(version) {
                    each(item)?;
                }
            }
        }
        Ok(())
    }

    /// The live items of `account` in `snapshot`, of the types `types` (every type when
    /// empty), in (region, type, id) order: what an estate rule reads when it runs again for
    /// one account.
    pub fn stored_of_account(
        &self,
        snapshot: SnapshotId,
        account: &str,
        types: &[String],
    ) -> Result<Vec<StoredItem>> {
        let state = self.state_of(snapshot)?;
        let mut items = Vec::new();
        let mut read = |sql: &str, bound: &[&dyn rusqlite::ToSql]| -> Result<()> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            live_items(stmt.query(bound)?, |item| {
                items.push(item);
                Ok(())
            })
        };
        if types.is_empty() {
            read(
                &format!(
                    "SELECT {STORED_COLUMNS} FROM resources r JOIN versions v ON v.resource = r.id
                     WHERE r.account_id = ?2 AND {state}"
                ),
                &[&snapshot.0, &account],
            )?;
        }
        // One type at a time, through `resources_by_type`.
        for resource_type in types {
            read(
                &format!(
                    "SELECT {STORED_COLUMNS} FROM resources r INDEXED BY resources_by_type
                     JOIN versions v ON v.resource = r.id
                     WHERE r.resource_type = ?3 AND r.account_id = ?2 AND {state}"
                ),
                &[&snapshot.0, &account, resource_type],
            )?;
        }
        items.sort_by_cached_key(|i| {
            [Field::Region, Field::ResourceType, Field::ResourceId]
                .map(|f| i.fields.get(f).unwrap_or_default().to_string())
        });
        Ok(items)
    }

    /// Whether `account` has a live resource in `snapshot`.
    pub fn account_is_live(&self, snapshot: SnapshotId, account: &str) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM resources r JOIN versions v ON v.resource = r.id
             WHERE r.account_id = ?2 AND {} AND v.status NOT IN ('ResourceDeleted', 'ResourceDeletedNotRecorded') LIMIT 1",
            self.state_of(snapshot)?
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![snapshot.0, account], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn for_each_row(
        &self,
        snapshot: SnapshotId,
        mut each: impl FnMut(ResourceKey, VersionRow) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.account_id, r.region, r.resource_type, r.resource_id,
                    v.status, v.capture_time, v.state_id, v.md5_hash, v.item_version, v.body
             FROM versions v JOIN resources r ON r.id = v.resource
             WHERE {}",
            self.state_of(snapshot)?
        ))?;
        let mut rows = stmt.query([snapshot.0])?;
        while let Some(r) = rows.next()? {
            let key = ResourceKey {
                account_id: r.get(0)?,
                region: r.get(1)?,
                resource_type: r.get(2)?,
                resource_id: r.get(3)?,
            };
            let row = VersionRow {
                status: r.get(4)?,
                capture_time: r.get(5)?,
                state_id: r.get(6)?,
                md5_hash: r.get(7)?,
                item_version: r.get(8)?,
                body: r.get(9)?,
            };
            each(key, row)?;
        }
        Ok(())
    }

    #[instrument(skip(self), err(level = "debug"))]
    pub fn stats(&self) -> Result<Stats> {
        let count = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let page_count = count("PRAGMA page_count")?;
        let page_size = count("PRAGMA page_size")?;
        let mut by_type = self.conn.prepare(
            "SELECT resource_type, count(*) FROM resources
             WHERE head_status NOT IN ('ResourceDeleted', 'ResourceDeletedNotRecorded')
             GROUP BY resource_type ORDER BY resource_type",
        )?;
        let resources_by_type = by_type
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Stats {
            path: self.path.display().to_string(),
            schema_version: count("PRAGMA user_version")? as usize,
            snapshots: count("SELECT count(*) FROM snapshots")?,
            resources: count("SELECT count(*) FROM resources")?,
            live_resources: count(
                "SELECT count(*) FROM resources
                 WHERE head_status NOT IN ('ResourceDeleted', 'ResourceDeletedNotRecorded')",
            )?,
            versions: count("SELECT count(*) FROM versions")?,
            body_bytes: count("SELECT coalesce(sum(length(body)), 0) FROM versions")?,
            database_bytes: page_count * page_size,
            resources_by_type,
        })
    }

    /// Folds the write-ahead log into the main file, so its size on disk is the store's size.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn snapshot_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotInfo> {
    let kind: String = r.get(4)?;
    Ok(SnapshotInfo {
        id: SnapshotId(r.get(0)?),
        taken_at: r.get(1)?,
        ingested_at: r.get(2)?,
        label: r.get(3)?,
        kind: if kind == "full" {
            SnapshotKind::Full
        } else {
            SnapshotKind::Partial
        },
        counts: SnapshotCounts {
            items: r.get::<_, i64>(5)? as u64,
            added: r.get::<_, i64>(6)? as u64,
            modified: r.get::<_, i64>(7)? as u64,
            unchanged: r.get::<_, i64>(8)? as u64,
            deleted: r.get::<_, i64>(9)? as u64,
            skipped: r.get::<_, i64>(10)? as u64,
            live: r.get::<_, i64>(11)? as u64,
        },
        sources: Vec::new(),
        scopes: Vec::new(),
        role: if r.get_ref(12)?.as_str()? == "desired" {
            SnapshotRole::Desired
        } else {
            SnapshotRole::Observed
        },
    })
}

/// The columns [`source_from_row`] reads.
const SOURCE_COLUMNS: &str = "path, form, items, content_hash, bytes, modified_at";

fn source_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SourceInfo> {
    let hash: Option<Vec<u8>> = r.get(at + 3)?;
    Ok(SourceInfo {
        path: r.get(at)?,
        form: r.get(at + 1)?,
        items: r.get::<_, i64>(at + 2)? as u64,
        content_hash: hash.as_deref().and_then(ContentHash::from_bytes),
        bytes: r.get::<_, Option<i64>>(at + 4)?.map(|b| b as u64),
        modified_at: r.get(at + 5)?,
    })
}

/// The columns [`scope_from_row`] reads.
const SCOPE_COLUMNS: &str = "account_id, region, kind, delivered_at, recorded_by";

fn scope_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ScopeInfo> {
    Ok(ScopeInfo {
        account_id: r.get(at)?,
        region: r.get(at + 1)?,
        kind: if r.get_ref(at + 2)?.as_str()? == "full" {
            SnapshotKind::Full
        } else {
            SnapshotKind::Partial
        },
        delivered_at: r.get(at + 3)?,
        recorded_by: r.get(at + 4)?,
    })
}

/// What [`stored_item`] reads, over `versions v JOIN resources r`.
const STORED_COLUMNS: &str = "r.account_id, r.region, r.resource_type, r.resource_id,
     v.status, v.capture_time, v.state_id, v.md5_hash, v.item_version, v.body, r.id, v.id";

/// The live items of rows of [`STORED_COLUMNS`]: deletions are left out.
fn live_items(
    mut rows: rusqlite::Rows<'_>,
    mut each: impl FnMut(StoredItem) -> Result<()>,
) -> Result<()> {
    while let Some(r) = rows.next()? {
        let status = parse_status(r.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?)?;
        if !status.is_deleted() {
            each(stored_item(r, status)?)?;
        }
    }
    Ok(())
}

/// An item from a row of [`STORED_COLUMNS`] whose status is `status`, its text unparsed.
fn stored_item(r: &rusqlite::Row<'_>, status: ItemStatus) -> Result<StoredItem> {
    let mut values: [(Field, &[u8]); 9] = [(Field::Status, &[]); 9];
    let mut n = 0;
    for (column, index) in [
        (0, Field::AccountId),
        (1, Field::Region),
        (5, Field::CaptureTime),
        (7, Field::Md5Hash),
        (6, Field::StateId),
        (3, Field::ResourceId),
        (2, Field::ResourceType),
        (8, Field::Version),
    ] {
        if let Some(value) = r
            .get_ref(column)?
            .as_bytes_or_null()
            .map_err(rusqlite::Error::from)?
        {
            values[n] = (index, value);
            n += 1;
        }
    }
    values[n] = (Field::Status, status.as_str().as_bytes());
    let fields = Fields::from_bytes(values[..=n].iter().copied()).ok_or_else(|| {
        StoreError::Corrupt("a stored identity or capture field is not UTF-8".to_string())
    })?;
    Ok(StoredItem {
        resource: r.get(10)?,
        version: r.get(11)?,
        fields,
        body: r.get(9)?,
    })
}

fn parse_status(text: &str) -> Result<ItemStatus> {
    ItemStatus::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown status '{text}'")))
}

/// One live item of a snapshot as stored, not yet parsed: a scan hands these to worker threads,
/// which turn them into documents in parallel.
#[derive(Debug)]
pub struct StoredItem {
    /// Its row in `resources`, which evaluations refer to.
    pub resource: i64,
    /// Its version's row in `versions`, which verdicts refer to.
    pub version: i64,
    fields: Fields,
    body: Vec<u8>,
}

impl StoredItem {
    /// An item read from elsewhere than the store (`conform check`), named by `resource` (there,
    /// the item's number in the order read, which also stands for its version).
    pub fn new(resource: i64, fields: Fields, body: Vec<u8>) -> StoredItem {
        StoredItem {
            resource,
            version: resource,
            fields,
            body,
        }
    }

    pub fn resource_type(&self) -> &str {
        self.fields.get(Field::ResourceType).unwrap_or_default()
    }

    pub fn account_id(&self) -> &str {
        self.fields.get(Field::AccountId).unwrap_or_default()
    }

    /// Its parts: the row of its resource, its stored fields and its canonical body (which the
    /// rule host indexes into the document rules read).
    pub fn into_parts(self) -> (i64, Fields, Vec<u8>) {
        (self.resource, self.fields, self.body)
    }
}

#[derive(Debug)]
struct VersionRow {
    status: String,
    capture_time: Option<String>,
    state_id: Option<String>,
    md5_hash: Option<String>,
    item_version: Option<String>,
    body: Vec<u8>,
}

/// The content fields a version's body holds, in canonical JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    arn: Option<String>,
    availability_zone: Option<String>,
    #[serde(default)]
    configuration: serde_json::Value,
    #[serde(default)]
    relationships: Option<serde_json::Value>,
    resource_creation_time: Option<String>,
    resource_name: Option<String>,
    #[serde(default)]
    supplementary_configuration: Option<serde_json::Value>,
    #[serde(default)]
    tags: Option<serde_json::Value>,
}

impl VersionRow {
    fn into_item(self, key: &ResourceKey) -> Result<ConfigurationItem> {
        let body: Body = serde_json::from_slice(&self.body)
            .map_err(|e| StoreError::Corrupt(format!("body of {key}: {e}")))?;
        Ok(ConfigurationItem {
            version: self.item_version,
            account_id: key.account_id.clone(),
            configuration_item_capture_time: self.capture_time,
            configuration_item_status: parse_status(&self.status)?,
            configuration_state_id: self.state_id,
            configuration_item_md5_hash: self.md5_hash,
            arn: body.arn,
            resource_type: key.resource_type.clone(),
            resource_id: key.resource_id.clone(),
            resource_name: body.resource_name,
            aws_region: key.region.clone(),
            availability_zone: body.availability_zone,
            resource_creation_time: body.resource_creation_time,
            tags: body.tags.unwrap_or_else(|| serde_json::json!({})),
            relationships: body.relationships.unwrap_or_else(|| serde_json::json!([])),
            configuration: body.configuration,
            supplementary_configuration: body
                .supplementary_configuration
                .unwrap_or_else(|| serde_json::json!({})),
        })
    }
}

/// An SQLite `file:` URI for `path` with `query`: `%`, `?` and `#` in the path escaped, as
/// SQLite's URI parser wants.
fn file_uri(path: &Path, query: &str) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    format!("{uri}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enforcing_foreign_keys(store: &Store) -> bool {
        store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get::<_, i64>(0))
            .unwrap()
            == 1
    }

    /// Commits a snapshot that wrote nothing.
    fn commit_empty(mut writer: SnapshotWriter<'_>) {
        writer.open_snapshot().unwrap();
        writer
            .close_snapshot(&SnapshotRecord {
                taken_at: "2026-11-02T06:00:00Z",
                label: "t",
                kind: SnapshotKind::Full,
                counts: Default::default(),
                sources: &[],
                scopes: &[],
            })
            .unwrap();
        writer.commit().unwrap();
    }

    fn journal_mode(conn: &Connection) -> String {
        conn.pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    }

    /// The first snapshot of an empty store is written through a rollback journal, and the
    /// store is in WAL mode again once it ends, committed or not. When another connection has
    /// the store open, the writer keeps to the WAL at once rather than waiting for it.
    #[test]
    fn an_empty_store_is_written_without_the_wal_only_when_no_one_else_has_it_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).unwrap();
        let writer = store.begin_ingest(SnapshotRole::Observed).unwrap();
        assert_eq!(journal_mode(writer.connection()), "delete");
        drop(writer); // rolled back
        assert_eq!(journal_mode(&store.conn), "wal");
        assert_eq!(store.snapshots().unwrap().len(), 0);

        // Another connection is reading: the writer does not wait for it.
        let other = Connection::open(&path).unwrap();
        let _: i64 = other
            .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
            .unwrap();
        let started = std::time::Instant::now();
        let writer = store.begin_ingest(SnapshotRole::Observed).unwrap();
        assert_eq!(journal_mode(writer.connection()), "wal");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        drop(writer);
        drop(other);

        let writer = store.begin_ingest(SnapshotRole::Observed).unwrap();
        assert_eq!(journal_mode(writer.connection()), "delete");
        commit_empty(writer);
        assert_eq!(journal_mode(&store.conn), "wal");
        let synchronous: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL again");

        // A store with a snapshot is written through the WAL.
        let writer = store.begin_ingest(SnapshotRole::Observed).unwrap();
        assert_eq!(journal_mode(writer.connection()), "wal");
        drop(writer);
        drop(store);
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.snapshots().unwrap().len(), 1);
    }

    /// A snapshot's writer turns enforcement off for its own transaction only: whether it
    /// commits or is dropped, every later writer on the connection is checked again.
    #[test]
    fn foreign_keys_are_enforced_again_after_a_snapshot_ends() {
        let mut store = Store::open_in_memory().unwrap();
        assert!(enforcing_foreign_keys(&store));
        let writer = store.begin_ingest(SnapshotRole::Observed).unwrap();
        drop(writer);
        assert!(enforcing_foreign_keys(&store));
        let writer = store.begin_ingest(SnapshotRole::Observed).unwrap();
        commit_empty(writer);
        assert!(enforcing_foreign_keys(&store));
        let dangling = store.conn.execute(
            "INSERT INTO versions (id, resource, first_snapshot, status, content_hash, raw_hash, body)
             VALUES (1, 99, 1, 'OK', x'00', x'00', '{}')",
            [],
        );
        assert!(dangling.is_err(), "a version of no resource was stored");
    }

    /// A store made by an earlier conform (schema 4) learns where each snapshot's versions lie
    /// from the index it then drops; desired states and drift read through those ranges.
    #[test]
    fn version_ranges_are_recorded_when_migrating_from_schema_4() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::new(MIGRATIONS[..4].iter().map(|sql| M::up(sql)).collect())
                .to_latest(&mut conn)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO snapshots (id, taken_at, ingested_at, label, kind, items, added,
                                        modified, unchanged, deleted, skipped, live, role)
                 VALUES (1, 't1', 't', 'a', 'full', 2, 2, 0, 0, 0, 0, 2, 'observed'),
                        (2, 't2', 't', 'b', 'full', 2, 0, 0, 2, 0, 0, 2, 'observed'),
                        (3, 't3', 't', 'c', 'full', 2, 0, 1, 1, 0, 0, 2, 'observed'),
                        (4, 't3', 't', 'd', 'full', 1, 1, 0, 0, 0, 0, 1, 'desired');
                 INSERT INTO resources (id, account_id, region, resource_type, resource_id, arn)
                   VALUES (1, 'a', 'r', 'T', 'x', 'arn:t:x'), (2, 'a', 'r', 'T', 'y', NULL);
                 INSERT INTO versions (id, resource, first_snapshot, until_snapshot, status,
                                       content_hash, raw_hash, body)
                   VALUES (1, 1, 1, 3, 'OK', x'00000000000000000000000000000001', x'00000000000000000000000000000001', '{}'),
                          (2, 2, 1, NULL, 'OK', x'00000000000000000000000000000002', x'00000000000000000000000000000002', '{}'),
                          (3, 1, 3, NULL, 'OK', x'00000000000000000000000000000003', x'00000000000000000000000000000003', '{\"a\":1}'),
                          (4, 1, 4, 4, 'OK', x'00000000000000000000000000000004', x'00000000000000000000000000000004', '{\"a\":2}');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let ranges: Vec<(i64, Option<i64>, Option<i64>)> = store
            .conn
            .prepare("SELECT id, first_version, last_version FROM snapshots ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(
            ranges,
            [
                (1, Some(1), Some(2)),
                (2, None, None),
                (3, Some(3), Some(3)),
                (4, Some(4), Some(4))
            ]
        );
        let indexes: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'
                 AND name IN ('versions_by_first_snapshot', 'resources_by_arn')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
        let differing = |before: i64, after: i64| -> Vec<ResourceRowId> {
            store
                .state_differences(SnapshotId(before), SnapshotId(after))
                .unwrap()
                .into_iter()
                .map(|d| d.resource)
                .collect()
        };
        // Observed: x changed between 1 and 3, y did not. Desired (read by its range): x
        // differs, and y is not in it.
        assert_eq!(differing(1, 3), [ResourceRowId(1)]);
        assert_eq!(differing(1, 2), []);
        assert_eq!(differing(3, 4), [ResourceRowId(1), ResourceRowId(2)]);
        assert_eq!(
            store.resolve_resource("arn:t:x").unwrap().row,
            ResourceRowId(1)
        );
    }
}
