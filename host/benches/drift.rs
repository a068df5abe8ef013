//! Drift, gate and timeline over a generated estate.
//!
//! `cargo bench -p conform --bench drift` (CONFORM_BENCH_ITEMS, default 100,000 resources;
//! CONFORM_BENCH_SNAPSHOTS, default 50, at 1% churn each). Reports:
//! - drift against a baseline: resources compared per second, one snapshot later (1% changed)
//!   and at the last snapshot (where changes have accumulated);
//! - the gate over a scanned snapshot, against a scanned baseline;
//! - the estate timeline over every snapshot, and one resource's timeline;
//! - peak resident memory.

use std::time::Instant;

use conform::drift::{DriftOptions, IgnoreRules, StateRef};
use conform::engine::{Limits, RuleHost, Severity};
use conform::gate::{FailOn, GateOptions, Waivers};
use conform::generate::{GenerateOptions, generate};
use conform::ingest::{IngestOptions, NoProgress};
use conform::model::SnapshotId;
use conform::store::{SnapshotSelector, Store};
use conform::timeline::Range;

mod common;
use common::{env, peak_rss_kib};

fn main() {
    let items = env("CONFORM_BENCH_ITEMS", 100_000);
    let snapshots = env("CONFORM_BENCH_SNAPSHOTS", 50);
    let work = common::work_dir("drift-bench");
    // CONFORM_BENCH_KEEP=1 keeps the store for the next run, which then skips the setup.
    let keep = std::env::var_os("CONFORM_BENCH_KEEP").is_some();
    let db = work.join("drift.db");
    let reuse = keep && db.exists();
    if !reuse {
        let _ = std::fs::remove_dir_all(&work);
    }
    std::fs::create_dir_all(&work).expect("work directory");
    let started = Instant::now();
    let mut store = Store::open(&db).expect("store");
    if !reuse {
        let generated = generate(
            &work.join("estate"),
            &GenerateOptions {
                items,
                snapshots,
                churn: 0.01,
                seed: 7,
                gzip: true,
                ..Default::default()
            },
        )
        .expect("generate");
        for dir in &generated.snapshot_dirs {
            conform::ingest(
                &mut store,
                std::slice::from_ref(dir),
                &IngestOptions::default(),
                &NoProgress,
            )
            .expect("ingest");
            // Each snapshot's files are no longer needed once stored.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let snapshots = store.snapshots().expect("snapshots").len();
    println!(
        "setup: {items} resources, {snapshots} snapshots at 1% churn, {} in {:.1} s",
        if reuse {
            "reused"
        } else {
            "generated and ingested"
        },
        started.elapsed().as_secs_f64()
    );
    // CONFORM_BENCH_ONLY=drift,scan,gate,timeline runs only those parts (gate needs scans).
    let only = std::env::var("CONFORM_BENCH_ONLY").unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let baseline = store
        .snapshot(SnapshotSelector::Id(SnapshotId(1)))
        .expect("snapshot 1");
    store.set_baseline("bench", baseline.id).expect("baseline");
    let ignore = IgnoreRules::new(&Default::default(), true).expect("defaults");

    for target in [2, snapshots as i64].into_iter().filter(|_| runs("drift")) {
        let after = store
            .snapshot(SnapshotSelector::Id(SnapshotId(target)))
            .expect("snapshot");
        for round in 0..3 {
            let started = Instant::now();
            let report = conform::drift::drift(
                &store,
                StateRef::new(&baseline, Some("bench")),
                StateRef::new(&after, None),
                &ignore,
                DriftOptions::default(),
            )
            .expect("drift");
            let secs = started.elapsed().as_secs_f64();
            let c = report.counts;
            println!(
                "drift 1 → {target} (round {round}): {} compared, {} drifted ({} added, {} removed, {} modified, {} only ignored) in {:.1} ms: {:.2} M resources compared/s",
                c.compared,
                c.drifted(),
                c.added,
                c.removed,
                c.modified,
                c.ignored_only,
                secs * 1e3,
                c.compared as f64 / secs / 1e6
            );
        }
    }

    let host = RuleHost::new(Limits::default()).expect("host");
    let (rules, _) = host.load_builtins(&|_| None).expect("built-ins");
    let rules: std::sync::Arc<[conform::engine::Rule]> = rules.into();
    let last = SnapshotId(snapshots as i64);
    for snapshot in [SnapshotId(1), SnapshotId(2), last]
        .into_iter()
        .filter(|_| runs("scan"))
    {
        let started = Instant::now();
        let scan = conform::scan::scan(&store, &host, &rules, snapshot, &Default::default())
            .expect("scan");
        println!(
            "scan of snapshot {snapshot}: {} items in {:.1} s",
            scan.items,
            started.elapsed().as_secs_f64()
        );
    }
    let today = "2026-11-21".parse().expect("date");
    for (judged, fail_on) in [
        (SnapshotId(2), vec![FailOn::NewNoncompliant]),
        (
            SnapshotId(2),
            vec![FailOn::NewNoncompliant, FailOn::Drift, FailOn::Error],
        ),
        (last, vec![FailOn::NewNoncompliant]),
        (
            last,
            vec![FailOn::NewNoncompliant, FailOn::Drift, FailOn::Error],
        ),
    ]
    .into_iter()
    .filter(|_| runs("gate"))
    {
        for round in 0..2 {
            let options = GateOptions {
                baseline: Some("bench".into()),
                snapshot: SnapshotSelector::Id(judged),
                fail_on: fail_on.iter().copied().collect(),
                min_severity: Severity::Informational,
                today,
            };
            let started = Instant::now();
            let report =
                conform::gate::gate(&store, &options, &Waivers::default(), &ignore).expect("gate");
            let gate_secs = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let mut sarif = Vec::new();
            conform::report::write_sarif(&report, "bench", &mut sarif).unwrap();
            let sarif_secs = started.elapsed().as_secs_f64();
            println!(
                "gate snapshot {judged} vs 1, {fail_on:?} (round {round}): {} evaluations, {} findings ({} failing) in {:.0} ms; SARIF ({:.1} MiB) in {:.0} ms",
                report.counts.evaluations,
                report.counts.findings,
                report.counts.failing,
                gate_secs * 1e3,
                sarif.len() as f64 / 1048576.0,
                sarif_secs * 1e3
            );
        }
    }

    let chosen = store.baseline("bench").expect("baseline");
    for round in (0..2).filter(|_| runs("timeline")) {
        let started = Instant::now();
        let entries =
            conform::timeline::estate_timeline(&store, &Range::default(), Some(&chosen), &ignore)
                .expect("timeline");
        println!(
            "estate timeline (round {round}): {} snapshots in {:.0} ms; drifted at the last: {}",
            entries.len(),
            started.elapsed().as_secs_f64() * 1e3,
            entries
                .last()
                .and_then(|e| e.drift)
                .map(|d| d.drifted())
                .unwrap_or(0)
        );
    }
    // A resource that changed over the snapshots: the first one drift found modified.
    let report = conform::drift::drift(
        &store,
        StateRef::new(&baseline, None),
        StateRef::new(&store.snapshot(SnapshotSelector::Id(last)).unwrap(), None),
        &IgnoreRules::none(),
        DriftOptions::default(),
    )
    .expect("drift");
    if let Some(r) = report
        .resources
        .iter()
        .find(|r| r.kind == conform::drift::DriftKind::Modified)
    {
        let name = format!("{}/{}", r.resource.resource_type, r.resource.resource_id);
        let started = Instant::now();
        let resource = store.resolve_resource(&name).expect("resource");
        let t = conform::timeline::resource_timeline(&store, resource, &Range::default(), &ignore)
            .expect("resource timeline");
        println!(
            "resource timeline of {name}: {} versions over {} snapshots in {:.0} ms",
            t.versions.len(),
            t.snapshots.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    println!(
        "peak resident memory: {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
}
