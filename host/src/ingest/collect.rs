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
use crate::model::{ItemStatus, ResourceKey, ResourceRowId, VersionId};
use crate::store::{Head, NewVersion, StoreError, StoredItem, Target, VersionMeta, VersionSink};

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

/// A version sink that keeps each resource's item in memory. Its "resource rows" are positions
/// in `resources`, counted from 1.
#[derive(Default)]
struct Kept {
    resources: Vec<(ResourceKey, Option<KeptItem>)>,
    next_version: i64,
}

struct KeptItem {
    status: ItemStatus,
    meta: VersionMeta,
    body: Vec<u8>,
}

impl VersionSink for Kept {
    fn add_version(
        &mut self,
        target: Target<'_>,
        version: &NewVersion<'_>,
    ) -> Result<Head, StoreError> {
        let resource = match target {
            Target::New(key) => {
                self.resources.push((key.clone(), None));
                ResourceRowId(self.resources.len() as i64)
            }
            Target::Existing { resource, .. } => resource,
        };
        let slot = self
            .resources
            .get_mut(resource.0 as usize - 1)
            .ok_or_else(|| StoreError::Corrupt(format!("no kept resource {}", resource.0)))?;
        slot.1 = Some(KeptItem {
            status: version.status,
            meta: version.meta.clone(),
            body: version.body.to_vec(),
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
        // Nothing was kept before this read, so taking a version back leaves nothing.
        if let Some(slot) = self.resources.get_mut(resource.0 as usize - 1) {
            slot.1 = None;
        }
        Ok(())
    }
}

impl Kept {
    /// The live items, with the fields `show` prints beside their bodies; each is named by its
    /// position.
    fn into_items(self) -> Vec<StoredItem> {
        let mut items = Vec::with_capacity(self.resources.len());
        for (key, item) in self.resources {
            let Some(item) = item.filter(|i| !i.status.is_deleted()) else {
                continue;
            };
            let mut fields = Fields::with_capacity(160);
            for (index, value) in [
                (field::ACCOUNT_ID, Some(key.account_id.as_str())),
                (field::REGION, Some(key.region.as_str())),
                (field::CAPTURE_TIME, item.meta.capture_time.as_deref()),
                (field::MD5_HASH, item.meta.md5_hash.as_deref()),
                (field::STATUS, Some(item.status.as_str())),
                (field::STATE_ID, item.meta.state_id.as_deref()),
                (field::RESOURCE_ID, Some(key.resource_id.as_str())),
                (field::RESOURCE_TYPE, Some(key.resource_type.as_str())),
                (field::VERSION, item.meta.item_version.as_deref()),
            ] {
                if let Some(value) = value {
                    fields.set(index, value);
                }
            }
            items.push(StoredItem::new(items.len() as i64, fields, item.body));
        }
        items
    }
}
