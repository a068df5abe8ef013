//! What `/metrics` exposes, in Prometheus' text format (prometheus-client: the Prometheus
//! project's own Rust client, typed metrics and no global registry).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The daemon's metrics; cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    ingest_seconds: Histogram,
    scan_seconds: Histogram,
    snapshots: Counter,
    evaluated: Counter,
    reused: Counter,
    /// Of the latest scan, by compliance.
    evaluations: Family<Labels, Gauge>,
    queued: Counter,
    delivered: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    backlog: Family<Labels, Gauge>,
    last_success: Family<Labels, Gauge<f64, AtomicU64>>,
}

fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("conform");
        let m = Metrics {
            registry: Registry::default(),
            ingest_seconds: seconds(),
            scan_seconds: seconds(),
            snapshots: Counter::default(),
            evaluated: Counter::default(),
            reused: Counter::default(),
            evaluations: Family::default(),
            queued: Counter::default(),
            delivered: Family::default(),
            failures: Family::default(),
            backlog: Family::default(),
            last_success: Family::default(),
        };
        registry.register(
            "ingest_duration_seconds",
            "Time to ingest one batch of arrived files",
            m.ingest_seconds.clone(),
        );
        registry.register(
            "scan_duration_seconds",
            "Time to scan one snapshot and queue its notifications",
            m.scan_seconds.clone(),
        );
        registry.register(
            "snapshots_ingested",
            "Snapshots written by ingests",
            m.snapshots.clone(),
        );
        registry.register(
            "evaluations_run",
            "Evaluations rules ran",
            m.evaluated.clone(),
        );
        registry.register(
            "evaluations_reused",
            "Evaluations scans took from earlier scans",
            m.reused.clone(),
        );
        registry.register(
            "evaluations",
            "Evaluations of the latest scan, by compliance",
            m.evaluations.clone(),
        );
        registry.register(
            "notifications_queued",
            "Messages written to the outbox",
            m.queued.clone(),
        );
        registry.register(
            "notifications_delivered",
            "Messages that left a sink",
            m.delivered.clone(),
        );
        registry.register(
            "notification_failures",
            "Failed attempts to deliver a message",
            m.failures.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Messages a sink has yet to deliver",
            m.backlog.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "When each job (a watch, a schedule) last finished without error, in Unix seconds",
            m.last_success.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn ingested(&self, seconds: f64, snapshots: usize) {
        self.ingest_seconds.observe(seconds);
        self.snapshots.inc_by(snapshots as u64);
    }

    pub fn scanned(&self, seconds: f64, evaluated: u64, reused: u64, counts: &[(String, u64)]) {
        self.scan_seconds.observe(seconds);
        self.evaluated.inc_by(evaluated);
        self.reused.inc_by(reused);
        for compliance in ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "ERROR"] {
            let n = counts
                .iter()
                .filter(|(c, _)| c == compliance)
                .map(|(_, n)| *n)
                .sum::<u64>();
            self.evaluations
                .get_or_create(&vec![("compliance".into(), compliance.into())])
                .set(n as i64);
        }
    }

    pub fn queued(&self, n: usize) {
        self.queued.inc_by(n as u64);
    }

    pub fn delivered(&self, sink: &str) {
        self.delivered.get_or_create(&sink_label(sink)).inc();
    }

    pub fn failed(&self, sink: &str) {
        self.failures.get_or_create(&sink_label(sink)).inc();
    }

    pub fn backlog(&self, sink: &str, n: u64) {
        self.backlog.get_or_create(&sink_label(sink)).set(n as i64);
    }

    /// `job` ("watch DIR", "schedule NAME") finished without error now.
    pub fn succeeded(&self, job: &str) {
        let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
        self.last_success
            .get_or_create(&vec![("job".into(), job.into())])
            .set(now);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

fn sink_label(sink: &str) -> Labels {
    vec![("sink".into(), sink.into())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let m = Metrics::new();
        m.scanned(0.5, 10, 90, &[("COMPLIANT".into(), 7), ("ERROR".into(), 3)]);
        m.delivered("webhook http://127.0.0.1:9/");
        m.backlog("webhook http://127.0.0.1:9/", 4);
        let text = m.render();
        assert!(text.contains("conform_evaluations_run_total 10"), "{text}");
        assert!(
            text.contains("conform_evaluations{compliance=\"ERROR\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("conform_outbox_backlog{sink=\"webhook http://127.0.0.1:9/\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("conform_scan_duration_seconds_count 1"),
            "{text}"
        );
    }
}
