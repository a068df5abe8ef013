//! Ingest: files in, one snapshot out, in one transaction.
//!
//! For each item the builder decides, against the resource's latest stored version, whether it
//! is new, changed or unchanged, and writes a version only for the first two. The decision
//! takes two steps so that unchanged items cost a hash of their raw text and a map look-up:
//! 1. the raw hash of the content fields equals the stored one: unchanged, nothing parsed;
//! 2. otherwise the item is checked against the schema and canonicalised, and its content hash
//!    decides (same content written with other key order or whitespace is still unchanged).
//!
//! Every problem of every file is collected before anything is decided; if there is any (and
//! `--skip-invalid` was not given), the transaction is dropped and the store is untouched.

pub(crate) mod collect;
pub mod delivery;
pub(crate) mod forms;
pub mod inventory;
mod item;
mod placement;
mod source;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::canonical::{HashedBody, Scratch};
use crate::model::{ItemStatus, ResourceKey, ResourceRowId, Scope, SnapshotId};
use crate::store::{
    Head, NewVersion, ScopeInfo, SnapshotCounts, SnapshotInfo, SnapshotKind, SnapshotRecord,
    SnapshotRole, SnapshotWriter, SourceInfo, Store, StoreError, Target, VersionMeta, VersionSink,
    resource_identity,
};
pub use collect::{Collected, LiveItem, collect};
use delivery::{DeliveryKey, Group, Grouping, Known, ScopeClock};
use forms::{BrokenJson, Document, DocumentError, Field, Form, ItemEvent, ItemFields, KeepReading};
use item::{Checker, Item, ItemProblem};
pub use item::{ENVELOPE_SCHEMA, SchemaFileError};
use placement::{Arrival, Earlier, Outcome, Placement, Sighting};
use source::FileError;
pub use source::{InputLimits, expand, is_data_file_name};

/// How an ingest reads its input and what kind of snapshot it makes.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Apply the items as changes: resources not named keep their state (history files and
    /// change notifications always are).
    pub partial: bool,
    /// When a resource appears twice, keep the later capture instead of failing.
    pub latest_wins: bool,
    /// Store the valid items and report the invalid ones instead of failing.
    pub skip_invalid: bool,
    /// When the snapshot was taken; defaults to the latest capture time among its items.
    pub taken_at: Option<jiff::Timestamp>,
    pub label: Option<String>,
    /// A directory of per-resource-type JSON Schemas for `configuration`.
    pub type_schemas: Option<PathBuf>,
    /// Observed (the estate's history) or desired (a baseline file, compared against).
    pub role: SnapshotRole,
    /// How large files and items may be.
    pub limits: InputLimits,
    /// Where files without an AWS delivery name are complete; default: the accounts and
    /// regions their items name.
    pub scope: Option<Scope>,
    /// How deliveries with AWS names are grouped into snapshots.
    pub grouping: Grouping,
    /// Read files the store already holds again, as new snapshots (else they are skipped).
    pub again: bool,
}

/// Receives progress as ingest goes; the CLI draws a bar with it.
pub trait Progress {
    fn file(&self, _path: &Path) {}
    fn items(&self, _read: u64) {}
}

/// Reports nothing.
#[derive(Debug)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "at", rename_all = "lowercase")]
pub enum Location {
    /// The file as a whole.
    File,
    /// A position in the text (syntax errors).
    Position { line: usize, column: usize },
    /// An item of an array, by index, with its line when known.
    Item { index: usize, line: Option<usize> },
    /// A line of newline-delimited items.
    Line { line: usize },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => Ok(()),
            Location::Position { line, column } => write!(f, "line {line}, column {column}"),
            Location::Item {
                index,
                line: Some(line),
            } => write!(f, "item {index} (line {line})"),
            Location::Item { index, line: None } => write!(f, "item {index}"),
            Location::Line { line } => write!(f, "line {line}"),
        }
    }
}

/// One thing wrong with the input: file, location, JSON Pointer within the item, message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    #[serde(flatten)]
    pub location: Location,
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.location != Location::File {
            write!(f, ": {}", self.location)?;
        }
        if !self.pointer.is_empty() {
            write!(f, ": {}", self.pointer)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", describe_problems(problems))]
    Invalid { problems: Vec<Problem> },
    #[error("type schema {0}")]
    Schema(#[from] SchemaFileError),
    #[error(
        "no configuration items in {inputs}: a full snapshot with no items would mark every resource deleted \
         (pass --partial if these files only record changes)"
    )]
    NoItems { inputs: String },
    #[error(
        "this snapshot of {scope} was taken at {taken_at}, before data the store holds for it (snapshot \
         {latest}, taken at {latest_taken_at}); a scope's snapshots are kept in time order: ingest \
         older data first, or set --taken-at"
    )]
    OutOfOrder {
        taken_at: String,
        scope: String,
        latest: i64,
        latest_taken_at: String,
    },
    #[error(
        "{flag} names one snapshot, and this input makes {snapshots}: leave it out, or ingest them one at a time"
    )]
    OneSnapshotOption {
        flag: &'static str,
        snapshots: usize,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe_problems(problems: &[Problem]) -> String {
    let mut text = format!(
        "{} problem{} in the input; nothing was stored",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems.iter().take(PROBLEMS_SHOWN) {
        text.push_str("\n  ");
        text.push_str(&p.to_string());
    }
    if problems.len() > PROBLEMS_SHOWN {
        text.push_str(&format!(
            "\n  … and {} more (`--format json` lists every one)",
            problems.len() - PROBLEMS_SHOWN
        ));
    }
    text
}

/// Problems an ingest keeps (the rest are counted): a file of bad items must not cost memory
/// in proportion to its size.
const MAX_PROBLEMS: usize = 10_000;
/// Problems an error message lists.
const PROBLEMS_SHOWN: usize = 100;
/// Characters of a problem's message: messages may quote input, and input can be huge.
const MESSAGE_CHARS: usize = 300;

/// A message cut to `MESSAGE_CHARS`: a serde error quoting a 1 GB string must not print it.
fn excerpt(message: String) -> String {
    if message.len() <= MESSAGE_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(MESSAGE_CHARS).collect();
    if cut.len() < message.len() {
        cut.push_str("… (cut)");
    }
    cut
}

/// What one file held.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub form: String,
    pub items: u64,
}

/// The outcome of an ingest.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// The snapshots written, in order; none when the input held no configuration item at
    /// all, or nothing the store did not already hold.
    pub snapshots: Vec<SnapshotInfo>,
    /// Files read (new deliveries).
    pub files: Vec<FileReport>,
    /// Files skipped because the store already holds them (by path, size and time, or by
    /// content).
    pub already_stored: Vec<String>,
    /// How many files were new.
    pub new_deliveries: u64,
    /// Invalid items left out (with `--skip-invalid`).
    pub skipped: Vec<Problem>,
    /// Things worth knowing that are not errors (messages without items, wrappers peeled).
    pub notes: Vec<String>,
}

/// Reads `inputs` (files or directories) into the store: one snapshot per group of
/// deliveries (see [`delivery`]), all in one transaction.
#[tracing::instrument(skip_all, err(level = "debug"), fields(inputs = inputs.len()))]
pub fn ingest(
    store: &mut Store,
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let checker = Checker::new(options.type_schemas.as_deref())?;
    let files =
        source::expand(inputs).map_err(|(path, source)| IngestError::Io { path, source })?;
    let mut writer = store.begin_ingest(options.role)?;
    // A desired state is a file compared against, stored again whenever it is given.
    let known = match options.role {
        SnapshotRole::Observed if options.again => Known::new(Vec::new(), writer.scope_times()?),
        SnapshotRole::Observed => Known::new(writer.stored_sources()?, writer.scope_times()?),
        SnapshotRole::Desired => Known::default(),
    };
    let expected = source::expected_items(&files);
    let names = options.role == SnapshotRole::Observed;
    let plan = delivery::plan(files, &known, options.grouping, names)
        .map_err(|(path, source)| IngestError::Io { path, source })?;
    if !plan.refused.is_empty() && !options.skip_invalid {
        return Err(IngestError::Invalid {
            problems: plan.refused,
        });
    }
    if plan.groups.len() > 1 {
        for (flag, given) in [
            ("--taken-at", options.taken_at.is_some()),
            ("--label", options.label.is_some()),
        ] {
            if given {
                return Err(IngestError::OneSnapshotOption {
                    flag,
                    snapshots: plan.groups.len(),
                });
            }
        }
    }
    let mut report = IngestReport {
        snapshots: Vec::new(),
        files: Vec::new(),
        already_stored: plan
            .already_stored
            .iter()
            .map(|(path, _)| path.clone())
            .collect(),
        new_deliveries: plan.groups.iter().map(|g| g.deliveries.len() as u64).sum(),
        skipped: plan.refused,
        notes: Vec::new(),
    };
    for path in &plan.already_stored {
        tracing::debug!(path = path.0, snapshot = ?path.1, "already stored");
    }
    // A partial ingest deletes nothing, so it needs only the heads of the resources it names:
    // a delivery of a thousand changes into a million-resource store looks up a thousand.
    let lazy = options.partial && options.role == SnapshotRole::Observed;
    let heads = if lazy {
        Default::default()
    } else {
        load_heads(&writer, expected)?
    };
    let live_at_start = if lazy {
        Some(writer.live_resources()?)
    } else {
        None
    };
    let mut builder = SnapshotBuilder::new(&mut writer, heads, &checker, options, progress);
    builder.lazy = live_at_start;
    builder.clock = known.clock;
    // Problems that fail the ingest; every group is read, so that all of them are told at once.
    let mut failed: Vec<Problem> = Vec::new();
    for group in plan.groups {
        if let Some(info) = ingest_group(&mut builder, group, inputs, &mut report, &mut failed)? {
            report.snapshots.push(info);
        }
    }
    if builder.omitted_problems > 0 {
        failed.push(Problem {
            file: String::new(),
            location: Location::File,
            pointer: String::new(),
            message: format!(
                "and {} more problems, not listed (only the first {MAX_PROBLEMS} are kept)",
                builder.omitted_problems
            ),
        });
    }
    if !failed.is_empty() {
        return Err(IngestError::Invalid { problems: failed });
    }
    report.skipped.append(&mut builder.problems);
    drop(builder);
    writer.commit()?;
    for info in &report.snapshots {
        tracing::info!(
            snapshot = info.id.0,
            items = info.counts.items,
            added = info.counts.added,
            modified = info.counts.modified,
            deleted = info.counts.deleted,
            "snapshot stored"
        );
    }
    Ok(report)
}

/// Reads one group of deliveries as one snapshot. `None` when there is no snapshot to make:
/// the files held only messages without items, or every delivery was skipped. Problems that
/// fail the ingest go to `failed`; the group is still closed, so later ones can be read.
fn ingest_group(
    builder: &mut SnapshotBuilder<'_, SnapshotWriter<'_>>,
    mut group: Group,
    inputs: &[PathBuf],
    report: &mut IngestReport,
    failed: &mut Vec<Problem>,
) -> Result<Option<SnapshotInfo>, IngestError> {
    let options = builder.options;
    let problems_before = (builder.problems.len(), builder.omitted_problems);
    let read = loop {
        let savepoint = builder.writer.savepoint()?;
        let snapshot = builder.writer.open_snapshot()?;
        builder.begin_snapshot(&group, snapshot);
        let files: Vec<(&Path, Option<&DeliveryKey>)> = group
            .deliveries
            .iter()
            .map(|d| (d.path.as_path(), d.key.as_ref()))
            .collect();
        let read = read_files(builder, &files)?;
        // A corrupt delivery among others, with --skip-invalid: take the group back and read
        // it again without that file; its scope keeps its previous state, as if it had not
        // delivered.
        if group.named && options.skip_invalid && !read.unreadable.is_empty() {
            let first_new = savepoint.first_resource();
            builder.writer.rollback_to(savepoint)?;
            builder.rollback(problems_before, first_new);
            let mut fatal = std::mem::take(&mut builder.fatal);
            for problem in &mut fatal {
                problem
                    .message
                    .push_str(" (the delivery was skipped: --skip-invalid)");
            }
            report.skipped.append(&mut fatal);
            let mut index = 0;
            group.deliveries.retain(|_| {
                index += 1;
                !read.unreadable.contains(&(index - 1))
            });
            if group.deliveries.is_empty() {
                return Ok(None);
            }
            continue;
        }
        builder.writer.release(savepoint)?;
        break read;
    };
    let Read {
        reports,
        notes,
        change_records,
        inventories,
        mut snapshot_ids,
        unreadable,
    } = read;
    report.notes.extend(notes);
    if builder.superseded > 0 {
        report.notes.push(format!(
            "{} in history files captured before their scope's snapshot, which already \
             reflects {}: skipped",
            if builder.superseded == 1 {
                "1 change".to_string()
            } else {
                format!("{} changes", builder.superseded)
            },
            if builder.superseded == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }
    let sources: Vec<SourceInfo> = reports
        .iter()
        .zip(&group.deliveries)
        .map(|(r, d)| d.source(r.form.clone(), r.items))
        .collect();
    report.files.extend(reports);
    failed.append(&mut builder.fatal);
    if !options.skip_invalid {
        failed.extend(builder.problems.drain(problems_before.0..));
    }
    let skipped_items = builder.invalid_items;
    if change_records.is_empty() && inventories.is_empty() && unreadable.is_empty() {
        // Nothing but messages without items: no snapshot to make. The sources are not kept:
        // the reserved snapshot is dropped with them.
        builder.writer.discard_snapshot()?;
        return Ok(None);
    }
    let kind = if group.named && !options.partial {
        if group
            .scopes()
            .iter()
            .any(|(_, k, _)| *k == SnapshotKind::Full)
        {
            SnapshotKind::Full
        } else {
            SnapshotKind::Partial
        }
    } else if options.partial || inventories.is_empty() {
        SnapshotKind::Partial
    } else if let Some(record) = change_records.first() {
        failed.push(Problem {
            file: record.clone(),
            location: Location::File,
            pointer: String::new(),
            message: format!(
                "this file records changes, but {} is a full inventory; pass --partial to apply them all as changes",
                inventories[0]
            ),
        });
        SnapshotKind::Partial
    } else {
        SnapshotKind::Full
    };
    if options.role == SnapshotRole::Desired && kind == SnapshotKind::Partial {
        failed.push(Problem {
            file: change_records
                .first()
                .or(inventories.first())
                .cloned()
                .unwrap_or_default(),
            location: Location::File,
            pointer: String::new(),
            message: "a desired state must be a complete inventory (a snapshot file or a native \
                      array of items), not a change record"
                .to_string(),
        });
    }
    if kind == SnapshotKind::Full && builder.counts.items == 0 && !group.named {
        return Err(IngestError::NoItems {
            inputs: inventories.join(", "),
        });
    }
    let taken_at = options
        .taken_at
        .or(group.time())
        .or(builder.latest_capture)
        .unwrap_or_else(|| {
            let now = jiff::Timestamp::now();
            now.round(jiff::Unit::Second).unwrap_or(now)
        });
    // Where the snapshot is complete: the scopes its deliveries name, or for other files the
    // scope given, or the accounts and regions of their items.
    // An account's global resources belong to the deliveries of the region that records
    // them: one that holds some, or whose deliveries held some before.
    let mut globals: Vec<(String, String, jiff::Timestamp)> = Vec::new();
    let scopes: Vec<(Scope, SnapshotKind, jiff::Timestamp)> = if group.named {
        let mut scopes = group.scopes();
        if options.partial {
            for scope in &mut scopes {
                scope.1 = SnapshotKind::Partial;
            }
        } else {
            for key in group.deliveries.iter().filter_map(|d| d.key.as_ref()) {
                let (account, region) = (&key.account_id, &key.region);
                let records = builder
                    .globals_seen
                    .iter()
                    .any(|(a, r)| a == account && r == region)
                    || builder.clock.records_global(account, region);
                if key.kind == SnapshotKind::Full
                    && records
                    && !globals.iter().any(|(a, ..)| a == account)
                {
                    globals.push((account.clone(), region.clone(), key.time));
                    scopes.push((
                        Scope::of(account, delivery::GLOBAL),
                        SnapshotKind::Full,
                        key.time,
                    ));
                }
            }
        }
        scopes
    } else if let Some(scope) = &options.scope {
        vec![(scope.clone(), kind, taken_at)]
    } else {
        builder
            .places_read()
            .into_iter()
            .map(|s| (s, kind, taken_at))
            .collect()
    };
    if !group.named {
        for (scope, ..) in &scopes {
            if let Some((held, latest, _)) = builder.clock.latest(scope)
                && held > taken_at
            {
                return Err(IngestError::OutOfOrder {
                    taken_at: taken_at.to_string(),
                    scope: scope.to_string(),
                    latest: latest.0,
                    latest_taken_at: held.to_string(),
                });
            }
        }
    }
    // An AWS snapshot id names a snapshot read from one file; otherwise name it by its inputs.
    let single_id = if group.deliveries.len() == 1 {
        snapshot_ids.pop()
    } else {
        None
    };
    let label = options.label.clone().or(single_id).unwrap_or_else(|| {
        if group.named {
            group.label()
        } else {
            default_label(inputs)
        }
    });
    let full: Vec<Scope> = scopes
        .iter()
        .filter(|(_, k, _)| *k == SnapshotKind::Full)
        .map(|(s, ..)| s.clone())
        .collect();
    let counts = builder.finish(&full, taken_at, skipped_items)?;
    let mut scope_rows: Vec<ScopeInfo> = scopes
        .iter()
        .map(|(s, k, t)| {
            let mut row = ScopeInfo::new(s, *k, t.to_string());
            if s.region.as_deref() == Some(delivery::GLOBAL) {
                row.recorded_by = globals
                    .iter()
                    .find(|(a, ..)| s.account_id.as_deref() == Some(a.as_str()))
                    .map(|(_, r, _)| r.clone());
            }
            row
        })
        .collect();
    // As the store lists them.
    scope_rows.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let info = builder.writer.close_snapshot(&SnapshotRecord {
        taken_at: &taken_at.to_string(),
        label: &label,
        kind,
        counts,
        sources: &sources,
        scopes: &scope_rows,
    })?;
    if group.named && !options.partial {
        builder.clock.record_group(&group, info.id);
        for (account, region, time) in globals {
            let scope = Scope::of(&account, delivery::GLOBAL);
            builder
                .clock
                .record(scope, SnapshotKind::Full, time, info.id);
            builder.clock.record_global(&account, &region);
        }
    } else {
        for (scope, kind, time) in scopes {
            builder.clock.record(scope, kind, time, info.id);
        }
    }
    Ok(Some(info))
}

/// What reading the input files found, besides the items.
struct Read {
    reports: Vec<FileReport>,
    notes: Vec<String>,
    /// Files that record changes (history files, notifications).
    change_records: Vec<String>,
    /// Files that are whole inventories (snapshot files, native arrays).
    inventories: Vec<String>,
    /// AWS's ids of the snapshot files read.
    snapshot_ids: Vec<String>,
    /// Files that could not be read to the end (by position in the list read).
    unreadable: Vec<usize>,
}

/// Reads every file through `builder`: their problems are left in the builder (`fatal` for
/// files, `problems` for items); only a store error ends reading.
fn read_files<W: VersionSink + ?Sized>(
    builder: &mut SnapshotBuilder<'_, W>,
    files: &[(&Path, Option<&DeliveryKey>)],
) -> Result<Read, IngestError> {
    let mut read = Read {
        reports: Vec::new(),
        notes: Vec::new(),
        change_records: Vec::new(),
        inventories: Vec::new(),
        snapshot_ids: Vec::new(),
        unreadable: Vec::new(),
    };
    for (index, (path, key)) in files.iter().enumerate() {
        builder.progress.file(path);
        builder.begin_file(index, path, *key);
        let limits = builder.options.limits;
        let outcome = source::read_file(path, limits, &mut |event, text| {
            builder.on_item(event, text)
        });
        let display = path.display().to_string();
        match outcome {
            Ok(doc) => {
                let form = describe_form(&doc, path);
                if let Form::ConfigurationItemsFile {
                    snapshot_id: Some(id),
                } = &doc.form
                {
                    read.snapshot_ids.push(id.clone());
                }
                if let Form::Inventory { notes, .. } = &doc.form {
                    read.notes
                        .extend(notes.iter().map(|n| format!("{display}: {n}")));
                }
                if let Form::NoItems { message_type, note } = &doc.form {
                    let mut text = format!(
                        "{display}: skipped: it is a {message_type}, which carries no configuration item"
                    );
                    if let Some(note) = note {
                        text.push_str(&format!("; {note}"));
                    }
                    tracing::info!("{text}");
                    read.notes.push(text);
                } else if key.map_or_else(
                    || is_change_record(&doc, path),
                    |k| k.kind == SnapshotKind::Partial,
                ) {
                    read.change_records.push(display.clone());
                } else {
                    read.inventories.push(display.clone());
                }
                read.reports.push(FileReport {
                    path: display,
                    form,
                    items: doc.items as u64,
                });
            }
            Err(error) => {
                builder.file_problem(error);
                read.unreadable.push(index);
                read.reports.push(FileReport {
                    path: display,
                    form: "unreadable".to_string(),
                    items: builder.file_items as u64,
                });
            }
        }
        if let Some(error) = builder.store_error.take() {
            return Err(IngestError::Store(error));
        }
    }
    Ok(read)
}

/// The latest version of every stored resource, which each item is compared with.
///
/// The table is sized for the stored resources or, in an empty store, for the `expected` items
/// about to be read: growing it by doubling, into fresh pages, was a twentieth of a first
/// ingest. A later snapshot adds few resources to those stored; sizing it from the input's
/// rough estimate then would only double it.
fn load_heads(
    writer: &SnapshotWriter<'_>,
    expected: usize,
) -> Result<(EntryMap, Places), StoreError> {
    let stored = writer.resource_count()?;
    // Room for the resources a snapshot adds, so the entries are not copied to grow: room
    // reserved is address space, and costs memory only once it is used.
    let capacity = if stored == 0 {
        expected
    } else {
        stored + stored / 4 + 1024
    };
    let mut entries = EntryMap::with_capacity(capacity);
    let mut places = Places::default();
    writer.for_each_head(|identity, resource, head, account, region| {
        entries.insert(
            identity,
            Entry {
                resource: Some(resource),
                head,
                seen: None,
                place: places.intern(account, region),
                was_live: false,
            },
        );
    })?;
    tracing::debug!(resources = entries.len(), "loaded latest versions");
    Ok((entries, places))
}

/// The distinct (account, region) pairs of the estate, numbered: each resource keeps its
/// pair's number, so that a snapshot can tell which resources its scopes cover without a
/// string per resource.
#[derive(Debug, Default)]
struct Places {
    by_hash: HashMap<u64, u32, foldhash::fast::RandomState>,
    list: Vec<(String, String)>,
}

impl Places {
    fn intern(&mut self, account: &[u8], region: &[u8]) -> u32 {
        let hash = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(account);
            h.update(&[0]);
            h.update(region);
            h.digest()
        };
        let same = |(a, r): &(String, String)| a.as_bytes() == account && r.as_bytes() == region;
        if let Some(&n) = self.by_hash.get(&hash)
            && same(&self.list[n as usize])
        {
            return n;
        }
        // A hash shared by two pairs (never seen, but possible) falls back to a search.
        if let Some(n) = self.list.iter().position(same) {
            return n as u32;
        }
        let n = self.list.len() as u32;
        self.list.push((
            String::from_utf8_lossy(account).into_owned(),
            String::from_utf8_lossy(region).into_owned(),
        ));
        self.by_hash.entry(hash).or_insert(n);
        n
    }
}

fn is_change_record(doc: &Document, path: &Path) -> bool {
    doc.form.is_change_record()
        || (matches!(doc.form, Form::ConfigurationItemsFile { snapshot_id: None })
            && is_history_name(path))
}

fn is_history_name(path: &Path) -> bool {
    path.to_string_lossy().contains("ConfigHistory")
}

fn describe_form(doc: &Document, path: &Path) -> String {
    let mut form = match &doc.form {
        Form::ConfigurationItemsFile {
            snapshot_id: Some(_),
        } => "snapshot file".to_string(),
        Form::ConfigurationItemsFile { snapshot_id: None } if is_history_name(path) => {
            "history file".to_string()
        }
        Form::NoItems { message_type, .. } => message_type.clone(),
        other => other.name().to_string(),
    };
    if !doc.wrappers.is_empty() {
        form.push_str(&format!(" (in {})", doc.wrappers.join(", in ")));
    }
    form
}

/// What ingest knows of one resource during a snapshot.
#[derive(Debug)]
///
/// There is one per resource, looked up once per item: kept small (its head as it was before
/// this snapshot lives in `SnapshotBuilder::replaced`, needed only to take a version back).
struct Entry {
    resource: Option<ResourceRowId>,
    /// The latest version, including any written by this snapshot.
    head: Option<Head>,
    seen: Option<Sighting>,
    /// Its account and region ([`Places`]).
    place: u32,
    /// Live when the ingest began (counted when heads are looked up lazily).
    was_live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ItemAt {
    index: usize,
    /// Byte offset of the item in its file's text, when the file was mapped.
    offset: Option<usize>,
    lines_form: bool,
}

impl ItemAt {
    /// The item's location; `text` is its file's text, if at hand, to add a line number.
    /// Lines are counted only here, for errors: counting for every item would be quadratic.
    fn location(self, text: Option<&str>) -> Location {
        self.location_from(text, &mut (0, 1))
    }

    /// As `location`, counting lines on from `known` (an offset and its line, which it moves
    /// here), so that many problems in one file cost one pass over it, not one each.
    fn location_from(self, text: Option<&str>, known: &mut (usize, usize)) -> Location {
        let line = self.offset.zip(text).map(|(offset, text)| {
            if offset < known.0 {
                *known = (0, 1);
            }
            let newlines = memchr::memchr_iter(b'\n', &text.as_bytes()[known.0..offset]).count();
            *known = (offset, known.1 + newlines);
            known.1
        });
        match (self.lines_form, line) {
            (true, Some(line)) => Location::Line { line },
            (true, None) => Location::Line {
                line: self.index + 1,
            },
            (false, line) => Location::Item {
                index: self.index,
                line,
            },
        }
    }
}

/// Resources by the 128-bit hash of their identity: no string per resource is built to load
/// heads or to look an item up. (A collision of two identities' hashes is as unlikely as one of
/// content hashes; see ARCHITECTURE.md, "Hashes".)
/// What ingest knows of every resource, by identity hash ([`resource_identity`]).
///
/// The entries lie in one vector, with a table of their places beside it: a hash table of
/// whole entries, its buckets rounded up to a power of two and filled as resources arrive, held
/// about twice their size (over 400 MB at a million resources).
#[derive(Debug, Default)]
pub(crate) struct EntryMap {
    places: HashMap<u128, u32, foldhash::fast::RandomState>,
    keys: Vec<u128>,
    list: Vec<Entry>,
}

impl EntryMap {
    pub(crate) fn with_capacity(capacity: usize) -> EntryMap {
        EntryMap {
            places: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            keys: Vec::with_capacity(capacity),
            list: Vec::with_capacity(capacity),
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn contains_key(&self, key: &u128) -> bool {
        self.places.contains_key(key)
    }

    fn get_mut(&mut self, key: &u128) -> Option<&mut Entry> {
        let at = *self.places.get(key)?;
        Some(&mut self.list[at as usize])
    }

    fn get_or_insert_with(&mut self, key: u128, entry: impl FnOnce() -> Entry) -> &mut Entry {
        let at = *self.places.entry(key).or_insert_with(|| {
            self.keys.push(key);
            self.list.push(entry());
            (self.list.len() - 1) as u32
        });
        &mut self.list[at as usize]
    }

    fn insert(&mut self, key: u128, entry: Entry) {
        match self.places.get(&key) {
            Some(&at) => self.list[at as usize] = entry,
            None => {
                self.get_or_insert_with(key, || entry);
            }
        }
    }

    fn values(&self) -> impl Iterator<Item = &Entry> {
        self.list.iter()
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.list.iter_mut()
    }

    fn iter(&self) -> impl Iterator<Item = (&u128, &Entry)> {
        self.keys.iter().zip(&self.list)
    }
}

struct SnapshotBuilder<'e, W: VersionSink + ?Sized> {
    writer: &'e mut W,
    checker: &'e Checker,
    options: &'e IngestOptions,
    progress: &'e dyn Progress,
    entries: EntryMap,
    places: Places,
    /// The head (and row) each resource had before this snapshot wrote it a version: a later
    /// capture that wins takes back what an earlier one wrote, and a snapshot taken back
    /// (a corrupt delivery skipped) puts every resource back as it was.
    replaced: HashMap<u128, (Option<ResourceRowId>, Option<Head>), foldhash::fast::RandomState>,
    body: HashedBody,
    scratch: Scratch,
    counts: SnapshotCounts,
    /// Items read over every snapshot of the ingest, for progress.
    items_read: u64,
    latest_capture: Option<jiff::Timestamp>,
    /// Each scope's latest data: a change captured before its scope's latest full snapshot
    /// is already reflected in it.
    clock: ScopeClock,
    /// Places that items of this snapshot named (the scopes of a file without AWS name).
    places_read: Vec<bool>,
    /// Problems with single items (left out with --skip-invalid).
    problems: Vec<Problem>,
    invalid_items: u64,
    /// Problems with whole files (never skippable: a truncated file would read as deletions).
    fatal: Vec<Problem>,
    /// Problems past `MAX_PROBLEMS`, counted only.
    omitted_problems: usize,
    /// The last offset in the current file whose line was counted, and that line.
    line_at: (usize, usize),
    store_error: Option<StoreError>,
    /// Deferred JSON of the item being placed found broken (see `on_item`).
    broken: Option<BrokenJson>,
    file_index: usize,
    file: String,
    file_items: usize,
    /// What the current file's AWS name says: its items must lie in its scope.
    file_key: Option<DeliveryKey>,
    /// Which files of this snapshot record changes (AWS history files): a resource they name
    /// twice, or that a snapshot file also names, takes its latest capture.
    change_files: Vec<bool>,
    /// Changes skipped as already reflected in a later snapshot of their scope.
    superseded: u64,
    /// (account, region) of the snapshot deliveries of this snapshot that held global
    /// resources: those deliveries cover the account's global scope.
    globals_seen: Vec<(String, String)>,
    /// Heads are looked up as items name them (a partial ingest, which deletes nothing, need
    /// not load every resource of the store): the live resources when the ingest began.
    lazy: Option<u64>,
}

impl<'e, W: VersionSink + ?Sized> SnapshotBuilder<'e, W> {
    fn new(
        writer: &'e mut W,
        (entries, places): (EntryMap, Places),
        checker: &'e Checker,
        options: &'e IngestOptions,
        progress: &'e dyn Progress,
    ) -> Self {
        SnapshotBuilder {
            writer,
            checker,
            options,
            progress,
            entries,
            places,
            replaced: HashMap::default(),
            body: HashedBody::new(),
            scratch: Scratch::default(),
            counts: SnapshotCounts::default(),
            items_read: 0,
            latest_capture: None,
            clock: ScopeClock::default(),
            places_read: Vec::new(),
            problems: Vec::new(),
            invalid_items: 0,
            fatal: Vec::new(),
            omitted_problems: 0,
            line_at: (0, 1),
            store_error: None,
            broken: None,
            file_index: 0,
            file: String::new(),
            file_items: 0,
            file_key: None,
            change_files: Vec::new(),
            superseded: 0,
            globals_seen: Vec::new(),
            lazy: None,
        }
    }

    /// Starts a snapshot: nothing is seen in it yet. The group's own deliveries go on the
    /// clock first, so that a history file read before its scope's snapshot file in the
    /// group still knows which of its changes that snapshot already reflects.
    fn begin_snapshot(&mut self, group: &Group, snapshot: SnapshotId) {
        for entry in self.entries.values_mut() {
            entry.seen = None;
        }
        self.replaced.clear();
        self.counts = SnapshotCounts::default();
        self.latest_capture = None;
        self.invalid_items = 0;
        self.superseded = 0;
        self.globals_seen.clear();
        self.places_read.clear();
        self.change_files = group
            .deliveries
            .iter()
            .map(|d| {
                d.key
                    .as_ref()
                    .is_some_and(|k| k.kind == SnapshotKind::Partial)
            })
            .collect();
        if !self.options.partial {
            self.clock.record_group(group, snapshot);
        }
    }

    /// Puts every resource back as it was before the snapshot (whose rows the writer took
    /// back), and forgets the problems found since `problems_before`.
    /// `first_new` is the first resource row the snapshot would have created.
    fn rollback(&mut self, problems_before: (usize, usize), first_new: ResourceRowId) {
        for (identity, (resource, head)) in self.replaced.drain() {
            if let Some(entry) = self.entries.get_mut(&identity) {
                entry.resource = resource;
                entry.head = head;
            }
        }
        // Resources first seen in the snapshot have no record: they were not there before.
        for entry in self.entries.values_mut() {
            if entry.resource.is_some_and(|r| r >= first_new) {
                entry.resource = None;
                entry.head = None;
            }
        }
        self.problems.truncate(problems_before.0);
        self.omitted_problems = problems_before.1;
    }

    /// The scopes that the items of this snapshot named, one per account and region.
    fn places_read(&self) -> Vec<Scope> {
        self.places_read
            .iter()
            .enumerate()
            .filter(|(_, read)| **read)
            .map(|(n, _)| {
                let (account, region) = &self.places.list[n];
                Scope::of(account, region)
            })
            .collect()
    }

    fn begin_file(&mut self, index: usize, path: &Path, key: Option<&DeliveryKey>) {
        self.file_index = index;
        self.file = path.display().to_string();
        self.file_items = 0;
        self.line_at = (0, 1);
        self.file_key = key.cloned();
    }

    /// Takes in one item. `Err` when JSON the reader left unchecked is broken: the file then
    /// stops there, as if the reader had found it (see `ItemFields::check_deferred`).
    fn on_item(&mut self, event: ItemEvent<'_>, text: Option<&str>) -> KeepReading {
        if self.store_error.is_some() {
            return Ok(());
        }
        self.counts.items += 1;
        self.items_read += 1;
        self.file_items += 1;
        if self.items_read.is_multiple_of(8192) {
            self.progress.items(self.items_read);
        }
        let lines_form = event.in_lines;
        let fields = match event.fields {
            Ok(fields) => fields,
            Err(kind) => {
                let at = ItemAt {
                    index: event.index,
                    offset: None,
                    lines_form,
                };
                let message =
                    format!("expected a configuration item (a JSON object), found {kind}");
                self.item_problems(
                    at,
                    text,
                    vec![ItemProblem {
                        pointer: String::new(),
                        message,
                    }],
                );
                return Ok(());
            }
        };
        let offset = text
            .zip(fields.anchor())
            .and_then(|(text, anchor)| source::offset_of(text, anchor));
        let at = ItemAt {
            index: event.index,
            offset,
            lines_form,
        };
        if let Some(key) = fields.duplicate_key() {
            self.keep_previous_state(&fields, at);
            self.item_problems(
                at,
                text,
                vec![ItemProblem {
                    pointer: format!("/{key}"),
                    message: format!(
                        "the item has the key \"{key}\" twice; which one counts would be a guess"
                    ),
                }],
            );
            return Ok(());
        }
        let (size, largest) = fields.size();
        let max = self.options.limits.max_item_bytes;
        if size > max {
            self.keep_previous_state(&fields, at);
            let pointer = largest.map(|f| format!("/{}", f.key())).unwrap_or_default();
            self.item_problems(
                at,
                text,
                vec![ItemProblem {
                    pointer,
                    message: format!(
                        "the item is {size} bytes, more than the limit per item of {max} \
                         (--max-item-bytes)"
                    ),
                }],
            );
            return Ok(());
        }
        match self.checker.read(&fields) {
            Ok(item) => {
                if let Err(e) = self.place(&item, at, text) {
                    self.store_error = Some(e);
                }
                self.broken.take().map_or(Ok(()), Err)
            }
            Err(problems) => {
                // Broken JSON stops the file before any problem of the item is worth telling.
                fields.check_deferred()?;
                self.keep_previous_state(&fields, at);
                self.item_problems(at, text, problems);
                Ok(())
            }
        }
    }

    fn item_problems(&mut self, at: ItemAt, text: Option<&str>, problems: Vec<ItemProblem>) {
        self.invalid_items += 1;
        for p in problems {
            if self.problems.len() >= MAX_PROBLEMS {
                self.omitted_problems += 1;
                continue;
            }
            self.problems.push(Problem {
                file: self.file.clone(),
                location: at.location_from(text, &mut self.line_at),
                pointer: p.pointer,
                message: excerpt(p.message),
            });
        }
    }

    /// An invalid item that still names its resource keeps that resource as it was, so that
    /// `--skip-invalid` in a full snapshot does not read as a deletion.
    fn keep_previous_state(&mut self, fields: &ItemFields<'_>, at: ItemAt) {
        let text = |f: Field| -> Option<String> {
            fields
                .value(f)
                .and_then(|raw| serde_json::from_str::<String>(raw).ok())
        };
        let (Some(kind), Some(id)) = (text(Field::ResourceType), text(Field::ResourceId)) else {
            return;
        };
        let key = resource_identity(
            &text(Field::AccountId).unwrap_or_default(),
            &text(Field::Region).unwrap_or_default(),
            &kind,
            &id,
        );
        if let Some(entry) = self.entries.get_mut(&key)
            && entry.seen.is_none()
        {
            entry.seen = Some(Sighting {
                file: self.file_index,
                location: at,
                capture_time: None,
                outcome: Outcome::Invalid,
            });
        }
    }

    /// Decides what an item means for its resource and records it.
    fn place(&mut self, item: &Item<'_>, at: ItemAt, text: Option<&str>) -> Result<(), StoreError> {
        if let Some(t) = item.capture_time {
            self.latest_capture = Some(self.latest_capture.map_or(t, |l| l.max(t)));
        }
        if let Some(problem) = self.outside_scope(item) {
            self.broken = item.fields.check_deferred().err();
            if self.broken.is_none() {
                self.item_problems(at, text, vec![problem]);
            }
            return Ok(());
        }
        if &*item.region == delivery::GLOBAL
            && let Some(key) = &self.file_key
            && key.kind == SnapshotKind::Full
            && !self
                .globals_seen
                .iter()
                .any(|(a, r)| *a == key.account_id && *r == key.region)
        {
            self.globals_seen
                .push((key.account_id.clone(), key.region.clone()));
        }
        let identity = resource_identity(
            &item.account_id,
            &item.region,
            &item.resource_type,
            &item.resource_id,
        );
        let stored = match self.lazy {
            Some(_) if !self.entries.contains_key(&identity) => self.writer.head_of([
                &item.account_id,
                &item.region,
                &item.resource_type,
                &item.resource_id,
            ])?,
            _ => None,
        };
        let places = &mut self.places;
        let entry = self.entries.get_or_insert_with(identity, || Entry {
            resource: stored.map(|(resource, _)| resource),
            head: stored.and_then(|(_, head)| head),
            seen: None,
            place: places.intern(item.account_id.as_bytes(), item.region.as_bytes()),
            was_live: stored
                .and_then(|(_, head)| head)
                .is_some_and(|h| !h.status.is_deleted()),
        });
        // JSON the reader only delimited (`ItemFields::check_deferred`) needs no check when it
        // is byte for byte content stored before (or placed earlier in this ingest), which was
        // checked then. Anything else is checked before the item counts for anything: by
        // writing its canonical body, which reads it strictly, or here, wherever the item is
        // refused or passed over first. Broken JSON stops the file, as the reader would have.
        let raw_hash = item.raw_hash();
        let matches = |head: Option<Head>| head.is_some_and(|h| h.raw_hash == raw_hash);
        let unchecked = !item.fields.deferred_is_empty()
            && !matches(entry.head)
            && (self.replaced.is_empty()
                || !matches(self.replaced.get(&identity).and_then(|(_, head)| *head)));
        let broken = |item: &Item<'_>| {
            unchecked
                .then(|| item.fields.check_deferred().err())
                .flatten()
        };
        if unchecked
            && self.checker.reads_configuration(item)
            && let Some(b) = broken(item)
        {
            self.broken = Some(b);
            return Ok(());
        }

        let is_change = |file: usize| self.change_files.get(file).copied().unwrap_or(false);
        let from_changes = is_change(self.file_index);
        let arrival = Arrival {
            capture_time: item.capture_time,
            from_changes,
            // Only a change can be superseded: the look-up is spared for the rest.
            scope_latest_full: from_changes
                .then(|| self.clock.latest_full(&item.account_id, &item.region))
                .flatten(),
            latest_wins: self.options.latest_wins,
        };
        let place = entry.place;
        let earlier = entry.seen.map(|sighting| Earlier {
            sighting,
            from_changes: is_change(sighting.file),
        });
        let replacing = match placement::decide(arrival, earlier) {
            Placement::Superseded => {
                self.superseded += 1;
                self.broken = broken(item);
                return Ok(());
            }
            Placement::Duplicate(first) => {
                let same_file = first.file == self.file_index;
                let file = if same_file {
                    "this file"
                } else {
                    "an earlier file"
                };
                let earlier = first.location.location(if same_file { text } else { None });
                let problem = ItemProblem {
                    pointer: String::new(),
                    message: format!(
                        "duplicate: {} already appears in this snapshot at {earlier} of {file}; \
                         pass --latest-wins to keep the later capture",
                        item_key(item)
                    ),
                };
                self.mark_place_read(place);
                self.broken = broken(item);
                if self.broken.is_none() {
                    self.item_problems(at, text, vec![problem]);
                }
                return Ok(());
            }
            Placement::PassedOver => {
                self.mark_place_read(place);
                self.broken = broken(item);
                return Ok(());
            }
            Placement::Counts { replacing } => replacing,
        };
        self.mark_place_read(place);
        let entry = self.entries.get_mut(&identity).expect("entered above");
        if let Some(first) = replacing {
            // Take back what the earlier capture did, then apply this one in its place.
            if let Some(v) = first.outcome.version() {
                let resource = entry.resource.expect("a version implies a resource");
                // A version written in this snapshot recorded the head it replaced.
                // Every resource stored before has its record; one without was new.
                let before = self.replaced.get(&identity).and_then(|(_, head)| *head);
                self.writer
                    .undo_version(resource, v, before.map(|h| h.version))?;
                entry.head = before;
            }
            first.outcome.tally(&mut self.counts, true);
        }

        let head = entry.head;
        let mut outcome = Outcome::Unchanged;
        if placement::may_differ(head, raw_hash) {
            if let Err(problems) = self.checker.check_content(item) {
                self.broken = broken(item);
                if self.broken.is_some() {
                    return Ok(());
                }
                entry.seen = Some(Sighting {
                    file: self.file_index,
                    location: at,
                    capture_time: item.capture_time,
                    outcome: Outcome::Invalid,
                });
                self.item_problems(at, text, problems);
                return Ok(());
            }
            let content_hash = match item.write_body(&mut self.body, &mut self.scratch) {
                Ok(hash) => hash,
                Err(problem) => {
                    self.broken = broken(item);
                    if self.broken.is_none() {
                        self.item_problems(at, text, vec![problem]);
                    }
                    return Ok(());
                }
            };
            if head.is_none_or(|h| h.content_hash != content_hash) {
                // Strings decoded; a number (a numeric configurationStateId) kept as written.
                let text = |f: Field| item.fields.value(f).map(item::text_of);
                let (arn, name) = (text(Field::Arn), text(Field::ResourceName));
                let meta = VersionMeta {
                    capture_time: text(Field::CaptureTime),
                    state_id: text(Field::StateId),
                    md5_hash: text(Field::Md5Hash),
                    item_version: text(Field::Version),
                };
                let key = item_key(item);
                let target = match entry.resource {
                    Some(resource) => Target::Existing {
                        resource,
                        previous: head.map(|h| h.version),
                    },
                    None => Target::New(&key),
                };
                let new_head = self.writer.add_version(
                    target,
                    &NewVersion {
                        status: item.status,
                        content_hash,
                        raw_hash,
                        meta: &meta,
                        body: self.body.body(),
                        arn: arn.as_deref(),
                        name: name.as_deref(),
                    },
                )?;
                outcome = placement::outcome(head, item.status, new_head.version);
                // A resource new in this ingest needs no record: it had nothing to go back to
                // (and on a first ingest, that is every item).
                if entry.resource.is_some() {
                    self.replaced
                        .entry(identity)
                        .or_insert((entry.resource, head));
                }
                entry.resource = Some(new_head.resource);
                entry.head = Some(new_head);
            }
        }
        outcome.tally(&mut self.counts, false);
        entry.seen = Some(Sighting {
            file: self.file_index,
            location: at,
            capture_time: item.capture_time,
            outcome,
        });
        Ok(())
    }

    /// Notes that this snapshot read a resource of the account and region `place`.
    fn mark_place_read(&mut self, place: u32) {
        let place = place as usize;
        if self.places_read.len() <= place {
            self.places_read.resize(place + 1, false);
        }
        self.places_read[place] = true;
    }

    /// A problem when the item lies outside the scope of its file: the scope its AWS name
    /// says, or the one given with `--scope`. A snapshot deletes what its scope does not
    /// name, so an item from elsewhere would make it a snapshot of more than it is.
    fn outside_scope(&self, item: &Item<'_>) -> Option<ItemProblem> {
        let (account, region) = (&*item.account_id, &*item.region);
        let (scope, whence) = match (&self.file_key, &self.options.scope) {
            (Some(key), _) if !key.admits(account, region) => (key.scope(), "its file's name"),
            (None, Some(scope)) if !scope.covers(account, region) => (scope.clone(), "--scope"),
            _ => return None,
        };
        let pointer = if scope.account_id.as_deref().is_some_and(|a| a != account) {
            "/accountId"
        } else {
            "/awsRegion"
        };
        Some(ItemProblem {
            pointer: pointer.to_string(),
            message: format!(
                "the item is in account {}, region {}: outside {scope}, the scope {whence} gives",
                crate::escape::terminal(account),
                crate::escape::terminal(region),
            ),
        })
    }

    fn file_problem(&mut self, error: FileError) {
        let (location, message) = match error {
            FileError::Io(e) => (Location::File, format!("cannot read: {e}")),
            FileError::Limit {
                item: Some(index),
                message,
            } => (
                Location::Item { index, line: None },
                format!("the item {message}"),
            ),
            FileError::Limit {
                item: None,
                message,
            } => (Location::File, format!("the file {message}")),
            FileError::Empty => (Location::File, "the file is empty".to_string()),
            FileError::Shape { pointer, message } => {
                self.fatal.push(Problem {
                    file: self.file.clone(),
                    location: Location::File,
                    pointer,
                    message: excerpt(message),
                });
                return;
            }
            FileError::NotUtf8 { line, column } => (
                Location::Position { line, column },
                "not valid UTF-8 (JSON must be UTF-8)".to_string(),
            ),
            FileError::Document(DocumentError::Unrecognised(what)) => {
                (Location::File, format!("not a recognised form: {what}"))
            }
            FileError::Document(DocumentError::Invalid { line, column }) => (
                Location::Position { line, column },
                "invalid JSON".to_string(),
            ),
            FileError::Document(DocumentError::Syntax(e)) => {
                let text = e.to_string();
                let bare = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(m, _)| m);
                let mut message = match e.classify() {
                    serde_json::error::Category::Eof => format!("truncated JSON: {bare}"),
                    _ => format!("invalid JSON: {bare}"),
                };
                if self.file_items > 0 {
                    message.push_str(&format!(" (after item {})", self.file_items - 1));
                }
                (
                    Location::Position {
                        line: e.line(),
                        column: e.column(),
                    },
                    message,
                )
            }
        };
        self.fatal.push(Problem {
            file: self.file.clone(),
            location,
            pointer: String::new(),
            message: excerpt(message),
        });
    }

    /// Records the deletions of the snapshot's full scopes (their live resources it did not
    /// name) and returns the final counts. Resources outside every full scope are untouched.
    fn finish(
        &mut self,
        full: &[Scope],
        taken_at: jiff::Timestamp,
        skipped: u64,
    ) -> Result<SnapshotCounts, StoreError> {
        if !full.is_empty() && self.lazy.is_some() {
            // Deletions need every head; a partial ingest has no full scope.
            return Err(StoreError::Corrupt(
                "internal: a partial ingest found a full scope".to_string(),
            ));
        }
        if !full.is_empty() {
            let covered: Vec<bool> = self
                .places
                .list
                .iter()
                .map(|(account, region)| full.iter().any(|s| s.covers(account, region)))
                .collect();
            let mut gone: Vec<(u128, Head)> = self
                .entries
                .iter()
                .filter(|(_, e)| e.seen.is_none() && covered[e.place as usize])
                .filter_map(|(k, e)| e.head.filter(|h| !h.status.is_deleted()).map(|h| (*k, h)))
                .collect();
            // Deletions are written in resource order, so a store's ids do not depend on hashing.
            gone.sort_by_key(|(_, head)| head.resource);
            let (body, hash) = item::deletion_body();
            let meta = VersionMeta {
                capture_time: Some(taken_at.to_string()),
                ..VersionMeta::default()
            };
            let mut deleted = Vec::with_capacity(gone.len());
            for (key, head) in gone {
                let target = Target::Existing {
                    resource: head.resource,
                    previous: Some(head.version),
                };
                let version = NewVersion {
                    status: ItemStatus::ResourceDeleted,
                    content_hash: hash,
                    raw_hash: hash,
                    meta: &meta,
                    body,
                    arn: None,
                    name: None,
                };
                deleted.push((key, self.writer.add_version(target, &version)?));
            }
            self.counts.deleted += deleted.len() as u64;
            for (key, head) in deleted {
                if let Some(entry) = self.entries.get_mut(&key) {
                    self.replaced
                        .entry(key)
                        .or_insert((entry.resource, entry.head));
                    entry.head = Some(head);
                }
            }
        }
        self.counts.skipped = skipped;
        let live = |e: &Entry| e.head.is_some_and(|h| !h.status.is_deleted());
        self.counts.live = match self.lazy {
            // Those live at the start, and what the entries looked up since changed of it.
            Some(live_at_start) => {
                let now: i64 = self
                    .entries
                    .values()
                    .map(|e| i64::from(live(e)) - i64::from(e.was_live))
                    .sum();
                (live_at_start as i64 + now).max(0) as u64
            }
            None => self.entries.values().filter(|e| live(e)).count() as u64,
        };
        self.progress.items(self.items_read);
        Ok(self.counts)
    }
}

/// A snapshot's label when none was given: the input it was read from.
fn default_label(inputs: &[PathBuf]) -> String {
    inputs
        .first()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or(p.as_os_str())
                .to_string_lossy()
                .to_string();
            if inputs.len() > 1 {
                format!("{name} (+{} more)", inputs.len() - 1)
            } else {
                name
            }
        })
        .unwrap_or_default()
}

fn item_key(item: &Item<'_>) -> ResourceKey {
    ResourceKey {
        account_id: item.account_id.to_string(),
        region: item.region.to_string(),
        resource_type: item.resource_type.to_string(),
        resource_id: item.resource_id.to_string(),
    }
}
