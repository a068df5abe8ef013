//! Which resources differ between two states, read by content hash, without reading bodies.
//!
//! Two observed snapshots A < B differ only where a version begins or ends in (A, B]: the
//! snapshots' ranges of version ids hold those that begin there, and the
//! `versions_by_until_snapshot` index finds those that end there, so the cost follows what
//! changed, not the size of the estate; those versions are all that is read (joining back to
//! each resource's other versions touched a page per row and was most of a rescan's reading). A desired state has no place in that
//! sequence, so comparing with one reads both states whole (one pass each).

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Result, SnapshotRole, Store, StoreError, parse_status};
use crate::canonical::ContentHash;
use crate::model::{ItemStatus, ResourceRowId, SnapshotId, VersionId};

/// A resource's version in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRef {
    pub version: VersionId,
    pub status: ItemStatus,
    pub content_hash: ContentHash,
}

impl VersionRef {
    /// Whether the resource exists in this state (it has a version that is not a deletion).
    pub fn is_live(&self) -> bool {
        !self.status.is_deleted()
    }
}

/// A resource whose version differs between two states (`None`: it had none there).
#[derive(Debug, Clone, Copy)]
pub struct StateDifference {
    pub resource: ResourceRowId,
    pub before: Option<VersionRef>,
    pub after: Option<VersionRef>,
}

impl Store {
    /// The resources whose version differs between `before` and `after`, by resource row.
    /// Versions with equal content hashes (a change made and undone in between) are left out.
    pub fn state_differences(
        &self,
        before: SnapshotId,
        after: SnapshotId,
    ) -> Result<Vec<StateDifference>> {
        let mut differences = self.version_differences(before, after)?;
        differences.retain(|d| match (d.before, d.after) {
            (Some(b), Some(a)) => b.content_hash != a.content_hash || b.status != a.status,
            _ => true,
        });
        Ok(differences)
    }

    /// The resources whose version differs between `before` and `after`, by resource row,
    /// including versions of equal content (a change made and undone in between): verdicts
    /// belong to versions, so a scan needs those too.
    pub fn version_differences(
        &self,
        before: SnapshotId,
        after: SnapshotId,
    ) -> Result<Vec<StateDifference>> {
        let both_observed = self.role_of(before)? == SnapshotRole::Observed
            && self.role_of(after)? == SnapshotRole::Observed;
        let mut differences = if both_observed {
            self.observed_differences(before, after)?
        } else {
            self.whole_state_differences(before, after)?
        };
        differences.retain(|d| match (d.before, d.after) {
            (Some(b), Some(a)) => b.version != a.version,
            (None, None) => false,
            _ => true,
        });
        differences.sort_by_key(|d| d.resource);
        Ok(differences)
    }

    /// Between two observed snapshots: only the resources with a version starting or ending
    /// between them are read.
    fn observed_differences(
        &self,
        before: SnapshotId,
        after: SnapshotId,
    ) -> Result<Vec<StateDifference>> {
        let (lo, hi) = (before.0.min(after.0), before.0.max(after.0));
        // A version live at one end and not the other begins or ends in (lo, hi], so it is
        // in one of these two sets; a resource with the same version at both ends is in
        // neither, or only with versions in between, which are live at neither end.
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM (
                 SELECT v.resource, v.id, v.status, v.content_hash,
                        v.first_snapshot <= ?3 AND (v.until_snapshot IS NULL OR v.until_snapshot > ?3) AS at_before,
                        v.first_snapshot <= ?4 AND (v.until_snapshot IS NULL OR v.until_snapshot > ?4) AS at_after
                 FROM versions v
                 WHERE v.id BETWEEN (SELECT min(first_version) FROM snapshots WHERE id > ?1 AND id <= ?2)
                                AND (SELECT max(last_version) FROM snapshots WHERE id > ?1 AND id <= ?2)
                   AND v.first_snapshot > ?1 AND v.first_snapshot <= ?2
                 UNION ALL
                 SELECT v.resource, v.id, v.status, v.content_hash,
                        v.first_snapshot <= ?3 AND (v.until_snapshot IS NULL OR v.until_snapshot > ?3),
                        v.first_snapshot <= ?4 AND (v.until_snapshot IS NULL OR v.until_snapshot > ?4)
                 FROM versions v WHERE v.until_snapshot > ?1 AND v.until_snapshot <= ?2)
             WHERE at_before OR at_after",
        )?;
        let mut rows = stmt.query(params![lo, hi, before.0, after.0])?;
        let mut by_resource: HashMap<ResourceRowId, StateDifference> = HashMap::new();
        while let Some(r) = rows.next()? {
            let resource = ResourceRowId(r.get(0)?);
            let version = version_ref(r.get(1)?, r.get_ref(2)?, r.get_ref(3)?)?;
            let (at_before, at_after): (bool, bool) = (r.get(4)?, r.get(5)?);
            let entry = by_resource.entry(resource).or_insert(StateDifference {
                resource,
                before: None,
                after: None,
            });
            if at_before {
                entry.before = Some(version);
            }
            if at_after {
                entry.after = Some(version);
            }
        }
        Ok(by_resource.into_values().collect())
    }

    /// When a desired state is involved: both states read whole, joined by resource.
    fn whole_state_differences(
        &self,
        before: SnapshotId,
        after: SnapshotId,
    ) -> Result<Vec<StateDifference>> {
        let mut by_resource: HashMap<ResourceRowId, StateDifference> = HashMap::new();
        for (snapshot, is_after) in [(before, false), (after, true)] {
            let sql = format!(
                "SELECT v.resource, v.id, v.status, v.content_hash FROM versions v WHERE {}",
                self.state_of(snapshot)?
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let mut rows = stmt.query([snapshot.0])?;
            while let Some(r) = rows.next()? {
                let resource = ResourceRowId(r.get(0)?);
                let version = version_ref(r.get(1)?, r.get_ref(2)?, r.get_ref(3)?)?;
                let entry = by_resource.entry(resource).or_insert(StateDifference {
                    resource,
                    before: None,
                    after: None,
                });
                if is_after {
                    entry.after = Some(version);
                } else {
                    entry.before = Some(version);
                }
            }
        }
        Ok(by_resource.into_values().collect())
    }

    /// Every resource's type, by row (the few distinct names shared).
    pub fn resource_types(&self) -> Result<HashMap<ResourceRowId, std::sync::Arc<str>>> {
        let mut names: HashMap<String, std::sync::Arc<str>> = HashMap::new();
        let mut types = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT id, resource_type FROM resources")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let name = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            let shared = match names.get(name) {
                Some(s) => s.clone(),
                None => {
                    let s: std::sync::Arc<str> = std::sync::Arc::from(name);
                    names.insert(name.to_string(), s.clone());
                    s
                }
            };
            types.insert(ResourceRowId(r.get(0)?), shared);
        }
        Ok(types)
    }

    /// A resource's version in a state of the given role, if it has one there.
    pub fn version_in(
        &self,
        resource: ResourceRowId,
        snapshot: SnapshotId,
        role: SnapshotRole,
    ) -> Result<Option<VersionRef>> {
        let sql = match role {
            SnapshotRole::Desired => {
                "SELECT id, status, content_hash FROM versions
                 WHERE resource = ?1 AND first_snapshot = ?2 AND until_snapshot = ?2"
            }
            SnapshotRole::Observed => {
                "SELECT id, status, content_hash FROM versions
                 WHERE resource = ?1 AND first_snapshot <= ?2
                   AND (until_snapshot IS NULL OR until_snapshot > ?2)
                   AND (until_snapshot IS NULL OR until_snapshot > first_snapshot)"
            }
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![resource.0, snapshot.0])?;
        match rows.next()? {
            Some(r) => Ok(Some(version_ref(r.get(0)?, r.get_ref(1)?, r.get_ref(2)?)?)),
            None => Ok(None),
        }
    }

    /// The stored body of a version (canonical JSON of the content fields) and its status.
    pub fn version_body(&self, version: VersionId) -> Result<(ItemStatus, serde_json::Value)> {
        let (status, body): (String, Vec<u8>) = self
            .conn
            .prepare_cached("SELECT status, body FROM versions WHERE id = ?1")?
            .query_row([version.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("no version {}", version.0)))?;
        let value = serde_json::from_slice(&body)
            .map_err(|e| StoreError::Corrupt(format!("body of version {}: {e}", version.0)))?;
        Ok((parse_status(&status)?, value))
    }

    /// The identities, ARNs and names of many resources, by row, read in batches.
    pub fn resources(
        &self,
        rows: &[ResourceRowId],
    ) -> Result<HashMap<ResourceRowId, super::ResourceInfo>> {
        let mut found = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(super::PER_STATEMENT) {
            let sql = format!(
                "{} WHERE id IN ({})",
                super::RESOURCE_COLUMNS,
                super::marks(chunk.len())
            );
            let ids: Vec<i64> = chunk.iter().map(|r| r.0).collect();
            let bound: Vec<&dyn rusqlite::ToSql> =
                ids.iter().map(|id| id as &dyn rusqlite::ToSql).collect();
            for info in self.query_resources(&sql, &bound)? {
                found.insert(info.row, info);
            }
        }
        Ok(found)
    }

    /// A resource's identity, ARN and name, by row.
    pub fn resource(&self, row: ResourceRowId) -> Result<super::ResourceInfo> {
        let sql = format!("{} WHERE id = ?1", super::RESOURCE_COLUMNS);
        self.query_resources(&sql, &[&row.0])?
            .pop()
            .ok_or_else(|| StoreError::Corrupt(format!("no resource row {}", row.0)))
    }
}

/// A 128-bit hash of a resource's identity, for maps that should not own a key per entry.
pub fn resource_identity(
    account_id: &str,
    region: &str,
    resource_type: &str,
    resource_id: &str,
) -> u128 {
    crate::canonical::identity_hash(&[account_id, region, resource_type, resource_id])
}

impl Store {}

fn version_ref(
    id: i64,
    status: rusqlite::types::ValueRef<'_>,
    hash: rusqlite::types::ValueRef<'_>,
) -> Result<VersionRef> {
    let status = parse_status(status.as_str().map_err(rusqlite::Error::from)?)?;
    let hash = hash.as_blob().map_err(rusqlite::Error::from)?;
    Ok(VersionRef {
        version: VersionId(id),
        status,
        content_hash: ContentHash::from_bytes(hash)
            .ok_or_else(|| StoreError::Corrupt(format!("version {id} has a bad content hash")))?,
    })
}
