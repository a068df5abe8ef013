//! `conform test`: rule test cases in YAML or JSON, run against rules in any language, with
//! output as `cargo test` prints it, JSON and JUnit, and exit codes CI reads.

use std::path::Path;

use crate::support::*;

fn builtin_cases() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/encrypted-volumes/cases.yaml");
    as_str(&path).to_string()
}

#[test]
fn the_built_in_and_its_ports_in_wat_c_and_python_pass_its_cases() {
    let s = Scratch::new();
    let wat = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules-sdk/examples/wat/encrypted-volumes.wat");
    let c = c_rule(&s, "encrypted_volumes");
    let python = python_rule(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules-sdk/examples/python"),
        "encrypted_volumes",
    );
    let run = s.conform(&[
        "test",
        "ENCRYPTED_VOLUMES",
        as_str(&wat),
        &c,
        as_str(&python),
        "--cases",
        &builtin_cases(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["failed"], 0, "{report:#}");
    let cases = report["cases"].as_array().unwrap();
    let rules: std::collections::BTreeSet<&str> =
        cases.iter().map(|c| c["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules.into_iter().collect::<Vec<_>>(),
        [
            "C_ENCRYPTED_VOLUMES",
            "ENCRYPTED_VOLUMES",
            "PY_ENCRYPTED_VOLUMES",
            "WAT_ENCRYPTED_VOLUMES"
        ]
    );
    assert_eq!(report["passed"].as_u64().unwrap() as usize, cases.len());
    assert!(cases.len() >= 4 * 9);
}

/// Every built-in keeps its cases in `rules/<its id in kebab case>/cases.yaml`; each passes
/// them, compiled to wasm as a scan runs it, and the cases reach every compliance it reports.
#[test]
fn every_built_in_passes_its_cases_file() {
    let s = Scratch::new();
    let ids = builtin_ids(&s);
    assert!(ids.len() >= 13, "{ids:?}");
    for id in ids.iter().map(String::as_str) {
        let dir = id.to_lowercase().replace('_', "-");
        let cases =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../rules/{dir}/cases.yaml"));
        assert!(cases.is_file(), "{id} has no {}", cases.display());
        let run = s.conform(&["test", id, "--cases", as_str(&cases), "--format", "json"]);
        assert_eq!(run.code, 0, "{id}:\n{}\n{}", run.stdout, run.stderr);
        let report = run.json();
        let outcomes = report["cases"].as_array().unwrap();
        assert!(outcomes.len() >= 3, "{id}: {report:#}");
        assert_eq!(
            report["passed"].as_u64().unwrap() as usize,
            outcomes.len(),
            "{id}: {report:#}"
        );
        assert!(outcomes.iter().all(|c| c["rule"] == id), "{id}: {report:#}");
        let reported: std::collections::BTreeSet<&str> = outcomes
            .iter()
            .flat_map(|c| c["got"].as_str().unwrap().split(' '))
            .collect();
        for compliance in ["COMPLIANT", "NON_COMPLIANT"] {
            assert!(
                reported.contains(compliance),
                "{id}: no case reports {compliance}: {reported:?}"
            );
        }
    }
}

#[test]
fn a_failing_case_exits_1_naming_the_case_and_why_in_text_json_and_junit() {
    let s = Scratch::new();
    let cases = s.write(
        "cases.yaml",
        r#"
rule: ENCRYPTED_VOLUMES
cases:
  - name: passes
    item: {resourceType: AWS::EC2::Volume, resourceId: vol-1,
           configuration: {state: in-use, encrypted: false}}
    expect: NON_COMPLIANT
  - name: "expects the wrong verdict <b>"
    item: {resourceType: AWS::EC2::Volume, resourceId: vol-2,
           configuration: {state: in-use, encrypted: false}}
    expect: COMPLIANT
  - name: wrong annotation
    item: {resourceType: AWS::EC2::Volume, resourceId: vol-3,
           configuration: {state: available}}
    expect: NOT_APPLICABLE
    annotation: ^encrypted$
  - name: outside the scope
    item: {resourceType: AWS::S3::Bucket, resourceId: b-1, configuration: {}}
    expect: COMPLIANT
"#,
    );
    let cases = as_str(&cases);
    let text = s.conform(&["test", "ENCRYPTED_VOLUMES", "--cases", cases]);
    assert_eq!(text.code, 1, "{}\n{}", text.stdout, text.stderr);
    for line in [
        "case passes ... ok",
        "case expects the wrong verdict <b> ... FAILED",
        "expected COMPLIANT, got NON_COMPLIANT (\"the volume is not encrypted\")",
        "does not match /^encrypted$/",
        "the item is outside the rule's scope",
        "test result: FAILED. 1 passed; 3 failed",
    ] {
        assert!(text.stdout.contains(line), "{line:?}:\n{}", text.stdout);
    }
    let json = s.conform(&[
        "test",
        "ENCRYPTED_VOLUMES",
        "--cases",
        cases,
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 1);
    let report = json.json();
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(3))
    );
    let junit = s.conform(&[
        "test",
        "ENCRYPTED_VOLUMES",
        "--cases",
        cases,
        "--format",
        "junit",
    ]);
    assert_eq!(junit.code, 1);
    // Well-formed, with the case's name escaped, and one failure per failed case.
    let mut reader = quick_xml::Reader::from_str(&junit.stdout);
    let (mut failures, mut testcases) = (0, 0);
    loop {
        match reader.read_event().expect("well-formed JUnit") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    "failure" => failures += 1,
                    "testcase" => testcases += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!((testcases, failures), (4, 3), "{}", junit.stdout);
    assert!(
        junit.stdout.contains("expects the wrong verdict &lt;b&gt;"),
        "{}",
        junit.stdout
    );
}

#[test]
fn an_estate_rule_takes_an_accounts_items_and_the_evaluation_of_each() {
    let s = Scratch::new();
    let cases = s.write(
        "trail.cases.json",
        r#"{"rule": "CLOUD_TRAIL_ENABLED", "cases": [
  {"name": "one logging trail enables the account",
   "items": [{"resourceType": "AWS::CloudTrail::Trail", "resourceId": "t-1", "accountId": "111122223333",
              "awsRegion": "us-east-1", "configuration": {},
              "supplementaryConfiguration": {"IsLogging": true}}],
   "expect": [{"resourceType": "AWS::::Account", "resourceId": "111122223333", "compliance": "COMPLIANT"}]},
  {"name": "a trail that stopped logging does not",
   "items": [{"resourceType": "AWS::CloudTrail::Trail", "resourceId": "t-2", "accountId": "111122223333",
              "awsRegion": "us-east-1", "configuration": {},
              "supplementaryConfiguration": {"IsLogging": false}}],
   "expect": [{"resourceId": "111122223333", "compliance": "COMPLIANT"}]}
]}"#,
    );
    let run = s.conform(&["test", "CLOUD_TRAIL_ENABLED", "--cases", as_str(&cases)]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("case one logging trail enables the account ... ok"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("111122223333: expected COMPLIANT, got NON_COMPLIANT"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_broken_case_file_or_rule_exits_2_naming_the_line_or_the_rule() {
    let s = Scratch::new();
    let typo = s.write(
        "typo.yaml",
        "cases:\n  - name: a typo\n    item: {resourceType: AWS::EC2::Volume, resourceId: v}\n    expect: COMPLAINT\n",
    );
    s.conform(&["test", "ENCRYPTED_VOLUMES", "--cases", as_str(&typo)])
        .fails_with(&["typo.yaml", "line 4", "\"COMPLAINT\" is not a compliance"]);
    let unknown = s.write(
        "unknown.yaml",
        "cases:\n  - name: extra\n    item: {resourceType: AWS::EC2::Volume, resourceId: v}\n    expect: COMPLIANT\n    expected: COMPLIANT\n",
    );
    s.conform(&["test", "ENCRYPTED_VOLUMES", "--cases", as_str(&unknown)])
        .fails_with(&["unknown.yaml", "unknown field `expected`", "line 5"]);
    let no_id = s.write(
        "no-id.yaml",
        "cases:\n  - name: no id\n    item: {resourceType: AWS::EC2::Volume}\n    expect: COMPLIANT\n",
    );
    s.conform(&["test", "ENCRYPTED_VOLUMES", "--cases", as_str(&no_id)])
        .fails_with(&["no-id.yaml", "case \"no id\"", "resourceId"]);
    let nowhere = s.write(
        "nowhere.yaml",
        "cases:\n  - name: no account\n    items: []\n    expect: [{resourceId: '1', compliance: COMPLIANT}]\n",
    );
    s.conform(&["test", "CLOUD_TRAIL_ENABLED", "--cases", as_str(&nowhere)])
        .fails_with(&["case \"no account\"", "names its `account`"]);
    s.conform(&[
        "test",
        "ENCRYPTED_VOLUMES",
        "--params",
        "p.json",
        "--cases",
        as_str(&typo),
    ])
    .fails_with(&["--params, --only and --no-builtins do not apply"]);
    s.conform(&["test", "NO_SUCH_RULE", "--cases", as_str(&typo)])
        .fails_with(&["NO_SUCH_RULE is neither a rule file nor a built-in rule id"]);
    s.conform(&[
        "test",
        as_str(&fixture("rules/refused/unknown-import.wat")),
        "--cases",
        as_str(&typo),
    ])
    .fails_with(&["HOSTILE_IMPORT", "`host.open_file`"]);
}
