//! A prepared statement that binds the caller's bytes in place instead of copying them.
//!
//! rusqlite binds every text and blob as `SQLITE_TRANSIENT`: SQLite allocates and copies each
//! value before the statement runs, and the statement then copies it again into the row it
//! writes. A first ingest binds some twenty values per item, among them a kilobyte of body, and
//! that binding was a tenth of its instructions. Here values are bound as `SQLITE_STATIC` (SQLite
//! reads them where they lie) for exactly one execution: [`BorrowingStatement::execute`]
//! binds, steps, resets and clears the bindings before it returns, so SQLite never holds a
//! pointer to the caller's data beyond the call that lent it.
//!
//! Only the store writer's per-version statements use it (`store::writer`, `store::batch`);
//! everything else goes through rusqlite.

use std::ffi::{c_int, c_uchar};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use rusqlite::{Connection, ffi};

/// One value to bind, borrowed for the length of one execution.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    /// UTF-8 text, as bytes (made from a `str`, or copied from one).
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl<'a> Value<'a> {
    pub(crate) fn text(text: &'a str) -> Value<'a> {
        Value::Text(text.as_bytes())
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Value<'a> {
        text.map_or(Value::Null, Value::text)
    }
}

/// A statement prepared on a connection it cannot outlive, finalised when dropped.
#[derive(Debug)]
pub(crate) struct BorrowingStatement<'c> {
    statement: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    parameters: usize,
    _connection: PhantomData<&'c Connection>,
}

impl<'c> BorrowingStatement<'c> {
    pub(crate) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        // SAFETY: the handle is only used while `conn` is borrowed, which the lifetime 'c
        // enforces, and only on this thread (a Connection is not Sync; neither is this type,
        // through its raw pointers).
        let db = unsafe { conn.handle() };
        let mut statement = ptr::null_mut();
        // SAFETY: `sql` is valid for its length; SQLite writes the new statement's handle (or
        // null) into `statement`.
        let code = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                c_int::try_from(sql.len()).expect("statement text fits an int"),
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut statement,
                ptr::null_mut(),
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(failure(db, code));
        }
        let statement = NonNull::new(statement).ok_or_else(|| {
            rusqlite::Error::InvalidQuery // text without a statement in it
        })?;
        // SAFETY: a statement just prepared.
        let parameters = unsafe { ffi::sqlite3_bind_parameter_count(statement.as_ptr()) } as usize;
        Ok(BorrowingStatement {
            statement,
            db,
            parameters,
            _connection: PhantomData,
        })
    }

    /// Runs the statement once with `values` bound to its parameters `?1`, `?2`, … in order.
    pub(crate) fn execute(&mut self, values: &[Value<'_>]) -> rusqlite::Result<()> {
        if values.len() != self.parameters {
            return Err(rusqlite::Error::InvalidParameterCount(
                values.len(),
                self.parameters,
            ));
        }
        let statement = self.statement.as_ptr();
        let mut result = Ok(());
        for (index, value) in values.iter().enumerate() {
            let column = index as c_int + 1;
            // SAFETY: every pointer bound here is valid for its length until the bindings are
            // cleared below, before this function returns and while `values` is borrowed.
            // A null data pointer would mean SQL NULL, but a slice's pointer is never null.
            let code = unsafe {
                match *value {
                    Value::Null => ffi::sqlite3_bind_null(statement, column),
                    Value::Int(n) => ffi::sqlite3_bind_int64(statement, column, n),
                    Value::Text(text) => ffi::sqlite3_bind_text64(
                        statement,
                        column,
                        text.as_ptr().cast(),
                        text.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as c_uchar,
                    ),
                    Value::Blob(bytes) => ffi::sqlite3_bind_blob64(
                        statement,
                        column,
                        bytes.as_ptr().cast(),
                        bytes.len() as u64,
                        ffi::SQLITE_STATIC(),
                    ),
                }
            };
            if code != ffi::SQLITE_OK {
                result = Err(failure(self.db, code));
                break;
            }
        }
        if result.is_ok() {
            // SAFETY: a prepared statement with all its parameters bound.
            let code = unsafe { ffi::sqlite3_step(statement) };
            if code != ffi::SQLITE_DONE {
                result = Err(match code {
                    ffi::SQLITE_ROW => rusqlite::Error::ExecuteReturnedResults,
                    _ => failure(self.db, code),
                });
            }
        }
        // SAFETY: resetting and unbinding a valid statement. Clearing the bindings is what
        // ends SQLite's use of the borrowed values. Their result codes repeat the step's.
        unsafe {
            ffi::sqlite3_reset(statement);
            ffi::sqlite3_clear_bindings(statement);
        }
        result
    }
}

impl Drop for BorrowingStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is finalised once, here, before its connection can close.
        unsafe {
            ffi::sqlite3_finalize(self.statement.as_ptr());
        }
    }
}

/// The connection's error for a failed call, as rusqlite reports its own.
fn failure(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: a connection handle borrowed for the duration of the call; the message is copied
    // out before any other call on the connection can replace it.
    let (extended, message) = unsafe {
        let message = ffi::sqlite3_errmsg(db);
        let message = (!message.is_null()).then(|| {
            std::ffi::CStr::from_ptr(message)
                .to_string_lossy()
                .into_owned()
        });
        (ffi::sqlite3_extended_errcode(db), message)
    };
    let code = if extended & 0xff == code & 0xff {
        extended
    } else {
        code
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, data BLOB);",
        )
        .unwrap();
        conn
    }

    /// Values bound in place are stored as they were lent, and the buffers they came from can
    /// be changed or freed afterwards without changing what was stored.
    #[test]
    fn stores_borrowed_values_and_keeps_none_of_them() {
        let conn = connection();
        let mut insert = BorrowingStatement::prepare(
            &conn,
            "INSERT INTO t (id, name, data) VALUES (?1, ?2, ?3)",
        )
        .unwrap();
        let mut buffer = String::new();
        for i in 0..100i64 {
            buffer.clear();
            buffer.push_str(&format!("name-{i}"));
            let data = vec![i as u8; i as usize];
            let data = if i % 10 == 0 {
                Value::Null
            } else {
                Value::Blob(&data)
            };
            insert
                .execute(&[Value::Int(i), Value::text(&buffer), data])
                .unwrap();
        }
        insert
            .execute(&[Value::Int(100), Value::text(""), Value::Blob(&[])])
            .unwrap();
        drop(buffer);
        let rows: Vec<(i64, String, Option<Vec<u8>>)> = conn
            .prepare("SELECT id, name, data FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 101);
        for (i, (id, name, data)) in rows.iter().take(100).enumerate() {
            assert_eq!(*id, i as i64);
            assert_eq!(*name, format!("name-{i}"));
            let want = (i % 10 != 0).then(|| vec![i as u8; i]);
            assert_eq!(*data, want);
        }
        assert_eq!(rows[100], (100, String::new(), Some(Vec::new())));
    }

    /// A failing execution reports SQLite's error, leaves the statement usable, and a wrong
    /// number of values is refused before anything runs.
    #[test]
    fn reports_errors_and_stays_usable() {
        let conn = connection();
        let mut insert =
            BorrowingStatement::prepare(&conn, "INSERT INTO t (name) VALUES (?1)").unwrap();
        insert.execute(&[Value::text("a")]).unwrap();
        let err = insert.execute(&[Value::text("a")]).unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation),
            "{err}"
        );
        assert!(
            err.to_string().contains("UNIQUE constraint failed: t.name"),
            "{err}"
        );
        let err = insert.execute(&[Value::Null]).unwrap_err();
        assert!(err.to_string().contains("NOT NULL"), "{err}");
        assert!(matches!(
            insert.execute(&[]),
            Err(rusqlite::Error::InvalidParameterCount(0, 1))
        ));
        insert.execute(&[Value::text("b")]).unwrap();
        let count: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 2);
        assert!(BorrowingStatement::prepare(&conn, "INSERT INTO nowhere VALUES (1)").is_err());
    }
}
