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
