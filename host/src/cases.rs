//! Rule test cases: what `conform test` runs, in any language a rule is written in.
//!
//! A case file (YAML, or JSON, which is YAML too) names its rule and lists cases, as
//! `cfn-guard test` and `opa test` take theirs: an item (inline, or a file in any form `ingest`
//! reads), parameters, and the compliance expected, with an optional annotation pattern. An
//! estate case gives several items and the evaluation expected of each. Items are read exactly
//! as `ingest` reads them, so a case sees what a scan would.
//!
//! ```yaml
//! rule: ENCRYPTED_VOLUMES
//! cases:
//!   - name: an attached volume that is not encrypted
//!     item: {resourceType: AWS::EC2::Volume, resourceId: vol-1,
//!            configuration: {state: in-use, encrypted: false}}
//!     expect: NON_COMPLIANT
//!     annotation: not encrypted
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::document::ItemDocument;
use crate::engine::{Compliance, EngineError, Rule, RuleHost, RuleKind};
use crate::ingest::{IngestOptions, NoProgress};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a case file; the message names the line and column.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A case cannot be run as written (its items do not read, its pattern is not one).
    #[error("{}: case {case:?}: {message}", path.display())]
    Case {
        path: PathBuf,
        case: String,
        message: String,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One case file, read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    #[serde(skip)]
    pub path: PathBuf,
    /// The id of the rule the cases are for; may be left out when one rule is tested.
    #[serde(default)]
    pub rule: Option<String>,
    pub cases: Vec<Case>,
}

/// One case: a resource rule's item and its expected compliance, or an estate rule's items and
/// the evaluation expected of each.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// A resource rule's item: a configuration item, or the path of a file holding one.
    #[serde(default)]
    pub item: Option<Input>,
    /// An estate rule's items (one account's): inline, or a file of them.
    #[serde(default)]
    pub items: Option<Input>,
    /// The account an estate case evaluates; its items' account when left out, which a case
    /// with no items cannot do without.
    #[serde(default)]
    pub account: Option<String>,
    /// The rule's parameters; its defaults fill in the rest.
    #[serde(default)]
    pub params: Option<Value>,
    pub expect: Expect,
    /// A regular expression the annotation must match (resource cases).
    #[serde(default)]
    pub annotation: Option<String>,
}

/// Items given inline or by path (relative to the case file).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Path(String),
    Inline(Value),
}

/// What a case expects: one compliance (a resource rule), or one evaluation per resource (an
/// estate rule; the account itself is `AWS::::Account`).
#[derive(Debug, Clone)]
pub enum Expect {
    One(Word),
    Each(Vec<Expected>),
}

/// By hand rather than `untagged`, so that a misspelt compliance is reported as itself, at
/// its line, and not as "no variant matched".
impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Expect, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Expect;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a compliance, or a list of {resourceId, compliance} for an estate rule",
                )
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Expect, E> {
                Word::parse(text).map(Expect::One).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Expect, A::Error> {
                Vec::<Expected>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Expect::Each)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expected {
    #[serde(default)]
    pub resource_type: Option<String>,
    pub resource_id: String,
    pub compliance: Word,
    #[serde(default)]
    pub annotation: Option<String>,
}

/// A compliance word, checked as the file is read so that a typo names its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word(pub Compliance);

impl Word {
    fn parse(text: &str) -> Result<Word, String> {
        Compliance::parse(text).map(Word).ok_or_else(|| {
            format!(
                "{text:?} is not a compliance: COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or ERROR"
            )
        })
    }
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Word, D::Error> {
        let text = String::deserialize(d)?;
        Word::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How one case went.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub rule: String,
    pub file: String,
    pub case: String,
    pub passed: bool,
    pub expected: String,
    pub got: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Reads a case file.
pub fn read(path: &Path) -> Result<CaseFile, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut file: CaseFile = serde_yaml_ng::from_str(&text).map_err(|e| CaseError::Parse {
        path: path.to_path_buf(),
        message: crate::escape::terminal(&e.to_string()).into_owned(),
    })?;
    file.path = path.to_path_buf();
    Ok(file)
}

/// The case files at `path`: the file itself, or every `.yaml`, `.yml` and `.json` file under
/// a directory, sorted.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, CaseError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(|e| CaseError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file()
            && [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| name.ends_with(ext))
        {
            found.push(entry.into_path());
        }
    }
    Ok(found)
}

/// Runs every case of `file` against `rule`, each with its own parameters and a fresh
/// instance. A case whose items do not read is an error, not a failed case.
pub fn run(host: &RuleHost, rule: &Rule, file: &CaseFile) -> Result<Vec<Outcome>, CaseError> {
    let mut outcomes = Vec::with_capacity(file.cases.len());
    for case in &file.cases {
        let broken = |message: String| CaseError::Case {
            path: file.path.clone(),
            case: case.name.clone(),
            message,
        };
        let rule = Arc::<[Rule]>::from(vec![rule.with_params(case.params.as_ref())?]);
        let base = file.path.parent().unwrap_or(Path::new("."));
        let mut evaluator = host.evaluator(&rule);
        let outcome = match (rule[0].manifest.kind, &case.item, &case.items) {
            (RuleKind::Resource, Some(_), None) if case.account.is_some() => {
                return Err(broken(
                    "`account` is for estate cases; a resource case's item names its own".into(),
                ));
            }
            (RuleKind::Resource, Some(item), None) => {
                let items = documents(base, item).map_err(broken)?;
                let [item] = &items[..] else {
                    return Err(broken(format!(
                        "`item` holds {} configuration items; a resource case has one",
                        items.len()
                    )));
                };
                let got = evaluator.evaluate(0, item);
                resource_outcome(&rule[0], file, case, got).map_err(broken)?
            }
            (RuleKind::Estate, None, Some(items)) => {
                let items = documents(base, items).map_err(broken)?;
                estate_outcome(&mut evaluator, &rule[0], file, case, items).map_err(broken)?
            }
            (RuleKind::Resource, _, _) => {
                return Err(broken(format!(
                    "{} is a resource rule: give the case one `item`",
                    rule[0].manifest.id
                )));
            }
            (RuleKind::Estate, _, _) => {
                return Err(broken(format!(
                    "{} is an estate rule: give the case its `items`",
                    rule[0].manifest.id
                )));
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn pattern(text: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(text).map_err(|e| format!("annotation pattern {text:?}: {e}"))
}

fn resource_outcome(
    rule: &Rule,
    file: &CaseFile,
    case: &Case,
    got: Option<crate::engine::Verdict>,
) -> Result<Outcome, String> {
    let Expect::One(Word(expected)) = case.expect else {
        return Err("a resource case expects one compliance, not a list".into());
    };
    let annotation = case.annotation.as_deref().map(pattern).transpose()?;
    let (got_text, failure) = match got {
        None => (
            "not evaluated".to_string(),
            Some(format!(
                "the item is outside the rule's scope (resource types: {})",
                rule.manifest.scope.resource_types.join(", ")
            )),
        ),
        Some(verdict) => {
            let shown = shown(verdict.compliance, &verdict.annotation);
            let failure = if verdict.compliance != expected {
                Some(format!("expected {}, got {shown}", expected.as_str()))
            } else {
                annotation
                    .filter(|p| !p.is_match(&verdict.annotation))
                    .map(|p| {
                        format!(
                            "the annotation {:?} does not match /{p}/",
                            verdict.annotation
                        )
                    })
            };
            (shown, failure)
        }
    };
    Ok(Outcome {
        rule: rule.manifest.id.clone(),
        file: file.path.display().to_string(),
        case: case.name.clone(),
        passed: failure.is_none(),
        expected: expected.as_str().to_string(),
        got: got_text,
        failure,
    })
}

fn shown(compliance: Compliance, annotation: &str) -> String {
    if annotation.is_empty() {
        compliance.as_str().to_string()
    } else {
        format!("{} ({annotation:?})", compliance.as_str())
    }
}

fn estate_outcome(
    evaluator: &mut crate::engine::Evaluator,
    rule: &Rule,
    file: &CaseFile,
    case: &Case,
    items: Vec<Arc<ItemDocument>>,
) -> Result<Outcome, String> {
    let Expect::Each(expected) = &case.expect else {
        return Err("an estate case expects a list of evaluations (resourceId, compliance)".into());
    };
    let account = match (&case.account, items.first()) {
        (Some(account), _) => account.clone(),
        (None, Some(item)) => item.account_id().to_string(),
        (None, None) => {
            return Err("an estate case with no items names its `account`".into());
        }
    };
    if let Some(other) = items.iter().find(|i| i.account_id() != account) {
        return Err(format!(
            "an estate case is one account's items; {} is in account {:?}, not {account:?}",
            other.resource_id(),
            other.account_id()
        ));
    }
    let in_scope: Vec<Arc<ItemDocument>> = items
        .into_iter()
        .filter(|i| rule.manifest.scope.includes_item(i))
        .collect();
    let in_scope = Arc::new(in_scope);
    let got: Vec<(String, String, Compliance, String)> = evaluator
        .evaluate_estate(0, &account, in_scope.clone())
        .into_iter()
        .map(|e| match e.item {
            Some(i) => (
                in_scope[i].resource_type().to_string(),
                in_scope[i].resource_id().to_string(),
                e.compliance,
                e.annotation,
            ),
            None => (
                crate::engine::ACCOUNT_TYPE.to_string(),
                account.clone(),
                e.compliance,
                e.annotation,
            ),
        })
        .collect();
    let mut failures = Vec::new();
    for want in expected {
        let found = got.iter().find(|(t, id, ..)| {
            *id == want.resource_id && want.resource_type.as_ref().is_none_or(|w| w == t)
        });
        match found {
            None => failures.push(format!("no evaluation of {}", want.resource_id)),
            Some((_, id, compliance, annotation)) => {
                if *compliance != want.compliance.0 {
                    failures.push(format!(
                        "{id}: expected {}, got {}",
                        want.compliance.0.as_str(),
                        shown(*compliance, annotation)
                    ));
                } else if let Some(p) = want.annotation.as_deref().map(pattern).transpose()?
                    && !p.is_match(annotation)
                {
                    failures.push(format!(
                        "{id}: the annotation {annotation:?} does not match /{p}/"
                    ));
                }
            }
        }
    }
    for (_, id, compliance, annotation) in &got {
        if !expected.iter().any(|w| w.resource_id == *id) {
            failures.push(format!(
                "unexpected evaluation of {id}: {}",
                shown(*compliance, annotation)
            ));
        }
    }
    let list = |items: Vec<String>| items.join(", ");
    Ok(Outcome {
        rule: rule.manifest.id.clone(),
        file: file.path.display().to_string(),
        case: case.name.clone(),
        passed: failures.is_empty(),
        expected: list(
            expected
                .iter()
                .map(|w| format!("{} {}", w.resource_id, w.compliance.0.as_str()))
                .collect(),
        ),
        got: list(
            got.iter()
                .map(|(_, id, c, _)| format!("{id} {}", c.as_str()))
                .collect(),
        ),
        failure: (!failures.is_empty()).then(|| failures.join("; ")),
    })
}

/// The items a case gives, read as `ingest` reads them: a file by path, or the inline JSON
/// written to a scratch file first (one item or an array of them).
fn documents(base: &Path, input: &Input) -> Result<Vec<Arc<ItemDocument>>, String> {
    static SCRATCH: AtomicU64 = AtomicU64::new(0);
    let (path, scratch) = match input {
        Input::Path(path) => (base.join(path), None),
        Input::Inline(value) => {
            let dir = std::env::temp_dir().join(format!(
                "conform-test-{}-{}",
                std::process::id(),
                SCRATCH.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let items = match value {
                Value::Array(_) => value.clone(),
                one => Value::Array(vec![one.clone()]),
            };
            let path = dir.join("items.json");
            std::fs::write(&path, serde_json::to_vec(&items).expect("JSON"))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            (path, Some(dir))
        }
    };
    let mut documents = Vec::new();
    let options = IngestOptions {
        partial: true,
        ..Default::default()
    };
    let read = crate::ingest::collect::collect(
        std::slice::from_ref(&path),
        &options,
        &NoProgress,
        &mut |item| {
            documents.push(Arc::new(ItemDocument::from_stored(item)?));
            Ok::<(), StoreError>(())
        },
    );
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    match read {
        Ok(Some(_)) => Ok(documents),
        Ok(None) => Err("holds no configuration item".into()),
        // The scratch file's name means nothing to the author: the case's item is what is wrong.
        Err(e) => Err(match input {
            Input::Inline(_) => e
                .to_string()
                .replace(&path.display().to_string(), "the case's item"),
            Input::Path(_) => e.to_string(),
        }),
    }
}

/// Writes `outcomes` as JUnit XML: one suite per (rule, case file), one test case per case, a
/// `<failure>` for each that failed.
pub fn junit(outcomes: &[Outcome], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use quick_xml::escape::escape;
    let text = |s: &str| escape(crate::escape::xml(s).into_owned()).into_owned();
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="conform test" tests="{}" failures="{failed}">"#,
        outcomes.len()
    )?;
    let mut suites: Vec<(&str, &str)> = Vec::new();
    for o in outcomes {
        if !suites.contains(&(o.rule.as_str(), o.file.as_str())) {
            suites.push((&o.rule, &o.file));
        }
    }
    for (rule, file) in suites {
        let cases: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.rule == rule && o.file == file)
            .collect();
        writeln!(
            out,
            r#"  <testsuite name="{} ({})" tests="{}" failures="{}">"#,
            text(rule),
            text(file),
            cases.len(),
            cases.iter().filter(|o| !o.passed).count()
        )?;
        for o in cases {
            let open = format!(
                r#"    <testcase classname="{}" name="{}""#,
                text(rule),
                text(&o.case)
            );
            match &o.failure {
                None => writeln!(out, "{open}/>")?,
                Some(failure) => {
                    writeln!(out, "{open}>")?;
                    writeln!(
                        out,
                        r#"      <failure message="{}">expected {}, got {}</failure>"#,
                        text(failure),
                        text(&o.expected),
                        text(&o.got)
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}
