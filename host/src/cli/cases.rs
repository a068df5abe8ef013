//! `conform test`: runs rules' test cases, whatever language the rules are in; and
//! `conform new-rule`, which writes a rule to start from with its cases.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use conform::cases::{self, CaseFile, Outcome};
use conform::engine::{Rule, RuleHost};

use super::render::Output;
use super::rules::RuleArgs;
use super::{Format, exit};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Rules to test: `.wasm` or `.wat` files, directories of them, or built-in rule ids
    /// (`--rules PATH` adds to them).
    #[arg(value_name = "RULE")]
    pub targets: Vec<String>,
    /// Case files (YAML or JSON), or directories of them. Without it, each rule file's
    /// `NAME.cases.yaml` (or `cases.yaml`) beside it. A file that names no `rule:` runs
    /// against every rule given.
    #[arg(long = "cases", value_name = "FILE_OR_DIR")]
    pub cases: Vec<PathBuf>,
    #[command(flatten)]
    pub limits: RuleArgs,
}

pub fn run(args: TestArgs, out: &Output) -> anyhow::Result<ExitCode> {
    out.accept("test", &[Format::Text, Format::Json, Format::Junit])?;
    let host = RuleHost::new(super::rules::limits(&args.limits))?;
    // Cases set each rule's parameters, and name the rules they test: a params file, `--only`
    // or the built-ins as a set would mean nothing here.
    if args.limits.params.is_some() || !args.limits.only.is_empty() || args.limits.no_builtins {
        anyhow::bail!(
            "conform test takes its rules as arguments and its parameters from the cases: \
             --params, --only and --no-builtins do not apply"
        );
    }
    let mut targets = args.targets.clone();
    targets.extend(args.limits.rules.iter().map(|p| p.display().to_string()));
    if targets.is_empty() {
        anyhow::bail!("name the rules to test: files, directories or built-in rule ids");
    }
    let (rules, beside) = load(&host, &targets)?;
    let paths = if args.cases.is_empty() {
        if beside.is_empty() {
            anyhow::bail!(
                "no case file found beside the rules (NAME.cases.yaml or cases.yaml): name them \
                 with --cases"
            );
        }
        beside
    } else {
        let mut paths = Vec::new();
        for path in &args.cases {
            paths.extend(cases::files(path)?);
        }
        paths
    };
    let mut outcomes: Vec<Outcome> = Vec::new();
    for path in &paths {
        let file = cases::read(path)?;
        for rule in rules_for(&file, &rules)? {
            outcomes.extend(cases::run(&host, rule, &file)?);
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    // The verdict is settled before anything is written.
    let code = if failed > 0 { exit::FINDINGS } else { 0 };
    let written = match out.format {
        Format::Junit => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            cases::junit(&outcomes, &mut stdout)
                .and_then(|()| stdout.flush())
                .map_err(anyhow::Error::from)
        }
        _ => out.emit(&Report::of(&outcomes), |w| text(w, &outcomes)),
    };
    exit::settle(code, written)
}

/// What `conform test --format json` prints.
#[derive(serde::Serialize)]
struct Report<'a> {
    passed: usize,
    failed: usize,
    cases: &'a [Outcome],
}

impl<'a> Report<'a> {
    fn of(outcomes: &'a [Outcome]) -> Report<'a> {
        let failed = outcomes.iter().filter(|o| !o.passed).count();
        Report {
            passed: outcomes.len() - failed,
            failed,
            cases: outcomes,
        }
    }
}

/// As `cargo test` prints: a line per case, then the failures, then the tally.
fn text(w: &mut dyn Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    use super::render::style;
    let t = |s: &str| conform::escape::terminal(s).into_owned();
    let mut last: Option<(&str, &str)> = None;
    for o in outcomes {
        if last != Some((&o.rule, &o.file)) {
            let count = outcomes
                .iter()
                .filter(|x| x.rule == o.rule && x.file == o.file)
                .count();
            writeln!(
                w,
                "\nrunning {count} case(s) of {} from {}",
                t(&o.rule),
                t(&o.file)
            )?;
            last = Some((&o.rule, &o.file));
        }
        let verdict = if o.passed {
            format!("{}ok{}", style::ADDED.render(), style::ADDED.render_reset())
        } else {
            format!(
                "{}FAILED{}",
                style::REMOVED.render(),
                style::REMOVED.render_reset()
            )
        };
        writeln!(w, "case {} ... {verdict}", t(&o.case))?;
    }
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed).collect();
    if !failures.is_empty() {
        writeln!(w, "\nfailures:")?;
        for o in &failures {
            writeln!(
                w,
                "    {} / {}: {}",
                t(&o.rule),
                t(&o.case),
                t(o.failure.as_deref().unwrap_or_default())
            )?;
        }
    }
    writeln!(
        w,
        "\ntest result: {}. {} passed; {} failed",
        if failures.is_empty() { "ok" } else { "FAILED" },
        outcomes.len() - failures.len(),
        failures.len()
    )
}

/// Loads the rules named (files, directories, built-in ids) and finds the case files that sit
/// beside rule files.
fn load(host: &RuleHost, names: &[String]) -> anyhow::Result<(Vec<Rule>, Vec<PathBuf>)> {
    let mut rules = Vec::new();
    let mut beside = Vec::new();
    for name in names {
        let path = Path::new(name);
        if path.exists() {
            let files = conform::engine::ruleset::rule_files(&[path.to_path_buf()])?;
            for file in files {
                let bytes =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                rules.push(host.load_code(&file.display().to_string(), &bytes)?);
                for candidate in [
                    file.with_extension("cases.yaml"),
                    file.with_extension("cases.json"),
                    file.with_file_name("cases.yaml"),
                ] {
                    if candidate.is_file() && !beside.contains(&candidate) {
                        beside.push(candidate);
                    }
                }
            }
            continue;
        }
        let builtin = conform::engine::builtin::BUILTIN
            .iter()
            .find(|(_, bytes)| {
                conform::engine::Manifest::from_module("", bytes).is_ok_and(|m| m.id == *name)
            })
            .with_context(|| format!("{name} is neither a rule file nor a built-in rule id"))?;
        rules.push(host.load_code(&format!("builtin:{}", builtin.0), builtin.1)?);
    }
    Ok((rules, beside))
}

/// The rules a case file is for: the one it names, or, when it names none, every rule given
/// (re-implementations of one rule share its cases).
fn rules_for<'r>(file: &CaseFile, rules: &'r [Rule]) -> anyhow::Result<Vec<&'r Rule>> {
    match &file.rule {
        Some(id) => {
            let rule = rules
                .iter()
                .find(|r| r.manifest.id == *id)
                .with_context(|| {
                    format!(
                        "{}: its cases are for rule {id}, which is not among the rules given",
                        file.path.display()
                    )
                })?;
            Ok(vec![rule])
        }
        None => Ok(rules.iter().collect()),
    }
}

#[derive(Debug, Args)]
pub struct NewRuleArgs {
    /// The rule's name (`my-volumes`); its id is the name in capitals (`MY_VOLUMES`).
    pub name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    pub lang: conform::scaffold::Lang,
    /// Where to write it (created; must be empty). Default: ./NAME.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn new_rule(args: NewRuleArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let scaffold = conform::scaffold::write(&args.name, args.lang, &dir)?;
    out.emit(&scaffold, |w| {
        let t = |p: &Path| conform::escape::terminal(&p.display().to_string()).into_owned();
        writeln!(
            w,
            "wrote rule {} in {} files under {}:",
            scaffold.id,
            scaffold.files.len(),
            t(&scaffold.dir)
        )?;
        for file in &scaffold.files {
            writeln!(w, "  {}", t(file))?;
        }
        writeln!(
            w,
            "build it (in {}):
  {}",
            t(&scaffold.dir),
            scaffold.build
        )?;
        writeln!(
            w,
            "then test it:
  conform test {}",
            scaffold.module
        )
    })?;
    Ok(exit::OK)
}
