//! EC2_VOLUME_INUSE_CHECK: EBS volumes are attached to instances, optionally marked for deletion
//! on instance termination.
//!
//! As AWS Config defines it: NON_COMPLIANT if a volume is not attached; when the parameter
//! `deleteOnTermination` is true, also NON_COMPLIANT if an attachment does not delete the volume
//! when its instance terminates.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct Ec2VolumeInuseCheck;

impl Rule for Ec2VolumeInuseCheck {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "EC2_VOLUME_INUSE_CHECK",
        "version": "1.0.0",
        "title": "EBS volumes are attached to EC2 instances",
        "description": "Checks that EBS volumes are attached to instances and, if deleteOnTermination is true, that they are deleted when the instance terminates.",
        "severity": "low",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::EC2::Volume"]},
        "parameters": {
            "type": "object",
            "properties": {"deleteOnTermination": {"type": "boolean", "description": "Also require deletion on instance termination"}},
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        let attachments = item.len("/configuration/attachments").unwrap_or(0);
        if attachments == 0 {
            return Verdict::non_compliant("the volume is not attached to an instance");
        }
        if params.bool("/deleteOnTermination") == Some(true) {
            let kept = (0..attachments)
                .filter(|i| {
                    item.bool(&format!(
                        "/configuration/attachments/{i}/deleteOnTermination"
                    )) != Some(true)
                })
                .count();
            if kept > 0 {
                return Verdict::non_compliant(
                    "the volume is not deleted when its instance terminates",
                );
            }
        }
        Verdict::compliant()
    }
}

conform_sdk::rule!(Ec2VolumeInuseCheck);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::Ec2VolumeInuseCheck;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<Ec2VolumeInuseCheck>()["id"],
            "EC2_VOLUME_INUSE_CHECK"
        );
    }
}
