//! CLOUD_TRAIL_ENABLED: each account has a CloudTrail trail recording, as required.
//!
//! An estate rule (AWS Config's periodic kind): it runs once per account over the account's
//! trails and evaluates the account (`AWS::::Account`). COMPLIANT if at least one trail is
//! logging (a trail whose `IsLogging` is recorded as false does not count) and matches the
//! optional parameters `s3BucketName`, `snsTopicArn` and `cloudWatchLogsLogGroupArn`.

use conform_sdk::{Document, Estate, EstateRule, Verdict};

#[derive(Debug)]
pub struct CloudTrailEnabled;

impl EstateRule for CloudTrailEnabled {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "CLOUD_TRAIL_ENABLED",
        "version": "1.0.0",
        "title": "CloudTrail is enabled in the account",
        "description": "Checks that each account has a CloudTrail trail that is logging and, if given, delivers to the given S3 bucket, SNS topic and CloudWatch Logs group.",
        "severity": "high",
        "kind": "estate",
        "scope": {"resourceTypes": ["AWS::CloudTrail::Trail"]},
        "parameters": {
            "type": "object",
            "properties": {
                "s3BucketName": {"type": "string"},
                "snsTopicArn": {"type": "string"},
                "cloudWatchLogsLogGroupArn": {"type": "string"}
            },
            "additionalProperties": false
        }
    }"#;

    fn evaluate(estate: &mut Estate, params: &Document) {
        let wanted = [
            ("s3BucketName", "/configuration/s3BucketName"),
            ("snsTopicArn", "/configuration/snsTopicARN"),
            (
                "cloudWatchLogsLogGroupArn",
                "/configuration/cloudWatchLogsLogGroupArn",
            ),
        ];
        let mut seen = 0;
        let mut enabled = false;
        for index in 0..estate.len() {
            let Some(trail) = estate.select(index) else {
                continue;
            };
            seen += 1;
            let logging = trail.bool("/supplementaryConfiguration/IsLogging") != Some(false);
            let matches =
                wanted
                    .iter()
                    .all(|(param, field)| match params.string(&format!("/{param}")) {
                        Some(value) if !value.is_empty() => {
                            trail.string(field).as_deref() == Some(value.as_str())
                        }
                        _ => true,
                    });
            enabled |= logging && matches;
        }
        let verdict = if enabled {
            Verdict::compliant()
        } else if seen == 0 {
            Verdict::non_compliant("the account has no CloudTrail trail")
        } else {
            Verdict::non_compliant(format!(
                "none of the account's {seen} trail(s) is logging as required"
            ))
        };
        estate.emit_account(&verdict);
    }
}

conform_sdk::estate_rule!(CloudTrailEnabled);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use serde_json::Value;

    use super::CloudTrailEnabled;

    #[test]
    fn manifest_is_an_estate_rule() {
        let manifest: Value =
            serde_json::from_str(<CloudTrailEnabled as conform_sdk::EstateRule>::MANIFEST).unwrap();
        assert_eq!(manifest["kind"], "estate");
    }
}
