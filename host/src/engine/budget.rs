//! What one scan lets each rule spend, shared by every job of the scan.
//!
//! The deadline and the memory cap bound one evaluation; a rule can still make a scan slow or
//! loud by spending them on every item (a rule that always times out costs items × deadline;
//! one that logs at each call floods stderr). The budget bounds the sum: a rule's log lines per
//! scan, its consecutive timeouts and its total time (the circuit breaker: past either, its
//! remaining evaluations are ERROR without running), and, optionally, the whole scan's time.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Limits, Rule};

/// Log lines one evaluation may write; later ones are counted and dropped.
pub const LOG_LINES_PER_EVALUATION: u32 = 32;
/// Log lines one rule may write in one scan, over all its evaluations.
pub const LOG_LINES_PER_RULE: u64 = 1_000;
/// Characters of one log line; a longer line is cut.
pub const LOG_LINE_CHARS: usize = 1_024;

/// The scan-wide budget: one entry per rule, in the order of the evaluator's rules.
#[derive(Debug)]
pub struct Budget {
    rules: Vec<std::sync::Arc<RuleBudget>>,
    /// When the scan's time runs out, if it has a budget.
    deadline: Option<Instant>,
    limits: Limits,
}

/// What one rule has spent in this scan.
#[derive(Debug, Default)]
pub struct RuleBudget {
    pub(super) log_lines: AtomicU64,
    pub(super) log_dropped: AtomicU64,
    consecutive_timeouts: AtomicU32,
    spent_nanos: AtomicU64,
    /// Why the rule no longer runs, once it does not.
    disabled: OnceLock<String>,
}

impl RuleBudget {
    /// Takes one log line from the rule's scan-wide allowance; `false` once it is spent.
    pub(super) fn take_log_line(&self) -> bool {
        if self.log_lines.fetch_add(1, Ordering::Relaxed) < LOG_LINES_PER_RULE {
            true
        } else {
            self.log_dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

impl Budget {
    pub fn new(rules: &[Rule], limits: &Limits) -> Budget {
        Budget {
            rules: rules.iter().map(|_| Default::default()).collect(),
            deadline: limits.scan_budget.map(|b| Instant::now() + b),
            limits: limits.clone(),
        }
    }

    pub(super) fn rule(&self, index: usize) -> &std::sync::Arc<RuleBudget> {
        &self.rules[index]
    }

    /// Why rule `index` must not run now, if it must not.
    pub fn refuses(&self, index: usize) -> Option<String> {
        if let Some(reason) = self.rules[index].disabled.get() {
            return Some(format!("skipped: rule disabled after {reason}"));
        }
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Some(format!(
                "skipped: the scan's time budget of {} ran out",
                seconds(self.limits.scan_budget.unwrap_or_default())
            )),
            _ => None,
        }
    }

    /// How long the next evaluation may run: the rule's deadline, or less if the scan's budget
    /// ends sooner.
    pub fn deadline(&self) -> Duration {
        match self.deadline {
            Some(end) => self
                .limits
                .timeout
                .min(end.saturating_duration_since(Instant::now())),
            None => self.limits.timeout,
        }
    }

    /// Records that rule `index` ran for `took` and whether it ran out of time; trips the
    /// breaker when it has timed out too often in a row or spent its time.
    pub fn spent(&self, index: usize, took: Duration, timed_out: bool) {
        let rule = &self.rules[index];
        let spent = rule
            .spent_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed)
            + took.as_nanos() as u64;
        if timed_out {
            let row = rule.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1;
            if self.limits.max_timeouts > 0 && row >= self.limits.max_timeouts {
                let _ = rule.disabled.set(format!("{row} consecutive timeouts"));
            }
        } else {
            rule.consecutive_timeouts.store(0, Ordering::Relaxed);
        }
        if let Some(allowed) = self.limits.rule_budget
            && Duration::from_nanos(spent) > allowed
        {
            let _ = rule
                .disabled
                .set(format!("spending its time budget of {}", seconds(allowed)));
        }
    }

    /// What the budget cut short, per rule, for the scan's log: disabled rules and dropped
    /// log lines.
    pub fn notes(&self, rules: &[Rule]) -> Vec<String> {
        let mut notes = Vec::new();
        for (rule, spent) in rules.iter().zip(&self.rules) {
            let id = crate::escape::terminal(&rule.manifest.id).into_owned();
            if let Some(reason) = spent.disabled.get() {
                notes.push(format!(
                    "rule {id} was disabled after {reason}; its remaining evaluations are ERROR"
                ));
            }
            let dropped = spent.log_dropped.load(Ordering::Relaxed);
            if dropped > 0 {
                notes.push(format!(
                    "rule {id}: {dropped} log line(s) dropped (at most {LOG_LINES_PER_EVALUATION} \
                     per evaluation and {LOG_LINES_PER_RULE} per scan are shown)"
                ));
            }
        }
        notes
    }
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
