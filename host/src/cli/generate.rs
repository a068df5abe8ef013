//! `conform generate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use conform::generate::{GenerateOptions, generate};

use super::exit;
use super::render::{Output, bytes, count};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Resources in the first snapshot.
    #[arg(long, default_value_t = 1000)]
    pub items: usize,
    /// Share of resources changed between snapshots: "1%" or "0.01".
    #[arg(long, default_value = "1%", value_parser = parse_share)]
    pub churn: f64,
    /// How many snapshots (rounds of deliveries, one per --interval-days) to write.
    #[arg(long, default_value_t = 1)]
    pub snapshots: usize,
    /// How many AWS accounts the estate spans.
    #[arg(long, default_value_t = 2)]
    pub accounts: usize,
    /// Days between snapshots.
    #[arg(long, default_value_t = 1)]
    pub interval_days: i64,
    /// Time of the first snapshot.
    #[arg(long, default_value = "2026-11-02T06:00:00Z", value_parser = super::ingest::parse_time)]
    pub start: jiff::Timestamp,
    /// Seed: the same seed writes the same estate.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write .json.gz files, as AWS Config delivers them.
    #[arg(long)]
    pub gzip: bool,
    /// How many AWS regions the estate spans (1 to 17).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=17))]
    pub regions: u8,
    /// Write every delivery into one AWSLogs/ tree under --out, as a synced S3 bucket, rather
    /// than a directory per snapshot.
    #[arg(long)]
    pub bucket: bool,
    /// Accounts deliver at different hours: account i, i mod (N+1) hours after the start.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub stagger_hours: u32,
    /// Share of deliveries that never arrive, after each scope's first: "2%" or "0.02".
    #[arg(long, default_value = "0", value_parser = parse_share)]
    pub missed: f64,
    /// Also write history files (ConfigHistory) with each change since the previous delivery.
    #[arg(long)]
    pub history: bool,
    /// Directory to write snapshot-0001/, snapshot-0002/, ... into.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_share(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (text, 1.0),
    };
    let value = number
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("'{text}': {e}"))?
        / scale;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!(
            "'{text}' is not a share between 0 and 1 (or 0% and 100%)"
        ));
    }
    Ok(value)
}

pub fn run(args: GenerateArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let options = GenerateOptions {
        items: args.items,
        churn: args.churn,
        snapshots: args.snapshots,
        accounts: args.accounts,
        seed: args.seed,
        start: args.start,
        interval: jiff::SignedDuration::from_hours(24 * args.interval_days),
        gzip: args.gzip,
        regions: args.regions.into(),
        bucket: args.bucket,
        stagger_hours: args.stagger_hours,
        missed: args.missed,
        history: args.history,
    };
    let generated = generate(&args.out, &options)?;
    out.emit(&generated, |w| {
        writeln!(
            w,
            "wrote {} in {} and {} ({} of JSON; {} missed) under {}",
            count(generated.items_written, "item"),
            count(generated.snapshot_files, "snapshot file"),
            count(generated.history_files, "history file"),
            bytes(generated.bytes_written),
            generated.missed_deliveries,
            args.out.display()
        )
    })?;
    Ok(exit::OK)
}
