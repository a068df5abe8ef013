//! Which rules a scan runs: rule files found under paths, the built-ins, parameters from a
//! file, and `--only` globs, loaded once into a [`RuleSet`]. The command line and (later) the
//! daemon choose rules the same way, through [`RuleSet::load`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::{EngineError, Rule, RuleHost};

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct RuleSelection {
    /// Rule modules (`.wasm`, `.wat`) or directories of them, walked in name order.
    pub paths: Vec<PathBuf>,
    /// Load the built-in rules too.
    pub builtins: bool,
    /// Keep only the rules whose ids match one of these globs (`S3_*`); empty keeps all.
    pub only: Vec<String>,
    /// A map of rule id to parameters, in JSON, YAML (`.yaml`, `.yml`) or TOML (`.toml`).
    pub params: Option<PathBuf>,
}

/// The rules loaded, and the built-ins left out for want of required parameters (a note per
/// rule, for the ones `only` would have kept).
///
/// The rules are shared with every evaluator running them ([`RuleHost::evaluator`]): a set
/// loaded again ([`RuleSet::reload`]) replaces this one for the scans that start after, while
/// the scans running finish with the rules they started with.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Arc<[Rule]>,
    pub skipped: Vec<String>,
    /// What was loaded, to load it again.
    pub selection: RuleSelection,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a map of rule id to parameters: {message}", path.display())]
    Params { path: PathBuf, message: String },
    #[error("no rules to run: pass --rules PATH")]
    NoRules,
    #[error("rule id {id} is defined twice: by {first} and by {second}")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
    #[error("the params file sets parameters for rule {0}, which is not loaded")]
    UnknownParams(String),
    #[error("--only {pattern}: {message}")]
    Only { pattern: String, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl RuleSet {
    /// Loads what `selection` names. Every rule id is loaded once: a second definition, a
    /// parameter for no loaded rule, or an `--only` pattern that matches nothing is an error.
    pub fn load(host: &RuleHost, selection: &RuleSelection) -> Result<RuleSet, RuleSetError> {
        RuleSet::load_with(host, selection, None)
    }

    /// As [`RuleSet::load`], but a rule file that cannot be loaded, or whose id another rule
    /// has, is left out and its error pushed to `refused`: the daemon's reload, where one bad
    /// file must not stop the others.
    fn load_with(
        host: &RuleHost,
        selection: &RuleSelection,
        mut refused: Option<&mut Vec<String>>,
    ) -> Result<RuleSet, RuleSetError> {
        let params = match &selection.params {
            Some(path) => read_params(path)?,
            None => HashMap::new(),
        };
        let files = rule_files(&selection.paths)?;
        let only = selection
            .only
            .iter()
            .map(|pattern| {
                globset::Glob::new(pattern)
                    .map(|g| (pattern, g.compile_matcher()))
                    .map_err(|e| RuleSetError::Only {
                        pattern: pattern.clone(),
                        message: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lookup = |id: &str| params.get(id).cloned();
        let mut rules: Vec<Rule> = Vec::new();
        let mut skipped = Vec::new();
        if selection.builtins {
            let (builtins, left_out) = host.load_builtins(&lookup)?;
            // A built-in left out for want of parameters matters only if it was wanted.
            let wanted = |note: &str| {
                only.is_empty()
                    || only
                        .iter()
                        .any(|(_, g)| note.split(' ').any(|word| g.is_match(word)))
            };
            skipped = left_out.into_iter().filter(|n| wanted(n)).collect();
            rules = builtins;
        }
        if rules.is_empty() && files.is_empty() {
            return Err(RuleSetError::NoRules);
        }
        for file in &files {
            let loaded = host.load_file(file, &lookup).map_err(RuleSetError::from);
            let checked = loaded.and_then(|rule| {
                match rules.iter().find(|r| r.manifest.id == rule.manifest.id) {
                    Some(other) => Err(RuleSetError::Duplicate {
                        id: rule.manifest.id.clone(),
                        first: other.source.to_string(),
                        second: rule.source.to_string(),
                    }),
                    None => Ok(rule),
                }
            });
            match (checked, refused.as_deref_mut()) {
                (Ok(rule), _) => rules.push(rule),
                (Err(e), Some(refused)) => refused.push(e.to_string()),
                (Err(e), None) => return Err(e),
            }
        }
        if let Some(unknown) = params
            .keys()
            .find(|id| !rules.iter().any(|r| &r.manifest.id == *id))
        {
            return Err(RuleSetError::UnknownParams(unknown.clone()));
        }
        if !only.is_empty() {
            for (pattern, glob) in &only {
                if !rules.iter().any(|r| glob.is_match(&r.manifest.id)) {
                    return Err(RuleSetError::Only {
                        pattern: (*pattern).clone(),
                        message: "no loaded rule has that id".to_string(),
                    });
                }
            }
            rules.retain(|r| only.iter().any(|(_, g)| g.is_match(&r.manifest.id)));
        }
        Ok(RuleSet {
            rules: rules.into(),
            skipped,
            selection: selection.clone(),
        })
    }

    /// Loads what this set was loaded from again: rule files changed, added or removed, and the
    /// params file as it is now. On an error this set is still whole, to keep running.
    pub fn reload(&self, host: &RuleHost) -> Result<RuleSet, RuleSetError> {
        RuleSet::load(host, &self.selection)
    }

    /// Loads the selection again, leaving out (and returning the errors of) the rule files
    /// that cannot load, so the others run. Errors that are not one file's (the params file,
    /// `--only`) still fail the whole reload, and this set stays whole.
    pub fn reload_tolerant(&self, host: &RuleHost) -> Result<(RuleSet, Vec<String>), RuleSetError> {
        let mut refused = Vec::new();
        let set = RuleSet::load_with(host, &self.selection, Some(&mut refused))?;
        Ok((set, refused))
    }
}

/// The rule modules under `paths`: files as given, directories walked in name order.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RuleSetError> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| RuleSetError::Io {
                path: e.path().map_or_else(|| path.clone(), Path::to_path_buf),
                source: std::io::Error::other(e.to_string()),
            })?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_file() && (name.ends_with(".wasm") || name.ends_with(".wat")) {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

/// Reads a params file: rule id to parameters, in JSON, YAML or TOML (by extension).
pub fn read_params(path: &Path) -> Result<HashMap<String, Value>, RuleSetError> {
    let text = std::fs::read_to_string(path).map_err(|source| RuleSetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let parsed: Result<HashMap<String, Value>, String> = match extension.as_str() {
        "yaml" | "yml" => serde_yaml_ng::from_str(&text).map_err(|e| e.to_string()),
        "toml" => toml::from_str(&text).map_err(|e| e.to_string()),
        _ => serde_json::from_str(&text).map_err(|e| e.to_string()),
    };
    parsed.map_err(|message| RuleSetError::Params {
        path: path.to_path_buf(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Limits;

    const EXAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules-sdk/examples/wat/encrypted-volumes.wat"
    );

    /// The example rule under another id.
    fn example_as(id: &str) -> String {
        std::fs::read_to_string(EXAMPLE)
            .unwrap()
            .replace("WAT_ENCRYPTED_VOLUMES", id)
    }

    fn ids(rules: &[Rule]) -> Vec<&str> {
        rules.iter().map(|r| r.manifest.id.as_str()).collect()
    }

    #[test]
    fn a_reload_sees_rule_files_as_they_are_now_and_leaves_running_evaluators_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wat"), example_as("RULE_A")).unwrap();
        let host = RuleHost::new(Limits::default()).unwrap();
        let selection = RuleSelection {
            paths: vec![dir.path().to_path_buf()],
            ..RuleSelection::default()
        };
        let first = RuleSet::load(&host, &selection).unwrap();
        let running = host.evaluator(&first.rules);
        assert_eq!(ids(&first.rules), ["RULE_A"]);

        std::fs::write(dir.path().join("b.wat"), example_as("RULE_B")).unwrap();
        let second = first.reload(&host).unwrap();
        assert_eq!(ids(&second.rules), ["RULE_A", "RULE_B"]);
        // What was loaded before, and the evaluator running it, are unchanged.
        assert_eq!(ids(&first.rules), ["RULE_A"]);
        assert_eq!(ids(running.rules()), ["RULE_A"]);

        // A rule file that does not load fails the reload, naming it; the set in use is whole.
        std::fs::write(dir.path().join("c.wat"), "(module (func").unwrap();
        let error = second.reload(&host).unwrap_err().to_string();
        assert!(error.contains("c.wat"), "{error}");
        assert_eq!(ids(&second.rules), ["RULE_A", "RULE_B"]);

        // A removed file is gone from the next set.
        std::fs::remove_file(dir.path().join("c.wat")).unwrap();
        std::fs::remove_file(dir.path().join("a.wat")).unwrap();
        assert_eq!(ids(&second.reload(&host).unwrap().rules), ["RULE_B"]);
    }

    #[test]
    fn a_second_definition_of_an_id_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wat"), example_as("SAME")).unwrap();
        std::fs::write(dir.path().join("b.wat"), example_as("SAME")).unwrap();
        let host = RuleHost::new(Limits::default()).unwrap();
        let selection = RuleSelection {
            paths: vec![dir.path().to_path_buf()],
            ..RuleSelection::default()
        };
        let error = RuleSet::load(&host, &selection).unwrap_err();
        assert!(
            matches!(&error, RuleSetError::Duplicate { id, first, second }
                if id == "SAME" && first.ends_with("a.wat") && second.ends_with("b.wat")),
            "{error}"
        );
    }
}
