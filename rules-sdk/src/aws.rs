//! Helpers for the shapes AWS Config records, shared by rules.

use crate::Document;

/// Whether the KMS key `key` (an ARN, as AWS Config records it) is the one a rule's parameter
/// names, given either as the same ARN or as the bare key id.
pub fn kms_key_matches(key: &str, wanted: &str) -> bool {
    key == wanted
        || key
            .strip_suffix(wanted)
            .is_some_and(|rest| rest.ends_with('/'))
}

/// An ingress (or egress) permission of a security group, as AWS Config records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` for all traffic.
    pub protocol: String,
    /// Inclusive port range; `None` when the permission covers every port.
    pub ports: Option<(i64, i64)>,
    /// Every source range: `ipRanges` strings, `ipv4Ranges[].cidrIp`, `ipv6Ranges[].cidrIpv6`.
    pub cidrs: Vec<String>,
}

impl Permission {
    /// Whether the permission admits `protocol` (`tcp` or `udp`) traffic to `port`.
    pub fn allows(&self, protocol: &str, port: i64) -> bool {
        let number = match protocol {
            "tcp" => "6",
            "udp" => "17",
            other => other,
        };
        let protocol_matches =
            self.protocol == "-1" || self.protocol == protocol || self.protocol == number;
        protocol_matches
            && self
                .ports
                .is_none_or(|(from, to)| from <= port && port <= to)
    }

    /// Whether any source is the whole IPv4 or IPv6 internet.
    pub fn open_to_world(&self) -> bool {
        self.cidrs.iter().any(|c| c == "0.0.0.0/0" || c == "::/0")
    }
}

/// The permissions under `pointer` (`/configuration/ipPermissions` or `.../ipPermissionsEgress`).
///
/// A security group has many permissions and ranges, and this reads each of their fields: the
/// pointers are built in one reused string rather than one allocation each.
pub fn permissions(item: &Document, pointer: &str) -> Vec<Permission> {
    let count = item.len(pointer).unwrap_or(0);
    let mut at = String::with_capacity(pointer.len() + 48);
    // `at` becomes `{pointer}/{i}/{rest}`; returns it for a lookup.
    fn set<'a>(at: &'a mut String, base: usize, rest: core::fmt::Arguments<'_>) -> &'a str {
        use core::fmt::Write;
        at.truncate(base);
        let _ = at.write_fmt(rest);
        at
    }
    (0..count)
        .map(|i| {
            at.clear();
            at.push_str(pointer);
            let _ = core::fmt::Write::write_fmt(&mut at, format_args!("/{i}"));
            let base = at.len();
            let protocol = item
                .string(set(&mut at, base, format_args!("/ipProtocol")))
                .or_else(|| item.number(&at).map(|n| (n as i64).to_string()))
                .unwrap_or_else(|| "-1".to_string());
            let from = item
                .number(set(&mut at, base, format_args!("/fromPort")))
                .map(|n| n as i64);
            let to = item
                .number(set(&mut at, base, format_args!("/toPort")))
                .map(|n| n as i64);
            // All traffic, or a port of -1, or no ports at all, covers every port.
            let ports = match (protocol.as_str(), from, to) {
                ("-1", _, _) => None,
                (_, Some(from), Some(to)) if from >= 0 && to >= 0 => Some((from, to)),
                _ => None,
            };
            let mut cidrs: Vec<String> = Vec::new();
            // Older items list plain strings in `ipRanges`, newer ones objects with `cidrIp`.
            for (list, field) in [
                ("ipRanges", "cidrIp"),
                ("ipv4Ranges", "cidrIp"),
                ("ipv6Ranges", "cidrIpv6"),
            ] {
                let ranges = item
                    .len(set(&mut at, base, format_args!("/{list}")))
                    .unwrap_or(0);
                for n in 0..ranges {
                    // A string, or an object holding one: one lookup for the string form.
                    let cidr = item
                        .string(set(&mut at, base, format_args!("/{list}/{n}")))
                        .or_else(|| {
                            item.string(set(&mut at, base, format_args!("/{list}/{n}/{field}")))
                        });
                    cidrs.extend(cidr);
                }
            }
            Permission {
                protocol,
                ports,
                cidrs,
            }
        })
        .collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::with_documents;

    #[test]
    fn kms_keys_match_by_arn_or_id() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1111-2222";
        assert!(kms_key_matches(arn, arn));
        assert!(kms_key_matches(arn, "1111-2222"));
        assert!(!kms_key_matches(arn, "2222"));
        assert!(!kms_key_matches(arn, "other"));
    }

    #[test]
    fn reads_every_range_shape_and_port_form() {
        let sg = serde_json::json!({"configuration": {"ipPermissions": [
            {"ipProtocol": "tcp", "fromPort": 20, "toPort": 25, "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}]},
            {"ipProtocol": "-1", "ipv6Ranges": [{"cidrIpv6": "::/0"}]},
            {"ipProtocol": "udp", "fromPort": -1, "toPort": -1, "ipRanges": [{"cidrIp": "1.2.3.4/32"}]}
        ]}});
        with_documents(&sg, &serde_json::json!({}), || {
            let p = permissions(&Document::ITEM, "/configuration/ipPermissions");
            assert_eq!(p[0].cidrs, vec!["0.0.0.0/0", "10.0.0.0/8"]);
            assert!(p[0].allows("tcp", 22) && !p[0].allows("tcp", 26) && !p[0].allows("udp", 22));
            assert!(p[0].open_to_world());
            assert!(p[1].allows("tcp", 3389) && p[1].open_to_world());
            assert_eq!(p[2].ports, None);
            assert!(p[2].allows("udp", 53) && !p[2].open_to_world());
        });
    }
}
