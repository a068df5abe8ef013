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
mod tests {
    use conform_sdk::Compliance::*;
    use conform_sdk::testing::{Case, assert_cases, manifest};
    use serde_json::{Value, json};

    use super::S3BucketVersioningEnabled;

    fn bucket(versioning: Value) -> Value {
        json!({
            "resourceType": "AWS::S3::Bucket",
            "resourceId": "b",
            "configuration": {"name": "b"},
            "supplementaryConfiguration": {"BucketVersioningConfiguration": versioning}
        })
    }

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<S3BucketVersioningEnabled>()["id"],
            "S3_BUCKET_VERSIONING_ENABLED"
        );
    }

    #[test]
    fn cases() {
        let mfa = json!({"isMfaDeleteEnabled": true});
        assert_cases::<S3BucketVersioningEnabled>(&[
            Case::new(
                bucket(json!({"status": "Enabled", "isMfaDeleteEnabled": null})),
                Compliant,
            ),
            Case::new(
                bucket(json!({"status": "Suspended", "isMfaDeleteEnabled": null})),
                NonCompliant,
            ),
            Case::new(bucket(json!({"status": "Off"})), NonCompliant),
            Case::new(bucket(Value::Null), NonCompliant),
            // isMfaDeleteEnabled
            Case::new(
                bucket(json!({"status": "Enabled", "isMfaDeleteEnabled": true})),
                Compliant,
            )
            .with_params(mfa.clone()),
            Case::new(
                bucket(json!({"status": "Enabled", "isMfaDeleteEnabled": null})),
                NonCompliant,
            )
            .with_params(mfa),
            Case::new(
                bucket(json!({"status": "Enabled", "isMfaDeleteEnabled": false})),
                Compliant,
            )
            .with_params(json!({"isMfaDeleteEnabled": false})),
        ]);
    }
}
