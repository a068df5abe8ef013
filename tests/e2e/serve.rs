//! `conform serve` end to end: the real daemon on a temporary store and a loopback port the
//! test picked, real delivery files moved into its watched directory, notifications received
//! by a webhook server of the test's own on 127.0.0.1, every API endpoint queried, and the
//! daemon stopped by SIGTERM or killed with SIGKILL and started again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::Value;

use crate::support::{Scratch, as_str, cache_dir, sample_week};

const SECRET: &str = "test-secret";

/// A port nothing listens on now (the OS's choice, released at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `done` up to `limit`, polling; panics with `what` if it never holds.
#[track_caller]
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A POST the test webhook received.
#[derive(Debug, Clone)]
struct Received {
    signature: Option<String>,
    message_id: Option<String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on 127.0.0.1 that answers 200 and keeps what it got.
struct Webhook {
    server: Arc<tiny_http::Server>,
    got: Arc<Mutex<Vec<Received>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    fn start(port: u16) -> Webhook {
        Webhook::start_keeping(port, Arc::new(Mutex::new(Vec::new())))
    }

    fn start_keeping(port: u16, got: Arc<Mutex<Vec<Received>>>) -> Webhook {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).expect("bind"));
        let (s, g) = (server.clone(), got.clone());
        let thread = std::thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let header = |name: &'static str| {
                    request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.as_str().to_string())
                };
                let (signature, message_id) = (
                    header("X-Conform-Signature"),
                    header("X-Conform-Message-Id"),
                );
                let mut body = String::new();
                request.as_reader().read_to_string(&mut body).unwrap();
                g.lock().unwrap().push(Received {
                    signature,
                    message_id,
                    body,
                });
                let _ = request.respond(tiny_http::Response::empty(200));
            }
        });
        Webhook {
            server,
            got,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/hook",
            self.server.server_addr().to_ip().unwrap().port()
        )
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running `conform serve`, killed when dropped.
struct Daemon {
    child: Child,
    port: u16,
    log: PathBuf,
    agent: ureq::Agent,
}

impl Daemon {
    fn start(s: &Scratch, args: &[&str]) -> Daemon {
        Daemon::start_with_env(s, args, &[])
    }

    fn start_with_env(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let port = free_port();
        let log = s.path(&format!("serve-{port}.log"));
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_conform"));
        command
            .arg("--db")
            .arg(s.db())
            .args(["serve", "--listen", &listen])
            .args(args)
            .current_dir(s.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("CONFORM_CONFIG")
            .env_remove("CONFORM_DB")
            .env_remove("CONFORM_API_TOKEN")
            .env("CONFORM_WEBHOOK_SECRET", SECRET)
            .env("CONFORM_CACHE_DIR", cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("conform serve starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Daemon {
            child,
            port,
            log,
            agent,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` (with a bearer token if given): the status and the body.
    fn get_as(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self
            .agent
            .get(format!("http://127.0.0.1:{}{path}", self.port));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        match request.call() {
            Ok(mut r) => (
                r.status().as_u16(),
                r.body_mut().read_to_string().unwrap_or_default(),
            ),
            Err(e) => (0, e.to_string()),
        }
    }

    /// GET `path`, which must answer 200 with JSON.
    #[track_caller]
    fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_as(path, None);
        assert_eq!(status, 200, "GET {path}: {body}\nlog:\n{}", self.log());
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Waits until the API answers and the daemon has caught up.
    #[track_caller]
    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("conform serve exited ({status}):\n{}", self.log());
            }
            if self.get_as("/api/v1/health", None).0 == 200 {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "never ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the latest scan is of snapshot `snapshot` and no sink has a backlog.
    #[track_caller]
    fn wait_settled(&mut self, snapshot: i64) {
        let start = Instant::now();
        loop {
            let (status, body) = self.get_as("/api/v1/health", None);
            if status == 200 {
                let h: Value = serde_json::from_str(&body).unwrap();
                let backlog: u64 = h["store"]["outbox_backlog"]
                    .as_object()
                    .map(|m| m.values().map(|v| v.as_u64().unwrap()).sum())
                    .unwrap_or(0);
                if h["last_run"]["snapshot"] == snapshot && backlog == 0 {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("conform serve exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "snapshot {snapshot} never settled:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and returns the exit code.
    fn terminate(mut self) -> i32 {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no exit after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash or the OOM killer would.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Moves `files` into a new directory `name` of `watch` at once (a rename, as a sync that
/// writes elsewhere first does), so the daemon sees one delivery.
fn deliver(s: &Scratch, watch: &Path, name: &str, files: &[String]) {
    let staging = s.path(&format!("staging-{name}"));
    std::fs::create_dir_all(&staging).unwrap();
    for f in files {
        let f = Path::new(f);
        std::fs::copy(f, staging.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::rename(&staging, watch.join(name)).unwrap();
}

/// (rule, account, region, type, id) → compliance of a list of evaluations from `results`
/// or the API.
fn verdicts(evaluations: &Value) -> BTreeMap<(String, String, String, String, String), String> {
    evaluations
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap().to_string();
            (
                (
                    f("rule_id"),
                    f("account_id"),
                    f("region"),
                    f("resource_type"),
                    f("resource_id"),
                ),
                f("compliance"),
            )
        })
        .collect()
}

type Key = (String, String, String, String, String);

/// A notification's evaluation key and its new compliance in conform's words (`None`: no
/// longer evaluated).
fn change_of(message: &Value) -> (Key, Option<String>) {
    let m = &message["Message"];
    let f = |k: &str| m[k].as_str().unwrap().to_string();
    let key = (
        f("configRuleName"),
        f("awsAccountId"),
        f("awsRegion"),
        f("resourceType"),
        f("resourceId"),
    );
    (key, m["conform"]["compliance"].as_str().map(str::to_string))
}

/// Applies notifications, in order and each id once, to a state of verdicts: what a receiver
/// that keeps the estate's compliance from them would hold.
fn replay(mut state: BTreeMap<Key, String>, messages: &[Value]) -> BTreeMap<Key, String> {
    let mut seen = BTreeSet::new();
    for m in messages {
        if !seen.insert(m["MessageId"].as_str().unwrap().to_string()) {
            continue;
        }
        match change_of(m) {
            (key, Some(c)) => {
                state.insert(key, c);
            }
            (key, None) => {
                state.remove(&key);
            }
        }
    }
    state
}

fn results(s: &Scratch, snapshot: i64) -> Value {
    s.conform(&[
        "results",
        "--snapshot",
        &snapshot.to_string(),
        "--format",
        "json",
    ])
    .ok()
    .json()
}

/// The whole loop on the bundled sample: deliveries land, every compliance change arrives
/// signed at the webhook (the first scan's evaluations all, as AWS Config sends them, then
/// exactly what `compliance-changes` reports), the NDJSON sink holds the same messages, every
/// endpoint answers, and SIGTERM exits 0.
#[test]
fn serve_notifies_every_change_and_answers_the_api() {
    let s = Scratch::new();
    let watch = s.path("deliveries");
    std::fs::create_dir(&watch).unwrap();
    let hook = Webhook::start(0);
    let file_sink = s.path("notifications.ndjson");
    let mut daemon = Daemon::start(
        &s,
        &[
            "--watch",
            as_str(&watch),
            "--webhook",
            &hook.url(),
            "--notify-file",
            as_str(&file_sink),
        ],
    );
    daemon.wait_ready();
    assert_eq!(daemon.get("/api/v1/snapshots"), serde_json::json!([]));

    deliver(&s, &watch, "day1", &sample_week("2026-11-02"));
    daemon.wait_settled(1);
    let first = results(&s, 1);
    let got = hook.received();
    assert_eq!(
        got.len(),
        first.as_array().unwrap().len(),
        "one message per first evaluation"
    );
    for r in &got {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(r.body.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            r.signature.as_deref(),
            Some(format!("sha256={hex}").as_str())
        );
        assert_eq!(r.message_id.as_deref(), r.json()["MessageId"].as_str());
    }
    let messages: Vec<Value> = got.iter().map(Received::json).collect();
    assert_eq!(replay(BTreeMap::new(), &messages), verdicts(&first));

    deliver(&s, &watch, "day2", &sample_week("2026-11-09"));
    daemon.wait_settled(2);
    let changes = s
        .conform(&["compliance-changes", "--snapshot", "2", "--format", "json"])
        .ok()
        .json();
    let expected: BTreeSet<(Key, Option<String>)> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap().to_string();
            (
                (
                    f("rule_id"),
                    f("account_id"),
                    f("region"),
                    f("resource_type"),
                    f("resource_id"),
                ),
                c["new_compliance"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "the sample's second week changes something"
    );
    let got = hook.received();
    let second: BTreeSet<(Key, Option<String>)> = got[messages.len()..]
        .iter()
        .map(|r| change_of(&r.json()))
        .collect();
    assert_eq!(second, expected);
    let all: Vec<Value> = got.iter().map(Received::json).collect();
    assert_eq!(replay(BTreeMap::new(), &all), verdicts(&results(&s, 2)));
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|m| m["MessageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), all.len(), "every message has its own id");
    let lines: Vec<Value> = std::fs::read_to_string(&file_sink)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines, all,
        "the file sink holds the same messages, in order"
    );

    // The API.
    let health = daemon.get("/api/v1/health");
    assert_eq!(health["ready"], true);
    assert_eq!(daemon.get("/api/v1/snapshots").as_array().unwrap().len(), 2);
    let latest = verdicts(&results(&s, 2));
    for by in ["rule", "account", "resource_type"] {
        let summary = daemon.get(&format!("/api/v1/compliance?by={by}"));
        let total: u64 = summary["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["total"].as_u64().unwrap())
            .sum();
        assert_eq!(total as usize, latest.len(), "by {by}");
    }
    let by_rule = daemon.get("/api/v1/compliance?by=rule&snapshot=1");
    let one_rule = &by_rule["groups"][0];
    let rule = one_rule["key"].as_str().unwrap();
    let counted: usize = verdicts(&first).keys().filter(|k| k.0 == rule).count();
    assert_eq!(one_rule["total"].as_u64().unwrap() as usize, counted);

    let mut paged = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(after) => format!("/api/v1/evaluations?limit=7&after={after}"),
            None => "/api/v1/evaluations?limit=7".to_string(),
        };
        let page = daemon.get(&url);
        let evaluations = page["evaluations"].as_array().unwrap();
        assert!(evaluations.len() <= 7);
        paged.extend(evaluations.iter().cloned());
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|e| e.to_string());
        v
    };
    let listed = results(&s, 2).as_array().unwrap().clone();
    assert_eq!(paged.len(), listed.len(), "no evaluation twice or left out");
    assert!(sorted(paged) == sorted(listed), "pages add up to `results`");
    let non_compliant = daemon.get("/api/v1/evaluations?compliance=NON_COMPLIANT&limit=1000");
    let expected_nc = latest.values().filter(|c| *c == "NON_COMPLIANT").count();
    assert_eq!(
        non_compliant["evaluations"].as_array().unwrap().len(),
        expected_nc
    );
    assert_eq!(daemon.get_as("/api/v1/evaluations?limit=0", None).0, 400);
    assert_eq!(daemon.get_as("/api/v1/evaluations?after=zz", None).0, 400);
    assert_eq!(daemon.get_as("/api/v1/compliance?by=colour", None).0, 400);
    assert_eq!(daemon.get_as("/api/v1/compliance?snapshot=99", None).0, 404);
    assert_eq!(daemon.get_as("/api/v1/nothing", None).0, 404);

    let (rule, account, region, kind, id) =
        latest.keys().find(|k| k.3 == "AWS::EC2::Volume").unwrap();
    let _ = (rule, account, region);
    let resource = daemon.get(&format!("/api/v1/resources/{kind}/{id}"));
    assert_eq!(
        resource["resource"]["resource_id"],
        id.as_str(),
        "{resource}"
    );
    assert_eq!(resource["snapshots"].as_array().unwrap().len(), 2);
    assert!(!resource["versions"].as_array().unwrap().is_empty());
    assert_eq!(
        daemon
            .get_as("/api/v1/resources/AWS::EC2::Volume/vol-none", None)
            .0,
        404
    );

    s.conform(&["baseline", "set", "prod", "--snapshot", "1"])
        .ok();
    let drift = daemon.get("/api/v1/drift?baseline=prod");
    let cli_drift = s
        .conform(&["drift", "--baseline", "prod", "--format", "json"])
        .ok()
        .json();
    assert_eq!(drift, cli_drift, "the API's drift is the CLI's");
    let timeline = daemon.get("/api/v1/timeline");
    assert_eq!(timeline["baseline"], "prod");
    assert_eq!(timeline["snapshots"].as_array().unwrap().len(), 2);

    let (status, metrics) = daemon.get_as("/metrics", None);
    assert_eq!(status, 200);
    let delivered = format!(
        "conform_notifications_delivered_total{{sink=\"webhook {}\"}} {}",
        hook.url(),
        all.len()
    );
    assert!(
        metrics.contains(&delivered),
        "{delivered} not in:\n{metrics}"
    );
    assert!(
        metrics.contains("conform_outbox_backlog{sink=\"webhook"),
        "{metrics}"
    );
    assert!(
        metrics.contains("conform_scan_duration_seconds_count 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("conform_last_success_timestamp_seconds{job=\"watch"),
        "{metrics}"
    );

    assert_eq!(daemon.terminate(), 0, "SIGTERM exits 0");
}

/// A webhook that is down holds its messages in the outbox; once it is back they all arrive,
/// in order, none lost; and a restart in between resends nothing already delivered.
#[test]
fn a_webhook_that_was_down_gets_every_message_once_it_is_back() {
    let s = Scratch::new();
    let watch = s.path("deliveries");
    std::fs::create_dir(&watch).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let args = [
        "--watch",
        as_str(&watch),
        "--webhook",
        &url,
        "--retry-max",
        "0.3",
        "--grace",
        "1",
    ];
    let mut daemon = Daemon::start(&s, &args);
    daemon.wait_ready();
    deliver(&s, &watch, "day1", &sample_week("2026-11-02"));
    let failures = format!("conform_notification_failures_total{{sink=\"webhook {url}\"}}");
    wait_for("failed attempts", Duration::from_secs(60), || {
        daemon.get_as("/metrics", None).1.contains(&failures)
    });
    let expected = results(&s, 1).as_array().map(Vec::len);
    let health = daemon.get("/api/v1/health");
    let backlog = health["store"]["outbox_backlog"][format!("webhook {url}")]
        .as_u64()
        .unwrap();
    assert_eq!(
        Some(backlog as usize),
        expected,
        "everything waits in the outbox"
    );

    // Restarted while the webhook is still down: the messages are still queued.
    assert_eq!(daemon.terminate(), 0);
    let mut daemon = Daemon::start(&s, &args);
    daemon.wait_ready();
    std::thread::sleep(Duration::from_millis(500));
    let hook = Webhook::start(port);
    daemon.wait_settled(1);
    let got = hook.received();
    let messages: Vec<Value> = got.iter().map(Received::json).collect();
    assert_eq!(Some(messages.len()), expected, "all of them, once each");
    assert_eq!(
        replay(BTreeMap::new(), &messages),
        verdicts(&results(&s, 1))
    );
    assert_eq!(daemon.terminate(), 0);
}

/// One daemon per store: a second is refused and names the first one's pid.
#[test]
fn a_second_daemon_on_the_same_store_is_refused() {
    let s = Scratch::new();
    let watch = s.path("deliveries");
    std::fs::create_dir(&watch).unwrap();
    let mut first = Daemon::start(&s, &["--watch", as_str(&watch)]);
    first.wait_ready();
    let pid = first.child.id().to_string();
    let second = s.conform(&[
        "serve",
        "--watch",
        as_str(&watch),
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    second.fails_with(&["another conform serve", &format!("pid {pid}")]);
    assert_eq!(first.terminate(), 0);
}

/// With CONFORM_API_TOKEN set, every request needs it; without one, only loopback is served.
#[test]
fn the_api_token_guards_every_endpoint() {
    let s = Scratch::new();
    let watch = s.path("deliveries");
    std::fs::create_dir(&watch).unwrap();
    let daemon = Daemon::start_with_env(
        &s,
        &["--watch", as_str(&watch)],
        &[("CONFORM_API_TOKEN", "t0ken")],
    );
    let start = Instant::now();
    while daemon.get_as("/api/v1/health", Some("t0ken")).0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for path in ["/api/v1/health", "/api/v1/snapshots", "/metrics"] {
        assert_eq!(daemon.get_as(path, None).0, 401, "{path} without a token");
        assert_eq!(
            daemon.get_as(path, Some("t0kem")).0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(daemon.get_as(path, Some("t0ken")).0, 200, "{path}");
    }
    assert_eq!(daemon.terminate(), 0);

    let open = s.conform(&["serve", "--watch", as_str(&watch), "--listen", "0.0.0.0:1"]);
    open.fails_with(&["needs a bearer token", "CONFORM_API_TOKEN"]);
}

/// SIGKILL in the middle of an ingest and in the middle of a scan, then a restart: the
/// delivery is ingested (again), the scan done, and the notifications, replayed once each by
/// id, turn the first snapshot's verdicts into the last one's; the store ends as a plain
/// ingest and scan of the same files leaves it.
#[test]
fn kill_9_mid_ingest_and_mid_scan_loses_nothing() {
    let s = Scratch::new();
    let generated = s.path("generated");
    s.conform(&[
        "generate",
        "--items",
        "6000",
        "--snapshots",
        "3",
        "--churn",
        "10%",
        "--out",
        as_str(&generated),
    ])
    .ok();
    let slow =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rules/slow/slow-volume.wat");
    let rules = ["--rules", as_str(&slow)];
    let day = |n: u32| generated.join(format!("snapshot-{n:04}"));
    s.conform(&["ingest", as_str(&day(1))]).ok();
    let mut scan = vec!["scan"];
    scan.extend(rules);
    s.conform(&scan).ok();
    let before = verdicts(&results(&s, 1));

    let watch = s.path("deliveries");
    std::fs::create_dir(&watch).unwrap();
    let sink = s.path("notifications.ndjson");
    let mut args = vec!["--watch", as_str(&watch), "--notify-file", as_str(&sink)];
    args.extend(rules);

    let mut daemon = Daemon::start(&s, &args);
    daemon.wait_ready();
    // Mid-ingest: killed as soon as it says it is ingesting.
    let count = |log: &str, what: &str| log.matches(what).count();
    let (ingests, stored) = (
        count(&daemon.log(), "ingesting"),
        count(&daemon.log(), "snapshot stored"),
    );
    std::fs::rename(day(2), watch.join("day2")).unwrap();
    wait_for("the ingest to start", Duration::from_secs(60), || {
        count(&daemon.log(), "ingesting") > ingests
    });
    let log = daemon.log();
    daemon.kill_9();
    let ingest_cut = count(&log, "snapshot stored") == stored;
    let mut daemon = Daemon::start(&s, &args);
    daemon.wait_ready();
    daemon.wait_settled(2);

    // Mid-scan: killed once it says it is scanning (the slow rule makes that long).
    std::fs::rename(day(3), watch.join("day3")).unwrap();
    wait_for("the scan to start", Duration::from_secs(60), || {
        daemon.log().contains("scanning snapshot=3")
    });
    std::thread::sleep(Duration::from_millis(100));
    let log = daemon.log();
    daemon.kill_9();
    let scan_cut = !log.contains("scanned snapshot=3");
    let mut daemon = Daemon::start(&s, &args);
    daemon.wait_ready();
    daemon.wait_settled(3);
    assert_eq!(daemon.terminate(), 0);
    eprintln!("killed mid-ingest: {ingest_cut}; killed mid-scan: {scan_cut}");
    assert!(ingest_cut, "the first kill came after the ingest finished");
    assert!(scan_cut, "the second kill came after the scan finished");

    assert_eq!(s.snapshot_count(), 3, "each delivery is one snapshot, once");
    let messages: Vec<Value> = std::fs::read_to_string(&sink)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!messages.is_empty());
    let after = verdicts(&results(&s, 3));
    assert_eq!(replay(before, &messages), after, "no message lost");

    // The same files ingested and scanned by hand give the same verdicts.
    let reference = Scratch::new();
    for n in 1..=3 {
        reference
            .conform(&["ingest", as_str(&day_in(&watch, &generated, n))])
            .ok();
    }
    let mut scan = vec!["scan"];
    scan.extend(rules);
    reference.conform(&scan).ok();
    assert_eq!(verdicts(&results(&reference, 3)), after);
}

/// Where delivery `n` of the kill test is now: moved into the watched directory, or (the
/// first) still where it was generated.
fn day_in(watch: &Path, generated: &Path, n: u32) -> PathBuf {
    let moved = watch.join(format!("day{n}"));
    if moved.exists() {
        moved
    } else {
        generated.join(format!("snapshot-{n:04}"))
    }
}

/// `conform.toml` alone configures the daemon: a cron schedule evaluates again every second,
/// a rule file dropped into the rule directory is loaded and its first evaluations notified
/// (one that cannot load is reported and the rules in use stay), and a resource that starts to
/// differ from the baseline gets a drift message, exactly for what `conform drift` reports.
#[test]
fn schedules_rule_reloads_and_drift_messages() {
    let s = Scratch::new();
    std::fs::create_dir(s.path("deliveries")).unwrap();
    std::fs::create_dir(s.path("rules")).unwrap();
    s.write(
        "conform.toml",
        "[serve]\nrules = [\"rules\"]\nbaseline = \"prod\"\n\
         [[watch]]\npath = \"deliveries\"\n\
         [[schedule]]\nname = \"every-second\"\ncron = \"* * * * * *\"\n\
         [[notify]]\nfile = \"notifications.ndjson\"\n",
    );
    let sink = s.path("notifications.ndjson");
    let read_sink = || -> Vec<Value> {
        std::fs::read_to_string(&sink)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut daemon = Daemon::start(&s, &[]);
    daemon.wait_ready();
    deliver(
        &s,
        &s.path("deliveries"),
        "day1",
        &sample_week("2026-11-02"),
    );
    daemon.wait_settled(1);
    s.conform(&["baseline", "set", "prod", "--snapshot", "1"])
        .ok();
    let first = read_sink().len();

    deliver(
        &s,
        &s.path("deliveries"),
        "day2",
        &sample_week("2026-11-09"),
    );
    daemon.wait_settled(2);
    let drift = s
        .conform(&["drift", "--baseline", "prod", "--format", "json"])
        .ok()
        .json();
    let expected: BTreeSet<(String, String)> = drift["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource_id"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    let drifted: BTreeSet<(String, String)> = read_sink()[first..]
        .iter()
        .filter(|m| m["Message"]["messageType"] == "DriftChangeNotification")
        .map(|m| {
            let m = &m["Message"];
            assert_eq!(m["baseline"], "prod");
            assert_eq!(m["drifted"], true);
            (
                m["resourceId"].as_str().unwrap().to_string(),
                m["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(drifted, expected, "one drift message per drifted resource");

    // The schedule runs.
    wait_for("a scheduled evaluation", Duration::from_secs(30), || {
        daemon
            .get_as("/metrics", None)
            .1
            .contains("conform_last_success_timestamp_seconds{job=\"schedule every-second\"}")
    });

    // A rule that cannot load is reported and left out; the others run.
    let refused = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rules/refused");
    std::fs::copy(
        refused.join("unknown-import.wat"),
        s.path("rules/unknown-import.wat"),
    )
    .unwrap();
    wait_for("the reload to fail", Duration::from_secs(30), || {
        daemon.get("/api/v1/health")["last_run"]["rules_error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown-import.wat"))
    });
    let scans = |d: &Daemon| {
        let m = d.get_as("/metrics", None).1;
        m.lines()
            .find_map(|l| l.strip_prefix("conform_scan_duration_seconds_count "))
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let ran = scans(&daemon);
    wait_for("the schedule to go on", Duration::from_secs(30), || {
        scans(&daemon) > ran
    });

    // A new rule: loaded, run, and its first evaluations notified.
    let before = read_sink().len();
    let slow =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rules/slow/slow-volume.wat");
    std::fs::copy(slow, s.path("rules/slow-volume.wat")).unwrap();
    let volumes = verdicts(&results(&s, 2))
        .keys()
        .filter(|k| k.3 == "AWS::EC2::Volume")
        .map(|k| k.4.clone())
        .collect::<BTreeSet<_>>()
        .len();
    wait_for(
        "the new rule's notifications",
        Duration::from_secs(60),
        || {
            read_sink()[before..]
                .iter()
                .filter(|m| m["Message"]["configRuleName"] == "SLOW_VOLUME")
                .count()
                == volumes
        },
    );
    let health = daemon.get("/api/v1/health");
    assert!(
        health["last_run"]["rules_error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown-import.wat")),
        "the refused rule is still reported: {health}"
    );
    assert_eq!(daemon.terminate(), 0);
}
