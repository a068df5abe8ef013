//! RESTRICTED_INCOMING_TRAFFIC (restricted-common-ports): security groups do not admit traffic
//! from anywhere to commonly attacked ports.
//!
//! As AWS Config defines it: NON_COMPLIANT if an ingress permission admits TCP traffic from
//! 0.0.0.0/0 (or ::/0) to one of `blockedPort1`..`blockedPort5`, which default to 20, 21, 3389,
//! 3306 and 4333.

use conform_sdk::aws::permissions;
use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct RestrictedIncomingTraffic;

impl Rule for RestrictedIncomingTraffic {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "RESTRICTED_INCOMING_TRAFFIC",
        "version": "1.0.0",
        "title": "Security groups do not allow common ports from anywhere",
        "description": "Checks that no security group admits TCP traffic from 0.0.0.0/0 or ::/0 to the blocked ports.",
        "severity": "high",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::EC2::SecurityGroup"]},
        "parameters": {
            "type": "object",
            "properties": {
                "blockedPort1": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 20},
                "blockedPort2": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 21},
                "blockedPort3": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 3389},
                "blockedPort4": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 3306},
                "blockedPort5": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 4333}
            },
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        let blocked: Vec<i64> = (1..=5)
            .filter_map(|n| params.number(&format!("/blockedPort{n}")))
            .map(|p| p as i64)
            .collect();
        let open = permissions(item, "/configuration/ipPermissions");
        let exposed: Vec<String> = blocked
            .iter()
            .filter(|port| {
                open.iter()
                    .any(|p| p.open_to_world() && p.allows("tcp", **port))
            })
            .map(|port| port.to_string())
            .collect();
        if exposed.is_empty() {
            Verdict::compliant()
        } else {
            Verdict::non_compliant(format!(
                "TCP port(s) {} open to the internet",
                exposed.join(", ")
            ))
        }
    }
}

conform_sdk::rule!(RestrictedIncomingTraffic);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::RestrictedIncomingTraffic;

    #[test]
    fn manifest_is_valid() {
        let m = manifest::<RestrictedIncomingTraffic>();
        assert_eq!(
            m["parameters"]["properties"]["blockedPort3"]["default"],
            3389
        );
    }
}
