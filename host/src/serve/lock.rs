//! One daemon per store: an exclusive `flock` on `<store>.serve.lock`, which holds the pid of
//! the daemon that has it. The kernel drops the lock when the process ends, however it ends
//! (kill -9 included), so a stale file never keeps the next daemon out.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::ServeError;

/// Held for as long as the daemon runs.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    pub path: PathBuf,
}

impl StoreLock {
    /// Takes the lock of the store at `db`, or says which process holds it.
    pub fn acquire(db: &Path) -> Result<StoreLock, ServeError> {
        let mut name = db.as_os_str().to_owned();
        name.push(".serve.lock");
        let path = PathBuf::from(name);
        let io = |source| ServeError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if e == rustix::io::Errno::WOULDBLOCK {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(ServeError::AlreadyServing {
                    db: db.to_path_buf(),
                    pid: holder.trim().to_string(),
                });
            }
            return Err(io(e.into()));
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(StoreLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second holder is refused with the first one's pid; once the first lets go, it works.
    #[test]
    fn a_second_daemon_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("conform.db");
        let first = StoreLock::acquire(&db).unwrap();
        let err = StoreLock::acquire(&db).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        StoreLock::acquire(&db).unwrap();
    }
}
