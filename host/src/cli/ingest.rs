//! `conform ingest`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use conform::ingest::delivery::Grouping;
use conform::ingest::{IngestError, IngestOptions, IngestReport, Progress};
use conform::store::Store;

use super::render::{Output, count};
use super::{Format, exit};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Snapshot files, history files, notifications, item arrays or NDJSON (plain or .gz), or
    /// directories of them (an S3 AWSLogs/ sync). The form is detected from content.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub inputs: Vec<PathBuf>,

    /// Apply the items as changes: resources they do not name keep their state. History files
    /// and change notifications are always partial.
    #[arg(long)]
    pub partial: bool,

    /// When a resource appears twice in one snapshot, keep the later capture (else an error).
    #[arg(long)]
    pub latest_wins: bool,

    /// Store the valid items and report the invalid ones, instead of storing nothing.
    #[arg(long)]
    pub skip_invalid: bool,

    /// Make each FILE_OR_DIR its own ingest, in the order given (each in its own transaction).
    #[arg(long)]
    pub each: bool,

    /// How AWS Config deliveries (files named ACCOUNT_Config_REGION_ConfigSnapshot_TIME_…)
    /// become snapshots: one per delivery period (the frequency the recorders deliver at,
    /// found from the files' times), per file, per hour or per day. Each is a full snapshot of
    /// the accounts and regions it delivered.
    #[arg(long, value_enum, default_value_t = GroupArg::Period)]
    pub group: GroupArg,

    /// Read files the store already holds again (by path, size and time, or by content), as
    /// new snapshots. Without it they are skipped, so that re-running on a synced bucket
    /// ingests only what is new.
    #[arg(long)]
    pub again: bool,

    /// Where files without an AWS delivery name are complete: ACCOUNT, ACCOUNT/REGION or *
    /// (the whole estate). Default: the accounts and regions their items name. Resources
    /// outside it are untouched; items outside it are refused.
    #[arg(long, value_name = "ACCOUNT[/REGION]")]
    pub scope: Option<conform::model::Scope>,

    /// When the snapshot was taken (RFC 3339, or a date); default: its latest capture time.
    #[arg(long, value_parser = parse_time)]
    pub taken_at: Option<jiff::Timestamp>,

    /// A label for the snapshot; default: the AWS snapshot id, or the input's name.
    #[arg(long)]
    pub label: Option<String>,

    /// A directory of JSON Schemas for `configuration`, one per resource type, named like
    /// AWS_EC2_Volume.json for AWS::EC2::Volume.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GroupArg {
    Period,
    File,
    Hour,
    Day,
}

impl From<GroupArg> for Grouping {
    fn from(g: GroupArg) -> Grouping {
        match g {
            GroupArg::Period => Grouping::Period,
            GroupArg::File => Grouping::File,
            GroupArg::Hour => Grouping::Hour,
            GroupArg::Day => Grouping::Day,
        }
    }
}

/// How large inputs may be (sizes in bytes, or with K, M, G: binary multiples).
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Largest item.
    #[arg(long, default_value = "32M", value_name = "SIZE", value_parser = parse_size)]
    pub max_item_bytes: u64,
    /// Largest file, after decompression.
    #[arg(long, default_value = "4G", value_name = "SIZE", value_parser = parse_size)]
    pub max_file_bytes: u64,
    /// Largest expansion of a .gz, in decompressed bytes per compressed byte (judged past 16 MiB).
    #[arg(long, default_value_t = 100, value_name = "RATIO",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_gzip_ratio: u64,
}

impl LimitArgs {
    pub fn limits(&self) -> conform::ingest::InputLimits {
        conform::ingest::InputLimits {
            max_item_bytes: self.max_item_bytes,
            max_file_bytes: self.max_file_bytes,
            max_gzip_ratio: self.max_gzip_ratio,
        }
    }
}

/// "1048576", "64K", "32M", "4G" (binary multiples; a trailing "iB" or "B" is allowed).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        Some((i, 'T' | 't')) => (&t[..i], 40),
        _ => (t, 0),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => n
            .checked_mul(1 << shift)
            .ok_or_else(|| format!("'{text}' is too large")),
        _ => Err(format!(
            "'{text}' is not a size greater than 0 (such as 1048576, 64K, 32M, 4G)"
        )),
    }
}

pub fn parse_time(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::Date>()
        .map_err(|e| format!("'{text}' is neither an RFC 3339 time nor a date: {e}"))?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn file(&self, path: &Path) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        self.0.set_message(name);
    }
    fn items(&self, read: u64) {
        self.0.set_position(read);
    }
}

pub fn run(db: &Path, args: IngestArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(db)?;
    let options = IngestOptions {
        partial: args.partial,
        latest_wins: args.latest_wins,
        skip_invalid: args.skip_invalid,
        taken_at: args.taken_at,
        label: args.label,
        type_schemas: args.schemas,
        role: Default::default(),
        limits: args.limits.limits(),
        scope: args.scope,
        grouping: args.group.into(),
        again: args.again,
    };
    let batches: Vec<Vec<PathBuf>> = if args.each {
        args.inputs.into_iter().map(|p| vec![p]).collect()
    } else {
        vec![args.inputs]
    };
    let mut reports = Vec::new();
    for inputs in &batches {
        let bar = Bar(out.progress());
        let result = conform::ingest(&mut store, inputs, &options, &bar);
        bar.0.finish_and_clear();
        match result {
            Ok(report) => {
                if out.format == Format::Text {
                    print_report(&report)?;
                }
                reports.push(report);
            }
            Err(error) => return fail(error, &reports, out),
        }
    }
    if out.format == Format::Json {
        if args.each {
            out.emit(&reports, |_| Ok(()))?;
        } else {
            out.emit(&reports[0], |_| Ok(()))?;
        }
    }
    Ok(exit::OK)
}

/// Reports a failed ingest; with `--format json` the problems go to stdout as data.
fn fail(error: IngestError, done: &[IngestReport], out: &Output) -> anyhow::Result<ExitCode> {
    if out.format == Format::Json {
        let problems = match &error {
            IngestError::Invalid { problems } => problems.clone(),
            _ => Vec::new(),
        };
        let value = serde_json::json!({
            "error": error.to_string().lines().next().unwrap_or_default(),
            "problems": problems,
            "stored": done,
        });
        // The ingest failed whatever happens to this output: exit 2 even if stdout is closed.
        let _ = out.emit(&value, |_| Ok(()));
    }
    Err(error).context("ingest failed")
}

fn print_report(report: &IngestReport) -> std::io::Result<()> {
    let mut stdout = anstream::stdout().lock();
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    if !report.already_stored.is_empty() {
        writeln!(
            stdout,
            "{} already stored, {} new{}",
            count(report.already_stored.len() as u64, "file"),
            report.new_deliveries,
            if report.new_deliveries == 0 {
                ": nothing to do"
            } else {
                ""
            }
        )?;
    }
    if report.snapshots.is_empty() && report.new_deliveries > 0 {
        return writeln!(
            stdout,
            "nothing stored: the input holds no configuration item"
        );
    }
    for s in &report.snapshots {
        let c = &s.counts;
        writeln!(
            stdout,
            "snapshot {} ({}, taken {}, {}): {} read from {} — {} added, {} modified, {} deleted, {} unchanged; {} live",
            s.id,
            s.kind.as_str(),
            s.taken_at,
            super::render::scopes(&s.scopes),
            count(c.items, "item"),
            count(s.sources.len() as u64, "file"),
            c.added,
            c.modified,
            c.deleted,
            c.unchanged,
            count(c.live, "resource"),
        )?;
    }
    if !report.skipped.is_empty() {
        writeln!(
            stdout,
            "skipped (--skip-invalid): {}",
            count(report.skipped.len() as u64, "problem")
        )?;
        for p in &report.skipped {
            writeln!(stdout, "  {p}")?;
        }
    }
    Ok(())
}
