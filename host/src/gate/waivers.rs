//! Waivers: accepted findings, each with a justification and usually an expiry date.
//!
//! ```yaml
//! waivers:
//!   - rule: ENCRYPTED_VOLUMES          # a rule id (globs allowed), or DRIFT for drift
//!     resource: "vol-0legacy*"          # matched against the resource id, TYPE/ID and ARN
//!     justification: "Migrating in OPS-1234; data is public"
//!     expires: 2027-03-31               # from this day on, the waiver no longer waives
//! ```
//!
//! The same in TOML is a `[[waivers]]` table per waiver. Every problem names the file and line.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::ResourceKey;

#[derive(Debug, thiserror::Error)]
#[error("waivers file {path}: {message}")]
pub struct WaiverError {
    pub path: PathBuf,
    pub message: String,
}

/// One waiver, compiled.
#[derive(Debug, Clone, Serialize)]
pub struct Waiver {
    /// Its position in the file, from 1.
    pub number: usize,
    pub rule: String,
    pub resource: String,
    pub justification: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip)]
    expiry: Option<jiff::civil::Date>,
    #[serde(skip)]
    rule_glob: GlobMatcher,
    #[serde(skip)]
    resource_glob: GlobMatcher,
}

impl Waiver {
    /// Whether this waiver names the finding of `rule_id` on `resource`.
    pub fn matches(&self, rule_id: &str, resource: &ResourceKey, arn: Option<&str>) -> bool {
        if !self.rule_glob.is_match(rule_id) {
            return false;
        }
        let typed = format!("{}/{}", resource.resource_type, resource.resource_id);
        self.resource_glob.is_match(&resource.resource_id)
            || self.resource_glob.is_match(&typed)
            || arn.is_some_and(|a| self.resource_glob.is_match(a))
    }

    /// Whether the waiver has expired on `today` (it waives up to the day before `expires`).
    pub fn is_expired(&self, today: jiff::civil::Date) -> bool {
        self.expiry.is_some_and(|e| today >= e)
    }
}

/// The waivers of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    pub path: Option<PathBuf>,
    pub list: Vec<Waiver>,
}

impl Waivers {
    /// Reads a waivers file: TOML if it is named `.toml`, YAML otherwise.
    pub fn load(path: &Path) -> Result<Waivers, WaiverError> {
        let error = |message: String| WaiverError {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Waivers::parse(&text, path)
    }

    /// Parses the text of a waivers file read from `path` (TOML by its extension, else YAML).
    pub fn parse(text: &str, path: &Path) -> Result<Waivers, WaiverError> {
        let error = |message: String| WaiverError {
            path: path.to_path_buf(),
            message,
        };
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let file: File = if is_toml {
            toml::from_str(text).map_err(|e| error(one_line(&e.to_string())))?
        } else if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| error(one_line(&e.to_string())))?
        };
        let list = file
            .waivers
            .into_iter()
            .enumerate()
            .map(|(i, w)| Waiver {
                number: i + 1,
                rule: w.rule.text,
                resource: w.resource.text,
                justification: w.justification.0,
                expires: w.expires.as_ref().map(|d| d.to_string()),
                expiry: w.expires,
                rule_glob: w.rule.glob,
                resource_glob: w.resource.glob,
            })
            .collect();
        Ok(Waivers {
            path: Some(path.to_path_buf()),
            list,
        })
    }

    /// The first waiver naming this finding (expired or not).
    pub fn find(
        &self,
        rule_id: &str,
        resource: &ResourceKey,
        arn: Option<&str>,
    ) -> Option<&Waiver> {
        self.list.iter().find(|w| w.matches(rule_id, resource, arn))
    }
}

/// Parser messages span lines (TOML quotes the source); reports want one.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    waivers: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: Pattern,
    resource: Pattern,
    justification: Justification,
    #[serde(default, deserialize_with = "date")]
    expires: Option<jiff::civil::Date>,
}

/// A glob, checked while parsing so that the parser's error names the line.
#[derive(Debug)]
struct Pattern {
    text: String,
    glob: GlobMatcher,
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom("a pattern must not be empty"));
        }
        let glob = Glob::new(&text)
            .map_err(|e| serde::de::Error::custom(format!("bad pattern '{text}': {}", e.kind())))?
            .compile_matcher();
        Ok(Pattern { text, glob })
    }
}

/// Why the finding is accepted: required, and not blank.
#[derive(Debug)]
struct Justification(String);

impl<'de> Deserialize<'de> for Justification {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom("a justification must say why"));
        }
        Ok(Justification(text))
    }
}

/// A date (YAML and TOML both write 2027-03-31; TOML reads it as a date, YAML as a string).
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<jiff::civil::Date>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Text(t) => t,
        Raw::Toml(t) => t.to_string(),
    };
    text.parse::<jiff::civil::Date>().map(Some).map_err(|e| {
        serde::de::Error::custom(format!("expires '{text}' is not a date (YYYY-MM-DD): {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Result<Waivers, WaiverError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Waivers::load(&path)
    }

    fn key(id: &str) -> ResourceKey {
        ResourceKey {
            account_id: "1".into(),
            region: "r".into(),
            resource_type: "AWS::EC2::Volume".into(),
            resource_id: id.into(),
        }
    }

    #[test]
    fn yaml_and_toml_read_the_same_and_match_by_id_type_or_arn() {
        let yaml = load(
            "w.yaml",
            "waivers:\n  - rule: ENCRYPTED_*\n    resource: vol-legacy*\n    justification: old\n    expires: 2027-01-31\n",
        )
        .unwrap();
        let toml = load(
            "w.toml",
            "[[waivers]]\nrule = \"ENCRYPTED_*\"\nresource = \"vol-legacy*\"\njustification = \"old\"\nexpires = 2027-01-31\n",
        )
        .unwrap();
        for w in [&yaml.list[0], &toml.list[0]] {
            assert!(w.matches("ENCRYPTED_VOLUMES", &key("vol-legacy-1"), None));
            assert!(!w.matches("REQUIRED_TAGS", &key("vol-legacy-1"), None));
            assert!(!w.matches("ENCRYPTED_VOLUMES", &key("vol-new"), None));
            let today = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
            assert!(!w.is_expired(today("2027-01-30")));
            assert!(w.is_expired(today("2027-01-31")));
        }
        let by_arn = load(
            "a.yaml",
            "waivers:\n  - {rule: '*', resource: 'arn:aws:ec2:*:volume/*', justification: all}\n",
        )
        .unwrap();
        assert!(by_arn.list[0].matches("X", &key("v"), Some("arn:aws:ec2:r:1:volume/v")));
        assert!(!by_arn.list[0].matches("X", &key("v"), None));
        let typed = load(
            "t.yaml",
            "waivers:\n  - {rule: X, resource: 'AWS::EC2::Volume/v', justification: j}\n",
        )
        .unwrap();
        assert!(typed.list[0].matches("X", &key("v"), None));
    }

    #[test]
    fn problems_name_the_line() {
        for (name, text, says) in [
            (
                "a.yaml",
                "waivers:\n  - rule: X\n    resource: v\n",
                "missing field `justification`",
            ),
            (
                "b.yaml",
                "waivers:\n  - rule: X\n    resource: v\n    justification: '  '\n",
                "must say why",
            ),
            (
                "c.yaml",
                "waivers:\n  - rule: X\n    resource: v\n    justification: j\n    expires: soon\n",
                "expires 'soon' is not a date",
            ),
            (
                "d.toml",
                "[[waivers]]\nrule = \"X\"\nresource = \"[v\"\njustification = \"j\"\n",
                "line 3",
            ),
            (
                "e.yaml",
                "waivers:\n  - rule: X\n    resource: v\n    justification: j\n    owner: me\n",
                "unknown field `owner`",
            ),
        ] {
            let err = load(name, text).unwrap_err().to_string();
            assert!(err.contains(says), "{name}: {err}");
            assert!(err.contains("line"), "{name}: {err}");
        }
    }
}
