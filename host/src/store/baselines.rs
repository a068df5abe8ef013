//! Named baselines: the snapshots (observed, or desired states) others are compared against.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Result, SnapshotInfo, SnapshotRole, SnapshotSelector, Store, StoreError};
use crate::model::SnapshotId;

/// A named baseline and the snapshot it names.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub name: String,
    pub set_at: String,
    pub snapshot: SnapshotInfo,
}

/// A baseline name is used on command lines and in file names of reports: keep it plain.
pub fn check_baseline_name(name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        Ok(())
    } else {
        Err(StoreError::BadBaselineName(name.to_string()))
    }
}

impl Store {
    /// Names `snapshot` baseline `name`, replacing what the name meant before. A desired state
    /// that no baseline names any more is removed.
    pub fn set_baseline(&self, name: &str, snapshot: SnapshotId) -> Result<Baseline> {
        check_baseline_name(name)?;
        self.snapshot(SnapshotSelector::Id(snapshot))?;
        let tx = self.conn.unchecked_transaction()?;
        let previous: Option<i64> = tx
            .query_row(
                "SELECT snapshot_id FROM baselines WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let set_at = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        tx.execute(
            "INSERT INTO baselines (name, snapshot_id, set_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET snapshot_id = ?2, set_at = ?3",
            params![name, snapshot.0, set_at],
        )?;
        if let Some(previous) = previous.filter(|p| *p != snapshot.0) {
            drop_orphaned_desired_state(&tx, SnapshotId(previous))?;
        }
        tx.commit()?;
        self.baseline(name)
    }

    /// Every baseline, by name.
    pub fn baselines(&self) -> Result<Vec<Baseline>> {
        let names: Vec<String> = self
            .conn
            .prepare("SELECT name FROM baselines ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        names.iter().map(|n| self.baseline(n)).collect()
    }

    /// The baseline called `name`.
    pub fn baseline(&self, name: &str) -> Result<Baseline> {
        let (snapshot, set_at): (i64, String) = self
            .conn
            .query_row(
                "SELECT snapshot_id, set_at FROM baselines WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchBaseline {
                name: name.to_string(),
                known: self.baseline_names().unwrap_or_default(),
            })?;
        Ok(Baseline {
            name: name.to_string(),
            set_at,
            snapshot: self.snapshot(SnapshotSelector::Id(SnapshotId(snapshot)))?,
        })
    }

    /// The baseline a command means: the one named, or else the only one there is.
    pub fn choose_baseline(&self, name: Option<&str>) -> Result<Baseline> {
        if let Some(name) = name {
            return self.baseline(name);
        }
        let names = self.baseline_names()?;
        match names.as_slice() {
            [only] => self.baseline(only),
            [] => Err(StoreError::NoBaseline),
            _ => Err(StoreError::WhichBaseline(names)),
        }
    }

    fn baseline_names(&self) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare("SELECT name FROM baselines ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// Removes baseline `name` (and its desired state, if it was one no other baseline names).
    pub fn remove_baseline(&self, name: &str) -> Result<Baseline> {
        let baseline = self.baseline(name)?;
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM baselines WHERE name = ?1", [name])?;
        drop_orphaned_desired_state(&tx, baseline.snapshot.id)?;
        tx.commit()?;
        Ok(baseline)
    }
}

/// A desired state exists for its baselines: when none names it, it goes, with its versions,
/// its scans and the resources only it named.
fn drop_orphaned_desired_state(tx: &rusqlite::Transaction<'_>, snapshot: SnapshotId) -> Result<()> {
    let role: Option<String> = tx
        .query_row(
            "SELECT role FROM snapshots WHERE id = ?1
               AND NOT EXISTS (SELECT 1 FROM baselines WHERE snapshot_id = ?1)",
            [snapshot.0],
            |r| r.get(0),
        )
        .optional()?;
    if role.as_deref() != Some(SnapshotRole::Desired.as_str()) {
        return Ok(());
    }
    tx.execute("DELETE FROM scans WHERE snapshot_id = ?1", [snapshot.0])?;
    tx.execute(
        "DELETE FROM versions
         WHERE id BETWEEN (SELECT first_version FROM snapshots WHERE id = ?1)
                      AND (SELECT last_version FROM snapshots WHERE id = ?1)
           AND first_snapshot = ?1 AND until_snapshot = ?1",
        [snapshot.0],
    )?;
    tx.execute(
        "DELETE FROM resources WHERE head_version IS NULL
           AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.resource = resources.id)",
        [],
    )?;
    tx.execute("DELETE FROM snapshots WHERE id = ?1", [snapshot.0])?;
    Ok(())
}
