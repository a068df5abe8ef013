//! RDS_STORAGE_ENCRYPTED: RDS DB instances have storage encryption, optionally with a given key.
//!
//! As AWS Config defines it: NON_COMPLIANT if `storageEncrypted` is not true, or, when the
//! parameter `kmsKeyId` (a key id or ARN) is set, if the instance's key is another one.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct RdsStorageEncrypted;

impl Rule for RdsStorageEncrypted {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "RDS_STORAGE_ENCRYPTED",
        "version": "1.0.0",
        "title": "RDS DB instances have storage encryption",
        "description": "Checks that storage encryption is enabled for RDS DB instances and, if kmsKeyId is given, that they use that KMS key.",
        "severity": "high",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::RDS::DBInstance"]},
        "parameters": {
            "type": "object",
            "properties": {"kmsKeyId": {"type": "string", "description": "ID or ARN of the KMS key used to encrypt storage"}},
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        if item.bool("/configuration/storageEncrypted") != Some(true) {
            return Verdict::non_compliant("storage is not encrypted");
        }
        if let Some(wanted) = params.string("/kmsKeyId").filter(|k| !k.is_empty()) {
            let key = item.string("/configuration/kmsKeyId").unwrap_or_default();
            if !conform_sdk::aws::kms_key_matches(&key, &wanted) {
                return Verdict::non_compliant(format!(
                    "storage is encrypted with {key}, not with {wanted}"
                ));
            }
        }
        Verdict::compliant()
    }
}

conform_sdk::rule!(RdsStorageEncrypted);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::RdsStorageEncrypted;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<RdsStorageEncrypted>()["id"],
            "RDS_STORAGE_ENCRYPTED"
        );
    }
}
