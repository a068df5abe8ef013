//! `conform serve` end to end: how long a delivery takes to become notifications that have
//! left the webhook sink.
//!
//! `cargo bench -p conform --bench serve` (CONFORM_BENCH_ITEMS, default 100,000; CONFORM_BENCH_DIR
//! for where the files go; CONFORM_BENCH_DELIVERIES, default 20; CONFORM_BENCH_CHANGED, default
//! 1,000). A generated estate is ingested and scanned, then the real `conform serve` binary
//! watches a directory with a webhook on 127.0.0.1; each delivery is a file of CHANGED items
//! of the estate (every one modified: a tag, and volumes' encryption flipped), renamed into the
//! watched directory. The latency is from the rename to the arrival at the webhook of the
//! delivery's last notification; the figure is the median over the deliveries.
//!
//! With CONFORM_BENCH_SOAK_SECONDS=N it then keeps delivering every 5 s for N seconds and
//! prints the daemon's RSS after each delivery (the soak), checking that every notification
//! arrived.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conform::store::Store;
use serde_json::Value;

mod common;

/// What the webhook got: arrival time and the snapshot the message is about.
type Arrivals = Arc<Mutex<Vec<(Instant, i64, String)>>>;

fn webhook() -> (String, Arrivals, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
    let port = server.server_addr().to_ip().unwrap().port();
    let got: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let (s, g) = (server.clone(), got.clone());
    std::thread::spawn(move || {
        for mut request in s.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let at = Instant::now();
            let v: Value = serde_json::from_str(&body).unwrap();
            let m = &v["Message"];
            let snapshot = m["conform"]["snapshot"]
                .as_i64()
                .or_else(|| m["snapshot"].as_i64())
                .unwrap_or(-1);
            let id = v["MessageId"].as_str().unwrap_or_default().to_string();
            g.lock().unwrap().push((at, snapshot, id));
            let _ = request.respond(tiny_http::Response::empty(200));
        }
    });
    (format!("http://127.0.0.1:{port}/hook"), got, server)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Items of the generated first snapshot, from its files.
fn items_of(dir: &Path) -> Vec<Value> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut items = Vec::new();
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        if let Value::Array(a) = v["configurationItems"].clone() {
            items.extend(a);
        }
    }
    items
}

/// Delivery `k`: items `k*changed ..` modified, captured `k + 1` hours after the estate.
fn delivery(items: &[Value], k: usize, changed: usize) -> Value {
    let n = items.len();
    let chosen: Vec<Value> = (0..changed)
        .map(|i| {
            let mut item = items[(k * changed + i) % n].clone();
            item["tags"]["bench-delivery"] = Value::String(k.to_string());
            // Each pass over the estate flips encryption one way, the next back again, so
            // every delivery changes compliance.
            let round = (k * changed + i) / n;
            if item["resourceType"] == "AWS::EC2::Volume" {
                let e = item["configuration"]["encrypted"]
                    .as_bool()
                    .unwrap_or(false);
                item["configuration"]["encrypted"] = Value::Bool(e ^ round.is_multiple_of(2));
            }
            let base: jiff::Timestamp = "2026-11-02T06:00:00Z".parse().unwrap();
            let t = base + jiff::SignedDuration::from_hours(k as i64 + 1);
            item["configurationItemCaptureTime"] = Value::String(t.to_string());
            item["configurationItemStatus"] = Value::String("OK".into());
            item
        })
        .collect();
    serde_json::json!({ "configurationItems": chosen })
}

fn main() {
    let items = common::env_usize("CONFORM_BENCH_ITEMS", 100_000);
    let deliveries = common::env_usize("CONFORM_BENCH_DELIVERIES", 20);
    let changed = common::env_usize("CONFORM_BENCH_CHANGED", 1000);
    let soak = common::env_usize("CONFORM_BENCH_SOAK_SECONDS", 0);
    let work = common::work_dir("serve-bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let db = work.join("serve.db");

    let (setup, estate) = common::timed(|| {
        let (generated, _) = common::scanned_estate(&work, &db, items, 5);
        items_of(&generated.snapshot_dirs[0])
    });
    println!(
        "estate: {} items ingested and scanned in {setup:.1} s",
        estate.len()
    );

    let watch = work.join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let (url, arrivals, _server) = webhook();
    let start = Instant::now();
    let daemon = common::Daemon::start(
        &db,
        &watch,
        &["--partial", "--webhook", &url],
        &work.join("serve.log"),
    );
    let pid = daemon.child.id();
    println!("daemon ready in {:.2} s", start.elapsed().as_secs_f64());

    let staging = work.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    // Waits until snapshot `snapshot` is scanned and the outbox is empty.
    let settle = |snapshot: i64| {
        let start = Instant::now();
        loop {
            if let Some(h) = daemon.get("/api/v1/health") {
                let backlog: u64 = h["store"]["outbox_backlog"]
                    .as_object()
                    .map(|m| m.values().filter_map(Value::as_u64).sum())
                    .unwrap_or(0);
                if h["last_run"]["snapshot"] == snapshot && backlog == 0 {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "snapshot {snapshot} never settled"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let deliver = |k: usize| -> (f64, usize) {
        let file = staging.join(format!("delivery-{k:04}.json"));
        std::fs::write(&file, delivery(&estate, k, changed).to_string()).unwrap();
        let t0 = Instant::now();
        std::fs::rename(&file, watch.join(file.file_name().unwrap())).unwrap();
        let snapshot = k as i64 + 2;
        settle(snapshot);
        let got = arrivals.lock().unwrap();
        let mine: Vec<Instant> = got
            .iter()
            .filter(|(_, s, _)| *s == snapshot)
            .map(|(t, _, _)| *t)
            .collect();
        let last = mine.iter().max().copied().unwrap_or(t0);
        ((last - t0).as_secs_f64(), mine.len())
    };

    let mut latencies = Vec::new();
    for k in 0..deliveries {
        let (seconds, messages) = deliver(k);
        println!(
            "delivery {k:>3}: {changed} items changed, {messages} notifications, last left the sink after {:.0} ms",
            seconds * 1000.0
        );
        latencies.push(seconds);
    }
    latencies.sort_by(f64::total_cmp);
    let median = latencies[latencies.len() / 2];
    println!(
        "latency over {deliveries} deliveries of {changed} changed items into a {items}-item estate: median {:.0} ms, max {:.0} ms (target < 1000 ms median)",
        median * 1000.0,
        latencies.last().unwrap() * 1000.0
    );
    println!(
        "daemon RSS {} MiB (RssAnon {} MiB)",
        rss_kib(pid, "VmRSS:") / 1024,
        rss_kib(pid, "RssAnon:") / 1024
    );

    if soak > 0 {
        println!("soak: a delivery every 5 s for {soak} s");
        let started = Instant::now();
        let mut k = deliveries;
        let mut curve = Vec::new();
        while started.elapsed() < Duration::from_secs(soak as u64) {
            let tick = Instant::now();
            let (seconds, messages) = deliver(k);
            let anon = rss_kib(pid, "RssAnon:");
            curve.push((started.elapsed().as_secs(), anon));
            println!(
                "soak t={:>4} s delivery {k}: {messages} notifications in {:.0} ms, RssAnon {} MiB",
                started.elapsed().as_secs(),
                seconds * 1000.0,
                anon / 1024
            );
            k += 1;
            if let Some(rest) = Duration::from_secs(5).checked_sub(tick.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        let ids: BTreeMap<String, usize> =
            arrivals
                .lock()
                .unwrap()
                .iter()
                .fold(BTreeMap::new(), |mut m, (_, _, id)| {
                    *m.entry(id.clone()).or_default() += 1;
                    m
                });
        let store = Store::open_read_only(&db).unwrap();
        let queued = store.outbox_end().unwrap();
        println!(
            "soak: {} deliveries; {} messages queued, {} distinct ids received, {} received twice",
            k - deliveries,
            queued,
            ids.len(),
            ids.values().filter(|n| **n > 1).count()
        );
        let first = curve.first().map_or(0, |c| c.1);
        let last = curve.last().map_or(0, |c| c.1);
        let peak = curve.iter().map(|c| c.1).max().unwrap_or(0);
        println!(
            "soak RssAnon: first {} MiB, last {} MiB, peak {} MiB",
            first / 1024,
            last / 1024,
            peak / 1024
        );
        assert_eq!(ids.len() as i64, queued, "every queued message arrived");
    }
}
