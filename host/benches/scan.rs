//! Scan throughput over a generated estate, with the built-in rules.
//!
//! `cargo bench -p conform --bench scan` (CONFORM_BENCH_ITEMS, default 100,000). Reports
//! evaluations per second for the whole scan (reading the snapshot from the store, turning each
//! item into the document rules read, calling every in-scope rule, storing every evaluation).


use std::time::Instant;

use conform::engine::{Limits, RuleHost};
use conform::generate::{GenerateOptions, generate};
use conform::ingest::{IngestOptions, NoProgress};
use conform::store::Store;

mod common;

fn main() {
    let items: usize = std::env::var("CONFORM_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let work = common::work_dir("scan-bench");
    let _ = std::fs::remove_dir_all(&work);
    let generated = generate(
        &work.join("estate"),
        &GenerateOptions {
            items,
            snapshots: 1,
            seed: 11,
            ..Default::default()
        },
    )
    .expect("generate");
    let mut store = Store::open(work.join("scan.db")).expect("store");
    let report = conform::ingest(
        &mut store,
        &generated.snapshot_dirs[..1],
        &IngestOptions::default(),
        &NoProgress,
    )
    .expect("ingest");
    let snapshot = report.snapshot.expect("a snapshot").id;

    let host = RuleHost::new(Limits::default()).expect("host");
    let started = Instant::now();
    let (rules, skipped) = host.load_builtins(&|_| None).expect("built-ins load");
    println!(
        "loaded {} built-in rules in {:.2?} ({} skipped for want of parameters)",
        rules.len(),
        started.elapsed(),
        skipped.len()
    );

    // What reading alone costs: every live item turned into the document rules read.
    let started = Instant::now();
    let mut read = 0u64;
    store
        .for_each_document(snapshot, |_| {
            read += 1;
            Ok(())
        })
        .expect("read");
    let read_secs = started.elapsed().as_secs_f64();
    println!(
        "read: {read} items as documents in {read_secs:.2} s: {:.0} items/s",
        read as f64 / read_secs
    );

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut per_jobs = Vec::new();
    for jobs in [1, cores] {
        let mut best = f64::MAX;
        for round in 0..3 {
            let started = Instant::now();
            let scan =
                conform::scan::scan_with_jobs(&store, &host, &rules, snapshot, jobs).expect("scan");
            let secs = started.elapsed().as_secs_f64();
            let evaluations: u64 = scan
                .rules
                .iter()
                .map(|r| r.compliant + r.non_compliant + r.not_applicable + r.error)
                .sum();
            println!(
                "scan, {jobs} worker(s), round {round}: {} items, {evaluations} evaluations in {secs:.2} s: {:.0} evaluations/s, {:.0} items/s",
                scan.items,
                evaluations as f64 / secs,
                scan.items as f64 / secs
            );
            assert_eq!(scan.errors(), 0);
            best = best.min(secs);
        }
        per_jobs.push((jobs, best));
    }
    if let [(_, one), (n, many)] = per_jobs[..] {
        println!(
            "scaling: {n} workers are {:.2}x one worker (best of 3 each)",
            one / many
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}
