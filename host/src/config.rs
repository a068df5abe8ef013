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
//!
//! and what `conform serve` runs ([`ServeConfig`]; README, "conform serve"):
//!
//! ```toml
//! [serve]
//! listen = "127.0.0.1:8080"
//! rules = ["rules/"]
//!
//! [[watch]]
//! path = "AWSLogs/"
//!
//! [[schedule]]
//! frequency = "TwentyFour_Hours"
//!
//! [[notify]]
//! webhook = "https://hooks.example.com/conform"
//! secret_env = "CONFORM_WEBHOOK_SECRET"
//! ```
//!
//! Relative paths are relative to the file's directory.

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
    pub serve: ServeConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    drift: DriftSection,
    #[serde(default)]
    serve: ServeSection,
    #[serde(default)]
    watch: Vec<WatchConfig>,
    #[serde(default)]
    schedule: Vec<ScheduleConfig>,
    #[serde(default)]
    notify: Vec<NotifyConfig>,
}

/// What `conform serve` runs: `[serve]`, and every `[[watch]]`, `[[schedule]]` and
/// `[[notify]]`.
#[derive(Debug, Clone, Default)]
pub struct ServeConfig {
    pub listen: Option<std::net::SocketAddr>,
    /// Rule modules or directories, run with the built-ins unless `builtins = false`.
    pub rules: Vec<PathBuf>,
    pub builtins: bool,
    pub params: Option<PathBuf>,
    pub only: Vec<String>,
    /// Drift messages compare each snapshot with this baseline.
    pub baseline: Option<String>,
    /// How long delivered messages stay in the outbox (default 7 days).
    pub outbox_retention: Option<std::time::Duration>,
    pub watch: Vec<WatchConfig>,
    pub schedule: Vec<ScheduleConfig>,
    pub notify: Vec<NotifyConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeSection {
    listen: Option<std::net::SocketAddr>,
    #[serde(default)]
    rules: Vec<PathBuf>,
    #[serde(default = "yes")]
    builtins: bool,
    params: Option<PathBuf>,
    #[serde(default)]
    only: Vec<String>,
    baseline: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    outbox_retention: Option<std::time::Duration>,
}

impl Default for ServeSection {
    fn default() -> Self {
        ServeSection {
            listen: None,
            rules: Vec::new(),
            builtins: true,
            params: None,
            only: Vec::new(),
            baseline: None,
            outbox_retention: None,
        }
    }
}

/// A directory whose new files are ingested as they land (`[[watch]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    pub path: PathBuf,
    /// Look for new files every this often instead of waiting for the system's file events
    /// (network filesystems give none): "30s", "5m".
    #[serde(default, deserialize_with = "duration")]
    pub poll: Option<std::time::Duration>,
    /// The files are changes (resources they do not name keep their state).
    #[serde(default)]
    pub partial: bool,
}

/// A periodic evaluation (`[[schedule]]`): at one of AWS Config's frequencies or by a cron
/// expression.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: Option<String>,
    pub frequency: Option<Frequency>,
    pub cron: Option<String>,
}

/// AWS Config's `MaximumExecutionFrequency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Frequency {
    #[serde(rename = "One_Hour")]
    OneHour,
    #[serde(rename = "Three_Hours")]
    ThreeHours,
    #[serde(rename = "Six_Hours")]
    SixHours,
    #[serde(rename = "Twelve_Hours")]
    TwelveHours,
    #[serde(rename = "TwentyFour_Hours")]
    TwentyFourHours,
}

impl Frequency {
    pub fn period(self) -> std::time::Duration {
        let hours = match self {
            Frequency::OneHour => 1,
            Frequency::ThreeHours => 3,
            Frequency::SixHours => 6,
            Frequency::TwelveHours => 12,
            Frequency::TwentyFourHours => 24,
        };
        std::time::Duration::from_secs(hours * 3600)
    }
}

/// Where notifications go (`[[notify]]`): exactly one of `webhook`, `file` or `stdout`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// A name for the sink's place in the outbox; default: its URL or path.
    pub name: Option<String>,
    /// POST each message to this URL.
    pub webhook: Option<String>,
    /// Sign each POST with HMAC-SHA256 of the body under this secret...
    pub secret: Option<String>,
    /// ...or under the value of this environment variable.
    pub secret_env: Option<String>,
    /// Append each message as a line of JSON to this file.
    pub file: Option<PathBuf>,
    /// Write each message as a line of JSON to standard output.
    #[serde(default)]
    pub stdout: bool,
    /// The longest wait between two attempts to deliver a message (default 60 s); a sink
    /// retries for as long as it takes, the messages waiting in the outbox.
    #[serde(default, deserialize_with = "duration")]
    pub retry_max: Option<std::time::Duration>,
}

/// "30s", "5m", "1h 30m", "7d" (jiff's friendly durations, a day 24 hours), or a number of
/// seconds.
fn duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    let invalid = |what: &dyn std::fmt::Display| {
        serde::de::Error::custom(format!(
            "'{what}' is not a duration greater than 0 (such as \"30s\", \"5m\", \"1h\")"
        ))
    };
    let seconds = match Raw::deserialize(d)? {
        Raw::Seconds(s) => s,
        // Days count as 24 hours ("7d"); months and years are refused.
        Raw::Text(t) => t
            .parse::<jiff::Span>()
            .ok()
            .and_then(|span| {
                span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                    .ok()
            })
            .ok_or_else(|| invalid(&t))?
            .as_secs_f64(),
    };
    if !(seconds > 0.0 && seconds.is_finite() && seconds < 1e9) {
        return Err(invalid(&seconds));
    }
    Ok(Some(std::time::Duration::from_secs_f64(seconds)))
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
                    serve: ServeConfig {
                        builtins: true,
                        ..Default::default()
                    },
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
        let serve = serve_config(&file, &path).map_err(|message| ConfigError::Parse {
            path: path.clone(),
            message,
        })?;
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
            serve,
        })
    }
}

/// The serve sections, checked, with paths made relative to the file's directory.
fn serve_config(file: &File, path: &Path) -> Result<ServeConfig, String> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let place = |p: &Path| dir.join(p);
    let s = &file.serve;
    let mut watch = file.watch.clone();
    for w in &mut watch {
        w.path = place(&w.path);
    }
    let mut schedule = file.schedule.clone();
    for (n, sc) in schedule.iter_mut().enumerate() {
        let name = sc
            .name
            .clone()
            .unwrap_or_else(|| format!("schedule {}", n + 1));
        match (&sc.frequency, &sc.cron) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(format!(
                    "[[schedule]] {name}: give one of `frequency` or `cron`"
                ));
            }
        }
        sc.name = Some(name);
    }
    let mut notify = file.notify.clone();
    for (n, sink) in notify.iter_mut().enumerate() {
        let kinds = [sink.webhook.is_some(), sink.file.is_some(), sink.stdout];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(format!(
                "[[notify]] number {}: give exactly one of `webhook`, `file` or `stdout = true`",
                n + 1
            ));
        }
        if let Some(f) = &mut sink.file {
            *f = place(f);
        }
    }
    Ok(ServeConfig {
        listen: s.listen,
        rules: s.rules.iter().map(|p| place(p)).collect(),
        builtins: s.builtins,
        params: s.params.as_deref().map(place),
        only: s.only.clone(),
        baseline: s.baseline.clone(),
        outbox_retention: s.outbox_retention,
        watch,
        schedule,
        notify,
    })
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
    fn serve_sections_resolve_paths_and_check_sinks() {
        let text = "[serve]\nrules = [\"rules\"]\noutbox_retention = \"7d\"\n[[watch]]\npath = \"in\"\npoll = \"30s\"\n\
                    [[schedule]]\nfrequency = \"Six_Hours\"\n[[notify]]\nfile = \"out.ndjson\"\n";
        let config = Config::parse(text, PathBuf::from("/etc/conform/conform.toml")).unwrap();
        let serve = config.serve;
        assert_eq!(serve.rules, [PathBuf::from("/etc/conform/rules")]);
        assert_eq!(
            serve.outbox_retention,
            Some(std::time::Duration::from_secs(7 * 86_400))
        );
        assert_eq!(serve.watch[0].path, PathBuf::from("/etc/conform/in"));
        assert_eq!(
            serve.watch[0].poll,
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            serve.schedule[0].frequency.unwrap().period().as_secs(),
            6 * 3600
        );
        assert!(serve.builtins);
        let two = "[[notify]]\nfile = \"a\"\nstdout = true\n";
        let err = Config::parse(two, PathBuf::from("c.toml")).unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
        let bad = "[[watch]]\npath = \"in\"\npoll = \"soon\"\n";
        let err = Config::parse(bad, PathBuf::from("c.toml")).unwrap_err();
        assert!(
            err.to_string().contains("'soon' is not a duration"),
            "{err}"
        );
    }

    /// The example in `snapshots/` is a working config.
    #[test]
    fn the_sample_serve_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots/conform.toml");
        let config = Config::load(Some(&path)).unwrap();
        let serve = config.serve;
        assert!(serve.rules[0].join("encrypted-volumes.wat").exists() || serve.rules[0].is_dir());
        assert!(serve.watch[0].path.is_dir(), "{:?}", serve.watch[0].path);
        assert_eq!(serve.schedule.len(), 2);
        assert!(serve.notify[0].file.is_some());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[drift]\ndefault = false\n", PathBuf::from("c.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown field `default`"), "{err}");
    }
}
