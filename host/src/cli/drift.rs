//! `conform baseline`, `conform drift`, `conform diff`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use conform::config::Config;
use conform::drift::{self, DriftKind, DriftOptions, DriftReport, StateRef};
use conform::ingest::{IngestOptions, NoProgress};
use conform::store::{Baseline, SnapshotRole, SnapshotSelector, Store, check_baseline_name};

use super::read::{open_existing, open_to_read};
use conform::report::markdown::{drift_markdown, drift_summary, state_name};

use super::render::{Output, count, short_json, style, t};
use super::{Format, exit};

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub command: BaselineCommand,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Name a snapshot (or a desired-state file) as baseline NAME, replacing what it named.
    Set(SetArgs),
    /// List baselines.
    List,
    /// Show a baseline and its snapshot.
    Show { name: String },
    /// Remove a baseline (and its desired state, if no other baseline names it).
    Rm { name: String },
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// A name: letters, digits, '-', '_', '.' (prod, staging, ...).
    pub name: String,
    /// The snapshot to name: an id or "latest".
    #[arg(long, conflicts_with = "from_file")]
    pub snapshot: Option<SnapshotSelector>,
    /// A desired-state file (a native item array or NDJSON, or a snapshot file): stored as a
    /// snapshot of role "desired", which is compared against but is no part of the history.
    #[arg(long, value_name = "FILE")]
    pub from_file: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The baseline to compare against; default: the only one.
    #[arg(long, env = "CONFORM_BASELINE")]
    pub baseline: Option<String>,
    /// The snapshot compared: an id or "latest".
    #[arg(long, default_value = "latest")]
    pub snapshot: SnapshotSelector,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier state: a snapshot id (or "latest").
    pub before: SnapshotSelector,
    /// The later state.
    pub after: SnapshotSelector,
}

pub fn baseline(db: &Path, args: BaselineArgs, out: &Output) -> anyhow::Result<ExitCode> {
    out.accept("baseline", &[Format::Text, Format::Json])?;
    match args.command {
        BaselineCommand::Set(set) => {
            let mut store = Store::open(db)?;
            let baseline = set_baseline(&mut store, set)?;
            out.emit(&baseline, |w| {
                writeln!(
                    w,
                    "baseline '{}' set: {}",
                    baseline.name,
                    describe(&baseline)
                )
            })?;
        }
        BaselineCommand::List => {
            let store = open_to_read(db)?;
            let list = store.baselines()?;
            out.emit(&list, |w| {
                if list.is_empty() {
                    return writeln!(w, "no baselines (set one with `conform baseline set NAME`)");
                }
                for b in &list {
                    writeln!(w, "{:<16} {}  (set {})", b.name, describe(b), b.set_at)?;
                }
                Ok(())
            })?;
        }
        BaselineCommand::Show { name } => {
            let store = open_to_read(db)?;
            let b = store.baseline(&name)?;
            out.emit(&b, |w| {
                writeln!(w, "baseline '{}': {}", b.name, describe(&b))?;
                writeln!(w, "  set at {}", b.set_at)?;
                writeln!(w, "  {} live", count(b.snapshot.counts.live, "resource"))?;
                for source in &b.snapshot.sources {
                    writeln!(w, "  from {} ({})", source.path, source.form)?;
                }
                Ok(())
            })?;
        }
        BaselineCommand::Rm { name } => {
            let store = open_existing(db)?;
            let b = store.remove_baseline(&name)?;
            out.emit(&b, |w| writeln!(w, "baseline '{}' removed", b.name))?;
        }
    }
    Ok(exit::OK)
}

fn set_baseline(store: &mut Store, set: SetArgs) -> anyhow::Result<Baseline> {
    check_baseline_name(&set.name)?;
    let snapshot = if set.from_file.is_empty() {
        store
            .snapshot(set.snapshot.unwrap_or(SnapshotSelector::Latest))?
            .id
    } else {
        let options = IngestOptions {
            role: SnapshotRole::Desired,
            label: Some(format!("desired state for baseline {}", set.name)),
            ..IngestOptions::default()
        };
        let report = conform::ingest(store, &set.from_file, &options, &NoProgress)?;
        let Some(info) = report.snapshots.into_iter().last() else {
            anyhow::bail!("the desired-state file holds no configuration item");
        };
        info.id
    };
    Ok(store.set_baseline(&set.name, snapshot)?)
}

fn describe(b: &Baseline) -> String {
    let s = &b.snapshot;
    match s.role {
        SnapshotRole::Desired => format!(
            "desired state (snapshot {}, {} from {})",
            s.id,
            count(s.counts.live, "resource"),
            s.sources
                .iter()
                .map(|x| x.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        SnapshotRole::Observed => format!("snapshot {} taken {} ({})", s.id, s.taken_at, s.label),
    }
}

const DRIFT_FORMATS: &[Format] = &[
    Format::Text,
    Format::Json,
    Format::Markdown,
    Format::JsonPatch,
];

pub fn drift(
    db: &Path,
    config: Option<&Path>,
    args: DriftArgs,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    out.accept("drift", DRIFT_FORMATS)?;
    let store = open_to_read(db)?;
    let baseline = store.choose_baseline(args.baseline.as_deref())?;
    let snapshot = store.snapshot(args.snapshot)?;
    compare(
        &store,
        config,
        StateRef::new(&baseline.snapshot, Some(&baseline.name)),
        StateRef::new(&snapshot, None),
        out,
    )
}

pub fn diff(
    db: &Path,
    config: Option<&Path>,
    args: DiffArgs,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    out.accept("diff", DRIFT_FORMATS)?;
    let store = open_to_read(db)?;
    let (before, after) = (store.snapshot(args.before)?, store.snapshot(args.after)?);
    compare(
        &store,
        config,
        StateRef::new(&before, None),
        StateRef::new(&after, None),
        out,
    )
}

/// What `drift` and `diff` share once they know the two states.
fn compare(
    store: &Store,
    config: Option<&Path>,
    before: StateRef,
    after: StateRef,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let options = DriftOptions {
        documents: out.format == Format::JsonPatch,
    };
    let report = drift::drift(store, before, after, &config.ignore, options)?;
    write_report(&report, out)?;
    Ok(exit::OK)
}

fn write_report(report: &DriftReport, out: &Output) -> anyhow::Result<()> {
    match out.format {
        Format::JsonPatch => {
            let patches: Vec<serde_json::Value> = report
                .resources
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "kind": r.kind,
                        "account_id": r.resource.account_id,
                        "region": r.resource.region,
                        "resource_type": r.resource.resource_type,
                        "resource_id": r.resource.resource_id,
                        "patch": r.patch,
                    })
                })
                .collect();
            let mut stdout = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut stdout, &patches)?;
            writeln!(stdout)?;
            Ok(())
        }
        Format::Markdown => out.emit(report, |w| drift_markdown(report, w)),
        _ => out.emit(report, |w| text(report, w)),
    }
}

fn text(report: &DriftReport, w: &mut dyn Write) -> std::io::Result<()> {
    let (b, d) = (style::BOLD, style::DIM);
    writeln!(
        w,
        "{b}drift from {} to {}{b:#}",
        t(&state_name(&report.before)),
        t(&state_name(&report.after))
    )?;
    writeln!(w, "  {}", drift_summary(report))?;
    for r in &report.resources {
        let (mark, st) = match r.kind {
            DriftKind::Added => ("+", style::ADDED),
            DriftKind::Removed => ("-", style::REMOVED),
            DriftKind::Modified => ("~", style::MODIFIED),
        };
        writeln!(
            w,
            "{st}{mark} {}/{}{st:#} {d}({} {}){d:#}",
            t(&r.resource.resource_type),
            t(&r.resource.resource_id),
            t(&r.resource.account_id),
            t(&r.resource.region)
        )?;
        for c in &r.changes {
            let value = match (&c.before, &c.after) {
                (Some(before), Some(after)) => {
                    format!("{} → {}", short_json(before, 60), short_json(after, 60))
                }
                (None, Some(after)) => format!("added {}", short_json(after, 100)),
                (Some(before), None) => format!("removed {}", short_json(before, 100)),
                (None, None) => String::new(),
            };
            writeln!(w, "    {:<44} {value}", t(&c.pointer))?;
        }
        if r.ignored > 0 {
            writeln!(
                w,
                "    {d}({} ignored){d:#}",
                count(r.ignored as u64, "change")
            )?;
        }
    }
    Ok(())
}
