//! Whole-bucket ingest benchmark over a generated organisation's AWS Config bucket.
//!
//! `cargo bench -p conform --bench bucket`. The bucket is 20 accounts × 4 regions × 30 daily
//! deliveries of a 100,000-resource estate at 1% daily churn, gzipped as AWS writes it, with
//! accounts delivering at different hours, 1% of deliveries missed and history files of every
//! change (CONFORM_BENCH_ITEMS and CONFORM_BENCH_DAYS change the size). It measures, in the
//! same run and on the same files:
//! - ingest a day at a time (one `ingest` per day's files, as `--each` over day directories
//!   did before whole-bucket ingest), in items/s: the reference;
//! - ingest of the whole bucket in one call, in items/s, and its ratio to the reference;
//! - re-ingest of the unchanged bucket (nothing new), in seconds, and of a copy of it under
//!   another path (every file hashed, none parsed).

use std::path::{Path, PathBuf};
use std::time::Instant;

use conform::generate::{GenerateOptions, generate};
use conform::ingest::{IngestOptions, NoProgress};
use conform::store::Store;

mod common;
use common::{dir_size, env, file_size, mib, peak_rss_kib, timed, walk};

fn main() {
    let items = env("CONFORM_BENCH_ITEMS", 100_000);
    let days = env("CONFORM_BENCH_DAYS", 30).max(2);
    let work = common::work_dir("bucket-bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    let started = Instant::now();
    let options = GenerateOptions {
        items,
        churn: 0.01,
        snapshots: days,
        accounts: 20,
        regions: 4,
        seed: 11,
        gzip: true,
        bucket: true,
        stagger_hours: 5,
        missed: 0.01,
        history: true,
        ..GenerateOptions::default()
    };
    let bucket = work.join("bucket");
    let generated = generate(&bucket, &options).unwrap();
    println!(
        "generated {} snapshot files, {} history files ({} missed deliveries), {} items, {:.1} MiB gzipped, in {:.1?}",
        generated.snapshot_files,
        generated.history_files,
        generated.missed_deliveries,
        generated.items_written,
        mib(dir_size(&bucket)),
        started.elapsed()
    );
    let logs = bucket.join("AWSLogs");

    // The reference: a day at a time, into a fresh store.
    let by_day = files_by_day(&logs);
    assert_eq!(by_day.len(), days);
    let day_db = work.join("by-day.db");
    let mut store = Store::open(&day_db).unwrap();
    let (mut day_items, mut day_secs) = (0u64, 0f64);
    for files in &by_day {
        let (secs, report) = timed(|| {
            conform::ingest(&mut store, files, &IngestOptions::default(), &NoProgress).unwrap()
        });
        day_items += report.snapshots.iter().map(|s| s.counts.items).sum::<u64>();
        day_secs += secs;
    }
    let day_stats = store.stats().unwrap();
    drop(store);
    let day_rate = day_items as f64 / day_secs;
    println!(
        "a day at a time:  {day_items} items in {day_secs:.2} s, {day_rate:.0} items/s ({} calls)",
        by_day.len()
    );

    // The whole bucket at once, into another fresh store.
    let bucket_db = work.join("bucket.db");
    let mut store = Store::open(&bucket_db).unwrap();
    let (secs, report) = timed(|| {
        conform::ingest(
            &mut store,
            std::slice::from_ref(&logs),
            &IngestOptions::default(),
            &NoProgress,
        )
        .unwrap()
    });
    let bucket_items: u64 = report.snapshots.iter().map(|s| s.counts.items).sum();
    let bucket_rate = bucket_items as f64 / secs;
    println!(
        "whole bucket:     {bucket_items} items in {secs:.2} s, {bucket_rate:.0} items/s, {} snapshots; {:.2}× the reference (target ≥ 0.80)",
        report.snapshots.len(),
        bucket_rate / day_rate
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.versions, stats.live_resources, stats.snapshots),
        (
            day_stats.versions,
            day_stats.live_resources,
            day_stats.snapshots
        ),
        "both ways store the same history"
    );

    // Nothing new: every file is known by its path, size and time.
    reingest(&mut store, &logs, "nothing new");
    // The same files under another path: each is hashed, none parsed.
    let moved = work.join("moved");
    std::fs::rename(&bucket, &moved).unwrap();
    reingest(
        &mut store,
        &moved.join("AWSLogs"),
        "moved bucket (every file hashed)",
    );
    println!(
        "database: {:.1} MiB, {} versions; peak resident memory: {:.1} MiB",
        mib(file_size(&bucket_db)),
        stats.versions,
        peak_rss_kib() as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// Ingests a bucket the store already holds, and prints how long deciding so took.
fn reingest(store: &mut Store, logs: &Path, what: &str) {
    let (secs, report) = timed(|| {
        conform::ingest(
            store,
            &[logs.to_path_buf()],
            &IngestOptions::default(),
            &NoProgress,
        )
        .unwrap()
    });
    assert!(report.snapshots.is_empty(), "nothing is new");
    println!(
        "re-ingest, {what}: {} files in {:.3} s (target < 1 s)",
        report.already_stored.len(),
        secs
    );
}

/// The bucket's files, one list per delivery day (`…/REGION/Y/M/D/…`), in day order.
fn files_by_day(logs: &Path) -> Vec<Vec<PathBuf>> {
    let mut days: std::collections::BTreeMap<(u32, u32, u32), Vec<PathBuf>> = Default::default();
    for file in walk(logs) {
        let parts: Vec<String> = file
            .strip_prefix(logs)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        // ACCOUNT/Config/REGION/Y/M/D/KIND/NAME
        let n = |i: usize| parts[i].parse::<u32>().unwrap();
        days.entry((n(3), n(4), n(5))).or_default().push(file);
    }
    days.into_values().collect()
}
