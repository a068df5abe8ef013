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
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::IncomingSshDisabled;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<IncomingSshDisabled>()["id"],
            "INCOMING_SSH_DISABLED"
        );
    }
}
