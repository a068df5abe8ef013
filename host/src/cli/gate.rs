//! `conform gate`: exit 0 if the snapshot passes, 1 if findings fail it, 2 if the tool failed.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use conform::config::Config;
use conform::engine::Severity;
use conform::gate::{self, FailOn, GateOptions, GateReport, Waivers};
use conform::report::markdown::state_name;
use conform::store::SnapshotSelector;

use super::read::open_to_read;
use super::render::{Output, count, style, t};
use super::{Format, exit};

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The baseline findings and drift are judged against; default: the only one.
    #[arg(long, env = "CONFORM_BASELINE")]
    pub baseline: Option<String>,
    /// The snapshot judged (scanned first if it has no scan): an id or "latest".
    #[arg(long, default_value = "latest")]
    pub snapshot: SnapshotSelector,
    /// What fails the gate, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "new-noncompliant"
    )]
    pub fail_on: Vec<FailOnArg>,
    /// Findings of rules below this severity never fail the gate (they are still reported).
    #[arg(long, value_enum, default_value = "informational")]
    pub min_severity: SeverityArg,
    /// Accepted findings: a YAML or TOML file of rule, resource, justification, expires.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Write the report (in --format) to FILE; stdout then gets the text summary.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Judge waiver expiry as of this day (YYYY-MM-DD); default: today (UTC).
    #[arg(long, value_name = "DATE")]
    pub today: Option<jiff::civil::Date>,
    /// The rules judged: a snapshot (or baseline) not scanned by them is scanned first,
    /// incrementally. Without rule flags, any scan it has counts, and one missing is made with
    /// the built-ins.
    #[command(flatten)]
    pub rules: super::rules::RuleArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Any resource drifted from the baseline.
    Drift,
    /// Any non-compliant evaluation.
    Noncompliant,
    /// Non-compliant now, but compliant or absent in the baseline.
    NewNoncompliant,
    /// Any rule that failed to evaluate (ERROR).
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl From<FailOnArg> for FailOn {
    fn from(a: FailOnArg) -> FailOn {
        match a {
            FailOnArg::Drift => FailOn::Drift,
            FailOnArg::Noncompliant => FailOn::Noncompliant,
            FailOnArg::NewNoncompliant => FailOn::NewNoncompliant,
            FailOnArg::Error => FailOn::Error,
        }
    }
}

impl From<SeverityArg> for Severity {
    fn from(a: SeverityArg) -> Severity {
        match a {
            SeverityArg::Informational => Severity::Informational,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

pub fn run(
    db: &Path,
    config: Option<&Path>,
    args: GateArgs,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    out.accept(
        "gate",
        &[
            Format::Text,
            Format::Json,
            Format::Markdown,
            Format::Sarif,
            Format::Junit,
        ],
    )?;
    let config = Config::load(config)?;
    let waivers = match &args.waivers {
        Some(path) => Waivers::load(path)?,
        None => Waivers::default(),
    };
    let judged = {
        let store = open_to_read(db)?;
        let mut judged = Vec::new();
        let fail_on: Vec<FailOn> = args.fail_on.iter().map(|f| FailOn::from(*f)).collect();
        if fail_on.iter().any(|f| *f != FailOn::Drift) {
            judged.push(store.snapshot(args.snapshot)?.id);
        }
        if fail_on.contains(&FailOn::NewNoncompliant)
            && let Ok(b) = store.choose_baseline(args.baseline.as_deref())
        {
            judged.push(b.snapshot.id);
        }
        judged
    };
    super::rules::ensure_scanned(db, &judged, &args.rules, true)?;
    let store = open_to_read(db)?;
    let today = args.today.unwrap_or_else(|| {
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
    });
    let options = GateOptions {
        baseline: args.baseline.clone(),
        snapshot: args.snapshot,
        fail_on: args
            .fail_on
            .iter()
            .map(|f| FailOn::from(*f))
            .collect::<BTreeSet<_>>(),
        min_severity: args.min_severity.into(),
        today,
    };
    let report = gate::gate(&store, &options, &waivers, &config.ignore)?;

    // The verdict is settled before anything is written: what happens to the output (a
    // closed pipe, a full disk) never turns a failing gate into a passing one.
    let verdict = if report.passed { 0 } else { exit::FINDINGS };
    exit::settle(verdict, write(&report, &store, &args, out))
}

/// Writes the report where `--output` and `--format` say, streamed: a million-resource
/// estate's SARIF log runs to hundreds of megabytes, which are never held whole.
fn write(
    report: &GateReport,
    store: &conform::store::Store,
    args: &GateArgs,
    out: &Output,
) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => {
            // Written beside the file and renamed into place, so a report is there whole or
            // not at all.
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let partial = path.with_file_name(format!(".{name}.partial"));
            let written = std::fs::File::create(&partial).and_then(|file| {
                let mut file = std::io::BufWriter::new(file);
                render(report, store, out.format, &mut file).map_err(std::io::Error::other)?;
                file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&partial, path)
            });
            if let Err(e) = written {
                let _ = std::fs::remove_file(&partial);
                anyhow::bail!("cannot write {}: {e}", path.display());
            }
            let mut stdout = anstream::stdout().lock();
            text(report, &mut stdout, 10)?;
            writeln!(stdout, "report written to {}", path.display())?;
            stdout.flush()?;
        }
        None if out.format == Format::Text => {
            let mut stdout = anstream::stdout().lock();
            text(report, &mut stdout, usize::MAX)?;
            stdout.flush()?;
        }
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            render(report, store, out.format, &mut stdout)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// JUnit reads the scan's evaluations from `store` as it writes (one case each).
fn render(
    report: &GateReport,
    store: &conform::store::Store,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            out.write_all(b"\n")?;
        }
        Format::Sarif => {
            conform::report::write_sarif(report, env!("CARGO_PKG_VERSION"), &mut *out)?;
            out.write_all(b"\n")?;
        }
        Format::Junit => conform::report::junit::write(report, store, out)?,
        Format::Markdown => conform::report::gate_markdown(report, out)?,
        _ => text(report, out, usize::MAX)?,
    }
    Ok(())
}

/// For people: the verdict, the counts, then up to `limit` failing findings.
fn text(report: &GateReport, w: &mut dyn Write, limit: usize) -> std::io::Result<()> {
    let c = &report.counts;
    let (b, d) = (style::BOLD, style::DIM);
    let fail_on = gate::fail_on_names(&report.fail_on);
    if report.passed {
        let ok = style::ADDED;
        writeln!(w, "{ok}{b}gate passed{b:#}{ok:#} (fails on: {})", fail_on)?;
    } else {
        let bad = style::REMOVED;
        writeln!(
            w,
            "{bad}{b}gate FAILED{b:#}{bad:#}: {} fail it (fails on: {})",
            count(c.failing, "finding"),
            fail_on
        )?;
    }
    write!(w, "  {}", t(&state_name(&report.snapshot)))?;
    if let Some(baseline) = &report.baseline {
        write!(w, "; against {}", t(&state_name(baseline)))?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "  {}: {} non-compliant ({} new), {}; {}; {} waived{}",
        count(c.evaluations, "evaluation"),
        c.noncompliant,
        c.new_noncompliant,
        count(c.errors, "error"),
        match report.drift {
            Some(_) => format!("{} drifted", count(c.drifted, "resource")),
            None => "drift not judged (--fail-on drift)".to_string(),
        },
        c.waived,
        if c.expired_waivers > 0 {
            format!(", {} with an expired waiver", c.expired_waivers)
        } else {
            String::new()
        }
    )?;
    for f in report.findings.iter().filter(|f| f.fails).take(limit) {
        let severity = serde_json::to_value(f.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let r = style::REMOVED;
        writeln!(
            w,
            "{r}FAIL{r:#} {:<40} {severity:<8} {}/{} {d}({} {}){d:#}{}",
            t(&f.rule_id),
            t(&f.resource.resource_type),
            t(&f.resource.resource_id),
            t(&f.resource.account_id),
            t(&f.resource.region),
            if f.new { "" } else { " (also in baseline)" }
        )?;
        writeln!(
            w,
            "       {}",
            t(if f.message.is_empty() {
                f.kind_text()
            } else {
                &f.message
            })
        )?;
        if f.waiver.as_ref().is_some_and(|w| w.expired) {
            let wv = f.waiver.as_ref().expect("checked");
            writeln!(
                w,
                "       waiver {} expired {}",
                wv.waiver,
                t(wv.expires.as_deref().unwrap_or("?"))
            )?;
        }
    }
    if c.failing as usize > limit {
        writeln!(w, "  … and {} more failing", c.failing as usize - limit)?;
    }
    for f in report.findings.iter().filter(|f| f.is_waived()).take(limit) {
        let wv = f.waiver.as_ref().expect("waived");
        writeln!(
            w,
            "{d}waived{d:#} {:<38} {}/{}: {}{}",
            t(&f.rule_id),
            t(&f.resource.resource_type),
            t(&f.resource.resource_id),
            t(&wv.justification),
            wv.expires
                .as_deref()
                .map(|e| format!(" (until {})", t(e)))
                .unwrap_or_default()
        )?;
    }
    for s in report.waivers.iter().filter(|s| s.matched == 0) {
        writeln!(
            w,
            "{d}note: waiver {} ({} on {}) matched no finding; it may be stale{d:#}",
            s.waiver.number,
            t(&s.waiver.rule),
            t(&s.waiver.resource)
        )?;
    }
    Ok(())
}
