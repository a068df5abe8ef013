//! What reaches users' screens, pull requests and CI systems: a gate's verdict survives its
//! output, and text from rules and inputs cannot act in any report format.

use serde_json::{Value, json};

use crate::support::*;

/// The annotation `bombs/injection.wat` reports, as stored.
const ANNOTATION: &str = "x` | ![p](https://evil.example/p.png) <img src=y> [a](javascript:alert(1))\r\nFAIL forged\u{1b}[2J\u{0}";
/// A resource id and an account id from a careless (or hostile) inventory.
const RESOURCE_ID: &str = "vol-`x` | ![q](https://evil.example/q.png) <script>\nFAIL forged";
const ACCOUNT_ID: &str = "..";

/// One snapshot of one hostile volume and one plain one, scanned with the injection rule (every
/// item NON_COMPLIANT) and the built-ins; the baseline is the snapshot itself.
fn hostile_estate() -> Scratch {
    let s = Scratch::new();
    let mut hostile = volume(RESOURCE_ID, 8, false, "2026-11-02T06:00:00Z");
    hostile["accountId"] = json!(ACCOUNT_ID);
    hostile["awsRegion"] = json!("../\u{1b}]0;title\u{7}");
    let plain = volume("vol-plain", 8, true, "2026-11-02T06:00:00Z");
    s.ingest_items("estate.json", &[hostile, plain]);
    s.conform(&[
        "scan",
        "-q",
        "--rules",
        as_str(&fixture("rules/bombs/injection.wat")),
    ])
    .ok();
    s.conform(&["baseline", "set", "base", "--snapshot", "1"])
        .ok();
    s
}

#[test]
fn a_failing_gate_exits_1_whatever_happens_to_its_output() {
    let s = hostile_estate();
    for format in ["text", "json", "markdown", "sarif", "junit"] {
        let run =
            s.conform_closed_stdout(&["gate", "--fail-on", "noncompliant", "--format", format]);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        // Writing a report to a file that cannot be written does not pass the gate either.
        let run = s.conform(&[
            "gate",
            "--fail-on",
            "noncompliant",
            "--format",
            format,
            "--output",
            "no-such-dir/report",
        ]);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        assert!(
            run.stderr.contains("cannot write no-such-dir/report"),
            "{}",
            run.stderr
        );
    }
    // A passing gate still passes when its reader goes away, but a report it could not write is
    // a failure of the tool.
    let passing = ["gate", "--fail-on", "error"];
    assert_eq!(s.conform_closed_stdout(&passing).code, 0);
    let run = s.conform(&["gate", "--fail-on", "error", "--output", "no-such-dir/r"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    // check gates too.
    let attached = |encrypted: bool| {
        let mut v = volume("vol-new", 8, encrypted, "2026-11-03T00:00:00Z");
        v["configuration"]["state"] = json!("in-use");
        v["configuration"]["attachments"] = json!([{"instanceId": "i-1", "state": "attached"}]);
        v
    };
    let file = s.snapshot_file("planned.json", &[attached(true)]);
    let file2 = s.snapshot_file("planned2.json", &[attached(false)]);
    for (path, expected) in [(&file, 0), (&file2, 1)] {
        let check = ["check", "--only", "ENCRYPTED_VOLUMES", as_str(path)];
        let (piped, closed) = (s.conform(&check).code, s.conform_closed_stdout(&check).code);
        assert_eq!((piped, closed), (expected, expected), "{}", path.display());
    }
    // A scan whose evaluations ended in ERROR exits 2 whatever happens to its output.
    let trap = as_str(&fixture("rules/hostile/trap.wat")).to_string();
    assert_eq!(s.conform_closed_stdout(&["scan", "--rules", &trap]).code, 2);
    // A failed ingest is exit 2 even when its JSON report cannot be written.
    let bad = s.write(
        "bad.json",
        "{\"configurationItems\": [{\"resourceType\": 1}]}",
    );
    let run = s.conform_closed_stdout(&["ingest", "--format", "json", as_str(&bad)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// The markdown's structure: (images, links, raw HTML, cells per table row).
fn markdown_structure(text: &str) -> (usize, usize, usize, Vec<usize>, String) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let (mut images, mut links, mut html) = (0, 0, 0);
    let (mut rows, mut cells) = (Vec::new(), 0);
    let mut plain = String::new();
    for event in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Image { .. }) => images += 1,
            Event::Start(Tag::Link { .. }) => links += 1,
            Event::Html(_) | Event::InlineHtml(_) => html += 1,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => {
                rows.push(cells);
                cells = 0;
            }
            Event::Text(t) | Event::Code(t) => plain.push_str(&t),
            _ => {}
        }
    }
    (images, links, html, rows, plain)
}

#[test]
fn markdown_reports_render_hostile_text_as_text() {
    let s = hostile_estate();
    let run = s.conform(&["gate", "--fail-on", "noncompliant", "--format", "markdown"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (images, links, html, rows, plain) = markdown_structure(&run.stdout);
    assert_eq!(
        (images, links),
        (0, 0),
        "live images or links:\n{}",
        run.stdout
    );
    // The report's own `<details>` block is the only HTML it writes.
    let own_html =
        run.stdout.matches("<details>").count() + run.stdout.matches("</details>").count();
    assert!(
        html <= own_html * 2,
        "raw HTML from inputs:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("\\<img src=y\\>"), "{}", run.stdout);
    // Every row of a table has as many cells as its header: no pipe split a cell.
    for width in [5, 6] {
        let of_width = rows.iter().filter(|&&n| n == width).count();
        assert!(of_width > 0 || width == 5, "{rows:?}");
    }
    assert!(
        rows.iter().all(|&n| n == 5 || n == 6),
        "a row was split: {rows:?}\n{}",
        run.stdout
    );
    // And the hostile text is still there, as text.
    assert!(
        plain.contains("![p](https://evil.example/p.png) <img src=y>"),
        "{plain}"
    );
    assert!(
        plain.contains("vol-`x` \\| ![q]") || plain.contains("vol-`x` | ![q]"),
        "{plain}"
    );

    // Drift and timeline markdown too.
    let drift = s.conform(&["drift", "--format", "markdown"]).ok();
    let (images, links, html, _, _) = markdown_structure(&drift.stdout);
    assert_eq!((images, links, html), (0, 0, 0), "{}", drift.stdout);
}

#[test]
fn sarif_locations_stay_under_their_prefix_and_help_is_inert() {
    let s = hostile_estate();
    let run = s.conform(&["gate", "--fail-on", "noncompliant", "--format", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sarif = run.json();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.starts_with("conform/"), "{uri}");
        assert!(
            uri.split('/')
                .all(|segment| segment != ".." && segment != "."),
            "{uri} climbs out of conform/"
        );
        assert!(!uri.contains(['\n', '\u{1b}', ' ', '`']), "{uri}");
    }
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
    {
        let help = rule["help"]["markdown"].as_str().unwrap();
        let (images, links, html, _, _) = markdown_structure(help);
        assert_eq!((images, links, html), (0, 0, 0), "{help}");
    }
}

#[test]
#[allow(deprecated)] // unescape_value: what the CI systems reading JUnit do
fn junit_is_well_formed_xml_whatever_the_annotation_holds() {
    let s = hostile_estate();
    let run = s.conform(&["gate", "--fail-on", "noncompliant", "--format", "junit"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut reader = quick_xml::Reader::from_str(&run.stdout);
    let mut failures = Vec::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e)) if e.name().as_ref() == "failure" => {
                let message = e
                    .try_get_attribute("message")
                    .unwrap()
                    .unwrap()
                    .unescape_value()
                    .unwrap()
                    .into_owned();
                failures.push(message);
            }
            Ok(_) => {}
            Err(e) => panic!(
                "not XML at {}: {e}\n{}",
                reader.buffer_position(),
                run.stdout
            ),
        }
    }
    assert!(
        failures
            .iter()
            .any(|m| m.contains("<img src=y>") && m.contains("FAIL forged")),
        "{failures:?}"
    );
}

#[test]
fn text_output_escapes_what_would_act_on_a_terminal() {
    let s = hostile_estate();
    let outputs = [
        s.conform(&["gate", "--fail-on", "noncompliant"]),
        s.conform(&["results"]).ok(),
        s.conform(&["drift"]).ok(),
        s.conform(&["timeline", "vol-plain"]).ok(),
        s.conform(&["compliance-changes"]).ok(),
        s.conform(&["show", "vol-plain"]).ok(),
    ];
    for run in &outputs {
        assert!(
            !run.stdout.contains(['\r', '\u{0}', '\u{1b}', '\u{7}']),
            "control characters on stdout:\n{:?}",
            run.stdout
        );
        assert!(
            !run.stdout.lines().any(|l| l.starts_with("FAIL forged")),
            "a forged line:\n{}",
            run.stdout
        );
    }
    let gate = &outputs[0].stdout;
    assert!(gate.contains("\\u{d}\\u{a}FAIL forged\\u{1b}[2J"), "{gate}");
    assert!(
        outputs[1].stdout.contains("FAIL forged\\u{1b}[2J\\u{0}"),
        "{}",
        outputs[1].stdout
    );

    // Errors that quote an input are escaped on stderr too.
    let run = s.conform(&["show", "vol-\u{1b}[2Jnope"]);
    assert_eq!(run.code, 2);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
}

#[test]
fn the_json_reports_keep_hostile_text_exactly() {
    let s = hostile_estate();
    let report: Value = s
        .conform(&["results", "--rule", "HOSTILE_INJECTION", "--format", "json"])
        .ok()
        .json();
    let annotations: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["annotation"].as_str().unwrap())
        .collect();
    assert_eq!(
        annotations,
        [ANNOTATION, ANNOTATION],
        "JSON is data: nothing escaped away"
    );
}
