//! `conform timeline [RESOURCE]` and `conform compliance-changes`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use conform::config::Config;
use conform::store::{SnapshotSelector, StoreError};
use conform::timeline::{self, ComplianceChanges, Range, ResourceTimeline, TimelineEntry};

use super::ingest::parse_time;
use super::read::open_to_read;
use super::render::{Output, short_json, style, t};
use super::{Format, exit};

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// One resource (id, TYPE/ID or ARN): its versions, what changed in each, and its
    /// compliance per rule in each snapshot. Without it, the whole estate.
    pub resource: Option<String>,
    /// Only snapshots taken at or after this time (RFC 3339 or a date).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<jiff::Timestamp>,
    /// Only snapshots taken at or before this time (a date means its start).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<jiff::Timestamp>,
    /// The baseline drift is counted against; default: the only one (none: no drift column).
    #[arg(long, env = "CONFORM_BASELINE")]
    pub baseline: Option<String>,
    /// The rules whose compliance is shown: a snapshot in range not scanned by them is
    /// scanned first, incrementally (without rule flags: any scan, or the built-ins).
    #[command(flatten)]
    pub rules: super::rules::RuleArgs,
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// The snapshot whose latest scan is compared with the previous snapshot's (each scanned
    /// first if it has no scan, or none by the rules given).
    #[arg(long, default_value = "latest")]
    pub snapshot: SnapshotSelector,
    #[command(flatten)]
    pub rules: super::rules::RuleArgs,
}

/// The observed snapshots `range` holds, oldest first.
fn observed_in(db: &Path, range: &Range) -> anyhow::Result<Vec<conform::SnapshotId>> {
    Ok(open_to_read(db)?
        .snapshots()?
        .into_iter()
        .filter(|s| s.role == conform::store::SnapshotRole::Observed && range.holds(s))
        .map(|s| s.id)
        .collect())
}

pub fn timeline(
    db: &Path,
    config: Option<&Path>,
    args: TimelineArgs,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    out.accept("timeline", &[Format::Text, Format::Json, Format::Markdown])?;
    let config = Config::load(config)?;
    let store = open_to_read(db)?;
    let range = Range {
        since: args.since,
        until: args.until,
    };
    if let Some(name) = &args.resource {
        let resource = store.resolve_resource(name)?;
        let t = timeline::resource_timeline(&store, resource, &range, &config.ignore)?;
        out.emit(&t, |w| resource_text(&t, w))?;
        return Ok(exit::OK);
    }
    drop(store);
    super::rules::ensure_scanned(db, &observed_in(db, &range)?, &args.rules, false)?;
    let store = open_to_read(db)?;
    let baseline = match store.choose_baseline(args.baseline.as_deref()) {
        Ok(b) => Some(b),
        Err(StoreError::NoBaseline) if args.baseline.is_none() => None,
        Err(e) => return Err(e.into()),
    };
    let entries = timeline::estate_timeline(&store, &range, baseline.as_ref(), &config.ignore)?;
    let value = serde_json::json!({
        "baseline": baseline.as_ref().map(|b| &b.name),
        "snapshots": entries,
    });
    let baseline_name = baseline.as_ref().map(|b| b.name.as_str());
    match out.format {
        Format::Markdown => out.emit(&value, |w| estate_markdown(&entries, baseline_name, w))?,
        _ => out.emit(&value, |w| estate_text(&entries, baseline_name, w))?,
    }
    Ok(exit::OK)
}

/// Rule ids across entries, in order.
fn rule_ids(entries: &[TimelineEntry]) -> Vec<String> {
    let mut ids: Vec<String> = entries
        .iter()
        .flat_map(|e| e.compliance.iter().map(|c| c.rule_id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn estate_text(
    entries: &[TimelineEntry],
    baseline: Option<&str>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let (b, d) = (style::BOLD, style::DIM);
    if entries.is_empty() {
        return writeln!(w, "no snapshots in range");
    }
    writeln!(
        w,
        "{b}{:>4}  {:<20}  {:>6}  {:>6}  {:>6}  {:>6}  {:>9}  {:>13}{b:#}",
        "snap", "taken at", "live", "+", "~", "-", "drifted", "non-compliant"
    )?;
    for e in entries {
        let drifted = e
            .drift
            .map(|c| c.drifted().to_string())
            .unwrap_or_else(|| "-".to_string());
        let non_compliant = if e.scan.is_some() {
            e.compliance
                .iter()
                .map(|c| c.non_compliant)
                .sum::<u64>()
                .to_string()
        } else {
            "not scanned".to_string()
        };
        writeln!(
            w,
            "{:>4}  {:<20}  {:>6}  {:>6}  {:>6}  {:>6}  {:>9}  {:>13}",
            e.snapshot.snapshot.0,
            e.snapshot
                .taken_at
                .get(..19)
                .unwrap_or(&e.snapshot.taken_at),
            e.live,
            e.added,
            e.modified,
            e.deleted,
            drifted,
            non_compliant
        )?;
    }
    match baseline {
        Some(name) => writeln!(
            w,
            "{d}drifted: resources that differ from baseline '{}'{d:#}",
            t(name)
        )?,
        None => writeln!(
            w,
            "{d}no baseline: set one with `conform baseline set` to count drift{d:#}"
        )?,
    }
    let rules = rule_ids(entries);
    if rules.is_empty() {
        return Ok(());
    }
    writeln!(w, "\n{b}non-compliant per rule{b:#}")?;
    write!(w, "{:<42}", "rule")?;
    for e in entries {
        write!(w, " {:>6}", format!("#{}", e.snapshot.snapshot.0))?;
    }
    writeln!(w)?;
    for rule in &rules {
        write!(w, "{rule:<42}")?;
        for e in entries {
            let cell = match (&e.scan, e.compliance.iter().find(|c| &c.rule_id == rule)) {
                (None, _) => "-".to_string(),
                (Some(_), None) => "·".to_string(),
                (Some(_), Some(c)) if c.error > 0 => format!("{}!{}", c.non_compliant, c.error),
                (Some(_), Some(c)) => c.non_compliant.to_string(),
            };
            write!(w, " {cell:>6}")?;
        }
        writeln!(w)?;
    }
    writeln!(
        w,
        "{d}(n!e: n non-compliant and e errors; -: not scanned; ·: rule not run){d:#}"
    )
}

fn estate_markdown(
    entries: &[TimelineEntry],
    baseline: Option<&str>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(w, "### Estate timeline\n")?;
    let rules = rule_ids(entries);
    write!(
        w,
        "| snapshot | taken at | live | added | modified | deleted | drifted |"
    )?;
    for r in &rules {
        write!(w, " {r} |")?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "|---:|---|---:|---:|---:|---:|---:|{}",
        "---:|".repeat(rules.len())
    )?;
    for e in entries {
        write!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} |",
            e.snapshot.snapshot.0,
            e.snapshot.taken_at,
            e.live,
            e.added,
            e.modified,
            e.deleted,
            e.drift
                .map(|c| c.drifted().to_string())
                .unwrap_or_else(|| "–".into())
        )?;
        for r in &rules {
            let cell = match (&e.scan, e.compliance.iter().find(|c| &c.rule_id == r)) {
                (None, _) => "–".to_string(),
                (Some(_), None) => "".to_string(),
                (Some(_), Some(c)) => c.non_compliant.to_string(),
            };
            write!(w, " {cell} |")?;
        }
        writeln!(w)?;
    }
    if let Some(name) = baseline {
        writeln!(
            w,
            "\n_Drifted: resources that differ from baseline {}. Rule columns: non-compliant resources._",
            conform::escape::markdown_code(name)
        )?;
    }
    Ok(())
}

fn resource_text(timeline: &ResourceTimeline, w: &mut dyn Write) -> std::io::Result<()> {
    let (b, d) = (style::BOLD, style::DIM);
    writeln!(w, "{b}{}{b:#}", timeline.resource.key)?;
    for v in &timeline.versions {
        let until = v
            .until_snapshot
            .map(|u| format!("until snapshot {u}"))
            .unwrap_or_else(|| "current".to_string());
        writeln!(
            w,
            "  v{:<3} from snapshot {} ({until})  {}  {d}captured {}{d:#}",
            v.number,
            v.first_snapshot,
            v.status.as_str(),
            v.capture_time.as_deref().unwrap_or("-")
        )?;
        if v.number == 1 {
            writeln!(w, "        first seen")?;
        }
        for c in &v.changes {
            let what = match (&c.before, &c.after) {
                (Some(x), Some(y)) => format!("{} → {}", short_json(x, 50), short_json(y, 50)),
                (None, Some(y)) => format!("added {}", short_json(y, 80)),
                (Some(x), None) => format!("removed {}", short_json(x, 80)),
                _ => String::new(),
            };
            writeln!(w, "        {:<40} {what}", t(&c.pointer))?;
        }
    }
    let rules: Vec<String> = {
        let mut r: Vec<String> = timeline
            .snapshots
            .iter()
            .flat_map(|s| s.compliance.keys().cloned())
            .collect();
        r.sort();
        r.dedup();
        r
    };
    writeln!(w)?;
    write!(
        w,
        "{b}{:>4}  {:<20}  {:<7}{b:#}",
        "snap", "taken at", "version"
    )?;
    for r in &rules {
        write!(w, "  {b}{r}{b:#}")?;
    }
    writeln!(w)?;
    for s in &timeline.snapshots {
        write!(
            w,
            "{:>4}  {:<20}  {:<7}",
            s.snapshot.0,
            s.taken_at.get(..19).unwrap_or(&s.taken_at),
            s.version
                .map(|v| format!("v{v}"))
                .unwrap_or_else(|| "absent".into())
        )?;
        for r in &rules {
            let c = s.compliance.get(r).map(String::as_str).unwrap_or("-");
            let st = match c {
                "COMPLIANT" => style::ADDED,
                "NON_COMPLIANT" | "ERROR" => style::REMOVED,
                _ => style::DIM,
            };
            write!(w, "  {st}{c:<width$}{st:#}", width = r.len())?;
        }
        writeln!(w)?;
    }
    Ok(())
}

pub fn compliance_changes(db: &Path, args: ChangesArgs, out: &Output) -> anyhow::Result<ExitCode> {
    out.accept("compliance-changes", &[Format::Text, Format::Json])?;
    let snapshot = open_to_read(db)?.snapshot(args.snapshot)?;
    // The snapshot and the observed one before it, so the change is against the day before.
    let mut wanted: Vec<conform::SnapshotId> = observed_in(db, &Range::default())?
        .into_iter()
        .rev()
        .find(|s| *s < snapshot.id)
        .into_iter()
        .collect();
    wanted.push(snapshot.id);
    super::rules::ensure_scanned(db, &wanted, &args.rules, false)?;
    let store = open_to_read(db)?;
    let changes = timeline::compliance_changes(&store, &snapshot)?;
    out.emit(&changes, |w| changes_text(&changes, w))?;
    Ok(exit::OK)
}

fn changes_text(c: &ComplianceChanges, w: &mut dyn Write) -> std::io::Result<()> {
    let (b, d) = (style::BOLD, style::DIM);
    match &c.previous {
        Some((s, scan)) => writeln!(
            w,
            "{b}compliance changes of snapshot {} (scan {}) since snapshot {} (scan {}){b:#}: {}",
            c.snapshot.snapshot,
            c.scan.id,
            s.snapshot,
            scan.id,
            c.changes.len()
        )?,
        None => writeln!(
            w,
            "{b}compliance of snapshot {} (scan {}){b:#}: no earlier scanned snapshot, so every evaluation is new ({})",
            c.snapshot.snapshot,
            c.scan.id,
            c.changes.len()
        )?,
    }
    for change in &c.changes {
        let old = change.old_compliance.as_deref().unwrap_or("(none)");
        let new = change.new_compliance.as_deref().unwrap_or("(none)");
        let st = match new {
            "COMPLIANT" => style::ADDED,
            "NON_COMPLIANT" | "ERROR" => style::REMOVED,
            _ => style::DIM,
        };
        writeln!(
            w,
            "  {:<40} {} {d}({} {}){d:#}  {old} → {st}{new}{st:#}",
            change.rule_id,
            t(&format!(
                "{}/{}",
                change.resource.resource_type, change.resource.resource_id
            )),
            t(&change.resource.account_id),
            t(&change.resource.region)
        )?;
    }
    Ok(())
}
