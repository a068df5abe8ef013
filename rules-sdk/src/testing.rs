//! Testing rules natively: fixture items and parameters in, expected compliance out.

use serde_json::Value;

use crate::{Compliance, EstateRule, Rule, imports};

/// One test case: a configuration item, parameters, and the compliance the rule must report.
#[derive(Debug, Clone)]
pub struct Case {
    pub item: Value,
    pub params: Value,
    pub expect: Compliance,
}

impl Case {
    pub fn new(item: Value, expect: Compliance) -> Case {
        Case {
            item,
            params: serde_json::json!({}),
            expect,
        }
    }

    pub fn with_params(mut self, params: Value) -> Case {
        self.params = params;
        self
    }
}

/// Runs `f` with the item and parameter documents set, as the host would set them.
pub fn with_documents<R>(item: &Value, params: &Value, f: impl FnOnce() -> R) -> R {
    imports::set_documents(item.clone(), params.clone());
    f()
}

/// Evaluates `R` on `item` with `params`, through the same path the wasm export takes, and
/// returns what it reported.
pub fn evaluate<R: Rule>(item: &Value, params: &Value) -> (Compliance, String) {
    with_documents(item, params, || {
        crate::__private::run::<R>();
        let mut results = imports::take_results();
        assert_eq!(
            results.len(),
            1,
            "a rule reports exactly one result per item"
        );
        let (code, annotation) = results.remove(0);
        let compliance = match code {
            1 => Compliance::Compliant,
            2 => Compliance::NonCompliant,
            3 => Compliance::NotApplicable,
            other => panic!("compliance code {other} is not 1, 2 or 3"),
        };
        (compliance, annotation)
    })
}

/// Asserts every case; the message names the failing case and what was reported.
#[track_caller]
pub fn assert_cases<R: Rule>(cases: &[Case]) {
    for (i, case) in cases.iter().enumerate() {
        let (got, annotation) = evaluate::<R>(&case.item, &case.params);
        assert_eq!(
            got, case.expect,
            "case {i}: expected {:?}, got {got:?} ({annotation})\nitem: {}\nparams: {}",
            case.expect, case.item, case.params
        );
    }
}

/// The manifest, parsed; a test can check it is valid JSON with the fields the host requires.
pub fn manifest<R: Rule>() -> Value {
    let manifest: Value = serde_json::from_str(R::MANIFEST).expect("MANIFEST is JSON");
    assert_eq!(
        manifest["abi"],
        crate::ABI_VERSION,
        "MANIFEST declares the SDK's ABI version"
    );
    for field in ["id", "version", "title", "severity", "kind"] {
        assert!(manifest.get(field).is_some(), "MANIFEST lacks `{field}`");
    }
    manifest
}

/// What an estate rule emitted: (compliance, resource type, resource id, annotation).
pub type Emitted = Vec<(Compliance, String, String, String)>;

/// Runs estate rule `R` for `account` over `items` with `params`, as the host would.
pub fn evaluate_estate<R: EstateRule>(account: &str, items: Vec<Value>, params: &Value) -> Emitted {
    imports::set_estate(account, items, params.clone());
    R::evaluate(&mut crate::Estate::current(), &crate::Document::PARAMS);
    imports::take_emitted()
        .into_iter()
        .map(|(code, kind, id, annotation)| {
            let compliance = match code {
                1 => Compliance::Compliant,
                2 => Compliance::NonCompliant,
                3 => Compliance::NotApplicable,
                other => panic!("compliance code {other} is not 1, 2 or 3"),
            };
            (compliance, kind, id, annotation)
        })
        .collect()
}
