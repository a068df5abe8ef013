//! RDS_INSTANCE_PUBLIC_ACCESS_CHECK: RDS DB instances are not publicly accessible.
//!
//! As AWS Config defines it: NON_COMPLIANT if `publiclyAccessible` is true.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct RdsInstancePublicAccessCheck;

impl Rule for RdsInstancePublicAccessCheck {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "RDS_INSTANCE_PUBLIC_ACCESS_CHECK",
        "version": "1.0.0",
        "title": "RDS DB instances are not publicly accessible",
        "description": "Checks that RDS DB instances are not publicly accessible (publiclyAccessible is false).",
        "severity": "critical",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::RDS::DBInstance"]},
        "parameters": {"type": "object", "additionalProperties": false}
    }"#;

    fn evaluate(item: &Document, _params: &Document) -> Verdict {
        match item.bool("/configuration/publiclyAccessible") {
            Some(true) => Verdict::non_compliant("the DB instance is publicly accessible"),
            _ => Verdict::compliant(),
        }
    }
}

conform_sdk::rule!(RdsInstancePublicAccessCheck);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::RdsInstancePublicAccessCheck;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<RdsInstancePublicAccessCheck>()["id"],
            "RDS_INSTANCE_PUBLIC_ACCESS_CHECK"
        );
    }
}
