//! Watching directories: new files in a `[[watch]]` directory become work for the worker, and
//! a changed rule file reloads the rules. Events come from the system (inotify, through the
//! `notify` crate) or, for network filesystems that send none, from polling; either way they
//! are gathered until the directory has been quiet a moment, so a file still being written
//! or a sync landing many files becomes one batch.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

use super::ServeError;
use super::worker::Work;
use crate::config::WatchConfig;

/// How long a directory must be quiet before what landed is handed on.
const QUIET: Duration = Duration::from_millis(100);
/// The longest a batch waits for quiet.
const MOST: Duration = Duration::from_secs(2);

/// A running watcher; dropping it stops it.
#[derive(Debug)]
pub struct Watch {
    _watcher: Box<dyn WatcherBox>,
}

trait WatcherBox: std::fmt::Debug + Send {}
impl<T: Watcher + std::fmt::Debug + Send> WatcherBox for T {}

/// Watches `config.path` and sends the worker `Work::Arrived` batches of data files (and a
/// `Work::Sweep` when the system lost events).
pub fn watch_deliveries(
    index: usize,
    config: &WatchConfig,
    work: Sender<Work>,
) -> Result<Watch, ServeError> {
    let make = move |paths: Vec<PathBuf>, rescan: bool| {
        if rescan {
            Work::Sweep { watch: index }
        } else {
            Work::Arrived {
                watch: index,
                paths,
            }
        }
    };
    start(
        std::slice::from_ref(&config.path),
        config.poll,
        is_delivery,
        work,
        make,
    )
}

/// Watches rule paths and sends `Work::RulesChanged` when a rule module changes.
pub fn watch_rules(paths: &[PathBuf], work: Sender<Work>) -> Result<Watch, ServeError> {
    start(paths, None, is_rule, work, |_, _| Work::RulesChanged)
}

/// A data file, or a directory: one that appears (made by a sync, or moved in whole) may hold
/// files made before the watcher saw it, so it is read whole (ingest skips what is stored).
fn is_delivery(path: &Path) -> bool {
    path.is_dir()
        || path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(crate::ingest::is_data_file_name)
}

fn is_rule(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("wasm" | "wat")
    ) || path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        // A params file beside the rules.
        n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".toml") || n.ends_with(".json")
    })
}

fn start(
    paths: &[PathBuf],
    poll: Option<Duration>,
    wanted: fn(&Path) -> bool,
    work: Sender<Work>,
    make: impl Fn(Vec<PathBuf>, bool) -> Work + Send + 'static,
) -> Result<Watch, ServeError> {
    let (events, received) = mpsc::channel::<notify::Result<notify::Event>>();
    let handler = move |event| {
        let _ = events.send(event);
    };
    let watch_error = |path: &Path, e: notify::Error| ServeError::Watch {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut watcher: Box<dyn WatcherBox> = match poll {
        Some(interval) => {
            let config = notify::Config::default()
                .with_poll_interval(interval)
                .with_compare_contents(false);
            let mut w =
                notify::PollWatcher::new(handler, config).map_err(|e| watch_error(&paths[0], e))?;
            for p in paths {
                w.watch(p, RecursiveMode::Recursive)
                    .map_err(|e| watch_error(p, e))?;
            }
            Box::new(w)
        }
        None => {
            let mut w =
                notify::recommended_watcher(handler).map_err(|e| watch_error(&paths[0], e))?;
            for p in paths {
                w.watch(p, RecursiveMode::Recursive)
                    .map_err(|e| watch_error(p, e))?;
            }
            Box::new(w)
        }
    };
    let _ = &mut watcher;
    std::thread::Builder::new()
        .name("conform-watch".into())
        .spawn(move || {
            let mut batch = BTreeSet::new();
            let mut rescan = false;
            let mut first: Option<Instant> = None;
            loop {
                let event = received.recv_timeout(QUIET);
                match event {
                    Ok(Ok(event)) => {
                        if event.need_rescan() {
                            rescan = true;
                        }
                        if matches!(
                            event.kind,
                            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any
                        ) {
                            for p in event.paths {
                                if wanted(&p) {
                                    batch.insert(p);
                                }
                            }
                        }
                        if (rescan || !batch.is_empty()) && first.is_none() {
                            first = Some(Instant::now());
                        }
                        if first.is_none_or(|f| f.elapsed() < MOST) {
                            continue;
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!("watching: {e}");
                        rescan = true;
                        first.get_or_insert_with(Instant::now);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if first.is_none() {
                    continue;
                }
                let paths: Vec<PathBuf> = std::mem::take(&mut batch).into_iter().collect();
                if work.send(make(paths, rescan)).is_err() {
                    break;
                }
                rescan = false;
                first = None;
            }
        })
        .map_err(|e| ServeError::Io {
            path: paths[0].clone(),
            source: e,
        })?;
    Ok(Watch { _watcher: watcher })
}
