//! INCOMING_SSH_DISABLED (restricted-ssh): security groups do not admit SSH from anywhere.
//!
//! As AWS Config defines it: NON_COMPLIANT if an ingress permission admits TCP port 22 from
//! 0.0.0.0/0 or ::/0 — including all-traffic permissions (protocol -1) and port ranges that
//! contain 22.

use conform_sdk::aws::permissions;
use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct IncomingSshDisabled;

impl Rule for IncomingSshDisabled {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "INCOMING_SSH_DISABLED",
        "version": "1.0.0",
        "title": "Security groups do not allow SSH from anywhere",
        "description": "Checks that no security group admits incoming SSH (TCP 22) from 0.0.0.0/0 or ::/0.",
        "severity": "high",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::EC2::SecurityGroup"]},
        "parameters": {"type": "object", "additionalProperties": false}
    }"#;

    fn evaluate(item: &Document, _params: &Document) -> Verdict {
        let open = permissions(item, "/configuration/ipPermissions")
            .into_iter()
            .any(|p| p.open_to_world() && p.allows("tcp", 22));
        if open {
            Verdict::non_compliant("SSH (TCP 22) is open to the internet")
        } else {
            Verdict::compliant()
        }
    }
}

conform_sdk::rule!(IncomingSshDisabled);

#[cfg(test)]
mod tests {
    use conform_sdk::Compliance::*;
    use conform_sdk::testing::{Case, assert_cases, manifest};
    use serde_json::{Value, json};

    use super::IncomingSshDisabled;

    fn sg(permissions: Value) -> Value {
        json!({"resourceType": "AWS::EC2::SecurityGroup", "configuration": {"ipPermissions": permissions}})
    }

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<IncomingSshDisabled>()["id"],
            "INCOMING_SSH_DISABLED"
        );
    }

    #[test]
    fn cases() {
        assert_cases::<IncomingSshDisabled>(&[
            Case::new(
                sg(
                    json!([{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["10.0.0.0/8"]}]),
                ),
                Compliant,
            ),
            Case::new(
                sg(
                    json!([{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": ["0.0.0.0/0"]}]),
                ),
                Compliant,
            ),
            Case::new(sg(json!([])), Compliant),
            // Open to the world, in each shape AWS records.
            Case::new(
                sg(
                    json!([{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"]}]),
                ),
                NonCompliant,
            ),
            Case::new(
                sg(
                    json!([{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}]),
                ),
                NonCompliant,
            ),
            Case::new(
                sg(
                    json!([{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6Ranges": [{"cidrIpv6": "::/0"}]}]),
                ),
                NonCompliant,
            ),
            Case::new(
                sg(json!([{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"]}])),
                NonCompliant,
            ),
            Case::new(
                sg(
                    json!([{"ipProtocol": "tcp", "fromPort": 0, "toPort": 1024, "ipRanges": ["0.0.0.0/0"]}]),
                ),
                NonCompliant,
            ),
            Case::new(
                sg(
                    json!([{"ipProtocol": "udp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"]}]),
                ),
                Compliant,
            ),
        ]);
    }
}
