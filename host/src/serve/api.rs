//! The read-only HTTP API under `/api/v1/` and Prometheus metrics at `/metrics` (host/API.md).
//!
//! Every handler reads on a read-only connection of its own, taken from a small pool, on
//! tokio's blocking threads: SQLite calls block, and a slow query must not hold up the
//! others. Nothing here writes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::metrics::Metrics;
use super::worker::Status;
use crate::config::Config;
use crate::store::{EvaluationFilter, PageKey, SnapshotSelector, Store, StoreError, SummaryBy};

/// The most evaluations one page holds.
pub const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

/// What every handler shares.
#[derive(Debug)]
pub struct Api {
    pub db: PathBuf,
    pub config: Config,
    pub status: Arc<Status>,
    pub metrics: Arc<Metrics>,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    pool: Mutex<Vec<Store>>,
    /// Compliance summaries by (scan, grouping). A stored scan never changes, so a summary
    /// is computed once (by the first request, the others waiting for it, or ahead of them
    /// by [`Api::warm`]) and then answered from memory.
    summaries: Mutex<SummaryCache>,
    /// Whether a warming thread runs, and whether a scan stored since wants another round:
    /// one thread at a time (at a million evaluations a round is seconds of a core, and
    /// deliveries may come faster), always warming the latest scan.
    warming: Mutex<(bool, bool)>,
}

/// The most summaries kept (three groupings of the latest few scans).
const SUMMARIES_KEPT: usize = 12;

type Summary = Arc<std::sync::OnceLock<Result<Value, String>>>;

#[derive(Debug, Default)]
struct SummaryCache {
    entries: Vec<((i64, SummaryBy), Summary)>,
}

impl SummaryCache {
    /// The cell for `key`, made (and the oldest dropped) if there is none.
    fn cell(&mut self, key: (i64, SummaryBy)) -> Summary {
        if let Some((_, cell)) = self.entries.iter().find(|(k, _)| *k == key) {
            return cell.clone();
        }
        if self.entries.len() >= SUMMARIES_KEPT {
            self.entries.remove(0);
        }
        let cell = Summary::default();
        self.entries.push((key, cell.clone()));
        cell
    }
}

impl Api {
    pub fn new(
        db: PathBuf,
        config: Config,
        status: Arc<Status>,
        metrics: Arc<Metrics>,
        token: Option<String>,
    ) -> Api {
        Api {
            db,
            config,
            status,
            metrics,
            token,
            pool: Mutex::new(Vec::new()),
            summaries: Mutex::new(SummaryCache::default()),
            warming: Mutex::new((false, false)),
        }
    }

    /// The summary of scan `scan` by `by`, computed once.
    fn summary(&self, store: &Store, scan: i64, by: SummaryBy) -> Result<Value, ApiError> {
        let cell = self.summaries.lock().expect("cache").cell((scan, by));
        let value = cell.get_or_init(|| {
            let mut groups: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
            let counts = store
                .compliance_summary(scan, by)
                .map_err(|e| e.to_string())?;
            for (key, compliance, n) in counts {
                groups.entry(key).or_default().insert(compliance, n);
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(key, counts)| {
                    let total: u64 = counts.values().sum();
                    json!({ "key": key, "counts": counts, "total": total })
                })
                .collect();
            Ok(Value::Array(groups))
        });
        value
            .clone()
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))
    }

    /// Computes the latest scan's summaries before anyone asks: run after each scan.
    pub fn warm(self: &Arc<Api>) {
        {
            let mut warming = self.warming.lock().expect("warming");
            if warming.0 {
                warming.1 = true;
                return;
            }
            warming.0 = true;
        }
        let api = self.clone();
        let spawned = std::thread::Builder::new()
            .name("conform-warm".into())
            .spawn(move || {
                let Ok(store) = Store::open_read_only(&api.db) else {
                    return;
                };
                loop {
                    if let Ok(Some(scan)) = store.scan_before(i64::MAX) {
                        for by in [SummaryBy::Rule, SummaryBy::Account, SummaryBy::ResourceType] {
                            let _ = api.summary(&store, scan.id, by);
                        }
                    }
                    let mut warming = api.warming.lock().expect("warming");
                    if !std::mem::take(&mut warming.1) {
                        warming.0 = false;
                        return;
                    }
                }
            });
        if spawned.is_err() {
            *self.warming.lock().expect("warming") = (false, false);
        }
    }
}

/// An error as the API answers it: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let status = match &e {
            StoreError::NoSuchSnapshot(_)
            | StoreError::Empty
            | StoreError::NoSuchResource(_)
            | StoreError::NoSuchBaseline { .. }
            | StoreError::NoBaseline => StatusCode::NOT_FOUND,
            StoreError::Ambiguous { .. }
            | StoreError::BadBaselineName(_)
            | StoreError::WhichBaseline(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

type Answer = Result<axum::Json<Value>, ApiError>;

/// Runs `read` on a pooled read-only connection, on a blocking thread.
async fn read<T: Send + 'static>(
    api: &Arc<Api>,
    read: impl FnOnce(&Store, &Api) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let api = api.clone();
    tokio::task::spawn_blocking(move || {
        let store = api.pool.lock().expect("pool").pop();
        let store = match store {
            Some(s) => s,
            None => Store::open_read_only(&api.db)?,
        };
        let result = read(&store, &api);
        api.pool.lock().expect("pool").push(store);
        result
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/snapshots", get(snapshots))
        .route("/api/v1/compliance", get(compliance))
        .route("/api/v1/evaluations", get(evaluations))
        .route("/api/v1/resources/{*resource}", get(resource))
        .route("/api/v1/drift", get(drift))
        .route("/api/v1/timeline", get(timeline))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(middleware::from_fn_with_state(api.clone(), authorize))
        .with_state(api)
}

/// With a token configured, a request without `Authorization: Bearer <token>` is refused;
/// the comparison takes the same time wherever the tokens differ.
async fn authorize(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    if let Some(token) = &api.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            let mut response = ApiError(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required".into(),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("header"));
            return response;
        }
    }
    next.run(request).await
}

/// Liveness and readiness: 200 once the daemon has caught up with what landed while it was
/// down, 503 before.
async fn health(State(api): State<Arc<Api>>) -> Response {
    let ready = api.status.ready.load(Ordering::SeqCst);
    let last = api.status.last.lock().expect("status").clone();
    let answer = read(&api, |store, _| {
        let backlog: BTreeMap<String, u64> = store.outbox_backlog()?.into_iter().collect();
        let snapshots = store.snapshots()?.len();
        Ok(json!({ "outbox_backlog": backlog, "snapshots": snapshots }))
    })
    .await;
    let (status, store) = match answer {
        Ok(v) => (
            if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            v,
        ),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e.1 })),
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ok" } else { "starting" },
        "ready": ready,
        "version": env!("CARGO_PKG_VERSION"),
        "last_run": last,
        "store": store,
    });
    (status, axum::Json(body)).into_response()
}

async fn snapshots(State(api): State<Arc<Api>>) -> Answer {
    read(&api, |store, _| {
        Ok(axum::Json(
            serde_json::to_value(store.snapshots()?).expect("json"),
        ))
    })
    .await
}

fn selector(text: Option<&str>) -> Result<SnapshotSelector, ApiError> {
    text.unwrap_or("latest").parse().map_err(bad_request)
}

/// The latest scan of the selected snapshot, or 404 naming the snapshot.
fn scan_of(
    store: &Store,
    snapshot: Option<&str>,
) -> Result<(crate::store::SnapshotInfo, crate::store::ScanInfo), ApiError> {
    let snapshot = store.snapshot(selector(snapshot)?)?;
    let scan = store.latest_scan(snapshot.id)?.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("snapshot {} has not been scanned", snapshot.id),
        )
    })?;
    Ok((snapshot, scan))
}

#[derive(Debug, Deserialize)]
struct ComplianceQuery {
    snapshot: Option<String>,
    by: Option<String>,
}

/// Counts per rule, account or resource type, each with its counts by compliance.
async fn compliance(State(api): State<Arc<Api>>, Query(q): Query<ComplianceQuery>) -> Answer {
    let by = match q.by.as_deref().unwrap_or("rule") {
        "rule" => SummaryBy::Rule,
        "account" => SummaryBy::Account,
        "resource_type" => SummaryBy::ResourceType,
        other => {
            return Err(bad_request(format!(
                "by={other}: give rule, account or resource_type"
            )));
        }
    };
    read(&api, move |store, api| {
        let (snapshot, scan) = scan_of(store, q.snapshot.as_deref())?;
        let groups = api.summary(store, scan.id, by)?;
        Ok(axum::Json(json!({
            "snapshot": snapshot.id,
            "scan": scan,
            "by": q.by.as_deref().unwrap_or("rule"),
            "groups": groups,
        })))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct EvaluationsQuery {
    snapshot: Option<String>,
    rule: Option<String>,
    compliance: Option<String>,
    account: Option<String>,
    resource_type: Option<String>,
    resource: Option<String>,
    limit: Option<usize>,
    /// The `next` of the previous page.
    after: Option<String>,
}

/// A page of evaluations; `next` continues after its last one (absent on the last page).
async fn evaluations(State(api): State<Arc<Api>>, Query(q): Query<EvaluationsQuery>) -> Answer {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(bad_request(format!("limit={limit}: give 1 to {MAX_PAGE}")));
    }
    if let Some(c) = &q.compliance
        && crate::engine::Compliance::parse(c).is_none()
    {
        return Err(bad_request(format!(
            "compliance={c}: give COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE or ERROR"
        )));
    }
    let after: Option<PageKey> = match &q.after {
        Some(token) => Some(
            decode_cursor(token).ok_or_else(|| bad_request("after: not a cursor this API gave"))?,
        ),
        None => None,
    };
    read(&api, move |store, _| {
        let (snapshot, scan) = scan_of(store, q.snapshot.as_deref())?;
        let filter = EvaluationFilter {
            rule_id: q.rule,
            resource_id: q.resource,
            compliance: q.compliance,
            account_id: q.account,
            resource_type: q.resource_type,
        };
        let (page, next) = store.evaluations_page(scan.id, &filter, after.as_ref(), limit)?;
        let next = next.map(|k| encode_cursor(&k));
        Ok(axum::Json(json!({
            "snapshot": snapshot.id,
            "scan": scan,
            "evaluations": page,
            "next": next,
        })))
    })
    .await
}

/// A page cursor: where the page ended in the store, as JSON in hex (URL-safe), opaque to
/// clients.
fn encode_cursor(key: &PageKey) -> String {
    serde_json::to_string(key)
        .expect("json")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(token: &str) -> Option<PageKey> {
    if !token.len().is_multiple_of(2) || token.len() > 8192 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    serde_json::from_slice(&bytes?).ok()
}

#[derive(Debug, Deserialize)]
struct ResourceQuery {
    /// RFC 3339 times bounding the snapshots shown.
    since: Option<String>,
    until: Option<String>,
}

fn time(name: &str, text: Option<&str>) -> Result<Option<jiff::Timestamp>, ApiError> {
    text.map(|t| {
        t.parse()
            .map_err(|e| bad_request(format!("{name}={t}: not an RFC 3339 time: {e}")))
    })
    .transpose()
}

/// A resource (`TYPE/ID`, an id or an ARN) with its versions, their field diffs and each
/// snapshot's verdicts.
async fn resource(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    Query(q): Query<ResourceQuery>,
) -> Answer {
    read(&api, move |store, api| {
        let resource = store.resolve_resource(&name)?;
        let range = crate::timeline::Range {
            since: time("since", q.since.as_deref())?,
            until: time("until", q.until.as_deref())?,
        };
        let timeline =
            crate::timeline::resource_timeline(store, resource, &range, &api.config.ignore)?;
        Ok(axum::Json(serde_json::to_value(timeline).expect("json")))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct DriftQuery {
    baseline: Option<String>,
    snapshot: Option<String>,
}

/// The drift of a snapshot (default: the latest) against a baseline (default: the only one).
async fn drift(State(api): State<Arc<Api>>, Query(q): Query<DriftQuery>) -> Answer {
    read(&api, move |store, api| {
        let baseline = store.choose_baseline(q.baseline.as_deref())?;
        let snapshot = store.snapshot(selector(q.snapshot.as_deref())?)?;
        let report = crate::drift::drift(
            store,
            crate::drift::StateRef::new(&baseline.snapshot, Some(&baseline.name)),
            crate::drift::StateRef::new(&snapshot, None),
            &api.config.ignore,
            Default::default(),
        )?;
        Ok(axum::Json(serde_json::to_value(report).expect("json")))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct TimelineQuery {
    baseline: Option<String>,
}

/// The estate over time: per snapshot, changes, drift against the baseline (when one is
/// named or only one exists) and compliance per rule.
async fn timeline(State(api): State<Arc<Api>>, Query(q): Query<TimelineQuery>) -> Answer {
    read(&api, move |store, api| {
        let baseline = match q.baseline.as_deref() {
            Some(name) => Some(store.baseline(name)?),
            None => match store.baselines()?.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        };
        let entries = crate::timeline::estate_timeline(
            store,
            &Default::default(),
            baseline.as_ref(),
            &api.config.ignore,
        )?;
        Ok(axum::Json(json!({
            "baseline": baseline.map(|b| b.name),
            "snapshots": entries,
        })))
    })
    .await
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    // The backlog is read fresh: a sink that is down updates nothing.
    if let Ok(backlog) = read(&api, |store, _| Ok(store.outbox_backlog()?)).await {
        for (sink, n) in backlog {
            api.metrics.backlog(&sink, n);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        api.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let key = PageKey::Verdict {
            rule_id: "R\"&?".into(),
            version: 42,
        };
        let token = encode_cursor(&key);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_cursor(&token), Some(key));
        assert_eq!(
            decode_cursor(&encode_cursor(&PageKey::Own(7))),
            Some(PageKey::Own(7))
        );
        assert!(decode_cursor("zz").is_none());
        assert!(decode_cursor("7b7d").is_none());
    }
}
