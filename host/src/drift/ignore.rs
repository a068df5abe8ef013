//! Which changed fields do not count as drift, per resource type.
//!
//! Patterns are JSON Pointers with glob wildcards: `*` stands for one reference token (or part
//! of one), `**` for any number of tokens, `?`, `[abc]` and `{a,b}` as in shell globs. A pattern
//! also covers everything under what it names (`/configuration/state` ignores
//! `/configuration/state/name`). Resource types may be globs too (`AWS::EC2::*`, `*`).

use std::collections::BTreeMap;

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

/// The ignore patterns conform applies unless told not to (`[drift] defaults = false`): fields
/// AWS updates by itself, without anyone changing the resource's configuration.
pub const DEFAULT_IGNORES: &[(&str, &[&str])] = &[
    // A resource's first capture says ResourceDiscovered, later ones OK: not a change to it.
    ("*", &[STATUS_POINTER]),
    // Runtime state, which changes with every stop and start.
    (
        "AWS::EC2::Instance",
        &[
            "/configuration/state",
            "/configuration/stateTransitionReason",
            "/configuration/stateReason",
            "/configuration/launchTime",
            "/configuration/publicIpAddress",
            "/configuration/publicDnsName",
        ],
    ),
    // Moves forward every few minutes while backups run.
    (
        "AWS::RDS::DBInstance",
        &[
            "/configuration/latestRestorableTime",
            "/configuration/dBInstanceStatus",
        ],
    ),
    // Table statistics, refreshed by DynamoDB about every six hours.
    (
        "AWS::DynamoDB::Table",
        &["/configuration/itemCount", "/configuration/tableSizeBytes"],
    ),
];

/// Where drift documents carry the item status.
pub const STATUS_POINTER: &str = "/configurationItemStatus";

/// A pattern that does not compile, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ignore pattern '{pattern}' for '{resource_type}': {reason}")]
pub struct BadPattern {
    pub resource_type: String,
    pub pattern: String,
    pub reason: String,
}

/// Compiled ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    /// (type pattern, its pointer patterns, whether any of them can match inside the body,
    /// that is, anything but the item status).
    by_type: Vec<(GlobMatcher, GlobSet, bool)>,
    /// The patterns as given, for reports.
    pub patterns: BTreeMap<String, Vec<String>>,
}

impl IgnoreRules {
    /// Compiles `patterns` (resource type → pointer patterns), with the defaults if asked.
    pub fn new(
        patterns: &BTreeMap<String, Vec<String>>,
        with_defaults: bool,
    ) -> Result<IgnoreRules, BadPattern> {
        let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if with_defaults {
            for (kind, list) in DEFAULT_IGNORES {
                all.entry(kind.to_string())
                    .or_default()
                    .extend(list.iter().map(|p| p.to_string()));
            }
        }
        for (kind, list) in patterns {
            all.entry(kind.clone())
                .or_default()
                .extend(list.iter().cloned());
        }
        let mut by_type = Vec::new();
        for (kind, list) in &all {
            let bad = |pattern: &str, reason: String| BadPattern {
                resource_type: kind.clone(),
                pattern: pattern.to_string(),
                reason,
            };
            let type_matcher = Glob::new(kind)
                .map_err(|e| {
                    bad(
                        "",
                        format!("the resource type is not a valid glob: {}", e.kind()),
                    )
                })?
                .compile_matcher();
            let mut set = GlobSetBuilder::new();
            for pattern in list {
                check_pointer_pattern(pattern).map_err(|reason| bad(pattern, reason))?;
                // The pattern itself, and everything under it.
                for glob in [pattern.clone(), format!("{pattern}/**")] {
                    let glob = GlobBuilder::new(&glob)
                        .literal_separator(true)
                        .backslash_escape(true)
                        .build()
                        .map_err(|e| bad(pattern, e.kind().to_string()))?;
                    set.add(glob);
                }
            }
            let set = set.build().map_err(|e| bad("", e.to_string()))?;
            let reaches_body = list.iter().any(|p| p != STATUS_POINTER);
            by_type.push((type_matcher, set, reaches_body));
        }
        Ok(IgnoreRules {
            by_type,
            patterns: all,
        })
    }

    /// No patterns at all: every change counts.
    pub fn none() -> IgnoreRules {
        IgnoreRules::default()
    }

    /// Whether any pattern for `resource_type` can match a field of the body (rather than only
    /// the item status). When none can, two versions with the same status and different content
    /// hashes differ in a field that counts, and need no diff to say so.
    pub fn reaches_body(&self, resource_type: &str) -> bool {
        self.by_type
            .iter()
            .any(|(kind, _, body)| *body && kind.is_match(resource_type))
    }

    /// The matcher for one resource type: call it with each changed field's pointer.
    pub fn for_type(&self, resource_type: &str) -> impl Fn(&str) -> bool + '_ {
        let sets: Vec<&GlobSet> = self
            .by_type
            .iter()
            .filter(|(kind, _, _)| kind.is_match(resource_type))
            .map(|(_, set, _)| set)
            .collect();
        move |pointer: &str| sets.iter().any(|s| s.is_match(pointer))
    }
}

/// What globset does not check: the pointer's own syntax.
fn check_pointer_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with('/') {
        return Err("a JSON Pointer starts with '/' (e.g. /configuration/state)".to_string());
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
            return Err("'~' must be escaped as '~0' ('~1' stands for '/')".to_string());
        }
    }
    if pattern
        .split('/')
        .any(|token| token.contains("**") && token != "**")
    {
        return Err("'**' must be a whole reference token (/a/**/b), not part of one".to_string());
    }
    if pattern.ends_with('/') && pattern.len() > 1 {
        return Err("ends with '/': the last reference token is empty".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pairs: &[(&str, &[&str])]) -> Result<IgnoreRules, BadPattern> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        IgnoreRules::new(&map, false)
    }

    #[test]
    fn wildcards_prefixes_and_type_globs() {
        let r = rules(&[
            ("AWS::EC2::*", &["/configuration/attachments/*/attachTime"]),
            ("*", &["/tags/aws:*", "/configuration/**/lastSeen"]),
            ("AWS::S3::Bucket", &["/supplementaryConfiguration"]),
        ])
        .unwrap();
        let volume = r.for_type("AWS::EC2::Volume");
        assert!(volume("/configuration/attachments/0/attachTime"));
        assert!(!volume("/configuration/attachments/0/state"));
        assert!(volume("/tags/aws:cloudformation:stack-name"));
        assert!(!volume("/tags/Owner"));
        assert!(volume("/configuration/a/b/c/lastSeen"));
        let bucket = r.for_type("AWS::S3::Bucket");
        assert!(bucket(
            "/supplementaryConfiguration/BucketPolicy/policyText"
        ));
        assert!(!bucket("/configuration/attachments/0/attachTime"));
    }

    #[test]
    fn defaults_apply_only_when_asked() {
        let empty = BTreeMap::new();
        let with = IgnoreRules::new(&empty, true).unwrap();
        assert!(with.for_type("AWS::RDS::DBInstance")(
            "/configuration/latestRestorableTime"
        ));
        let without = IgnoreRules::new(&empty, false).unwrap();
        assert!(!without.for_type("AWS::RDS::DBInstance")(
            "/configuration/latestRestorableTime"
        ));
    }

    #[test]
    fn bad_patterns_are_named() {
        for (pattern, says) in [
            ("configuration/state", "starts with '/'"),
            ("/configuration/[state", "unclosed character class"),
            ("/tags/a~b", "'~' must be escaped"),
            ("/configuration/a**", "**"),
        ] {
            let err = rules(&[("AWS::EC2::Instance", &[pattern])]).unwrap_err();
            assert_eq!(err.pattern, pattern);
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
