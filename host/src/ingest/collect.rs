//! Items read for `conform check`: ingest's reading and checking, with each item handed to the
//! evaluator as it is read instead of written to a store.
//!
//! A pre-deploy check reads a file once and evaluates it; writing every item to SQLite to read
//! it straight back cost more than the rest of the check together, and so did keeping them all
//! in memory until the end.

use std::path::PathBuf;

use super::{
    Checker, DeliveryKey, EntryMap, FileReport, IngestError, IngestOptions, Places, Problem,
    Progress, Read, SnapshotBuilder, read_files, source,
};
use crate::model::{Field, Fields};
use crate::model::{ResourceRowId, VersionId};
use crate::store::{Head, NewVersion, StoreError, StoredItem, Target, VersionSink};

/// What [`collect`] read, besides the items it handed on.
#[derive(Debug)]
pub struct Collected {
    /// Every resource live at the end, in the order first read, with the item (as numbered when
    /// handed on) that is its state: with `--latest-wins` a later capture replaces an earlier
    /// one, so an item handed on may turn out not to count.
    pub live: Vec<LiveItem>,
    pub files: Vec<FileReport>,
    /// Invalid items left out (with `--skip-invalid`).
    pub skipped: Vec<Problem>,
    pub notes: Vec<String>,
}

/// A resource's final state: which item it is, and its identity and capture fields.
#[derive(Debug)]
pub struct LiveItem {
    /// The number of the item handed on ([`StoredItem::resource`]).
    pub item: i64,
    pub fields: Fields,
}

/// Reads and checks `inputs` as `ingest` does (same forms, same validation, same errors) and
/// hands each live item to `each` as soon as it is read, numbered from 1 in its `resource`;
/// `None` when no file holds any item (only messages without items).
///
/// Items are handed on rather than kept, so that a check of a large file holds one item at a
/// time, not the file: keeping them all cost more (in fresh pages and copies) than reading them.
pub fn collect(
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
    each: &mut dyn FnMut(StoredItem) -> Result<(), StoreError>,
) -> Result<Option<Collected>, IngestError> {
    let checker = Checker::new(options.type_schemas.as_deref())?;
    let files =
        source::expand(inputs).map_err(|(path, source)| IngestError::Io { path, source })?;
    let mut kept = Kept {
        resources: Vec::new(),
        items: 0,
        each,
    };
    let entries = EntryMap::with_capacity(source::expected_items(&files));
    let mut builder = SnapshotBuilder::new(
        &mut kept,
        (entries, Places::default()),
        &checker,
        options,
        progress,
    );
    let paths: Vec<(&std::path::Path, Option<&DeliveryKey>)> =
        files.iter().map(|p| (p.as_path(), None)).collect();
    let Read {
        reports,
        notes,
        change_records,
        inventories,
        ..
    } = read_files(&mut builder, &paths)?;
    if !builder.fatal.is_empty() || (!builder.problems.is_empty() && !options.skip_invalid) {
        let mut all = std::mem::take(&mut builder.fatal);
        all.append(&mut builder.problems);
        return Err(IngestError::Invalid { problems: all });
    }
    let skipped = builder.problems.clone();
    drop(builder);
    if change_records.is_empty() && inventories.is_empty() {
        return Ok(None);
    }
    Ok(Some(Collected {
        live: kept.into_live(),
        files: reports,
        skipped,
        notes,
    }))
}

/// A version sink that hands each item on and keeps only what names it. Its "resource rows"
/// are positions in `resources`, counted from 1; its "versions" are item numbers.
struct Kept<'e> {
    resources: Vec<Option<KeptResource>>,
    /// Items handed on so far.
    items: i64,
    each: &'e mut dyn FnMut(StoredItem) -> Result<(), StoreError>,
}

struct KeptResource {
    fields: Fields,
    /// The item that is its state.
    item: i64,
    /// Deleted by its status, or taken back (a duplicate whose later capture wins replaces
    /// it, if that capture is valid).
    gone: bool,
}

impl VersionSink for Kept<'_> {
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
                Field::AccountId => key.account_id.as_str(),
                Field::Region => key.region.as_str(),
                Field::ResourceId => key.resource_id.as_str(),
                _ => key.resource_type.as_str(),
            }),
            (None, Some(kept)) => kept.fields.get(index),
            (None, None) => None,
        };
        let meta = version.meta;
        for (index, value) in [
            (Field::AccountId, identity(Field::AccountId)),
            (Field::Region, identity(Field::Region)),
            (Field::CaptureTime, meta.capture_time.as_deref()),
            (Field::Md5Hash, meta.md5_hash.as_deref()),
            (Field::Status, Some(version.status.as_str())),
            (Field::StateId, meta.state_id.as_deref()),
            (Field::ResourceId, identity(Field::ResourceId)),
            (Field::ResourceType, identity(Field::ResourceType)),
            (Field::Version, meta.item_version.as_deref()),
        ] {
            if let Some(value) = value {
                fields.set(index, value);
            }
        }
        self.items += 1;
        let gone = version.status.is_deleted();
        if !gone {
            (self.each)(StoredItem::new(
                self.items,
                fields.clone(),
                version.body.to_vec(),
            ))?;
        }
        *slot = Some(KeptResource {
            fields,
            item: self.items,
            gone,
        });
        Ok(Head::of(resource, VersionId(self.items), version))
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
            kept.gone = true;
        }
        Ok(())
    }
}

impl Kept<'_> {
    fn into_live(self) -> Vec<LiveItem> {
        self.resources
            .into_iter()
            .flatten()
            .filter(|kept| !kept.gone)
            .map(|kept| LiveItem {
                item: kept.item,
                fields: kept.fields,
            })
            .collect()
    }
}
