//! Arguments, dispatch and exit codes. Only this layer knows clap, terminals and output formats;
//! each command calls the library and hands the result to `render`.

mod cases;
mod drift;
mod gate;
mod generate;
mod ingest;
mod read;
mod render;
mod rules;
mod serve;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes, as documented in the README.
pub mod exit {
    use std::process::ExitCode;
    /// The command did what was asked.
    pub const OK: ExitCode = ExitCode::SUCCESS;
    /// The tool failed: bad input, a database error, a missing file. Nothing was stored.
    pub const TOOL_FAILED: u8 = 2;

    pub fn tool_failed() -> ExitCode {
        ExitCode::from(TOOL_FAILED)
    }

    /// A command that gates found what it gates on (`check`: a non-compliant item; `gate`:
    /// a finding that fails it).
    pub const FINDINGS: u8 = 1;

    /// The exit code of a command that decided `code` before writing its output, given how
    /// writing went. Output never changes a verdict: a gate that failed exits 1 even if the
    /// reader of its stdout went away (`conform gate | head`) or the report could not be
    /// written (the error still goes to stderr). A reader closing the pipe early is not a
    /// failure; any other write error of a command that would have exited 0 is exit 2.
    pub fn settle(code: u8, written: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
        match written {
            Ok(()) => Ok(ExitCode::from(code)),
            Err(error) if is_broken_pipe(&error) => Ok(ExitCode::from(code)),
            Err(error) if code != 0 => {
                eprintln!(
                    "error: {}",
                    conform::escape::terminal_lines(&format!("{error:#}"))
                );
                Ok(ExitCode::from(code))
            }
            Err(error) => Err(error),
        }
    }

    /// Whether `error` is stdout's reader having gone away (`conform show X | head`).
    pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
        error.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        })
    }
}

/// Offline compliance for configuration snapshots (AWS Config items and any other estate).
#[derive(Debug, Parser)]
#[command(name = "conform", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store: an SQLite file, created if missing.
    #[arg(long, global = true, env = "CONFORM_DB", default_value = "conform.db")]
    pub db: PathBuf,

    /// Output format: text for people, json for machines; markdown, json-patch, sarif and
    /// junit where a command says so.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Settings (drift ignore patterns); default: ./conform.toml when it exists.
    #[arg(long, global = true, env = "CONFORM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// How log lines are written to stderr: text for people, json (one object per line) for
    /// log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Every format some command writes; each command says which it takes (`Output::accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people (coloured on a terminal).
    Text,
    /// For machines: every command.
    Json,
    /// For a pull-request comment: drift, timeline, gate.
    Markdown,
    /// RFC 6902 patches per resource: drift, diff.
    JsonPatch,
    /// SARIF 2.1.0, for code scanning: gate.
    Sarif,
    /// JUnit XML, for CI test reports: gate.
    Junit,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read configuration items from files or directories into a new snapshot.
    Ingest(ingest::IngestArgs),
    /// List snapshots.
    Snapshots,
    /// Show a resource's configuration item as of a snapshot.
    Show(read::ShowArgs),
    /// Show a resource's versions and the snapshots each was seen in.
    History(read::HistoryArgs),
    /// Counts and sizes of the store.
    Stats,
    /// Write a synthetic estate (a series of snapshots) for trials and benchmarks.
    Generate(generate::GenerateArgs),
    /// Evaluate rules over a snapshot and store every evaluation.
    Scan(rules::ScanArgs),
    /// Evaluate files directly, with no database (a pre-deploy check): exit 1 if non-compliant.
    Check(rules::CheckArgs),
    /// Evaluations of a snapshot's latest scan.
    Results(rules::ResultsArgs),
    /// List rules with their manifests; show one; annotate a module with a manifest.
    Rules(rules::RulesArgs),
    /// Name the snapshots (or desired-state files) others are compared against.
    Baseline(drift::BaselineArgs),
    /// What changed against a baseline, resource by resource and field by field.
    Drift(drift::DriftArgs),
    /// What changed between two snapshots.
    Diff(drift::DiffArgs),
    /// Pass or fail a snapshot on its findings (exit 0 passed, 1 failed, 2 tool failure).
    Gate(gate::GateArgs),
    /// The estate over time (changes, drift, compliance per rule), or one resource's history.
    Timeline(timeline::TimelineArgs),
    /// Every (rule, resource) whose compliance changed since the previous scanned snapshot.
    ComplianceChanges(timeline::ChangesArgs),
    /// Run rules' test cases (YAML or JSON), whatever language the rules are in: exit 1 if a
    /// case failed, 2 if a rule or a case file is broken.
    Test(cases::TestArgs),
    /// Write a rule to start from (a working ENCRYPTED_VOLUMES under your id, its manifest and
    /// test cases) in one of the languages conform's SDK covers, and print its build command.
    NewRule(cases::NewRuleArgs),
    /// Run as a daemon: ingest deliveries as they land, evaluate what changed, notify, and
    /// answer a read-only HTTP API (README, "conform serve").
    Serve(serve::ServeArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = render::Output {
        format: cli.format,
        quiet: cli.quiet,
    };
    // Commands that write only text and JSON refuse the other formats by name, as the rest do.
    let text_or_json = match &cli.command {
        Command::Ingest(_) => Some("ingest"),
        Command::Snapshots => Some("snapshots"),
        Command::Show(_) => Some("show"),
        Command::History(_) => Some("history"),
        Command::Stats => Some("stats"),
        Command::Generate(_) => Some("generate"),
        Command::Scan(_) => Some("scan"),
        Command::Check(_) => Some("check"),
        Command::Results(_) => Some("results"),
        Command::Rules(_) => Some("rules"),
        Command::Serve(_) => Some("serve"),
        Command::NewRule(_) => Some("new-rule"),
        _ => None,
    };
    if let Some(command) = text_or_json {
        out.accept(command, &[Format::Text, Format::Json])?;
    }
    match cli.command {
        Command::Ingest(args) => ingest::run(&cli.db, args, &out),
        Command::Snapshots => read::snapshots(&cli.db, &out),
        Command::Show(args) => read::show(&cli.db, args, &out),
        Command::History(args) => read::history(&cli.db, args, &out),
        Command::Stats => read::stats(&cli.db, &out),
        Command::Generate(args) => generate::run(args, &out),
        Command::Scan(args) => rules::scan(&cli.db, args, &out),
        Command::Check(args) => rules::check(args, &out),
        Command::Results(args) => rules::results(&cli.db, args, &out),
        Command::Rules(args) => rules::rules(args, &out),
        Command::Baseline(args) => drift::baseline(&cli.db, args, &out),
        Command::Drift(args) => drift::drift(&cli.db, cli.config.as_deref(), args, &out),
        Command::Diff(args) => drift::diff(&cli.db, cli.config.as_deref(), args, &out),
        Command::Gate(args) => gate::run(&cli.db, cli.config.as_deref(), args, &out),
        Command::Timeline(args) => timeline::timeline(&cli.db, cli.config.as_deref(), args, &out),
        Command::ComplianceChanges(args) => timeline::compliance_changes(&cli.db, args, &out),
        Command::Serve(args) => serve::run(&cli.db, cli.config.as_deref(), args),
        Command::Test(args) => cases::run(args, &out),
        Command::NewRule(args) => cases::new_rule(args, &out),
    }
}

/// Logs go to stderr, so stdout stays clean for `--format json`. A command's logs have no
/// time (they are read as it runs); the daemon's do, and say what it did at info level.
pub fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let daemon = matches!(cli.command, Command::Serve(_));
    let level = match (cli.quiet, cli.verbose + u8::from(daemon)) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("conform={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match (cli.log_format, daemon) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        (LogFormat::Text, false) => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .without_time()
            .init(),
    }
}
