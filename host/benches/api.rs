//! The `conform serve` API under load: p50 and p99 latency of the compliance summaries and of
//! paged evaluation queries, at a fixed request rate, over a store of about a million
//! evaluations.
//!
//! `cargo bench -p conform --bench api` (needs `oha`: `cargo install oha`). CONFORM_BENCH_ITEMS
//! (default 730,000 resources, which the built-in rules turn into about 1M evaluations),
//! CONFORM_BENCH_RATE (requests per second, default 200), CONFORM_BENCH_SECONDS (per endpoint,
//! default 20), CONFORM_BENCH_DIR (where the files go). The real `conform serve` binary answers
//! on 127.0.0.1; oha keeps the rate and corrects for coordinated omission.

use std::process::Command;
use std::time::Instant;

use serde_json::Value;

mod common;

fn main() {
    if Command::new("oha").arg("--version").output().is_err() {
        println!("oha is not installed (cargo install oha): nothing measured");
        return;
    }
    let items = common::env_usize("CONFORM_BENCH_ITEMS", 730_000);
    let rate = common::env_usize("CONFORM_BENCH_RATE", 200);
    let seconds = common::env_usize("CONFORM_BENCH_SECONDS", 20);
    let work = common::work_dir("api-bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let db = work.join("api.db");
    let (setup, (_, evaluations)) = common::timed(|| {
        let built = common::scanned_estate(&work, &db, items, 9);
        let _ = std::fs::remove_dir_all(work.join("estate"));
        built
    });
    println!("store: {items} resources, {evaluations} evaluations, built in {setup:.0} s");

    let watch = work.join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let start = Instant::now();
    let daemon = common::Daemon::start(&db, &watch, &[], &work.join("serve.log"));
    let (pid, base) = (daemon.child.id(), daemon.url(""));
    // The first summary request waits for the one computed when the daemon got ready.
    let (warm, _) = common::timed(|| daemon.get("/api/v1/compliance?by=resource_type"));
    println!(
        "ready after {:.1} s; first summary answered {warm:.2} s later",
        start.elapsed().as_secs_f64() - warm
    );

    // A cursor 100,000 evaluations deep, for a page in the middle.
    let mut after = String::new();
    for _ in 0..100 {
        let page = daemon
            .get(&format!("/api/v1/evaluations?limit=1000{after}"))
            .unwrap();
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    let endpoints = [
        ("summary by rule", "/api/v1/compliance?by=rule".to_string()),
        (
            "summary by account",
            "/api/v1/compliance?by=account".to_string(),
        ),
        (
            "summary by resource type",
            "/api/v1/compliance?by=resource_type".to_string(),
        ),
        (
            "evaluations, first page of 100",
            "/api/v1/evaluations?limit=100".to_string(),
        ),
        (
            "evaluations, a page 100k deep",
            format!("/api/v1/evaluations?limit=100{after}"),
        ),
        (
            "NON_COMPLIANT evaluations of one type",
            "/api/v1/evaluations?limit=100&compliance=NON_COMPLIANT&resource_type=AWS::S3::Bucket"
                .to_string(),
        ),
    ];
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>9}",
        "endpoint", "p50 ms", "p99 ms", "max ms", "success"
    );
    for (name, path) in endpoints {
        let out = Command::new("oha")
            .args([
                "-z",
                &format!("{seconds}s"),
                "-q",
                &rate.to_string(),
                "--latency-correction",
            ])
            .args(["--no-tui", "--output-format", "json"])
            .arg(format!("{base}{path}"))
            .output()
            .expect("oha runs");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("oha output: {e}: {}", String::from_utf8_lossy(&out.stderr))
        });
        let ms = |p: &str| v["latencyPercentiles"][p].as_f64().unwrap_or(f64::NAN) * 1000.0;
        println!(
            "{name:<40} {:>8.1} {:>8.1} {:>8.1} {:>8.1}%",
            ms("p50"),
            ms("p99"),
            v["summary"]["slowest"].as_f64().unwrap_or(f64::NAN) * 1000.0,
            v["summary"]["successRate"].as_f64().unwrap_or(0.0) * 100.0
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |f: &str| {
        status
            .lines()
            .find(|l| l.starts_with(f))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    println!(
        "target: p99 < 50 ms at {rate} requests/s. daemon VmHWM {} MiB, RssAnon {} MiB",
        field("VmHWM:"),
        field("RssAnon:")
    );
}
