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
