//! `conform serve`: flags and `conform.toml` into [`conform::serve::ServeOptions`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use conform::config::{Config, NotifyConfig, WatchConfig};

use super::exit;
use super::rules::{RuleArgs, limits};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A directory whose new files are ingested as they land (repeatable; with the config's
    /// [[watch]]).
    #[arg(long = "watch", value_name = "DIR")]
    pub watch: Vec<PathBuf>,
    /// Look for new files in the --watch directories every this many seconds instead of
    /// waiting for file events (network filesystems send none).
    #[arg(long, value_name = "SECONDS", value_parser = super::rules::positive_seconds)]
    pub poll: Option<std::time::Duration>,
    /// The --watch directories' files are changes: resources they do not name keep their state.
    #[arg(long)]
    pub partial: bool,
    /// POST every notification to this URL (repeatable), signed with HMAC-SHA256 of the body
    /// under CONFORM_WEBHOOK_SECRET when it is set.
    #[arg(long = "webhook", value_name = "URL")]
    pub webhook: Vec<String>,
    /// Append every notification as a line of JSON to this file.
    #[arg(long = "notify-file", value_name = "FILE")]
    pub notify_file: Vec<PathBuf>,
    /// Write every notification as a line of JSON to standard output.
    #[arg(long)]
    pub notify_stdout: bool,
    /// The longest wait between two attempts to deliver a message, in seconds (default 60).
    #[arg(long, value_name = "SECONDS", value_parser = super::rules::positive_seconds)]
    pub retry_max: Option<std::time::Duration>,
    /// Where the API listens (default 127.0.0.1:9464). Any address but loopback needs
    /// CONFORM_API_TOKEN.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Also notify when a resource starts or stops differing from this baseline.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// How long the sinks may go on delivering after SIGTERM, in seconds.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = super::rules::positive_seconds)]
    pub grace: std::time::Duration,
    #[command(flatten)]
    pub rules: RuleArgs,
}

pub fn run(db: &Path, config: Option<&Path>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(config)?;
    let serve = &mut config.serve;
    serve
        .watch
        .extend(args.watch.iter().map(|path| WatchConfig {
            path: path.clone(),
            poll: args.poll,
            partial: args.partial,
        }));
    let secret_env = std::env::var_os("CONFORM_WEBHOOK_SECRET")
        .is_some()
        .then(|| "CONFORM_WEBHOOK_SECRET".to_string());
    serve
        .notify
        .extend(args.webhook.iter().map(|url| NotifyConfig {
            webhook: Some(url.clone()),
            secret_env: secret_env.clone(),
            retry_max: args.retry_max,
            ..Default::default()
        }));
    serve
        .notify
        .extend(args.notify_file.iter().map(|file| NotifyConfig {
            file: Some(file.clone()),
            retry_max: args.retry_max,
            ..Default::default()
        }));
    if args.notify_stdout {
        serve.notify.push(NotifyConfig {
            stdout: true,
            ..Default::default()
        });
    }
    if let Some(baseline) = &args.baseline {
        serve.baseline = Some(baseline.clone());
    }
    if let Some(listen) = args.listen {
        serve.listen = Some(listen);
    }
    serve.rules.extend(args.rules.rules.iter().cloned());
    if args.rules.no_builtins {
        serve.builtins = false;
    }
    if !args.rules.only.is_empty() {
        serve.only = args.rules.only.clone();
    }
    if let Some(params) = &args.rules.params {
        serve.params = Some(params.clone());
    }
    if serve.watch.is_empty() && serve.schedule.is_empty() {
        anyhow::bail!(
            "nothing to serve: give --watch DIR, or [[watch]] or [[schedule]] in conform.toml"
        );
    }
    let jobs = args.rules.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let token = std::env::var("CONFORM_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    conform::serve::run(conform::serve::ServeOptions {
        db: db.to_path_buf(),
        config,
        limits: limits(&args.rules),
        jobs,
        token,
        grace: args.grace,
    })?;
    Ok(exit::OK)
}
