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
    /// How many snapshots to write.
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
    };
    let generated = generate(&args.out, &options)?;
    out.emit(&generated, |w| {
        writeln!(
            w,
            "wrote {} in {} ({} of JSON) under {}",
            count(generated.items_written, "item"),
            count(generated.snapshot_dirs.len() as u64, "snapshot"),
            bytes(generated.bytes_written),
            args.out.display()
        )
    })?;
    Ok(exit::OK)
}
