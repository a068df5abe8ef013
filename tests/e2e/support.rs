//! Helpers shared by the end-to-end tests: a scratch directory with a store in it, a way to
//! run `conform`, and builders for configuration items modelled on AWS Config's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// A scratch directory holding one store.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

/// What a `conform` run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Asserts the tool failed (exit 2) saying every one of `fragments` on stderr.
    #[track_caller]
    pub fn fails_with(self, fragments: &[&str]) -> Run {
        assert_eq!(
            self.code, 2,
            "expected exit 2:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        for fragment in fragments {
            assert!(
                self.stderr.contains(fragment),
                "stderr lacks {fragment:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "conform failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("conform.db")
    }

    /// Runs `conform --db <scratch db> ARGS...`.
    pub fn conform(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("conform runs").into()
    }

    /// Runs `conform` with extra environment variables.
    pub fn conform_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("conform runs").into()
    }

    /// Runs `conform` as `conform` does, sampling its peak resident memory (VmHWM, which only
    /// grows) until it exits; returns the run and the peak in MiB.
    pub fn conform_measured(&self, args: &[&str]) -> (Run, u64) {
        use std::io::Read;
        let mut child = self.spawn_piped(args);
        let status_file = format!("/proc/{}/status", child.id());
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut b = Vec::new();
            out.read_to_end(&mut b).map(|_| b)
        });
        let err = std::thread::spawn(move || {
            let mut b = Vec::new();
            err.read_to_end(&mut b).map(|_| b)
        });
        let mut peak_kib = 0u64;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            let hwm = std::fs::read_to_string(&status_file)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                })
                .unwrap_or(0);
            peak_kib = peak_kib.max(hwm);
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.join().unwrap().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&err.join().unwrap().unwrap()).into_owned(),
        };
        (run, peak_kib / 1024)
    }

    /// Runs `conform` with its stdout a pipe whose reader has already gone, as under
    /// `conform gate | head -c 0` once `head` has exited: every write fails with EPIPE.
    pub fn conform_closed_stdout(&self, args: &[&str]) -> Run {
        let mut child = self.spawn_piped(args);
        drop(child.stdout.take());
        child.wait_with_output().expect("conform ends").into()
    }

    /// `conform` started with its stdout and stderr piped to this process.
    fn spawn_piped(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("conform runs")
    }

    /// The command `conform` runs as, in this scratch directory, with a clean environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_conform"));
        command
            .arg("--db")
            .arg(self.db())
            .args(args)
            .current_dir(self.dir.path()) // conform.toml is read from here
            .env_remove("RUST_LOG")
            .env_remove("CONFORM_CONFIG")
            .env_remove("CONFORM_BASELINE")
            .env_remove("CONFORM_DB")
            .env("CONFORM_CACHE_DIR", cache_dir());
        command
    }

    /// Ingests and returns the last snapshot it stored (`--format json`), `null` if none.
    #[track_caller]
    pub fn ingest(&self, args: &[&str]) -> Value {
        let mut all = vec!["ingest", "--format", "json"];
        all.extend_from_slice(args);
        let report = self.conform(&all).ok().json();
        report["snapshots"]
            .as_array()
            .and_then(|s| s.last())
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes an AWS snapshot file holding `items` and ingests it; returns the snapshot.
    #[track_caller]
    pub fn ingest_items(&self, name: &str, items: &[Value]) -> Value {
        let path = self.snapshot_file(name, items);
        self.ingest(&[as_str(&path)])
    }

    /// Writes an AWS snapshot file holding `items`.
    pub fn snapshot_file(&self, name: &str, items: &[Value]) -> PathBuf {
        self.write(name, snapshot(items).to_string())
    }

    /// The store's main file and write-ahead log, byte for byte.
    pub fn db_bytes(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let wal = self.db().with_extension("db-wal");
        (
            std::fs::read(self.db()).unwrap_or_default(),
            std::fs::read(wal).ok(),
        )
    }

    /// Asserts that every reference the store holds points at a row (ingest writes its
    /// references without SQLite enforcing them) and that SQLite finds the file sound.
    pub fn assert_store_consistent(&self) {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let dangling: Vec<(String, i64, String)> = conn
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            dangling.is_empty(),
            "rows (table, rowid, parent) with dangling references: {dangling:?}"
        );
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    /// How many snapshots the store lists.
    pub fn snapshot_count(&self) -> usize {
        self.conform(&["snapshots", "--format", "json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len()
    }

    pub fn versions(&self) -> u64 {
        self.conform(&["stats", "--format", "json"]).ok().json()["versions"]
            .as_u64()
            .unwrap()
    }
}

/// The compiled-rule cache the tests share, under the build's scratch directory.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

pub fn as_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// An AWS snapshot file's envelope.
pub fn snapshot(items: &[Value]) -> Value {
    json!({"fileVersion": "1.0", "configSnapshotId": "00000000-0000-4000-8000-000000000001", "configurationItems": items})
}

/// An EBS volume item in the API dialect, captured at `captured`.
pub fn volume(id: &str, size: u64, encrypted: bool, captured: &str) -> Value {
    json!({
        "version": "1.3",
        "accountId": "123456789012",
        "configurationItemCaptureTime": captured,
        "configurationItemStatus": "OK",
        "configurationStateId": "1",
        "arn": format!("arn:aws:ec2:us-east-1:123456789012:volume/{id}"),
        "resourceType": "AWS::EC2::Volume",
        "resourceId": id,
        "awsRegion": "us-east-1",
        "availabilityZone": "us-east-1a",
        "tags": {"Team": "storage"},
        "relationships": [],
        "configuration": {"volumeId": id, "size": size, "encrypted": encrypted, "state": "available", "volumeType": "gp3"},
        "supplementaryConfiguration": {}
    })
}

/// The item moved to another region (its `awsRegion`, in either dialect's spelling).
pub fn in_region(mut item: Value, region: &str) -> Value {
    item["awsRegion"] = json!(region);
    item
}

/// An S3 bucket item in the file dialect.
pub fn bucket(name: &str, versioning: &str, captured: &str) -> Value {
    json!({
        "configurationItemVersion": "1.3",
        "awsAccountId": "123456789012",
        "configurationItemCaptureTime": captured,
        "configurationItemStatus": "OK",
        "configurationStateId": 1_700_000_000_000u64,
        "ARN": format!("arn:aws:s3:::{name}"),
        "resourceType": "AWS::S3::Bucket",
        "resourceId": name,
        "resourceName": name,
        "awsRegion": "us-east-1",
        "availabilityZone": "Regional",
        "tags": {},
        "relationships": [],
        "configuration": {"name": name, "creationDate": "2025-01-01T00:00:00.000Z"},
        "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": versioning, "isMfaDeleteEnabled": null}}
    })
}

/// The bundled sample's delivery files of one day (`"2026-11-16"`), from its merged
/// `snapshots/AWSLogs/` tree.
pub fn sample_week(day: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots/AWSLogs");
    let (y, m, d) = (
        &day[0..4],
        day[5..7].trim_start_matches('0'),
        day[8..10].trim_start_matches('0'),
    );
    let part = format!("/{y}/{m}/{d}/");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().contains(&part) {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no sample deliveries on {day}");
    files
}

/// Compiles the C example rule `rules-sdk/examples/c/NAME.c` with clang (no libc); the module's
/// path. Its manifest is in the source, so the compiler alone makes a rule conform loads.
pub fn c_rule(s: &Scratch, name: &str) -> String {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules-sdk");
    let wasm = s.path(&format!("{name}.wasm"));
    clang_rule(&sdk.join(format!("examples/c/{name}.c")), &wasm, false);
    as_str(&wasm).to_string()
}

/// Compiles the C rule `source` with clang into `wasm`, as conform.h's build line says: for
/// `wasm32` without libc, or with `wasi_libc` for `wasm32-wasi` against wasi-libc as a reactor
/// (its start is `_initialize`).
pub fn clang_rule(source: &Path, wasm: &Path, wasi_libc: bool) {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules-sdk/include");
    let target: &[&str] = if wasi_libc {
        &[
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-mexec-model=reactor",
        ]
    } else {
        &["--target=wasm32", "-nostdlib", "-Wl,--no-entry"]
    };
    let status = std::process::Command::new("clang")
        .args(target)
        .arg("-O2")
        .arg("-I")
        .arg(include)
        .arg("-o")
        .arg(wasm)
        .arg(source)
        .status()
        .expect("clang runs (tests/setup.sh installs clang, lld and wasi-libc)");
    assert!(status.success(), "clang compiled {}", source.display());
}

/// Each rule's counts of each compliance in a scan report (`scan --format json`): what a full
/// and an incremental scan must agree on.
pub fn compliance_counts(report: &Value) -> Vec<Value> {
    let rules = report["rules"].as_array().unwrap().iter();
    rules
        .map(|r| {
            serde_json::json!([
                r["rule_id"],
                r["compliant"],
                r["non_compliant"],
                r["not_applicable"],
                r["error"]
            ])
        })
        .collect()
}

/// Rows in a table of the store.
pub fn rows(s: &Scratch, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Where the tests build rules with other toolchains: once per run of the test binary, and by
/// cargo's own cache across runs.
fn toolchain_dir(what: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(what);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles the C rule `tests/fixtures/rules/wasi/NAME.c` against wasi-libc (a reactor, so
/// its start is `_initialize`; its manifest in the source); the module's path. Built once per
/// test run.
pub fn wasi_c_rule(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let wasm = toolchain_dir("wasi-c").join(format!("{name}.wasm"));
    if built.iter().any(|b| b == name) {
        return wasm;
    }
    clang_rule(&fixture(&format!("rules/wasi/{name}.c")), &wasm, true);
    built.push(name.to_string());
    wasm
}

/// Builds the Rust std rule `tests/fixtures/rules/wasi/rust-std` for wasm32-wasip1; the
/// module's path. Built once per test run (cargo skips it when nothing changed).
pub fn rust_std_rule() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = toolchain_dir("wasi-rust");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--release", "--locked"])
                .args(["--target", "wasm32-wasip1", "--manifest-path"])
                .arg(fixture("rules/wasi/rust-std/Cargo.toml"))
                .arg("--target-dir")
                .arg(&target)
                // The outer build's settings are for the host, not for this module.
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env_remove("CARGO_TARGET_DIR")
                .status()
                .expect("cargo runs");
            assert!(
                status.success(),
                "the Rust std rule built (tests/setup.sh adds the wasm32-wasip1 target)"
            );
            target.join("wasm32-wasip1/release/rule_rust_std.wasm")
        })
        .clone()
}

/// Builds the Python component `DIR/NAME.py` (a `resource-rule` of `rules-sdk/wit/1.0.0`) with
/// the tests' componentize-py and writes `DIR/NAME.json` into it; the component's path. Built
/// once per test run.
pub fn python_rule(dir: &Path, name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let out = toolchain_dir("python").join(format!("{name}.wasm"));
    let source = dir.join(name);
    if built.contains(&source) {
        return out;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(root.join("tests/.deps/venv/bin/componentize-py"))
        .arg("-d")
        .arg(root.join("rules-sdk/wit/1.0.0"))
        .args(["-w", "resource-rule", "componentize", "-p"])
        .arg(dir)
        .arg(name)
        .arg("-o")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("componentize-py runs (tests/setup.sh installs it)");
    assert!(
        status.success(),
        "componentize-py built {}",
        source.display()
    );
    let s = Scratch::new();
    s.conform(&[
        "rules",
        "annotate",
        as_str(&out),
        "--manifest",
        as_str(&dir.join(format!("{name}.json"))),
    ])
    .ok();
    built.push(source);
    out
}

/// Each resource's (id, compliance, annotation) under `rule` in the latest scan, sorted.
pub fn verdicts(s: &Scratch, rule: &str) -> Vec<(String, String, String)> {
    let results = s
        .conform(&["results", "--rule", rule, "--format", "json"])
        .ok()
        .json();
    let mut out: Vec<(String, String, String)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            (text("resource_id"), text("compliance"), text("annotation"))
        })
        .collect();
    out.sort();
    out
}

/// Ingests the three sample weeks and scans each with the built-ins and the `ports` of
/// ENCRYPTED_VOLUMES (rule id, module path), without parameters and with a `kmsId` some sample
/// volumes use: every port must give the built-in's verdict and annotation on every volume.
pub fn ports_agree_with_encrypted_volumes(s: &Scratch, ports: &[(&str, &str)]) {
    let key = "arn:aws:kms:us-east-1:111122223333:key/00000029-1111-4222-8333-000000000029";
    let mut params = serde_json::Map::new();
    for id in std::iter::once("ENCRYPTED_VOLUMES").chain(ports.iter().map(|(id, _)| *id)) {
        params.insert(id.to_string(), json!({"kmsId": key}));
    }
    let params = s.write("params.json", Value::Object(params).to_string());
    for week in ["2026-11-02", "2026-11-09", "2026-11-16"] {
        let files = sample_week(week);
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        s.ingest(&files);
        for extra in [None, Some(as_str(&params))] {
            let mut args = vec!["scan"];
            for (_, module) in ports {
                args.extend(["--rules", module]);
            }
            if let Some(p) = extra {
                args.extend(["--params", p]);
            }
            s.conform(&args).ok();
            let builtin = verdicts(s, "ENCRYPTED_VOLUMES");
            assert!(builtin.len() >= 10, "the sample has volumes: {builtin:?}");
            let kinds: std::collections::BTreeSet<&str> =
                builtin.iter().map(|(_, c, _)| c.as_str()).collect();
            assert!(
                kinds.len() >= 2,
                "the sample exercises more than one outcome: {kinds:?}"
            );
            for (id, _) in ports {
                assert_eq!(
                    verdicts(s, id),
                    builtin,
                    "{id} agrees with the built-in in {week} (params: {extra:?})"
                );
            }
        }
    }
}

/// The ids of the built-in rules, as `conform rules --format json` lists them.
pub fn builtin_ids(s: &Scratch) -> Vec<String> {
    let listed = s.conform(&["rules", "--format", "json"]).ok().json();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}
