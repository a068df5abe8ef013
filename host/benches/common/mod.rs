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
