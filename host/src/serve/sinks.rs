//! Where notifications go: a webhook, an NDJSON file, standard output. Each sink delivers the
//! outbox in order from its own cursor, on its own task, so a webhook that is down holds back
//! only itself; it retries with backoff for as long as it takes, and the messages wait in the
//! outbox (a restart resumes from the cursor).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use tokio::sync::{Notify, watch};

use super::metrics::Metrics;
use crate::config::NotifyConfig;
use crate::store::{QueuedMessage, Store};

/// The header that carries `sha256=<hex HMAC-SHA256 of the body>` when a secret is set.
pub const SIGNATURE_HEADER: &str = "X-Conform-Signature";
/// The message's stable id, also in the body as `MessageId`.
pub const MESSAGE_ID_HEADER: &str = "X-Conform-Message-Id";

/// Messages read from the outbox at a time.
const BATCH: usize = 256;

#[derive(Debug)]
pub enum Target {
    Webhook {
        url: String,
        secret: Option<Vec<u8>>,
        client: reqwest::Client,
    },
    File(PathBuf),
    Stdout,
}

/// A configured sink.
#[derive(Debug)]
pub struct Sink {
    /// Its cursor's name in the outbox.
    pub name: String,
    pub target: Target,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
}

impl Sink {
    /// The sink `config` describes; a webhook's secret is read from the environment here.
    pub fn new(config: &NotifyConfig) -> Result<Sink, String> {
        let (default_name, target) = if let Some(url) = &config.webhook {
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("webhook {url}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("webhook {url}: not an http or https URL"));
            }
            let secret = match (&config.secret, &config.secret_env) {
                (Some(s), _) => Some(s.clone().into_bytes()),
                (None, Some(var)) => Some(
                    std::env::var(var)
                        .map_err(|_| format!("webhook {url}: secret_env {var} is not set"))?
                        .into_bytes(),
                ),
                (None, None) => None,
            };
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("conform/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("webhook {url}: {e}"))?;
            (
                format!("webhook {url}"),
                Target::Webhook {
                    url: url.clone(),
                    secret,
                    client,
                },
            )
        } else if let Some(path) = &config.file {
            (
                format!("file {}", path.display()),
                Target::File(path.clone()),
            )
        } else {
            ("stdout".to_string(), Target::Stdout)
        };
        Ok(Sink {
            name: config.name.clone().unwrap_or(default_name),
            target,
            retry_max: config.retry_max.unwrap_or(Duration::from_secs(60)),
        })
    }

    /// Sends one message; an error says why it did not leave.
    async fn send(&self, message: &QueuedMessage) -> Result<(), String> {
        match &self.target {
            Target::Webhook {
                url,
                secret,
                client,
            } => {
                let mut request = client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header(MESSAGE_ID_HEADER, &message.message_id)
                    .header("X-Conform-Message-Type", &message.kind)
                    .body(message.body.clone());
                if let Some(secret) = secret {
                    request = request.header(SIGNATURE_HEADER, signature(secret, &message.body));
                }
                let response = request.send().await.map_err(|e| format!("{e}"))?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("answered {}", response.status()))
                }
            }
            Target::File(path) => {
                let path = path.clone();
                let line = message.body.clone();
                tokio::task::spawn_blocking(move || append_line(&path, &line))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", message.body)
                    .and_then(|()| out.flush())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`, as GitHub signs webhooks: a
/// receiver recomputes it over the bytes it received and compares in constant time.
pub fn signature(secret: &[u8], body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + bytes.len() * 2);
    hex.push_str("sha256=");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Appends `line` and syncs it: a message is delivered to a file once it is on disk.
fn append_line(path: &std::path::Path, line: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Delivers the outbox through `sink` until `stop` turns true; then sends what is queued for
/// at most `grace` more (the flush on shutdown) and returns.
///
/// `store` is this sink's own connection. `wake` is notified whenever a scan queued messages.
pub async fn deliver(
    sink: Arc<Sink>,
    store: Arc<Mutex<Store>>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    metrics: Arc<Metrics>,
) {
    let name = sink.name.clone();
    let read = {
        let store = store.clone();
        let name = name.clone();
        move || store.lock().expect("store lock").sink_cursor(&name)
    };
    let mut cursor = match tokio::task::spawn_blocking(read).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::error!(sink = %name, "cannot read the outbox: {e}");
            return;
        }
        Err(_) => return,
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        if deadline.is_none() && *stop.borrow() {
            deadline = Some(tokio::time::Instant::now() + grace);
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        let batch = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store
                    .lock()
                    .expect("store lock")
                    .outbox_after(cursor, BATCH)
            })
            .await
        };
        let batch = match batch {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::warn!(sink = %name, "reading the outbox: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => return,
        };
        if batch.is_empty() {
            if deadline.is_some() {
                break;
            }
            metrics.backlog(&name, 0);
            tokio::select! {
                _ = wake.notified() => {}
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let mut sent_to = cursor;
        for message in &batch {
            let mut wait = Duration::from_millis(250);
            loop {
                match sink.send(message).await {
                    Ok(()) => {
                        metrics.delivered(&name);
                        break;
                    }
                    Err(why) => {
                        metrics.failed(&name);
                        tracing::warn!(
                            sink = %name,
                            message = %message.message_id,
                            "not delivered ({why}); next attempt in {:.1} s",
                            wait.as_secs_f64()
                        );
                    }
                }
                let give_up = deadline.unwrap_or_else(|| {
                    tokio::time::Instant::now() + Duration::from_secs(365 * 86400)
                });
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = tokio::time::sleep_until(give_up) => break,
                    _ = stop.changed(), if deadline.is_none() => {
                        deadline = Some(tokio::time::Instant::now() + grace);
                    }
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    break;
                }
                wait = (wait * 2).min(sink.retry_max);
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break;
            }
            sent_to = message.id;
        }
        if sent_to > cursor {
            cursor = sent_to;
            let store = store.clone();
            let name2 = name.clone();
            let saved = tokio::task::spawn_blocking(move || {
                let store = store.lock().expect("store lock");
                store.set_sink_cursor(&name2, cursor)?;
                store.outbox_end()
            })
            .await;
            match saved {
                Ok(Ok(end)) => metrics.backlog(&name, (end - cursor).max(0) as u64),
                Ok(Err(e)) => tracing::warn!(sink = %name, "saving the cursor: {e}"),
                Err(_) => return,
            }
        }
    }
    tracing::info!(sink = %name, delivered_through = cursor, "sink stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn signature_is_hmac_sha256() {
        assert_eq!(
            signature(b"Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
