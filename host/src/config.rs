//! `conform.toml`: settings a team keeps next to its baselines and waivers.
//!
//! ```toml
//! [drift]
//! defaults = true                     # conform's own AWS ignore patterns (see drift::ignore)
//!
//! [drift.ignore]
//! "AWS::EC2::Volume" = ["/configuration/attachments/*/attachTime"]
//! "*" = ["/tags/aws:*"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::drift::{BadPattern, IgnoreRules};

/// The file conform reads when none is named, from the working directory.
pub const DEFAULT_CONFIG: &str = "conform.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}, line {line}: {source}")]
    Pattern {
        path: PathBuf,
        line: usize,
        #[source]
        source: BadPattern,
    },
}

/// Settings, compiled.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    pub ignore: IgnoreRules,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    drift: DriftSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftSection {
    #[serde(default = "yes")]
    defaults: bool,
    #[serde(default)]
    ignore: BTreeMap<String, Vec<toml::Spanned<String>>>,
}

impl Default for DriftSection {
    fn default() -> Self {
        DriftSection {
            defaults: true,
            ignore: BTreeMap::new(),
        }
    }
}

fn yes() -> bool {
    true
}

impl Config {
    /// Reads `path`, or `conform.toml` if it exists when no path is given; without either,
    /// the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config {
                    path: None,
                    ignore: IgnoreRules::new(&BTreeMap::new(), true).expect("defaults compile"),
                });
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Config::parse(&text, path)
    }

    /// Parses the text of a config file read from `path`.
    pub fn parse(text: &str, path: PathBuf) -> Result<Config, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        // Compile one pattern at a time first, so an error can name the line it is on.
        for (kind, patterns) in &file.drift.ignore {
            for pattern in patterns {
                let one = BTreeMap::from([(kind.clone(), vec![pattern.get_ref().clone()])]);
                if let Err(source) = IgnoreRules::new(&one, false) {
                    let line = text[..pattern.span().start].matches('\n').count() + 1;
                    return Err(ConfigError::Pattern { path, line, source });
                }
            }
        }
        let patterns = file
            .drift
            .ignore
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|s| s.into_inner()).collect()))
            .collect();
        let ignore = IgnoreRules::new(&patterns, file.drift.defaults).map_err(|source| {
            ConfigError::Pattern {
                path: path.clone(),
                line: 0,
                source,
            }
        })?;
        Ok(Config {
            path: Some(path),
            ignore,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_pattern_names_its_line() {
        let text = "[drift.ignore]\n\"AWS::EC2::Volume\" = [\n  \"/configuration/ok\",\n  \"configuration/bad\",\n]\n";
        let err = Config::parse(text, PathBuf::from("conform.toml")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("conform.toml, line 4: ignore pattern 'configuration/bad'"),
            "{message}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[drift]\ndefault = false\n", PathBuf::from("c.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown field `default`"), "{err}");
    }
}
