//! S3_BUCKET_PUBLIC_READ_PROHIBITED: S3 buckets do not allow public read access.
//!
//! As AWS Config defines it, from the bucket's Block Public Access settings, its ACL and its
//! policy: NON_COMPLIANT if the ACL grants Read (or FullControl) to everyone or to all
//! authenticated AWS users and public ACLs are not ignored, or if the policy allows reading
//! objects to any principal without a condition and public policies are not restricted.

use conform_sdk::{Document, Rule, Verdict, escape_segment};

#[derive(Debug)]
pub struct S3BucketPublicReadProhibited;

const BLOCK: &str = "/supplementaryConfiguration/PublicAccessBlockConfiguration";
const ACL: &str = "/supplementaryConfiguration/AccessControlList";
const POLICY: &str = "/supplementaryConfiguration/BucketPolicy/policyText";

impl Rule for S3BucketPublicReadProhibited {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "S3_BUCKET_PUBLIC_READ_PROHIBITED",
        "version": "1.0.0",
        "title": "S3 buckets do not allow public read access",
        "description": "Checks Block Public Access, the bucket ACL and the bucket policy for public read access.",
        "severity": "critical",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::S3::Bucket"]},
        "parameters": {"type": "object", "additionalProperties": false}
    }"#;

    fn evaluate(item: &Document, _params: &Document) -> Verdict {
        let blocks = |setting: &str| item.bool(&format!("{BLOCK}/{setting}")) == Some(true);
        if !blocks("ignorePublicAcls") && acl_grants_public_read(item) {
            return Verdict::non_compliant("the bucket ACL grants read access to everyone");
        }
        if !blocks("restrictPublicBuckets") && policy_allows_public_read(item) {
            return Verdict::non_compliant("the bucket policy allows anyone to read objects");
        }
        Verdict::compliant()
    }
}

fn acl_grants_public_read(item: &Document) -> bool {
    let grants = format!("{ACL}/grantList");
    (0..item.len(&grants).unwrap_or(0)).any(|i| {
        let grant = format!("{grants}/{i}");
        // The grantee is a group name, or an object naming the group's URI.
        let grantee = item
            .string(&format!("{grant}/grantee"))
            .or_else(|| item.string(&format!("{grant}/grantee/identifier")))
            .or_else(|| item.string(&format!("{grant}/grantee/uri")))
            .unwrap_or_default();
        let public = grantee == "AllUsers"
            || grantee == "AuthenticatedUsers"
            || grantee.ends_with("/global/AllUsers")
            || grantee.ends_with("/global/AuthenticatedUsers");
        let permission = item
            .string(&format!("{grant}/permission"))
            .unwrap_or_default();
        public && (permission == "Read" || permission == "FullControl")
    })
}

fn policy_allows_public_read(item: &Document) -> bool {
    let statements = format!("{POLICY}/Statement");
    (0..item.len(&statements).unwrap_or(0)).any(|i| {
        let at = |field: &str| format!("{statements}/{i}/{field}");
        let strings = |pointer: String| -> Vec<String> {
            match item.len(&pointer) {
                Some(n) if item.string(&pointer).is_none() => (0..n)
                    .filter_map(|j| item.string(&format!("{pointer}/{j}")))
                    .collect(),
                _ => item.string(&pointer).into_iter().collect(),
            }
        };
        let allows = item.string(&at("Effect")).as_deref() == Some("Allow");
        let anyone = item.string(&at("Principal")).as_deref() == Some("*")
            || strings(format!("{}/{}", at("Principal"), escape_segment("AWS")))
                .iter()
                .any(|p| p == "*");
        let reads = strings(at("Action"))
            .iter()
            .any(|a| a == "s3:GetObject" || a == "s3:*" || a == "*");
        let unconditional = item.is_missing(&at("Condition"));
        allows && anyone && reads && unconditional
    })
}

conform_sdk::rule!(S3BucketPublicReadProhibited);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::S3BucketPublicReadProhibited;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<S3BucketPublicReadProhibited>()["id"],
            "S3_BUCKET_PUBLIC_READ_PROHIBITED"
        );
    }
}
