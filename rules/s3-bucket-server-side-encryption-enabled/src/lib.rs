//! S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: S3 buckets encrypt objects at rest.
//!
//! As AWS Config defines it: COMPLIANT if the bucket has default encryption (a rule applying
//! server-side encryption by default), or if its bucket policy denies `s3:PutObject` requests
//! that do not ask for server-side encryption; NON_COMPLIANT otherwise.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct S3BucketServerSideEncryptionEnabled;

const RULES: &str = "/supplementaryConfiguration/ServerSideEncryptionConfiguration/rules";
const POLICY: &str = "/supplementaryConfiguration/BucketPolicy/policyText";

impl Rule for S3BucketServerSideEncryptionEnabled {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
        "version": "1.0.0",
        "title": "S3 buckets encrypt objects at rest",
        "description": "Checks that S3 buckets have default server-side encryption, or a bucket policy that denies unencrypted uploads.",
        "severity": "medium",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::S3::Bucket"]},
        "parameters": {"type": "object", "additionalProperties": false}
    }"#;

    fn evaluate(item: &Document, _params: &Document) -> Verdict {
        let by_default = (0..item.len(RULES).unwrap_or(0)).any(|i| {
            item.string(&format!(
                "{RULES}/{i}/applyServerSideEncryptionByDefault/sseAlgorithm"
            ))
            .is_some_and(|a| !a.is_empty())
        });
        if by_default || policy_denies_unencrypted_puts(item) {
            Verdict::compliant()
        } else {
            Verdict::non_compliant(
                "no default encryption, and the bucket policy does not deny unencrypted uploads",
            )
        }
    }
}

/// A Deny statement on s3:PutObject (or s3:*) conditioned on the encryption header.
fn policy_denies_unencrypted_puts(item: &Document) -> bool {
    let statements = format!("{POLICY}/Statement");
    (0..item.len(&statements).unwrap_or(0)).any(|i| {
        let at = |field: &str| format!("{statements}/{i}/{field}");
        let denies = item.string(&at("Effect")).as_deref() == Some("Deny");
        let actions = match item.len(&at("Action")) {
            Some(n) => (0..n)
                .filter_map(|j| item.string(&format!("{}/{j}", at("Action"))))
                .collect(),
            None => item.string(&at("Action")).into_iter().collect::<Vec<_>>(),
        };
        let puts = actions
            .iter()
            .any(|a| a == "s3:PutObject" || a == "s3:*" || a == "*");
        let condition = at("Condition");
        let on_encryption = item.keys(&condition).iter().any(|operator| {
            let operator = conform_sdk::escape_segment(operator);
            item.keys(&format!("{condition}/{operator}"))
                .iter()
                .any(|k| k == "s3:x-amz-server-side-encryption")
        });
        denies && puts && on_encryption
    })
}

conform_sdk::rule!(S3BucketServerSideEncryptionEnabled);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::S3BucketServerSideEncryptionEnabled;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<S3BucketServerSideEncryptionEnabled>()["id"],
            "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
        );
    }
}
