//! Ingest: files in, one snapshot out, in one transaction.
//!
//! For each item the engine decides, against the resource's latest stored version, whether it
//! is new, changed or unchanged, and writes a version only for the first two. The decision
//! takes two steps so that unchanged items cost a hash of their raw text and a map look-up:
//! 1. the raw hash of the content fields equals the stored one: unchanged, nothing parsed;
//! 2. otherwise the item is checked against the schema and canonicalised, and its content hash
//!    decides (same content written with other key order or whitespace is still unchanged).
//!
//! Every problem of every file is collected before anything is decided; if there is any (and
//! `--skip-invalid` was not given), the transaction is dropped and the store is untouched.

mod collect;
pub(crate) mod document;
mod item;
mod source;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::canonical::{HashedBody, Scratch};
use crate::model::{ItemStatus, ResourceKey, ResourceRowId, VersionId};
use crate::store::{
    Head, NewVersion, SnapshotCounts, SnapshotInfo, SnapshotKind, SnapshotRole, SnapshotWriter,
    SourceInfo, Store, StoreError, Target, VersionMeta, VersionSink, resource_identity,
};
pub use collect::{Collected, LiveItem, collect};
use document::{BrokenJson, Document, DocumentError, Field, Form, ItemEvent, ItemFields, Verdict};
use item::{Checker, Item, ItemProblem};
pub use item::{ENVELOPE_SCHEMA, SchemaFileError};
use source::FileError;
pub use source::InputLimits;

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
        "this snapshot was taken at {taken_at}, before snapshot {latest} ({latest_taken_at}); snapshots are \
         kept in time order: ingest older data first, or set --taken-at"
    )]
    OutOfOrder {
        taken_at: String,
        latest: i64,
        latest_taken_at: String,
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
    /// The snapshot written, or `None` when the input held no configuration item at all.
    pub snapshot: Option<SnapshotInfo>,
    pub files: Vec<FileReport>,
    /// Invalid items left out (with `--skip-invalid`).
    pub skipped: Vec<Problem>,
    /// Things worth knowing that are not errors (messages without items, wrappers peeled).
    pub notes: Vec<String>,
}

/// Reads `inputs` (files or directories) into one new snapshot.
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
    let mut writer = store.begin_snapshot(options.role)?;
    let heads = load_heads(&writer, source::expected_items(&files))?;
    let mut engine = Engine::new(&mut writer, heads, &checker, options, progress);
    let Read {
        reports,
        notes,
        change_records,
        inventories,
        mut snapshot_ids,
    } = read_files(&mut engine, &files, progress)?;
    let skipped_items = engine.invalid_items;
    if change_records.is_empty() && inventories.is_empty() {
        // Nothing but messages without items: there is no snapshot to make.
        return Ok(IngestReport {
            snapshot: None,
            files: reports,
            skipped: Vec::new(),
            notes,
        });
    }
    let kind = if options.partial || inventories.is_empty() {
        SnapshotKind::Partial
    } else if let Some(record) = change_records.first() {
        return Err(IngestError::Invalid {
            problems: vec![Problem {
                file: record.clone(),
                location: Location::File,
                pointer: String::new(),
                message: format!(
                    "this file records changes, but {} is a full inventory; pass --partial to apply them all as changes",
                    inventories[0]
                ),
            }],
        });
    } else {
        SnapshotKind::Full
    };
    if options.role == SnapshotRole::Desired && kind == SnapshotKind::Partial {
        return Err(IngestError::Invalid {
            problems: vec![Problem {
                file: change_records
                    .first()
                    .or(inventories.first())
                    .cloned()
                    .unwrap_or_default(),
                location: Location::File,
                pointer: String::new(),
                message:
                    "a desired state must be a complete inventory (a snapshot file or a native \
                          array of items), not a change record"
                        .to_string(),
            }],
        });
    }
    if kind == SnapshotKind::Full && engine.counts.items == 0 {
        return Err(IngestError::NoItems {
            inputs: inventories.join(", "),
        });
    }
    let taken_at = options
        .taken_at
        .or(engine.latest_capture)
        .unwrap_or_else(|| {
            let now = jiff::Timestamp::now();
            now.round(jiff::Unit::Second).unwrap_or(now)
        });
    // An AWS snapshot id names a snapshot read from one file; otherwise name it by its inputs.
    let single_id = if files.len() == 1 {
        snapshot_ids.pop()
    } else {
        None
    };
    let label = options
        .label
        .clone()
        .or(single_id)
        .unwrap_or_else(|| default_label(inputs));
    let skipped = engine.problems.clone();
    let counts = engine.finish(kind, taken_at, skipped_items)?;
    if let Some((latest, latest_taken_at, _)) = writer.previous() {
        let latest_time: jiff::Timestamp = latest_taken_at
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("snapshot {latest} has a bad time: {e}")))?;
        if taken_at < latest_time {
            return Err(IngestError::OutOfOrder {
                taken_at: taken_at.to_string(),
                latest: latest.0,
                latest_taken_at: latest_taken_at.clone(),
            });
        }
    }
    let sources: Vec<SourceInfo> = reports
        .iter()
        .map(|r| SourceInfo {
            path: r.path.clone(),
            form: r.form.clone(),
            items: r.items,
        })
        .collect();
    let info = writer.commit(&taken_at.to_string(), &label, kind, counts, &sources)?;
    tracing::info!(
        snapshot = info.id.0,
        items = counts.items,
        added = counts.added,
        modified = counts.modified,
        deleted = counts.deleted,
        "snapshot stored"
    );
    Ok(IngestReport {
        snapshot: Some(info),
        files: reports,
        skipped,
        notes,
    })
}

/// History files share the snapshot envelope; AWS names them `..._ConfigHistory_...`.
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
}

/// Reads every file through `engine`. Fails, with every problem of every file, if a file is
/// unreadable or an item invalid (unless `--skip-invalid`, for items).
fn read_files(
    engine: &mut Engine<'_>,
    files: &[PathBuf],
    progress: &dyn Progress,
) -> Result<Read, IngestError> {
    let mut read = Read {
        reports: Vec::new(),
        notes: Vec::new(),
        change_records: Vec::new(),
        inventories: Vec::new(),
        snapshot_ids: Vec::new(),
    };
    for (index, path) in files.iter().enumerate() {
        progress.file(path);
        engine.begin_file(index, path);
        let limits = engine.options.limits;
        let outcome =
            source::read_file(path, limits, &mut |event, text| engine.on_item(event, text));
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
                if let Form::NoItems { message_type, note } = &doc.form {
                    let mut text = format!(
                        "{display}: skipped: it is a {message_type}, which carries no configuration item"
                    );
                    if let Some(note) = note {
                        text.push_str(&format!("; {note}"));
                    }
                    tracing::info!("{text}");
                    read.notes.push(text);
                } else if is_change_record(&doc, path) {
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
            Err(error) => engine.file_problem(error),
        }
    }
    if let Some(error) = engine.store_error.take() {
        return Err(IngestError::Store(error));
    }
    if !engine.fatal.is_empty() || (!engine.problems.is_empty() && !engine.options.skip_invalid) {
        let mut all = std::mem::take(&mut engine.fatal);
        all.append(&mut engine.problems);
        if engine.omitted_problems > 0 {
            all.push(Problem {
                file: String::new(),
                location: Location::File,
                pointer: String::new(),
                message: format!(
                    "and {} more problems, not listed (only the first {MAX_PROBLEMS} are kept)",
                    engine.omitted_problems
                ),
            });
        }
        return Err(IngestError::Invalid { problems: all });
    }
    Ok(read)
}

/// The latest version of every stored resource, which each item is compared with.
///
/// The table is sized for the stored resources or, in an empty store, for the `expected` items
/// about to be read: growing it by doubling, into fresh pages, was a twentieth of a first
/// ingest. A later snapshot adds few resources to those stored; sizing it from the input's
/// rough estimate then would only double it.
fn load_heads(writer: &SnapshotWriter<'_>, expected: usize) -> Result<EntryMap, StoreError> {
    let stored = writer.resource_count()?;
    let capacity = if stored == 0 { expected } else { stored };
    let mut entries = EntryMap::with_capacity_and_hasher(capacity, Default::default());
    writer.for_each_head(|identity, resource, head| {
        entries.insert(
            identity,
            Entry {
                resource: Some(resource),
                head,
                seen: None,
            },
        );
    })?;
    tracing::debug!(resources = entries.len(), "loaded latest versions");
    Ok(entries)
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
/// this snapshot lives in `Engine::replaced`, needed only to take a version back).
struct Entry {
    resource: Option<ResourceRowId>,
    /// The latest version, including any written by this snapshot.
    head: Option<Head>,
    seen: Option<Seen>,
}

/// Where a resource was seen in this snapshot, and what that did.
#[derive(Debug, Clone, Copy)]
struct Seen {
    file: usize,
    location: ItemAt,
    capture_time: Option<jiff::Timestamp>,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unchanged,
    Added(VersionId),
    Modified(VersionId),
    Deleted(VersionId),
    /// Invalid, left out with --skip-invalid; the resource keeps its previous state.
    Invalid,
}

/// Resources by the 128-bit hash of their identity: no string per resource is built to load
/// heads or to look an item up. (A collision of two identities' hashes is as unlikely as one of
/// content hashes; see ARCHITECTURE.md, "Hashes".)
type EntryMap = HashMap<u128, Entry, foldhash::fast::RandomState>;

struct Engine<'e> {
    writer: &'e mut dyn VersionSink,
    checker: &'e Checker,
    options: &'e IngestOptions,
    progress: &'e dyn Progress,
    entries: EntryMap,
    /// With `--latest-wins`, the head each resource had before this snapshot wrote it a
    /// version: a later capture that wins takes back what an earlier one wrote.
    replaced: HashMap<u128, Option<Head>, foldhash::fast::RandomState>,
    body: HashedBody,
    scratch: Scratch,
    counts: SnapshotCounts,
    latest_capture: Option<jiff::Timestamp>,
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
}

impl<'e> Engine<'e> {
    fn new(
        writer: &'e mut dyn VersionSink,
        entries: EntryMap,
        checker: &'e Checker,
        options: &'e IngestOptions,
        progress: &'e dyn Progress,
    ) -> Self {
        Engine {
            writer,
            checker,
            options,
            progress,
            entries,
            replaced: HashMap::default(),
            body: HashedBody::new(),
            scratch: Scratch::default(),
            counts: SnapshotCounts::default(),
            latest_capture: None,
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
        }
    }

    fn begin_file(&mut self, index: usize, path: &Path) {
        self.file_index = index;
        self.file = path.display().to_string();
        self.file_items = 0;
        self.line_at = (0, 1);
    }

    /// Takes in one item. `Err` when JSON the reader left unchecked is broken: the file then
    /// stops there, as if the reader had found it (see `ItemFields::check_deferred`).
    fn on_item(&mut self, event: ItemEvent<'_>, text: Option<&str>) -> Verdict {
        if self.store_error.is_some() {
            return Ok(());
        }
        self.counts.items += 1;
        self.file_items += 1;
        if self.counts.items.is_multiple_of(8192) {
            self.progress.items(self.counts.items);
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
            entry.seen = Some(Seen {
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
        let identity = resource_identity(
            &item.account_id,
            &item.region,
            &item.resource_type,
            &item.resource_id,
        );
        let entry = self.entries.entry(identity).or_insert(Entry {
            resource: None,
            head: None,
            seen: None,
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
                || !matches(self.replaced.get(&identity).copied().flatten()));
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

        if let Some(seen) = entry.seen {
            if !self.options.latest_wins {
                let same_file = seen.file == self.file_index;
                let file = if same_file {
                    "this file"
                } else {
                    "an earlier file"
                };
                let earlier = seen.location.location(if same_file { text } else { None });
                let problem = ItemProblem {
                    pointer: String::new(),
                    message: format!(
                        "duplicate: {} already appears in this snapshot at {earlier} of {file}; \
                         pass --latest-wins to keep the later capture",
                        item_key(item)
                    ),
                };
                self.broken = broken(item);
                if self.broken.is_none() {
                    self.item_problems(at, text, vec![problem]);
                }
                return Ok(());
            }
            let later = match (item.capture_time, seen.capture_time) {
                (Some(new), Some(old)) => new > old,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !later {
                self.broken = broken(item);
                return Ok(());
            }
            // Take back what the earlier capture did, then apply this one in its place.
            match seen.outcome {
                Outcome::Added(v) | Outcome::Modified(v) | Outcome::Deleted(v) => {
                    let resource = entry.resource.expect("a version implies a resource");
                    // A version written in this snapshot recorded the head it replaced.
                    let before = self.replaced.get(&identity).copied().unwrap_or(entry.head);
                    self.writer
                        .undo_version(resource, v, before.map(|h| h.version))?;
                    entry.head = before;
                }
                Outcome::Unchanged | Outcome::Invalid => {}
            }
            match seen.outcome {
                Outcome::Added(_) => self.counts.added -= 1,
                Outcome::Modified(_) => self.counts.modified -= 1,
                Outcome::Deleted(_) => self.counts.deleted -= 1,
                Outcome::Unchanged => self.counts.unchanged -= 1,
                Outcome::Invalid => {}
            }
        }

        let head = entry.head;
        let mut outcome = Outcome::Unchanged;
        if head.is_none_or(|h| h.raw_hash != raw_hash) {
            if let Err(problems) = self.checker.check_content(item) {
                self.broken = broken(item);
                if self.broken.is_some() {
                    return Ok(());
                }
                entry.seen = Some(Seen {
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
                let version = new_head.version;
                let was_live = head.is_some_and(|h| !h.status.is_deleted());
                outcome = match (was_live, item.status.is_deleted()) {
                    (false, false) => Outcome::Added(version),
                    (true, true) => Outcome::Deleted(version),
                    _ => Outcome::Modified(version),
                };
                if self.options.latest_wins {
                    self.replaced.entry(identity).or_insert(head);
                }
                entry.resource = Some(new_head.resource);
                entry.head = Some(new_head);
            }
        }
        match outcome {
            Outcome::Added(_) => self.counts.added += 1,
            Outcome::Modified(_) => self.counts.modified += 1,
            Outcome::Deleted(_) => self.counts.deleted += 1,
            Outcome::Unchanged => self.counts.unchanged += 1,
            Outcome::Invalid => {}
        }
        entry.seen = Some(Seen {
            file: self.file_index,
            location: at,
            capture_time: item.capture_time,
            outcome,
        });
        Ok(())
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

    /// Records deletions for a full snapshot and returns the final counts.
    fn finish(
        &mut self,
        kind: SnapshotKind,
        taken_at: jiff::Timestamp,
        skipped: u64,
    ) -> Result<SnapshotCounts, StoreError> {
        if kind == SnapshotKind::Full {
            let mut gone: Vec<(u128, Head)> = self
                .entries
                .iter()
                .filter(|(_, e)| e.seen.is_none())
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
                    entry.head = Some(head);
                }
            }
        }
        self.counts.skipped = skipped;
        self.counts.live = self
            .entries
            .values()
            .filter(|e| e.head.is_some_and(|h| !h.status.is_deleted()))
            .count() as u64;
        self.progress.items(self.counts.items);
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
