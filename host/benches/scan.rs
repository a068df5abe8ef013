//! Scan throughput over a generated estate, with the built-in rules.
//!
//! `cargo bench -p conform --bench scan` (CONFORM_BENCH_ITEMS, default 100,000). Reports
//! evaluations per second for the whole scan (reading the snapshot from the store, turning each
//! item into the document rules read, calling every in-scope rule, storing every evaluation),
//! per second of wall time and per CPU-second (every thread's time counted: the per-core figure
//! whatever the number of threads). CONFORM_BENCH_JOBS (default `1,<cores>`),
//! CONFORM_BENCH_ROUNDS (3), CONFORM_BENCH_RULES (ids of the built-ins to run; all by default),
//! CONFORM_BENCH_KEEP=1 (keep the store for the next run) and CONFORM_BENCH_DIR (where the files
//! go) tune it.

use std::time::Instant;

use conform::engine::document::ItemDocument;
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
    // CONFORM_BENCH_KEEP=1 keeps the store for the next run, which then skips the setup.
    let keep = std::env::var_os("CONFORM_BENCH_KEEP").is_some();
    let db = work.join("scan.db");
    let reuse = keep && db.exists();
    if !reuse {
        let _ = std::fs::remove_dir_all(&work);
    }
    std::fs::create_dir_all(&work).expect("work directory");
    let mut store = Store::open(&db).expect("store");
    let snapshot = if reuse {
        store
            .snapshot(conform::SnapshotSelector::Latest)
            .expect("a snapshot")
            .id
    } else {
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
        let report = conform::ingest(
            &mut store,
            &generated.snapshot_dirs[..1],
            &IngestOptions::default(),
            &NoProgress,
        )
        .expect("ingest");
        report.snapshots.last().expect("a snapshot").id
    };

    let host = RuleHost::new(Limits::default()).expect("host");
    let started = Instant::now();
    let (mut rules, skipped) = host.load_builtins(&|_| None).expect("built-ins load");
    // CONFORM_BENCH_RULES=ID,ID keeps only those rules (say, the plain field checks).
    if let Ok(only) = std::env::var("CONFORM_BENCH_RULES") {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        rules.retain(|r| only.contains(&r.manifest.id.as_str()));
    }
    let rules: std::sync::Arc<[conform::engine::Rule]> = rules.into();
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
        .for_each_stored(
            snapshot,
            None,
            |_, _| true,
            |item| {
                ItemDocument::from_stored(item)?;
                read += 1;
                Ok(())
            },
        )
        .expect("read");
    let read_secs = started.elapsed().as_secs_f64();
    println!(
        "read: {read} items as documents in {read_secs:.2} s: {:.0} items/s",
        read as f64 / read_secs
    );

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // CONFORM_BENCH_JOBS=1,2 chooses the thread counts (default: 1 and every core).
    let jobs_list: Vec<usize> = std::env::var("CONFORM_BENCH_JOBS")
        .ok()
        .map(|v| v.split(',').filter_map(|j| j.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, cores]);
    let rounds: usize = std::env::var("CONFORM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut per_jobs = Vec::new();
    for jobs in jobs_list {
        let mut best = f64::MAX;
        for round in 0..rounds {
            let cpu = common::cpu_seconds();
            let started = Instant::now();
            let scan =
                conform::scan::scan_with_jobs(&store, &host, &rules, snapshot, jobs).expect("scan");
            let secs = started.elapsed().as_secs_f64();
            let cpu = common::cpu_seconds() - cpu;
            let evaluations: u64 = scan
                .rules
                .iter()
                .map(|r| r.compliant + r.non_compliant + r.not_applicable + r.error)
                .sum();
            println!(
                "scan, {jobs} job(s), round {round}: {} items, {evaluations} evaluations in {secs:.2} s \
                 ({cpu:.2} s of CPU): {:.0} evaluations/s, {:.0} per CPU-second",
                scan.items,
                evaluations as f64 / secs,
                evaluations as f64 / cpu.max(0.01)
            );
            assert_eq!(scan.errors(), 0);
            best = best.min(secs);
        }
        per_jobs.push((jobs, best));
    }
    if let [(_, one), (n, many)] = per_jobs[..] {
        println!(
            "scaling: {n} jobs are {:.2}x one job (best of {rounds} each)",
            one / many
        );
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
}
