//! VPC_DEFAULT_SECURITY_GROUP_CLOSED: every VPC's default security group admits nothing.
//!
//! As AWS Config defines it: a security group named `default` is NON_COMPLIANT if it has any
//! inbound or outbound permission; other security groups are NOT_APPLICABLE.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct VpcDefaultSecurityGroupClosed;

impl Rule for VpcDefaultSecurityGroupClosed {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
        "version": "1.0.0",
        "title": "Default security groups allow no traffic",
        "description": "Checks that the default security group of every VPC has no inbound or outbound rules.",
        "severity": "medium",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::EC2::SecurityGroup"]},
        "parameters": {"type": "object", "additionalProperties": false}
    }"#;

    fn evaluate(item: &Document, _params: &Document) -> Verdict {
        if item.string("/configuration/groupName").as_deref() != Some("default") {
            return Verdict::not_applicable("not a default security group");
        }
        let inbound = item.len("/configuration/ipPermissions").unwrap_or(0);
        let outbound = item.len("/configuration/ipPermissionsEgress").unwrap_or(0);
        if inbound + outbound > 0 {
            Verdict::non_compliant(format!(
                "the default security group has {inbound} inbound and {outbound} outbound rule(s)"
            ))
        } else {
            Verdict::compliant()
        }
    }
}

conform_sdk::rule!(VpcDefaultSecurityGroupClosed);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::VpcDefaultSecurityGroupClosed;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<VpcDefaultSecurityGroupClosed>()["id"],
            "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
        );
    }
}
