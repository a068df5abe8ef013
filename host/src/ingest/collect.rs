//! Items read for `conform check`: ingest's reading and checking, with each item kept in memory
//! as the document rules read instead of written to a store.
//!
//! A pre-deploy check reads a file once and evaluates it; writing every item to SQLite to read
//! it straight back cost more than the rest of the check together.

use std::path::PathBuf;

use super::{
    Checker, Engine, EntryMap, FileReport, IngestError, IngestOptions, Problem, Progress, Read,
    read_files, source,
};
use crate::engine::document::{Fields, field};
use crate::model::{ItemStatus, ResourceRowId, VersionId};
use crate::store::{Head, NewVersion, StoreError, StoredItem, Target, VersionSink};

/// What [`collect`] read.
#[derive(Debug)]
pub struct Collected {
    /// The live items, in the order read (a later capture of a duplicate in its place, with
    /// `--latest-wins`), not yet parsed: the jobs that evaluate them parse them.
    pub items: Vec<StoredItem>,
    pub files: Vec<FileReport>,
    /// Invalid items left out (with `--skip-invalid`).
    pub skipped: Vec<Problem>,
    pub notes: Vec<String>,
}

/// Reads and checks `inputs` as `ingest` does (same forms, same validation, same errors) and
/// returns their items; `None` when no file holds any (only messages without items).
pub fn collect(
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Option<Collected>, IngestError> {
    let checker = Checker::new(options.type_schemas.as_deref())?;
    let files =
        source::expand(inputs).map_err(|(path, source)| IngestError::Io { path, source })?;
    let mut kept = Kept::default();
    let mut engine = Engine::new(&mut kept, EntryMap::default(), &checker, options, progress);
    let Read {
        reports,
        notes,
        change_records,
        inventories,
        ..
    } = read_files(&mut engine, &files, progress)?;
    let skipped = engine.problems.clone();
    drop(engine);
    if change_records.is_empty() && inventories.is_empty() {
        return Ok(None);
    }
    Ok(Some(Collected {
        items: kept.into_items(),
        files: reports,
        skipped,
        notes,
    }))
}

/// A version sink that keeps each resource's item in memory, as a scan reads it from the store:
/// its fields packed in one string, and its body. Its "resource rows" are positions in
/// `resources`, counted from 1.
#[derive(Default)]
struct Kept {
    resources: Vec<Option<KeptItem>>,
    next_version: i64,
}

struct KeptItem {
    status: ItemStatus,
    fields: Fields,
    body: Vec<u8>,
    /// Taken back (a duplicate whose later capture wins replaces it, if that capture is valid).
    undone: bool,
}

impl VersionSink for Kept {
    fn add_version(
        &mut self,
        target: Target<'_>,
        version: &NewVersion<'_>,
    ) -> Result<Head, StoreError> {
        let (resource, key) = match target {
            Target::New(key) => {
                self.resources.push(None);
                (ResourceRowId(self.resources.len() as i64), Some(key))
            }
            Target::Existing { resource, .. } => (resource, None),
        };
        let slot = self
            .resources
            .get_mut(resource.0 as usize - 1)
            .ok_or_else(|| StoreError::Corrupt(format!("no kept resource {}", resource.0)))?;
        // A later capture that replaces an earlier one keeps its identity.
        let mut fields = Fields::with_capacity(160);
        let identity = |index| match (key, slot.as_ref()) {
            (Some(key), _) => Some(match index {
                field::ACCOUNT_ID => key.account_id.clone(),
                field::REGION => key.region.clone(),
                field::RESOURCE_ID => key.resource_id.clone(),
                _ => key.resource_type.clone(),
            }),
            (None, Some(kept)) => kept.fields.get(index).map(str::to_owned),
            (None, None) => None,
        };
        let meta = version.meta;
        for (index, value) in [
            (field::ACCOUNT_ID, identity(field::ACCOUNT_ID)),
            (field::REGION, identity(field::REGION)),
            (field::CAPTURE_TIME, meta.capture_time.clone()),
            (field::MD5_HASH, meta.md5_hash.clone()),
            (field::STATUS, Some(version.status.as_str().to_string())),
            (field::STATE_ID, meta.state_id.clone()),
            (field::RESOURCE_ID, identity(field::RESOURCE_ID)),
            (field::RESOURCE_TYPE, identity(field::RESOURCE_TYPE)),
            (field::VERSION, meta.item_version.clone()),
        ] {
            if let Some(value) = value {
                fields.set(index, &value);
            }
        }
        *slot = Some(KeptItem {
            status: version.status,
            fields,
            body: version.body.to_vec(),
            undone: false,
        });
        self.next_version += 1;
        Ok(Head::of(resource, VersionId(self.next_version), version))
    }

    fn undo_version(
        &mut self,
        resource: ResourceRowId,
        _version: VersionId,
        _previous: Option<VersionId>,
    ) -> Result<(), StoreError> {
        // Nothing was kept before this read, so taking a version back leaves nothing; the slot
        // keeps the identity for the capture that replaces it.
        if let Some(Some(kept)) = self.resources.get_mut(resource.0 as usize - 1) {
            kept.undone = true;
        }
        Ok(())
    }
}

impl Kept {
    /// The live items; each is named by its position.
    fn into_items(self) -> Vec<StoredItem> {
        let mut items = Vec::with_capacity(self.resources.len());
        for item in self.resources.into_iter().flatten() {
            if !item.undone && !item.status.is_deleted() {
                items.push(StoredItem::new(items.len() as i64, item.fields, item.body));
            }
        }
        items
    }
}
