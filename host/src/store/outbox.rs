//! The outbox: notifications written in the transaction of the scan they report, and how far
//! each sink has delivered them (schema 8). Delivery is at least once: a sink advances its
//! cursor only after a message has left, so a crash in between sends it again, with the same
//! id.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::model::SnapshotId;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Stable: the same change always gets the same id, so queueing it twice keeps one.
    pub message_id: String,
    pub kind: &'static str,
    pub scan_id: Option<i64>,
    pub snapshot: Option<SnapshotId>,
    /// The message as sinks send it.
    pub body: String,
}

/// A queued message, as a sink reads it.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Its place in the outbox: sinks deliver in this order.
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub body: String,
}

impl Store {
    /// Queues `messages`, on this connection (inside the caller's transaction, when there is
    /// one). A message whose id is already queued is kept once. Returns how many were new.
    pub fn enqueue(&self, messages: &[OutboxMessage]) -> Result<usize> {
        let created_at = jiff::Timestamp::now().to_string();
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO outbox (message_id, kind, scan_id, snapshot_id, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut added = 0;
        for m in messages {
            added += stmt.execute(params![
                m.message_id,
                m.kind,
                m.scan_id,
                m.snapshot.map(|s| s.0),
                m.body,
                created_at
            ])?;
        }
        Ok(added)
    }

    /// Up to `limit` messages after `after`, in order.
    pub fn outbox_after(&self, after: i64, limit: usize) -> Result<Vec<QueuedMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, message_id, kind, body FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit as i64], |r| {
            Ok(QueuedMessage {
                id: r.get(0)?,
                message_id: r.get(1)?,
                kind: r.get(2)?,
                body: r.get(3)?,
            })
        })?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The id of the last queued message (0 when none is).
    pub fn outbox_end(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM outbox", [], |r| r.get(0))?)
    }

    /// How far sink `name` has delivered. A sink seen for the first time starts at the end of
    /// the outbox: it is sent what is queued from now on, not the past.
    pub fn sink_cursor(&self, name: &str) -> Result<i64> {
        let found: Option<i64> = self
            .conn
            .prepare_cached("SELECT delivered FROM outbox_sinks WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        if let Some(delivered) = found {
            return Ok(delivered);
        }
        let end = self.outbox_end()?;
        self.set_sink_cursor(name, end)?;
        Ok(end)
    }

    /// Records that sink `name` has delivered every message up to `delivered`.
    pub fn set_sink_cursor(&self, name: &str, delivered: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO outbox_sinks (name, delivered, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET delivered = max(delivered, excluded.delivered),
                                                  updated_at = excluded.updated_at",
            )?
            .execute(params![name, delivered, jiff::Timestamp::now().to_string()])?;
        Ok(())
    }

    /// Records that scan `scan`'s compliance changes are queued (inside its transaction).
    pub fn mark_notified(&self, scan: i64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO notified_scans (scan_id) VALUES (?1)")?
            .execute([scan])?;
        Ok(())
    }

    /// The latest scan before `scan` whose changes were queued: what `scan` is compared with.
    pub fn notified_before(&self, scan: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT max(scan_id) FROM notified_scans WHERE scan_id < ?1")?
            .query_row([scan], |r| r.get(0))?)
    }

    /// Deletes the messages queued before `before` (RFC 3339) that every one of `sinks` has
    /// delivered; a message some sink has not delivered is kept however old. Returns how many
    /// went. Sinks not named (no longer configured) hold nothing back.
    pub fn prune_outbox(&self, sinks: &[&str], before: &str) -> Result<usize> {
        let mut through = i64::MAX;
        for name in sinks {
            let delivered: Option<i64> = self
                .conn
                .prepare_cached("SELECT delivered FROM outbox_sinks WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            // A sink that has not started yet owes everything from where it will start.
            match delivered {
                Some(d) => through = through.min(d),
                None => return Ok(0),
            }
        }
        if sinks.is_empty() {
            through = self.outbox_end()?;
        }
        Ok(self.conn.execute(
            "DELETE FROM outbox WHERE id <= ?1 AND created_at < ?2",
            params![through, before],
        )?)
    }

    /// Messages each known sink has yet to deliver, by sink name.
    pub fn outbox_backlog(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.name, (SELECT count(*) FROM outbox o WHERE o.id > s.delivered)
             FROM outbox_sinks s ORDER BY s.name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> OutboxMessage {
        OutboxMessage {
            message_id: id.into(),
            kind: "ComplianceChangeNotification",
            scan_id: None,
            snapshot: None,
            body: format!("{{\"id\":\"{id}\"}}"),
        }
    }

    /// A sink starts at the end, delivers in order, never moves back, and a message queued
    /// twice is kept once.
    #[test]
    fn sinks_deliver_in_order_from_where_they_joined() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.enqueue(&[message("a"), message("b")]).unwrap(), 2);
        assert_eq!(
            store.sink_cursor("hook").unwrap(),
            2,
            "a new sink skips the past"
        );
        assert_eq!(store.enqueue(&[message("b"), message("c")]).unwrap(), 1);
        let queued = store
            .outbox_after(store.sink_cursor("hook").unwrap(), 10)
            .unwrap();
        let ids: Vec<_> = queued.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["c"]);
        assert_eq!(store.outbox_backlog().unwrap(), [("hook".to_string(), 1)]);
        store.set_sink_cursor("hook", queued[0].id).unwrap();
        store.set_sink_cursor("hook", 1).unwrap();
        assert_eq!(
            store.sink_cursor("hook").unwrap(),
            queued[0].id,
            "never moves back"
        );
        assert_eq!(store.outbox_backlog().unwrap(), [("hook".to_string(), 0)]);
    }

    /// Pruning keeps what a configured sink has not delivered, whatever its age.
    #[test]
    fn pruning_keeps_what_a_sink_still_owes() {
        let store = Store::open_in_memory().unwrap();
        store.sink_cursor("slow").unwrap();
        store.enqueue(&[message("z")]).unwrap();
        let never = "9999-01-01T00:00:00Z";
        assert_eq!(
            store.prune_outbox(&["slow", "fast"], never).unwrap(),
            0,
            "fast has not started"
        );
        store
            .set_sink_cursor("slow", store.outbox_end().unwrap())
            .unwrap();
        store.sink_cursor("fast").unwrap();
        assert_eq!(store.prune_outbox(&["slow", "fast"], never).unwrap(), 1);
        store.enqueue(&[message("a"), message("b")]).unwrap();
        let queued = store.outbox_after(0, 10).unwrap();
        store.set_sink_cursor("fast", queued[1].id).unwrap();
        store.set_sink_cursor("slow", queued[0].id).unwrap();
        let later = "9999-01-01T00:00:00Z";
        assert_eq!(
            store
                .prune_outbox(&["slow", "fast"], "2000-01-01T00:00:00Z")
                .unwrap(),
            0,
            "too recent"
        );
        assert_eq!(
            store.prune_outbox(&["slow", "fast"], later).unwrap(),
            1,
            "only what both sent"
        );
        assert_eq!(store.outbox_after(0, 10).unwrap().len(), 1);
        assert_eq!(
            store.prune_outbox(&["fast"], later).unwrap(),
            1,
            "a sink gone holds nothing"
        );
    }
}
