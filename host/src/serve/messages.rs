//! Notifications as receivers read them: AWS Config's `ComplianceChangeNotification` (the
//! `Message` of an SNS notification, in the same envelope), and a drift change when a resource
//! starts or stops differing from the baseline.
//!
//! Each message gets its id from what it reports (the scan, the rule, the resource), so the
//! same change queued twice is one message, and a redelivery carries the id of the first.

use serde_json::{Value, json};

use crate::model::ResourceKey;
use crate::store::{OutboxMessage, ScanInfo};
use crate::timeline::ComplianceChange;

pub const COMPLIANCE_CHANGE: &str = "ComplianceChangeNotification";
pub const DRIFT_CHANGE: &str = "DriftChangeNotification";

/// One side of a change: the scan that judged it and when its snapshot was taken.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub scan: &'a ScanInfo,
    pub taken_at: &'a str,
}

/// A stable id in the form of a UUID, from the XXH3-128 hash of `parts`.
pub fn message_id(parts: &[&str]) -> String {
    let hash = xxhash_rust::xxh3::xxh3_128(parts.join("\u{1f}").as_bytes());
    let hex = format!("{hash:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// SNS limits a subject to 100 characters; AWS Config ends a longer one with "...".
fn subject(text: String) -> String {
    if text.chars().count() <= 100 {
        return text;
    }
    let mut cut: String = text.chars().take(97).collect();
    cut.push_str("...");
    cut
}

/// AWS's compliance types: an ERROR (the rule failed) is INSUFFICIENT_DATA there; the message
/// keeps conform's own word beside it.
fn aws_compliance(compliance: &str) -> &str {
    match compliance {
        "ERROR" => "INSUFFICIENT_DATA",
        other => other,
    }
}

fn evaluation_result(
    rule_id: &str,
    resource: &ResourceKey,
    compliance: &str,
    annotation: &str,
    judged: Judged<'_>,
) -> Value {
    json!({
        "evaluationResultIdentifier": {
            "evaluationResultQualifier": {
                "configRuleName": rule_id,
                "resourceType": resource.resource_type,
                "resourceId": resource.resource_id,
            },
            "orderingTimestamp": judged.taken_at,
        },
        "complianceType": aws_compliance(compliance),
        "resultRecordedTime": judged.scan.finished_at,
        "configRuleInvokedTime": judged.scan.started_at,
        "annotation": if annotation.is_empty() { Value::Null } else { annotation.into() },
        "resultToken": null,
    })
}

/// The message for one compliance change found by scan `new` against scan `old`.
///
/// A resource no longer evaluated (deleted, or out of the rule's scope now) is reported as
/// AWS Config reports a deleted resource: NOT_APPLICABLE.
pub fn compliance_change(
    change: &ComplianceChange,
    new: Judged<'_>,
    old: Option<Judged<'_>>,
    now: &str,
) -> OutboxMessage {
    let r = &change.resource;
    let (new_compliance, new_annotation) = match &change.new_compliance {
        Some(c) => (c.as_str(), change.annotation.as_str()),
        None => (
            "NOT_APPLICABLE",
            "The resource is no longer recorded, or no longer in the rule's scope.",
        ),
    };
    let old_result = match (&change.old_compliance, old) {
        (Some(c), Some(old)) => {
            evaluation_result(&change.rule_id, r, c, &change.old_annotation, old)
        }
        _ => Value::Null,
    };
    let message = json!({
        "awsAccountId": r.account_id,
        "configRuleName": change.rule_id,
        "resourceType": r.resource_type,
        "resourceId": r.resource_id,
        "awsRegion": r.region,
        "newEvaluationResult":
            evaluation_result(&change.rule_id, r, new_compliance, new_annotation, new),
        "oldEvaluationResult": old_result,
        "notificationCreationTime": now,
        "messageType": COMPLIANCE_CHANGE,
        "recordVersion": "1.0",
        "conform": {
            "compliance": change.new_compliance,
            "previousCompliance": change.old_compliance,
            "snapshot": new.scan.snapshot.0,
            "scan": new.scan.id,
            "previousScan": old.map(|o| o.scan.id),
        },
    });
    let id = message_id(&[
        COMPLIANCE_CHANGE,
        &new.scan.id.to_string(),
        &change.rule_id,
        &r.account_id,
        &r.region,
        &r.resource_type,
        &r.resource_id,
    ]);
    let region = if r.region.is_empty() {
        "global"
    } else {
        &r.region
    };
    let subject = subject(format!(
        "[conform:{region}] {} {} is {} with {} in Account {}",
        r.resource_type, r.resource_id, new_compliance, change.rule_id, r.account_id
    ));
    OutboxMessage {
        body: envelope(&id, &subject, message, now),
        message_id: id,
        kind: COMPLIANCE_CHANGE,
        scan_id: Some(new.scan.id),
        snapshot: Some(new.scan.snapshot),
    }
}

/// A resource that started (`drifted`) or stopped differing from baseline `baseline` with
/// snapshot `snapshot`.
pub fn drift_change(
    resource: &ResourceKey,
    baseline: &str,
    snapshot: crate::model::SnapshotId,
    taken_at: &str,
    change: Option<&str>,
    now: &str,
) -> OutboxMessage {
    let drifted = change.is_some();
    let message = json!({
        "awsAccountId": resource.account_id,
        "awsRegion": resource.region,
        "resourceType": resource.resource_type,
        "resourceId": resource.resource_id,
        "baseline": baseline,
        "snapshot": snapshot.0,
        "snapshotTime": taken_at,
        "drifted": drifted,
        // added, removed or modified against the baseline; null once it matches again.
        "change": change,
        "notificationCreationTime": now,
        "messageType": DRIFT_CHANGE,
        "recordVersion": "1.0",
    });
    let id = message_id(&[
        DRIFT_CHANGE,
        baseline,
        &snapshot.0.to_string(),
        &resource.account_id,
        &resource.region,
        &resource.resource_type,
        &resource.resource_id,
    ]);
    let what = if drifted {
        "differs from"
    } else {
        "matches again"
    };
    let subject = subject(format!(
        "[conform] {} {} {what} baseline {baseline} in Account {}",
        resource.resource_type, resource.resource_id, resource.account_id
    ));
    OutboxMessage {
        body: envelope(&id, &subject, message, now),
        message_id: id,
        kind: DRIFT_CHANGE,
        scan_id: None,
        snapshot: Some(snapshot),
    }
}

/// SNS's notification envelope, without its certificate signature: conform signs the body
/// with HMAC instead (the webhook sink's `X-Conform-Signature`).
fn envelope(id: &str, subject: &str, message: Value, now: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": id,
        "Subject": subject,
        "Message": message,
        "Timestamp": now,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SnapshotId;
    use crate::store::ScanMode;

    fn scan(id: i64) -> ScanInfo {
        ScanInfo {
            id,
            snapshot: SnapshotId(id),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            mode: ScanMode::Incremental,
        }
    }

    fn change(old: Option<&str>, new: Option<&str>) -> ComplianceChange {
        ComplianceChange {
            rule_id: "ENCRYPTED_VOLUMES".into(),
            resource: ResourceKey {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                resource_type: "AWS::EC2::Volume".into(),
                resource_id: "vol-1".into(),
            },
            old_compliance: old.map(Into::into),
            new_compliance: new.map(Into::into),
            annotation: "not encrypted".into(),
            old_annotation: String::new(),
        }
    }

    /// The message has AWS's fields where AWS puts them, and its id depends on the scan and
    /// the evaluation, not on when it was made.
    #[test]
    fn compliance_change_has_aws_shape_and_a_stable_id() {
        let (s1, s2) = (scan(1), scan(2));
        let new = Judged {
            scan: &s2,
            taken_at: "2026-01-02T00:00:00Z",
        };
        let old = Judged {
            scan: &s1,
            taken_at: "2026-01-01T00:00:00Z",
        };
        let c = change(Some("COMPLIANT"), Some("NON_COMPLIANT"));
        let m = compliance_change(&c, new, Some(old), "2026-01-02T00:00:05Z");
        let again = compliance_change(&c, new, Some(old), "2026-01-03T00:00:00Z");
        assert_eq!(m.message_id, again.message_id);
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["MessageId"], m.message_id.as_str());
        let msg = &body["Message"];
        assert_eq!(msg["messageType"], COMPLIANCE_CHANGE);
        assert_eq!(
            msg["newEvaluationResult"]["complianceType"],
            "NON_COMPLIANT"
        );
        assert_eq!(msg["newEvaluationResult"]["annotation"], "not encrypted");
        assert_eq!(msg["oldEvaluationResult"]["complianceType"], "COMPLIANT");
        assert_eq!(msg["oldEvaluationResult"]["annotation"], Value::Null);
        assert_eq!(
            msg["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]["resourceId"],
            "vol-1"
        );
        let other = compliance_change(&c, Judged { scan: &s1, ..new }, None, "x");
        assert_ne!(
            m.message_id, other.message_id,
            "another scan, another message"
        );

        let gone = compliance_change(&change(Some("ERROR"), None), new, Some(old), "x");
        let body: Value = serde_json::from_str(&gone.body).unwrap();
        assert_eq!(
            body["Message"]["newEvaluationResult"]["complianceType"],
            "NOT_APPLICABLE"
        );
        assert_eq!(
            body["Message"]["oldEvaluationResult"]["complianceType"],
            "INSUFFICIENT_DATA"
        );
    }

    #[test]
    fn long_subjects_are_cut_as_sns_cuts_them() {
        let s = subject("x".repeat(150));
        assert_eq!(s.chars().count(), 100);
        assert!(s.ends_with("..."));
    }
}
