//! Ingest and storage benchmark over a generated estate.
//!
//! `cargo bench -p conform --bench store` (set CONFORM_BENCH_ITEMS to change the size from
//! 100,000, CONFORM_BENCH_RUNS to change how often each ingest is timed from 3). Ingest is
//! single-threaded, so the figures are per core. It measures:
//! - ingest of a first snapshot (every item new) into a fresh store, in items/s;
//! - re-ingest of the same snapshot (nothing changes, no version written), in items/s;
//! - the database size after 10 snapshots at 1% churn against the size after one;
//! - peak resident memory of the process.

use std::path::{Path, PathBuf};
use std::time::Instant;

use conform::generate::{GenerateOptions, generate};
use conform::ingest::{IngestOptions, NoProgress};
use conform::store::Store;

mod common;
use common::{dir_size, env, file_size, mib, peak_rss_kib, timed};

fn main() {
    let items = env("CONFORM_BENCH_ITEMS", 100_000);
    let runs = env("CONFORM_BENCH_RUNS", 3).max(1);
    let snapshots = 10;
    let work = common::work_dir("store-bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    let started = Instant::now();
    let options = GenerateOptions {
        items,
        churn: 0.01,
        snapshots,
        accounts: 4,
        seed: 7,
        ..GenerateOptions::default()
    };
    let generated = generate(&work.join("estate"), &options).unwrap();
    let first_bytes: u64 = dir_size(&generated.snapshot_dirs[0]);
    println!(
        "generated {} snapshots of ~{} items ({:.0} bytes/item) in {:.1?}",
        snapshots,
        items,
        first_bytes as f64 / items as f64,
        started.elapsed()
    );

    // One snapshot, into a fresh store, `runs` times: this is the figure a noisy machine
    // moves most, so it reports the best and the median run.
    let mut times = Vec::new();
    let one_db = work.join("one.db");
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        remove_store(&one_db);
        let mut store = Store::open(&one_db).unwrap();
        let (secs, report) = timed(|| ingest(&mut store, &generated.snapshot_dirs[0]));
        assert_eq!(report.added as usize, items);
        times.push(secs);
        last = Some(store);
    }
    print_rate("ingest, all new:     ", items, &times);
    // The last run's store, on the connection that wrote it.
    let mut store = last.expect("at least one run");
    store.checkpoint().unwrap();
    let one_size = file_size(&one_db);

    // The same snapshot again: nothing changed, nothing written.
    let mut times = Vec::new();
    for _ in 0..runs {
        let (secs, report) = timed(|| ingest(&mut store, &generated.snapshot_dirs[0]));
        assert_eq!(report.unchanged as usize, items);
        assert_eq!(report.added + report.modified + report.deleted, 0);
        times.push(secs);
    }
    print_rate("re-ingest, unchanged:", items, &times);

    // Ten snapshots at 1% churn, into another fresh store.
    let ten_db = work.join("ten.db");
    let mut store = Store::open(&ten_db).unwrap();
    let mut total = 0u64;
    let mut changed = 0u64;
    let (secs, ()) = timed(|| {
        for dir in &generated.snapshot_dirs {
            let r = ingest(&mut store, dir);
            total += r.items;
            changed += r.added + r.modified + r.deleted;
        }
    });
    store.checkpoint().unwrap();
    let ten_size = file_size(&ten_db);
    println!(
        "10 snapshots, 1% churn: {total} items ({changed} changes) in {secs:.2} s, {:.0} items/s",
        total as f64 / secs
    );
    println!(
        "database size: one snapshot {:.1} MiB, ten snapshots {:.1} MiB, ratio {:.3}",
        mib(one_size),
        mib(ten_size),
        ten_size as f64 / one_size as f64
    );
    println!(
        "peak resident memory: {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&work);
}

fn ingest(store: &mut Store, dir: &Path) -> conform::store::SnapshotCounts {
    // Re-ingesting the same files is the point of the unchanged case: read them again.
    let options = IngestOptions {
        again: true,
        ..IngestOptions::default()
    };
    let report = conform::ingest(store, &[dir.to_path_buf()], &options, &NoProgress).unwrap();
    report.snapshots.last().expect("a snapshot").counts
}

/// Prints the best and the median of `times`, as items per second, and every run's time.
fn print_rate(what: &str, items: usize, times: &[f64]) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (best, median) = (sorted[0], sorted[sorted.len() / 2]);
    let runs: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    println!(
        "{what} {:>9.0} items/s best, {:>9.0} median  ({items} items; runs {} s)",
        items as f64 / best,
        items as f64 / median,
        runs.join(", ")
    );
}

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}
