//! What the benchmarks share.

// Each bench uses part of this module.
#![allow(dead_code)]

/// Peak resident set size (VmHWM) of this process, from /proc.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Where a bench keeps its estate and store: `CONFORM_BENCH_DIR` if set (say, a tmpfs, to take
/// the disk out of the figures), else the target directory.
pub fn work_dir(name: &str) -> std::path::PathBuf {
    std::env::var_os("CONFORM_BENCH_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
            std::path::PathBuf::from,
        )
        .join(name)
}

/// CPU time (user + system) this process has used, every thread counted, from /proc: a
/// per-core throughput is work over CPU time, whatever the number of threads.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ is
    // 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The allocator the `conform` binary uses, so that the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs `f`, and how long it took in seconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = std::time::Instant::now();
    let value = f();
    (start.elapsed().as_secs_f64(), value)
}

pub fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Bytes of every file under `path`.
pub fn dir_size(path: &std::path::Path) -> u64 {
    walk(path).iter().map(|p| file_size(p)).sum()
}

/// Every file under `path`.
pub fn walk(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p))
        } else {
            files.push(p)
        }
    }
    files
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A count from the environment (`CONFORM_BENCH_ITEMS=20000`), else `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A generated estate of `items` resources (one snapshot) ingested into a store at `db` and
/// scanned by the built-in rules: where the daemon benches start. Returns the generated files
/// and how many evaluations the scan holds.
pub fn scanned_estate(
    work: &std::path::Path,
    db: &std::path::Path,
    items: usize,
    seed: u64,
) -> (conform::generate::Generated, u64) {
    use conform::engine::{Limits, RuleHost, RuleSelection, RuleSet};
    let generated = conform::generate::generate(
        &work.join("estate"),
        &conform::generate::GenerateOptions {
            items,
            snapshots: 1,
            seed,
            ..Default::default()
        },
    )
    .expect("generate");
    let mut store = conform::Store::open(db).expect("store");
    conform::ingest(
        &mut store,
        &generated.snapshot_dirs,
        &conform::IngestOptions::default(),
        &conform::ingest::NoProgress,
    )
    .expect("ingest");
    let host = RuleHost::new(Limits::default()).expect("host");
    let selection = RuleSelection {
        builtins: true,
        ..Default::default()
    };
    let set = RuleSet::load(&host, &selection).expect("built-ins");
    let snapshot = store
        .snapshot(conform::SnapshotSelector::Latest)
        .expect("a snapshot")
        .id;
    let report = conform::scan::scan(&store, &host, &set.rules, snapshot, &Default::default())
        .expect("scan");
    (generated, report.evaluated + report.reused)
}

/// A running `conform serve`, killed when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    pub port: u16,
    pub agent: ureq::Agent,
}

impl Daemon {
    /// Starts `conform --db DB serve --watch WATCH --listen 127.0.0.1:PORT ARGS...` on a free
    /// port, logging to `log`, and waits until it is ready.
    pub fn start(
        db: &std::path::Path,
        watch: &std::path::Path,
        args: &[&str],
        log: &std::path::Path,
    ) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_conform"))
            .arg("--db")
            .arg(db)
            .args(["serve", "--watch"])
            .arg(watch)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("conform serve");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        let daemon = Daemon { child, port, agent };
        let start = std::time::Instant::now();
        while daemon.get("/api/v1/health").is_none() {
            assert!(start.elapsed().as_secs() < 600, "never ready");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        daemon
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GET `path`: its JSON when it answers 200.
    pub fn get(&self, path: &str) -> Option<serde_json::Value> {
        let mut r = self.agent.get(self.url(path)).call().ok()?;
        if r.status() != 200 {
            return None;
        }
        serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
