//! `scan`, `results` and `rules`: running WebAssembly rules and reading their evaluations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use conform::engine::{Compliance, Limits, Manifest, Rule, RuleHost, RuleSelection, RuleSet};
use conform::store::{EvaluationFilter, SnapshotSelector};

use super::exit;
use super::read::{open_existing, open_to_read};
use super::render::{Output, t};

/// Where rules come from and how they are bounded.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Rule modules (.wasm or .wat) or directories of them, run with the built-in rules.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Run only the rules given with --rules, not the built-in ones.
    #[arg(long)]
    pub no_builtins: bool,
    /// Worker threads evaluating rules; default: one per core.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Run only the rules with these ids (repeatable; globs such as 'S3_*').
    #[arg(long = "only", value_name = "RULE_ID")]
    pub only: Vec<String>,
    /// Parameters per rule: a map of rule id to parameters, like AWS Config's InputParameters,
    /// in JSON, YAML (.yaml, .yml) or TOML (.toml).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Deadline of one evaluation, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub rule_timeout: u64,
    /// Memory cap of one rule instance, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB",
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub rule_memory: u64,
    /// Disable a rule for the rest of the scan after N consecutive timeouts (its remaining
    /// evaluations are ERROR); 0 never does.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub rule_max_timeouts: u32,
    /// Disable a rule once it has spent this many seconds in the scan, over all its evaluations.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub rule_budget: Option<std::time::Duration>,
    /// Stop evaluating after this many seconds: what is left is ERROR "skipped".
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub scan_budget: Option<std::time::Duration>,
    /// How long compiling one rule may take, in seconds.
    #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = positive_seconds)]
    pub rule_compile_timeout: std::time::Duration,
    /// Compile every rule afresh instead of using the cache of compiled rules
    /// (CONFORM_CACHE_DIR, default $XDG_CACHE_HOME/conform/wasm).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The snapshot to scan: an id or "latest".
    #[arg(long, default_value = "latest")]
    pub snapshot: SnapshotSelector,
    /// Evaluate every item again, reusing nothing an earlier scan found (by default a scan
    /// evaluates only the versions its rules never saw, and ERRORs again).
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration items to check, in any form `ingest` reads; nothing is stored.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub limits: super::ingest::LimitArgs,
}

#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The snapshot whose latest scan to read: an id or "latest".
    #[arg(long, default_value = "latest")]
    pub snapshot: SnapshotSelector,
    #[arg(long)]
    pub rule: Option<String>,
    /// A resource id.
    #[arg(long)]
    pub resource: Option<String>,
    /// COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or ERROR.
    #[arg(long, value_parser = parse_compliance)]
    pub compliance: Option<Compliance>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: Option<RulesAction>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Show one rule's manifest.
    Show { id: String },
    /// Write a manifest into a module's `conform.manifest` custom section.
    Annotate {
        /// The module to annotate (.wasm or .wat).
        module: PathBuf,
        /// The manifest, a JSON file (see rules-sdk/ABI.md, §2).
        #[arg(long)]
        manifest: PathBuf,
        /// Where to write the annotated module (default: replace MODULE, as .wasm).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// A number of seconds greater than zero (fractions allowed).
pub fn positive_seconds(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(std::time::Duration::from_secs_f64(s)),
        _ => Err(format!(
            "'{text}' is not a number of seconds greater than 0"
        )),
    }
}

fn parse_compliance(text: &str) -> Result<Compliance, String> {
    Compliance::parse(text)
        .ok_or_else(|| format!("'{text}' is not COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or ERROR"))
}

/// Makes sure each of `snapshots` has a scan to judge, scanning incrementally where one is
/// missing: with rule flags given, a scan by exactly those rules; without, any scan, or one by
/// the built-ins. Scanning writes the store: if this one cannot be written, a `required` scan
/// is an error naming what is missing; otherwise (the timeline, which shows what there is) a
/// warning, and the command goes on.
pub fn ensure_scanned(
    db: &Path,
    snapshots: &[conform::SnapshotId],
    args: &RuleArgs,
    required: bool,
) -> anyhow::Result<()> {
    let explicit = !args.rules.is_empty()
        || args.no_builtins
        || args.params.is_some()
        || !args.only.is_empty();
    let mut missing = snapshots.to_vec();
    if !explicit {
        let store = open_to_read(db)?;
        missing.clear();
        for s in snapshots {
            if store.latest_scan(*s)?.is_none() {
                missing.push(*s);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
    }
    let store = match open_existing(db) {
        Ok(store) => store,
        Err(e) => {
            tracing::debug!("opening the store to scan: {e:#}");
            let what = format!(
                "snapshot(s) {} need a scan by the rules judged, and this store cannot be \
                 written here; run `conform scan` where it can",
                list(&missing)
            );
            if required {
                anyhow::bail!(what);
            }
            tracing::warn!("{what}");
            return Ok(());
        }
    };
    let host = host(args)?;
    let rules = load_rules(&host, args)?;
    for snapshot in snapshots {
        let (scan, scanned) =
            conform::scan::ensure_scanned(&store, &host, &rules, *snapshot, !explicit)
                .with_context(|| {
                    format!("snapshot {snapshot} needs a scan, and scanning it failed")
                })?;
        if scanned {
            tracing::info!(
                snapshot = snapshot.0,
                scan = scan.id,
                "scanned what was missing"
            );
        }
    }
    Ok(())
}

fn list(snapshots: &[conform::SnapshotId]) -> String {
    snapshots
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Loads the rules the arguments name, warning of built-ins left out for want of parameters.
fn load_rules(host: &RuleHost, args: &RuleArgs) -> anyhow::Result<Arc<[Rule]>> {
    load_rules_noting(host, args, true)
}

/// Loads the rules; `note_skipped` warns about built-ins left out for want of parameters.
fn load_rules_noting(
    host: &RuleHost,
    args: &RuleArgs,
    note_skipped: bool,
) -> anyhow::Result<Arc<[Rule]>> {
    let selection = RuleSelection {
        paths: args.rules.clone(),
        builtins: !args.no_builtins,
        only: args.only.clone(),
        params: args.params.clone(),
    };
    let set = RuleSet::load(host, &selection)?;
    if note_skipped {
        for note in &set.skipped {
            tracing::warn!("{note}");
        }
    }
    Ok(set.rules)
}

fn host(args: &RuleArgs) -> anyhow::Result<RuleHost> {
    Ok(RuleHost::new(limits(args))?)
}

/// The bounds the arguments set on rules.
pub fn limits(args: &RuleArgs) -> Limits {
    let cache_dir = if args.no_cache { None } else { cache_dir() };
    Limits {
        timeout: std::time::Duration::from_millis(args.rule_timeout),
        memory_bytes: (args.rule_memory as usize) << 20,
        max_timeouts: args.rule_max_timeouts,
        rule_budget: args.rule_budget,
        scan_budget: args.scan_budget,
        compile_timeout: args.rule_compile_timeout,
        cache_dir,
    }
}

/// Where compiled rules are cached: CONFORM_CACHE_DIR, else the user's cache directory.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CONFORM_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("conform").join("wasm"))
}

pub fn scan(db: &Path, args: ScanArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let store = open_existing(db)?;
    let host = host(&args.rules)?;
    let rules = load_rules(&host, &args.rules)?;
    let snapshot = store.snapshot(args.snapshot)?;
    let mut options = conform::scan::ScanOptions::default();
    if let Some(jobs) = args.rules.jobs {
        options.jobs = jobs.into();
    }
    if args.full {
        options.mode = conform::store::ScanMode::Full;
    }
    let report = conform::scan::scan(&store, &host, &rules, snapshot.id, &options)?;
    // A scan with ERROR evaluations exits 2 whatever happens to its output.
    let errors = report.errors();
    let code = if errors > 0 { exit::TOOL_FAILED } else { 0 };
    let written = out.emit(&report, |w| {
        writeln!(
            w,
            "scan {} of snapshot {}: {} items, {} rules; {} evaluated, {} reused{}",
            report.scan.id,
            snapshot.id,
            report.items,
            report.rules.len(),
            report.evaluated,
            report.reused,
            match report.base {
                Some(base) => format!(" (what changed since scan {base})"),
                None => String::new(),
            }
        )?;
        writeln!(
            w,
            "{:<44} {:>9} {:>13} {:>9} {:>6}",
            "rule", "compliant", "non-compliant", "n/a", "error"
        )?;
        for r in &report.rules {
            writeln!(
                w,
                "{:<44} {:>9} {:>13} {:>9} {:>6}",
                t(&r.rule_id),
                r.compliant,
                r.non_compliant,
                r.not_applicable,
                r.error
            )?;
        }
        Ok(())
    });
    if errors > 0 {
        eprintln!(
            "error: {errors} evaluation(s) ended in ERROR; `conform results --compliance ERROR` lists them",
        );
    }
    exit::settle(code, written)
}

/// Evaluates files directly, with no database: AWS Config's proactive mode, for a pre-deploy
/// check. The items go into an in-memory store, so they are read and checked exactly as
/// `ingest` reads them.
pub fn check(args: CheckArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let host = host(&args.rules)?;
    let rules = load_rules(&host, &args.rules)?;
    let options = conform::ingest::IngestOptions {
        partial: true,
        limits: args.limits.limits(),
        ..Default::default()
    };
    let jobs = args.rules.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let Some(report) = conform::scan::check(&host, &rules, &args.inputs, &options, jobs)? else {
        anyhow::bail!("the input holds no configuration item to check");
    };
    let (errors, findings): (Vec<_>, Vec<_>) = report
        .findings
        .into_iter()
        .partition(|e| e.compliance == Compliance::Error.as_str());
    /// What `check --format json` prints, written straight from the findings (15k of them took
    /// as long to build into a JSON tree as to print).
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct CheckOutput<'a> {
        errors: &'a [conform::store::StoredEvaluation],
        items: u64,
        non_compliant: &'a [conform::store::StoredEvaluation],
        rules: &'a [conform::scan::RuleSummary],
    }
    let output = CheckOutput {
        errors: &errors,
        items: report.items,
        non_compliant: &findings,
        rules: &report.rules,
    };
    // The verdict is settled before anything is written (see `exit::settle`).
    let code = if !errors.is_empty() {
        exit::TOOL_FAILED
    } else if !findings.is_empty() {
        exit::FINDINGS
    } else {
        0
    };
    let written = out.emit(&output, |w| {
        for e in findings.iter().chain(&errors) {
            evaluation_line(w, e)?;
        }
        writeln!(
            w,
            "checked {} item(s) with {} rule(s): {} non-compliant, {} error(s)",
            report.items,
            report.rules.len(),
            findings.len(),
            errors.len()
        )
    });
    exit::settle(code, written)
}

/// One evaluation on one line, for people.
fn evaluation_line(
    w: &mut dyn std::io::Write,
    e: &conform::store::StoredEvaluation,
) -> std::io::Result<()> {
    writeln!(
        w,
        "{:<14} {:<36} {}/{}  {}",
        e.compliance,
        t(&e.rule_id),
        t(&e.resource_type),
        t(&e.resource_id),
        t(&e.annotation)
    )
}

pub fn results(db: &Path, args: ResultsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let store = open_to_read(db)?;
    let snapshot = store.snapshot(args.snapshot)?;
    let Some(scan) = store.latest_scan(snapshot.id)? else {
        anyhow::bail!(
            "snapshot {} has not been scanned; run `conform scan --snapshot {}`",
            snapshot.id,
            snapshot.id
        );
    };
    let filter = EvaluationFilter {
        rule_id: args.rule,
        resource_id: args.resource,
        compliance: args.compliance.map(|c| c.as_str().to_string()),
        ..Default::default()
    };
    let evaluations = store.evaluations(scan.id, &filter)?;
    out.emit(&evaluations, |w| {
        for e in &evaluations {
            evaluation_line(w, e)?;
        }
        Ok(())
    })?;
    Ok(exit::OK)
}

pub fn rules(args: RulesArgs, out: &Output) -> anyhow::Result<ExitCode> {
    if let Some(RulesAction::Annotate {
        module,
        manifest,
        output,
    }) = &args.action
    {
        return annotate(module, manifest, output.as_deref());
    }
    let host = host(&args.rules)?;
    let rules = load_rules_noting(&host, &args.rules, false)?;
    let mut manifests: BTreeMap<&str, (&Manifest, &str, &str, Option<&str>)> = rules
        .iter()
        .map(|r| {
            (
                r.manifest.id.as_str(),
                (
                    &r.manifest,
                    r.source.as_str(),
                    r.module_hash.as_str(),
                    Some(r.runtime().name()),
                ),
            )
        })
        .collect();
    // Built-ins left out of a scan for want of parameters are still listed.
    let builtins = if args.rules.no_builtins {
        Vec::new()
    } else {
        conform::engine::builtin::manifests()?
    };
    for (source, manifest) in &builtins {
        manifests
            .entry(manifest.id.as_str())
            .or_insert((manifest, source.as_str(), "-", None));
    }
    if let Some(RulesAction::Show { id }) = &args.action {
        let (manifest, source, hash, runtime) = manifests
            .get(id.as_str())
            .with_context(|| format!("no rule {id} is loaded"))?;
        let value = serde_json::json!({
            "manifest": manifest, "source": source, "moduleHash": hash, "runtime": runtime
        });
        out.emit(&value, |w| {
            serde_json::to_writer_pretty(&mut *w, &value)?;
            writeln!(w)
        })?;
        return Ok(exit::OK);
    }
    let list: Vec<&Manifest> = manifests.values().map(|(m, ..)| *m).collect();
    out.emit(&list, |w| {
        for m in &list {
            let scope = if m.scope.resource_types.is_empty() {
                "all types".to_string()
            } else {
                m.scope.resource_types.join(", ")
            };
            writeln!(
                w,
                "{:<40} v{:<8} {:<13} {}  [{}]",
                t(&m.id),
                t(&m.version),
                format!("{:?}", m.severity).to_lowercase(),
                t(&m.title),
                t(&scope)
            )?;
        }
        Ok(())
    })?;
    Ok(exit::OK)
}

fn annotate(module: &Path, manifest: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(module).with_context(|| format!("{}", module.display()))?;
    let binary = wat::parse_bytes(&bytes)
        .with_context(|| format!("{}: not WebAssembly", module.display()))?;
    let text = std::fs::read(manifest).with_context(|| format!("{}", manifest.display()))?;
    let parsed = Manifest::from_json(&manifest.display().to_string(), &text)?;
    let annotated = conform::engine::manifest::annotate(&binary, &serde_json::to_vec(&parsed)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", module.display()))?;
    let target = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| module.with_extension("wasm"));
    std::fs::write(&target, annotated).with_context(|| format!("{}", target.display()))?;
    eprintln!(
        "wrote {} with the manifest of rule {}",
        target.display(),
        parsed.id
    );
    Ok(exit::OK)
}
