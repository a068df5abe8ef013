//! Scan throughput over a generated estate, with the built-in rules.
//!
//! `cargo bench -p conform --bench scan` (CONFORM_BENCH_ITEMS, default 100,000). Reports
//! evaluations per second for the whole scan (reading the snapshot from the store, turning each
//! item into the document rules read, calling every in-scope rule, storing every evaluation),
//! per second of wall time and per CPU-second (every thread's time counted: the per-core figure
//! whatever the number of threads). CONFORM_BENCH_JOBS (default `1,<cores>`),
//! CONFORM_BENCH_ROUNDS (3), CONFORM_BENCH_RULES (ids of the rules to run; all by default),
//! CONFORM_BENCH_RULE_FILES (rule files to load beside the built-ins, comma-separated;
//! CONFORM_CACHE_DIR keeps their compiled code between runs),
//! CONFORM_BENCH_KEEP=1 (keep the store for the next run) and CONFORM_BENCH_DIR (where the files
//! go) tune it. Those are full scans. Then, in the same run, the incremental scan of a second
//! snapshot 1% changed against a full scan of it, and what 100 incremental rescans of an
//! unchanged snapshot add to the store.

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
    let mut second = None;
    let snapshot = if reuse {
        store
            .snapshot(conform::SnapshotSelector::Id(conform::SnapshotId(1)))
            .expect("a snapshot")
            .id
    } else {
        let generated = generate(
            &work.join("estate"),
            &GenerateOptions {
                items,
                // The second, 1% changed, is for the incremental rescan.
                snapshots: 2,
                churn: 0.01,
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
        second = generated.snapshot_dirs.get(1).cloned();
        report.snapshots.last().expect("a snapshot").id
    };

    // CONFORM_CACHE_DIR keeps compiled rules between runs (components take seconds to compile).
    let host = RuleHost::new(Limits {
        cache_dir: std::env::var_os("CONFORM_CACHE_DIR").map(Into::into),
        ..Limits::default()
    })
    .expect("host");
    let started = Instant::now();
    let (mut rules, skipped) = host.load_builtins(&|_| None).expect("built-ins load");
    // CONFORM_BENCH_RULE_FILES=PATH,PATH adds rules from files (a rule in another language,
    // to compare with the built-in it re-implements).
    if let Ok(files) = std::env::var("CONFORM_BENCH_RULE_FILES") {
        for path in files.split(',').filter(|p| !p.is_empty()) {
            let rule = host
                .load_file(std::path::Path::new(path), &|_| None)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            println!(
                "rule {} from {path}: runtime {}",
                rule.manifest.id,
                rule.runtime().name()
            );
            rules.push(rule);
        }
    }
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
    // Documents of the rule-file rules' types are kept for the per-rule figures below.
    let files_types: Vec<String> = rules
        .iter()
        .filter(|r| !r.source.starts_with("builtin:"))
        .flat_map(|r| r.manifest.scope.resource_types.clone())
        .collect();
    let mut kept: Vec<std::sync::Arc<ItemDocument>> = Vec::new();
    let started = Instant::now();
    let mut read = 0u64;
    store
        .for_each_stored(
            snapshot,
            None,
            |_, _, _| true,
            |item| {
                let document = ItemDocument::from_stored(item)?;
                if files_types.iter().any(|t| t == document.resource_type()) {
                    kept.push(std::sync::Arc::new(document));
                }
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

    // Each resource rule alone over the documents in memory, on one core: what a rule costs
    // per evaluation, without the store (best of the rounds; the first round warms it).
    if !kept.is_empty() {
        let mut evaluator = host.evaluator(&rules);
        for (index, rule) in rules.iter().enumerate() {
            if rule.manifest.kind != conform::engine::RuleKind::Resource {
                continue;
            }
            let mut best = f64::MAX;
            let mut evaluations = 0;
            for _ in 0..5 {
                let started = Instant::now();
                evaluations = kept
                    .iter()
                    .filter_map(|d| evaluator.evaluate(index, d))
                    .count();
                best = best.min(started.elapsed().as_secs_f64());
            }
            println!(
                "rule {} ({}): {evaluations} evaluations in memory in {best:.4} s: {:.0} \
                 evaluations/s on one core",
                rule.manifest.id,
                rule.runtime().name(),
                evaluations as f64 / best
            );
        }
    }

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
                conform::scan::scan(&store, &host, &rules, snapshot, &full(jobs)).expect("scan");
            let secs = started.elapsed().as_secs_f64();
            let cpu = common::cpu_seconds() - cpu;
            let evaluations: u64 = scan
                .rules
                .iter()
                .map(|r| r.compliant + r.non_compliant + r.not_applicable + r.error)
                .sum();
            println!(
                "scan, {jobs} job(s), round {round}: {} items, {evaluations} evaluations in {secs:.3} s \
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
    match second {
        Some(dir) => incremental(&mut store, &host, &rules, dir, cores),
        None => println!("incremental: skipped when the store is kept (it holds earlier verdicts)"),
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
}

/// The incremental rescan against a full scan, in the same run: snapshot 2 (1% changed since
/// snapshot 1, which the rounds above scanned) scanned incrementally, then fully; then an
/// unchanged snapshot rescanned 100 times, and what that adds to the store.
fn incremental(
    store: &mut Store,
    host: &RuleHost,
    rules: &std::sync::Arc<[conform::engine::Rule]>,
    dir: std::path::PathBuf,
    cores: usize,
) {
    let options = conform::scan::ScanOptions {
        jobs: cores,
        mode: conform::store::ScanMode::Incremental,
    };
    // The scan a rescan starts from: an incremental scan of the first snapshot (it walks the
    // whole state, reusing the full scans' verdicts), as a daemon's previous scan would be.
    let first = store
        .snapshot(conform::store::SnapshotSelector::Latest)
        .expect("the first snapshot");
    let started = Instant::now();
    let base = conform::scan::scan(store, host, rules, first.id, &options).expect("scan");
    println!(
        "incremental scan of the first snapshot, walking its whole state: {} evaluated, {} reused in {:.3} s",
        base.evaluated,
        base.reused,
        started.elapsed().as_secs_f64()
    );
    let report = conform::ingest(store, &[dir], &IngestOptions::default(), &NoProgress)
        .expect("ingest the second snapshot");
    let changed = report.snapshots.last().expect("a snapshot");
    let time = |options: &conform::scan::ScanOptions| {
        let started = Instant::now();
        let scan = conform::scan::scan(store, host, rules, changed.id, options).expect("scan");
        (started.elapsed().as_secs_f64(), scan)
    };
    let (incremental_secs, scan) = time(&options);
    println!(
        "incremental scan after {} added, {} modified, {} deleted (from scan {:?}): {} evaluated, {} reused in {:.3} s",
        changed.counts.added,
        changed.counts.modified,
        changed.counts.deleted,
        scan.base,
        scan.evaluated,
        scan.reused,
        incremental_secs
    );
    let (full_secs, scan) = time(&full(cores));
    println!(
        "full scan of the same snapshot: {} evaluated in {:.3} s; incremental is {:.1}x faster",
        scan.evaluated,
        full_secs,
        full_secs / incremental_secs
    );
    let db = store.path().to_path_buf();
    let size = || {
        let wal = db.with_extension("db-wal");
        common::file_size(&db) + common::file_size(&wal)
    };
    let before = size();
    let started = Instant::now();
    for _ in 0..100 {
        conform::scan::scan(store, host, rules, changed.id, &options).expect("rescan");
    }
    let after = size();
    println!(
        "100 incremental rescans of the unchanged snapshot in {:.2} s: the store grew from {:.1} MiB to {:.1} MiB (+{:.2}%)",
        started.elapsed().as_secs_f64(),
        common::mib(before),
        common::mib(after),
        (after as f64 / before as f64 - 1.0) * 100.0
    );
}

/// A full scan on `jobs` threads: what this benchmark has always measured, every item evaluated.
fn full(jobs: usize) -> conform::scan::ScanOptions {
    conform::scan::ScanOptions {
        jobs,
        mode: conform::store::ScanMode::Full,
    }
}
