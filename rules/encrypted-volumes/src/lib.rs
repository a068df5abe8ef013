//! ENCRYPTED_VOLUMES: attached EBS volumes are encrypted, optionally with a given KMS key.
//!
//! As AWS Config defines it: NON_COMPLIANT if an attached volume is unencrypted, or encrypted
//! with a key other than `kmsId` (a key id or ARN) when that parameter is set. Volumes that are
//! not attached are NOT_APPLICABLE.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct EncryptedVolumes;

impl Rule for EncryptedVolumes {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "ENCRYPTED_VOLUMES",
        "version": "1.0.0",
        "title": "Attached EBS volumes are encrypted",
        "description": "Checks that attached EBS volumes are encrypted and, if kmsId is given, encrypted with that KMS key.",
        "severity": "medium",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::EC2::Volume"]},
        "parameters": {
            "type": "object",
            "properties": {
                "kmsId": {"type": "string", "description": "ID or ARN of the KMS key the volumes must be encrypted with"}
            },
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        let attached = item.len("/configuration/attachments").unwrap_or(0) > 0
            || item.string("/configuration/state").as_deref() == Some("in-use");
        if !attached {
            return Verdict::not_applicable("the volume is not attached to an instance");
        }
        if item.bool("/configuration/encrypted") != Some(true) {
            return Verdict::non_compliant("the volume is not encrypted");
        }
        if let Some(wanted) = params.string("/kmsId").filter(|k| !k.is_empty()) {
            let key = item.string("/configuration/kmsKeyId").unwrap_or_default();
            if !conform_sdk::aws::kms_key_matches(&key, &wanted) {
                return Verdict::non_compliant(format!(
                    "the volume is encrypted with {key}, not with {wanted}"
                ));
            }
        }
        Verdict::compliant()
    }
}

conform_sdk::rule!(EncryptedVolumes);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::EncryptedVolumes;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(manifest::<EncryptedVolumes>()["id"], "ENCRYPTED_VOLUMES");
    }
}
