//! S3_BUCKET_VERSIONING_ENABLED: S3 buckets have versioning enabled, and optionally MFA delete.
//!
//! As AWS Config defines it: NON_COMPLIANT if versioning is not enabled, or, when the parameter
//! `isMfaDeleteEnabled` is true, if MFA delete is not enabled. The state is read from the
//! bucket's `supplementaryConfiguration/BucketVersioningConfiguration`.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct S3BucketVersioningEnabled;

const VERSIONING: &str = "/supplementaryConfiguration/BucketVersioningConfiguration";

impl Rule for S3BucketVersioningEnabled {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "S3_BUCKET_VERSIONING_ENABLED",
        "version": "1.0.0",
        "title": "S3 buckets have versioning enabled",
        "description": "Checks that versioning is enabled for S3 buckets and, if isMfaDeleteEnabled is true, that MFA delete is enabled too.",
        "severity": "medium",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::S3::Bucket"]},
        "parameters": {
            "type": "object",
            "properties": {
                "isMfaDeleteEnabled": {"type": "boolean", "description": "Also require MFA delete"}
            },
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        let status = item.string(&format!("{VERSIONING}/status"));
        if status.as_deref() != Some("Enabled") {
            let state = status.unwrap_or_else(|| "never enabled".to_string());
            return Verdict::non_compliant(format!("versioning is {state}"));
        }
        if params.bool("/isMfaDeleteEnabled") == Some(true)
            && item.bool(&format!("{VERSIONING}/isMfaDeleteEnabled")) != Some(true)
        {
            return Verdict::non_compliant("versioning is enabled but MFA delete is not");
        }
        Verdict::compliant()
    }
}

conform_sdk::rule!(S3BucketVersioningEnabled);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::S3BucketVersioningEnabled;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<S3BucketVersioningEnabled>()["id"],
            "S3_BUCKET_VERSIONING_ENABLED"
        );
    }
}
