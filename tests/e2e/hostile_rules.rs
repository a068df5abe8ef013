//! Rules written to hurt the host: each bound holds (tables, logs, estate emits, time), the
//! hostile rule ends in ERROR, and the host's memory, time and stderr stay small.

use serde_json::{Value, json};

use crate::support::*;

fn bomb(name: &str) -> String {
    as_str(&fixture(&format!("rules/bombs/{name}"))).to_string()
}

/// A store holding `n` attached volumes in one account.
fn volumes(n: usize) -> Scratch {
    let s = Scratch::new();
    let items: Vec<Value> = (0..n)
        .map(|i| {
            volume(
                &format!("vol-{i:05}"),
                8,
                i % 2 == 0,
                "2026-11-02T06:00:00Z",
            )
        })
        .collect();
    s.ingest_items("volumes.json", &items);
    s
}

fn results(s: &Scratch, rule: &str) -> Vec<Value> {
    s.conform(&["results", "--rule", rule, "--format", "json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// Scans with the bomb `name` alone, with a deadline of `timeout_ms`; the run and its peak MiB.
fn scan_measured(s: &Scratch, name: &str, timeout_ms: &str) -> (Run, u64) {
    s.conform_measured(&[
        "scan",
        "--no-builtins",
        "--rules",
        &bomb(name),
        "--rule-timeout",
        timeout_ms,
    ])
}

#[test]
fn a_rule_growing_its_table_without_bound_is_stopped_at_the_cap() {
    let s = volumes(2);
    let (run, peak_mib) = scan_measured(&s, "table-bomb.wat", "5000");
    assert_eq!(run.code, 2, "{}", run.stderr);
    // Unbounded, this rule took 5.3 GB within the default deadline and 14 GB within a longer
    // one; four tables of 2^20 elements are 32 MiB.
    assert!(peak_mib < 300, "peak {peak_mib} MiB");
    for e in results(&s, "HOSTILE_TABLE") {
        assert_eq!(e["compliance"], "ERROR");
        assert!(
            e["annotation"].as_str().unwrap().contains("unreachable"),
            "the rule saw table.grow fail and trapped: {e}"
        );
    }
}

#[test]
fn a_flooding_log_is_bounded_escaped_and_summarised() {
    let s = volumes(4);
    let (run, peak_mib) = scan_measured(&s, "log-flood.wat", "10000");
    let run = run.ok();
    // 4 evaluations × 20,000 calls × 64 KiB were 5 GB of stderr before; now at most 32
    // lines of 1,024 characters an evaluation are shown.
    assert!(
        run.stderr.len() < 4 * 32 * 1_200 + 4_096,
        "{} bytes of stderr",
        run.stderr.len()
    );
    assert!(peak_mib < 300, "peak {peak_mib} MiB");
    assert!(
        !run.stderr.contains('\r') && !run.stderr.contains('\u{1b}') && !run.stderr.contains('\0'),
        "control characters reach the terminal"
    );
    assert!(
        !run.stderr.lines().any(|l| l.starts_with("error: FORGED")),
        "a rule forged a line of conform's own:\n{}",
        &run.stderr[..run.stderr.len().min(2_000)]
    );
    assert!(
        run.stderr.contains("\\r\\n") || run.stderr.contains("\\u{d}\\u{a}"),
        "the escaped line break is shown: {}",
        &run.stderr[..run.stderr.len().min(500)]
    );
    assert!(
        run.stderr
            .contains("rule HOSTILE_LOG: 79872 log line(s) dropped"),
        "the dropped lines are summarised:\n{}",
        &run.stderr[run.stderr.len().saturating_sub(1_000)..]
    );
    for e in results(&s, "HOSTILE_LOG") {
        assert_eq!(e["compliance"], "COMPLIANT", "logging is not an error");
    }

    // A rule's log never goes above warn: -q silences it.
    let quiet = s.conform(&[
        "scan",
        "--no-builtins",
        "-q",
        "--rules",
        &bomb("log-flood.wat"),
        "--rule-timeout",
        "10000",
    ]);
    let quiet = quiet.ok();
    assert_eq!(quiet.stderr, "", "-q shows nothing but conform's errors");
}

/// Scans with the estate fixture in `mode`; returns the scan's evaluations of it.
fn estate_scan(s: &Scratch, mode: u32) -> (Run, Vec<Value>) {
    let params = s.write(
        &format!("mode{mode}.json"),
        json!({"HOSTILE_ESTATE": {"mode": mode}}).to_string(),
    );
    let run = s.conform(&[
        "scan",
        "--no-builtins",
        "--rules",
        &bomb("estate.wat"),
        "--params",
        as_str(&params),
    ]);
    (run, results(s, "HOSTILE_ESTATE"))
}

#[test]
fn an_estate_rule_evaluates_each_of_its_resources_once_and_nothing_else() {
    let s = volumes(5);
    let (run, evaluations) = estate_scan(&s, 5);
    run.ok();
    let mut ids: Vec<&str> = evaluations
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "vol-00000",
            "vol-00001",
            "vol-00002",
            "vol-00003",
            "vol-00004"
        ]
    );
    assert!(evaluations.iter().all(|e| e["compliance"] == "COMPLIANT"));

    let refused = [
        (1, "emitted a second evaluation of account 123456789012"),
        (
            2,
            "emitted an evaluation of account 999999999999, but it is evaluating account 123456789012",
        ),
        (
            3,
            "emitted an evaluation of AWS::EC2::Volume/vol-nope, which is not an in-scope resource",
        ),
        (
            4,
            "emitted a resource id of 1048576 bytes; the limit is 768",
        ),
        (
            6,
            "emitted a second evaluation of AWS::EC2::Volume/vol-00000",
        ),
    ];
    for (mode, message) in refused {
        let (run, evaluations) = estate_scan(&s, mode);
        assert_eq!(run.code, 2, "mode {mode}: {}", run.stderr);
        assert_eq!(evaluations.len(), 1, "mode {mode}: {evaluations:?}");
        let e = &evaluations[0];
        assert_eq!(e["compliance"], "ERROR", "mode {mode}");
        assert_eq!(e["resource_type"], "AWS::::Account");
        assert_eq!(
            e["resource_id"], "123456789012",
            "stored under its own account"
        );
        assert!(
            e["annotation"].as_str().unwrap().contains(message),
            "mode {mode}: {}",
            e["annotation"]
        );
    }
}

#[test]
fn a_rule_that_always_times_out_is_disabled_after_three() {
    let s = volumes(40);
    let hostile = as_str(&fixture("rules/hostile/infinite-loop.wat")).to_string();
    let started = std::time::Instant::now();
    let run = s.conform(&[
        "scan",
        "--no-builtins",
        "--jobs",
        "1",
        "--rules",
        &hostile,
        "--rule-timeout",
        "100",
    ]);
    let took = started.elapsed();
    assert_eq!(run.code, 2, "{}", run.stderr);
    let evaluations = results(&s, "HOSTILE_LOOP");
    assert_eq!(evaluations.len(), 40);
    let annotation = |e: &Value| e["annotation"].as_str().unwrap().to_string();
    let timed_out = evaluations
        .iter()
        .filter(|e| annotation(e).contains("exceeded its deadline of 100 ms"))
        .count();
    let skipped = evaluations
        .iter()
        .filter(|e| annotation(e).contains("skipped: rule disabled after 3 consecutive timeouts"))
        .count();
    assert_eq!((timed_out, skipped), (3, 37), "{evaluations:?}");
    assert!(
        run.stderr
            .contains("rule HOSTILE_LOOP was disabled after 3 consecutive timeouts"),
        "{}",
        run.stderr
    );
    // 40 × 100 ms without the breaker; 3 × 100 ms with it (plus start-up).
    assert!(took.as_secs_f64() < 3.9, "took {took:?}");
}

/// Scans the looping rule over every volume on one job with `budget` (a flag and its value),
/// the breaker off; returns how many of its evaluations were skipped saying `why`.
fn looping_scan_skips(s: &Scratch, budget: [&str; 2], why: &str) -> (usize, usize) {
    let hostile = as_str(&fixture("rules/hostile/infinite-loop.wat")).to_string();
    let mut args = vec![
        "scan",
        "--no-builtins",
        "--jobs",
        "1",
        "--rules",
        &hostile,
        "--rule-timeout",
        "100",
        "--rule-max-timeouts",
        "0",
    ];
    args.extend(budget);
    let run = s.conform(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let evaluations = results(s, "HOSTILE_LOOP");
    let skipped = evaluations
        .iter()
        .filter(|e| e["annotation"].as_str().unwrap().contains(why))
        .count();
    (evaluations.len(), skipped)
}

#[test]
fn a_scan_budget_and_a_rule_budget_cut_a_slow_scan_short() {
    let s = volumes(40);
    let (all, skipped) = looping_scan_skips(
        &s,
        ["--scan-budget", "0.45"],
        "skipped: the scan's time budget of 0.45 s ran out",
    );
    assert_eq!(all, 40);
    assert!((30..40).contains(&skipped), "{skipped} skipped");
    let (_, skipped) = looping_scan_skips(
        &s,
        ["--rule-budget", "0.25"],
        "skipped: rule disabled after spending its time budget of 0.25 s",
    );
    assert_eq!(skipped, 37, "three runs of 100 ms spend 0.25 s");
}

#[test]
fn compiling_a_rule_is_bounded() {
    let s = volumes(1);
    // A function of 200,000 instructions takes cranelift well over 50 ms.
    let mut body = String::new();
    for _ in 0..100_000 {
        body.push_str("(drop (i32.add (local.get 0) (i32.const 1)))\n");
    }
    let module = format!(
        "(module (@custom \"conform.manifest\" \"{{\\\"abi\\\":1,\\\"id\\\":\\\"SLOW_COMPILE\\\",\\\"version\\\":\\\"0.1.0\\\",\\\"title\\\":\\\"big\\\",\\\"severity\\\":\\\"low\\\",\\\"kind\\\":\\\"resource\\\"}}\")
         (memory (export \"memory\") 1)
         (func (export \"conform_evaluate\") (result i32) (local i32) {body} (i32.const 0)))"
    );
    let path = s.write("slow.wat", module);
    s.conform(&[
        "scan",
        "--no-builtins",
        "--no-cache",
        "--rules",
        as_str(&path),
        "--rule-compile-timeout",
        "0.001",
    ])
    .fails_with(&["rule SLOW_COMPILE", "did not compile within 0.001 s"]);
}

#[test]
fn limits_that_cannot_work_are_refused() {
    let s = volumes(1);
    for (flag, value) in [
        ("--rule-timeout", "0"),
        ("--rule-memory", "0"),
        ("--scan-budget", "0"),
        ("--rule-budget=-1", ""),
        ("--rule-compile-timeout", "0"),
    ] {
        let args: Vec<&str> = ["scan", flag, value]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let run = s.conform(&args);
        assert_eq!(run.code, 2, "{flag} {value} accepted: {}", run.stderr);
        let name = flag.split('=').next().unwrap();
        assert!(run.stderr.contains(name), "{flag}: {}", run.stderr);
    }
}

#[test]
fn a_rule_with_two_manifests_or_a_bad_id_is_refused() {
    let s = volumes(1);
    let manifest = |id: &str| {
        format!(
            "{{\\\"abi\\\":1,\\\"id\\\":\\\"{id}\\\",\\\"version\\\":\\\"0.1.0\\\",\\\"title\\\":\\\"t\\\",\\\"severity\\\":\\\"low\\\",\\\"kind\\\":\\\"resource\\\"}}"
        )
    };
    let module = |sections: &[String]| {
        let customs: String = sections
            .iter()
            .map(|m| format!("(@custom \"conform.manifest\" \"{m}\")"))
            .collect();
        format!(
            "(module {customs} (memory (export \"memory\") 1) (func (export \"conform_evaluate\") (result i32) (i32.const 0)))"
        )
    };
    let twice = s.write("twice.wat", module(&[manifest("A"), manifest("B")]));
    s.conform(&["scan", "--no-builtins", "--rules", as_str(&twice)])
        .fails_with(&["twice.wat", "has two `conform.manifest` custom sections"]);
    let empty = s.write("empty.wat", module(&[manifest("")]));
    s.conform(&["scan", "--no-builtins", "--rules", as_str(&empty)])
        .fails_with(&["empty.wat", "the rule id is empty"]);
    let hostile = s.write("hostile.wat", module(&[manifest("x`|<b>")]));
    s.conform(&["scan", "--no-builtins", "--rules", as_str(&hostile)])
        .fails_with(&["hostile.wat", "is not 1 to 128 letters"]);
    let run = s.conform(&["results"]);
    assert_eq!(run.code, 2, "nothing was scanned: {}", run.stdout);
}
