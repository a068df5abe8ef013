//! `conform serve`: one long-running process per store that watches deliveries, evaluates what
//! changed, notifies, and answers a read-only API.
//!
//! ```text
//! watch (notify / poll) ──┐
//! schedules (croner) ─────┼─► worker thread: ingest ─► incremental scan ─┬─► outbox (same tx)
//! rule files changed ─────┘      (the store's one writer)                │
//!                                                                         ▼
//!             HTTP API (axum, read-only connections)        sinks: webhook / file / stdout
//! ```
//!
//! The worker is a plain thread (SQLite and wasmtime calls block); tokio runs the API, the
//! sinks and the schedules. Every step that writes is one transaction, and notifications are
//! written in the transaction of the scan that found them, so a crash loses nothing: the next
//! start ingests what is not stored, scans what is not scanned, and the sinks resume from
//! their cursors.

pub mod api;
mod lock;
pub mod messages;
pub mod metrics;
pub mod sinks;
mod watch;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{Config, ScheduleConfig};
use crate::engine::{Limits, RuleHost, RuleSelection, RuleSet};
use crate::store::{Store, StoreError};

pub use lock::StoreLock;

/// Where the API listens when nothing is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "another conform serve (pid {pid}) is serving {}; stop it first, or use another --db",
        db.display()
    )]
    AlreadyServing { db: PathBuf, pid: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("watching {}: {message}", path.display())]
    Watch { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rules: {0}")]
    Rules(String),
    #[error("ingest: {0}")]
    Ingest(String),
    #[error("{0}")]
    Config(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Everything `run` needs; the CLI fills it from flags and `conform.toml`.
#[derive(Debug)]
pub struct ServeOptions {
    pub db: PathBuf,
    /// The settings, with the command line's `--watch`, `--webhook` and `--listen` added.
    pub config: Config,
    pub limits: Limits,
    /// Threads a scan evaluates with.
    pub jobs: usize,
    /// `CONFORM_API_TOKEN`: required on every request when set, and to bind a non-loopback
    /// address.
    pub token: Option<String>,
    /// How long the sinks may go on delivering after SIGTERM.
    pub grace: Duration,
}

/// Runs the daemon until SIGTERM or SIGINT; returns once the worker has finished its item and
/// the sinks have flushed (or `grace` ran out).
pub fn run(options: ServeOptions) -> Result<(), ServeError> {
    // The webhook client's TLS uses ring; installing twice (a second run in one process) is
    // harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let serve = &options.config.serve;
    let listen = match serve.listen {
        Some(addr) => addr,
        None => DEFAULT_LISTEN.parse().expect("default address"),
    };
    if !listen.ip().is_loopback() && options.token.is_none() {
        return Err(ServeError::Config(format!(
            "listening on {listen} (not loopback) needs a bearer token: set CONFORM_API_TOKEN"
        )));
    }
    let sinks: Vec<Arc<sinks::Sink>> = serve
        .notify
        .iter()
        .map(|n| sinks::Sink::new(n).map(Arc::new))
        .collect::<Result<_, _>>()
        .map_err(ServeError::Config)?;
    let mut cron = Vec::new();
    for s in &serve.schedule {
        cron.push(schedule_of(s)?);
    }
    for w in &serve.watch {
        if !w.path.is_dir() {
            return Err(ServeError::Watch {
                path: w.path.clone(),
                message: "not a directory".into(),
            });
        }
    }

    let lock = StoreLock::acquire(&options.db)?;
    let store = Store::open(&options.db)?;
    let host =
        RuleHost::new(options.limits.clone()).map_err(|e| ServeError::Rules(e.to_string()))?;
    let selection = RuleSelection {
        paths: serve.rules.clone(),
        builtins: serve.builtins,
        only: serve.only.clone(),
        params: serve.params.clone(),
    };
    let rules = RuleSet::load(&host, &selection).map_err(|e| ServeError::Rules(e.to_string()))?;
    for note in &rules.skipped {
        tracing::warn!("{note}");
    }
    tracing::info!(
        db = %options.db.display(),
        rules = rules.rules.len(),
        watches = serve.watch.len(),
        sinks = sinks.len(),
        "conform serve starting"
    );

    let metrics = Arc::new(metrics::Metrics::new());
    let status = Arc::new(worker::Status::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (work, work_queue) = std::sync::mpsc::channel();
    let mut watches = Vec::new();
    for (i, w) in serve.watch.iter().enumerate() {
        watches.push(watch::watch_deliveries(i, w, work.clone())?);
    }
    let mut rule_paths: Vec<PathBuf> = serve.rules.iter().filter(|p| p.exists()).cloned().collect();
    rule_paths.extend(serve.params.iter().filter(|p| p.exists()).cloned());
    if !rule_paths.is_empty() {
        watches.push(watch::watch_rules(&rule_paths, work.clone())?);
    }

    // Each sink's own connection, opened before the worker starts writing (opening checks the
    // schema, which waits for no writer).
    let sink_stores = sinks
        .iter()
        .map(|_| Store::open(&options.db).map(|s| Arc::new(Mutex::new(s))))
        .collect::<Result<Vec<_>, _>>()?;
    let wakes: Vec<Arc<tokio::sync::Notify>> = sinks
        .iter()
        .map(|_| Arc::new(tokio::sync::Notify::new()))
        .collect();
    let api = Arc::new(api::Api::new(
        options.db.clone(),
        options.config.clone(),
        status.clone(),
        metrics.clone(),
        options.token.clone(),
    ));
    let warm = api.clone();
    let worker = worker::Worker {
        store,
        host,
        rules,
        watches: serve.watch.clone(),
        metrics: metrics.clone(),
        wakes: wakes.clone(),
        status: status.clone(),
        jobs: options.jobs,
        failed: Default::default(),
        baseline: serve.baseline.clone(),
        ignore: options.config.ignore.clone(),
        drift: None,
        scanned: Box::new(move || warm.warm()),
        sinks: sinks.iter().map(|s| s.name.clone()).collect(),
        retention: serve
            .outbox_retention
            .unwrap_or(Duration::from_secs(7 * 86_400)),
    };
    let worker_stop = stop.clone();
    let worker = std::thread::Builder::new()
        .name("conform-worker".into())
        .spawn(move || worker.run(work_queue, worker_stop))
        .map_err(|source| ServeError::Io {
            path: options.db.clone(),
            source,
        })?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| ServeError::Io {
            path: options.db.clone(),
            source,
        })?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: listen,
                source,
            })?;
        tracing::info!("listening on http://{listen}");
        let (stop_sinks, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for ((sink, wake), store) in sinks.iter().zip(&wakes).zip(sink_stores) {
            tasks.push(tokio::spawn(sinks::deliver(
                sink.clone(),
                store,
                wake.clone(),
                stopped.clone(),
                options.grace,
                metrics.clone(),
            )));
        }
        for (name, when) in cron {
            let work = work.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                loop {
                    let wait = when.next_wait();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped.changed() => return,
                    }
                    if work
                        .send(worker::Work::Scheduled { name: name.clone() })
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        let server =
            axum::serve(listener, api::router(api)).with_graceful_shutdown(shutdown_signal());
        let served = server.await;
        tracing::info!("stopping: finishing the work in hand");
        stop.store(true, Ordering::SeqCst);
        let joined = tokio::task::spawn_blocking(move || worker.join()).await;
        if !matches!(joined, Ok(Ok(()))) {
            tracing::error!("the worker panicked");
        }
        let _ = stop_sinks.send(true);
        for t in tasks {
            let _ = t.await;
        }
        served.map_err(|source| ServeError::Listen {
            addr: listen,
            source,
        })
    });
    drop(watches);
    drop(lock);
    tracing::info!("stopped");
    result
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("no SIGTERM handler: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
    }
}

/// When a schedule is due.
#[derive(Debug)]
enum When {
    Every(Duration),
    Cron(Box<croner::Cron>),
}

impl When {
    /// How long until it is next due.
    fn next_wait(&self) -> Duration {
        match self {
            When::Every(period) => *period,
            When::Cron(cron) => {
                let now = jiff::Zoned::now();
                match cron.find_next_occurrence(&now, false) {
                    Ok(next) => {
                        let span =
                            next.timestamp().as_millisecond() - now.timestamp().as_millisecond();
                        Duration::from_millis(span.max(1) as u64)
                    }
                    // No next time (an impossible date): check again in a day.
                    Err(_) => Duration::from_secs(86_400),
                }
            }
        }
    }
}

fn schedule_of(s: &ScheduleConfig) -> Result<(String, When), ServeError> {
    let name = s.name.clone().unwrap_or_default();
    let when = match (&s.frequency, &s.cron) {
        (Some(f), _) => When::Every(f.period()),
        (None, Some(expr)) => {
            let cron: croner::Cron = expr.parse().map_err(|e| {
                ServeError::Config(format!("[[schedule]] {name}: cron '{expr}': {e}"))
            })?;
            When::Cron(Box::new(cron))
        }
        (None, None) => {
            return Err(ServeError::Config(format!(
                "[[schedule]] {name}: give `frequency` or `cron`"
            )));
        }
    };
    Ok((name, when))
}
