//! Rows inserted many to a statement.
//!
//! Each execution of an INSERT opens cursors on its table and every index, runs its program's
//! preamble, halts and resets: for a one-row insert that was a fifth of SQLite's share of a
//! first ingest. A [`RowBatch`] gathers rows and inserts [`ROWS_PER_INSERT`] of them with one
//! `INSERT … VALUES (…), (…), …`, so that work is done once per batch. The rows' bytes are
//! copied into one buffer meanwhile, since the caller's are gone by the time the batch runs.
//!
//! The statements are `INSERT OR FAIL`. With SQLite's default (`ABORT`), a statement that writes
//! several rows keeps a statement journal, a copy of every page it changes, to undo its own rows
//! should one of them break a constraint; that wrote the database eight times over. A failure
//! here ends the whole snapshot's transaction anyway, so nothing needs undoing row by row.
//!
//! A pending row is not in the table yet: whoever reads or updates rows the batch may hold
//! must [`RowBatch::flush`] it first (the snapshot writer does, see `writer.rs`).

use crate::audited::sqlite::{BorrowingStatement, Value};
use rusqlite::Connection;

/// Rows per full batch: past a few dozen, the per-statement work saved is negligible.
pub(super) const ROWS_PER_INSERT: usize = 32;

/// A value copied into the batch: bytes are a range of [`RowBatch::bytes`].
#[derive(Debug, Clone, Copy)]
enum Slot {
    Null,
    Int(i64),
    Text(usize, usize),
    Blob(usize, usize),
}

/// Rows waiting to be inserted into one table.
#[derive(Debug)]
pub(super) struct RowBatch<'c> {
    columns: usize,
    /// `ROWS_PER_INSERT` rows at once, and one row, for what is left when the batch is flushed
    /// before it is full.
    full: BorrowingStatement<'c>,
    single: BorrowingStatement<'c>,
    slots: Vec<Slot>,
    bytes: Vec<u8>,
}

impl<'c> RowBatch<'c> {
    /// A batch for `INSERT INTO {table} ({columns})`.
    pub(super) fn new(
        conn: &'c Connection,
        table: &str,
        columns: &[&str],
    ) -> rusqlite::Result<RowBatch<'c>> {
        let statement = |rows: usize| {
            let row = format!("({})", vec!["?"; columns.len()].join(", "));
            format!(
                "INSERT OR FAIL INTO {table} ({}) VALUES {}",
                columns.join(", "),
                vec![row; rows].join(", ")
            )
        };
        Ok(RowBatch {
            columns: columns.len(),
            full: BorrowingStatement::prepare(conn, &statement(ROWS_PER_INSERT))?,
            single: BorrowingStatement::prepare(conn, &statement(1))?,
            slots: Vec::with_capacity(columns.len() * ROWS_PER_INSERT),
            bytes: Vec::with_capacity(ROWS_PER_INSERT * 2048),
        })
    }

    /// Adds a row (one value per column, in order), inserting the batch once it is full.
    pub(super) fn push(&mut self, row: &[Value<'_>]) -> rusqlite::Result<()> {
        assert_eq!(row.len(), self.columns, "a value for every column");
        for value in row {
            let mut copy = |bytes: &[u8]| {
                let start = self.bytes.len();
                self.bytes.extend_from_slice(bytes);
                (start, self.bytes.len())
            };
            let slot = match *value {
                Value::Null => Slot::Null,
                Value::Int(n) => Slot::Int(n),
                Value::Text(text) => {
                    let (start, end) = copy(text);
                    Slot::Text(start, end)
                }
                Value::Blob(bytes) => {
                    let (start, end) = copy(bytes);
                    Slot::Blob(start, end)
                }
            };
            self.slots.push(slot);
        }
        if self.slots.len() == self.columns * ROWS_PER_INSERT {
            self.flush()?;
        }
        Ok(())
    }

    /// Drops every pending row, for a writer rolling back to a savepoint.
    pub(super) fn discard(&mut self) {
        self.slots.clear();
        self.bytes.clear();
    }

    /// Inserts every pending row. The batch is empty afterwards, whether or not it succeeded
    /// (a failure ends the snapshot's transaction anyway).
    pub(super) fn flush(&mut self) -> rusqlite::Result<()> {
        if self.slots.is_empty() {
            return Ok(());
        }
        let bytes = &self.bytes;
        let values: Vec<Value<'_>> = self
            .slots
            .iter()
            .map(|slot| match *slot {
                Slot::Null => Value::Null,
                Slot::Int(n) => Value::Int(n),
                Slot::Text(start, end) => Value::Text(&bytes[start..end]),
                Slot::Blob(start, end) => Value::Blob(&bytes[start..end]),
            })
            .collect();
        let result = if values.len() == self.columns * ROWS_PER_INSERT {
            self.full.execute(&values)
        } else {
            values
                .chunks(self.columns)
                .try_for_each(|row| self.single.execute(row))
        };
        self.slots.clear();
        self.bytes.clear();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row pushed is stored, in order and as given, whether it went in a full batch or
    /// in what was left at the flush; nothing is in the table before its batch runs.
    #[test]
    fn stores_every_row_in_full_batches_and_the_rest() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
            .unwrap();
        let count = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap()
        };
        let rows = ROWS_PER_INSERT * 2 + 5;
        {
            let mut batch = RowBatch::new(&conn, "t", &["id", "name", "data"]).unwrap();
            for i in 0..rows {
                let name = format!("row-{i}");
                let data = vec![i as u8; i % 7];
                let name = if i % 5 == 0 {
                    Value::Null
                } else {
                    Value::text(&name)
                };
                batch
                    .push(&[Value::Int(i as i64), name, Value::Blob(&data)])
                    .unwrap();
                assert_eq!(
                    count(&conn) as usize,
                    (i + 1) / ROWS_PER_INSERT * ROWS_PER_INSERT
                );
            }
            batch.flush().unwrap();
            batch.flush().unwrap(); // nothing left: a no-op
        }
        assert_eq!(count(&conn) as usize, rows);
        let stored: Vec<(i64, Option<String>, Vec<u8>)> = conn
            .prepare("SELECT id, name, data FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (i, (id, name, data)) in stored.into_iter().enumerate() {
            assert_eq!(id, i as i64);
            assert_eq!(name, (i % 5 != 0).then(|| format!("row-{i}")));
            assert_eq!(data, vec![i as u8; i % 7]);
        }
    }

    /// A batch that fails reports SQLite's error and is left empty.
    #[test]
    fn a_failing_batch_reports_and_empties() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .unwrap();
        let mut batch = RowBatch::new(&conn, "t", &["id", "name"]).unwrap();
        batch.push(&[Value::Int(1), Value::text("a")]).unwrap();
        batch.push(&[Value::Int(1), Value::text("b")]).unwrap();
        let err = batch.flush().unwrap_err();
        assert!(
            err.to_string().contains("UNIQUE constraint failed"),
            "{err}"
        );
        batch.flush().unwrap();
        batch.push(&[Value::Int(2), Value::text("c")]).unwrap();
        batch.flush().unwrap();
        let names: i64 = conn
            .query_row("SELECT count(*) FROM t WHERE name = 'c'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(names, 1);
    }
}
