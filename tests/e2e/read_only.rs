//! A store this process may not write (a CI artifact, a read-only mount, a 0444 file): every
//! command that only reads works on it, leaves nothing behind, and the next writer is unharmed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use crate::support::*;

/// Runs `conform` as a user who cannot write the store or its directory: as root, the
/// unprivileged `nobody` (root writes anything); otherwise this user, with the modes removed.
fn as_reader(s: &Scratch, args: &[&str]) -> Run {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_conform"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_conform"))
    };
    let output = command
        .arg("--db")
        .arg(s.db())
        .args(args)
        .current_dir("/")
        .env_remove("RUST_LOG")
        .env_remove("CONFORM_DB")
        .env_remove("CONFORM_CONFIG")
        .env_remove("CONFORM_BASELINE")
        // A cache this user cannot create: scans compile afresh.
        .env("CONFORM_CACHE_DIR", s.path("cache-nobody-may-make"))
        .output()
        .expect("conform runs");
    output.into()
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn side_files(s: &Scratch) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("conform.db"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_read_works_on_a_store_nobody_may_write_and_leaves_nothing_behind() {
    let s = Scratch::new();
    let t = "2026-11-02T06:00:00Z";
    s.ingest_items("one.json", &[volume("vol-a", 8, false, t)]);
    s.ingest_items(
        "two.json",
        &[volume("vol-a", 16, false, t), volume("vol-b", 8, true, t)],
    );
    s.conform(&["scan", "-q"]).ok();
    s.conform(&["baseline", "set", "base", "--snapshot", "1"])
        .ok();
    assert_eq!(side_files(&s), ["conform.db"], "a closed store has no -wal");
    let before = std::fs::read(s.db()).unwrap();

    // The store is 0444 in a directory the reader cannot write.
    chmod(&s.db(), 0o444);
    chmod(s.dir.path(), 0o555);
    let reads: &[&[&str]] = &[
        &["snapshots"],
        &["show", "vol-a"],
        &["history", "vol-a"],
        &["stats"],
        &["results"],
        &["drift"],
        &["diff", "1", "2"],
        &["timeline"],
        &["compliance-changes"],
        &["baseline", "list"],
    ];
    for args in reads {
        let run = as_reader(&s, args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("readonly"), "{args:?}: {}", run.stderr);
    }
    let gate = as_reader(&s, &["gate", "--fail-on", "noncompliant"]);
    assert_eq!(
        gate.code, 1,
        "the gate judges, it does not fail: {}",
        gate.stderr
    );
    // A write is refused cleanly, and says why.
    let scan = as_reader(&s, &["scan"]);
    assert_eq!(scan.code, 2);
    assert!(scan.stderr.contains("database"), "{}", scan.stderr);

    chmod(s.dir.path(), 0o755);
    assert_eq!(side_files(&s), ["conform.db"], "no -wal or -shm was left");
    assert_eq!(
        std::fs::read(s.db()).unwrap(),
        before,
        "the store is unchanged"
    );

    // The next writer (its mode given back) is unharmed.
    chmod(&s.db(), 0o644);
    s.ingest_items("three.json", &[volume("vol-c", 8, true, t)]);
    s.conform(&["scan", "-q"]).ok();
    s.assert_store_consistent();
}

#[test]
fn a_scan_works_without_a_cache_it_cannot_create() {
    let s = Scratch::new();
    s.ingest_items(
        "one.json",
        &[volume("vol-a", 8, false, "2026-11-02T06:00:00Z")],
    );
    // A cache "directory" that is a file cannot be made.
    let file = s.write("not-a-dir", "x");
    let run = s.conform_with_env(
        &["scan", "--only", "ENCRYPTED_VOLUMES"],
        &[("CONFORM_CACHE_DIR", file.join("wasm").to_str().unwrap())],
    );
    let run = run.ok();
    assert!(
        run.stderr.contains("unusable") && run.stderr.contains("compiling rules afresh"),
        "{}",
        run.stderr
    );
}
