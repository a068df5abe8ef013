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
mod tests {
    use conform_sdk::Compliance::{self, *};
    use conform_sdk::testing::evaluate_estate;
    use serde_json::{Value, json};

    use super::CloudTrailEnabled;

    fn trail(bucket: &str, logging: Option<bool>) -> Value {
        json!({"resourceType": "AWS::CloudTrail::Trail", "configuration": {"s3BucketName": bucket},
               "supplementaryConfiguration": {"IsLogging": logging}})
    }

    fn account_verdict(items: Vec<Value>, params: Value) -> Compliance {
        let emitted = evaluate_estate::<CloudTrailEnabled>("123456789012", items, &params);
        assert_eq!(emitted.len(), 1, "one evaluation, of the account");
        assert_eq!(
            (emitted[0].1.as_str(), emitted[0].2.as_str()),
            ("AWS::::Account", "123456789012")
        );
        emitted[0].0
    }

    #[test]
    fn manifest_is_an_estate_rule() {
        let manifest: Value =
            serde_json::from_str(<CloudTrailEnabled as conform_sdk::EstateRule>::MANIFEST).unwrap();
        assert_eq!(manifest["kind"], "estate");
    }

    #[test]
    fn cases() {
        assert_eq!(
            account_verdict(vec![trail("logs", Some(true))], json!({})),
            Compliant
        );
        assert_eq!(
            account_verdict(vec![trail("logs", None)], json!({})),
            Compliant,
            "no status recorded counts as logging"
        );
        assert_eq!(account_verdict(vec![], json!({})), NonCompliant);
        assert_eq!(
            account_verdict(vec![trail("logs", Some(false))], json!({})),
            NonCompliant
        );
        assert_eq!(
            account_verdict(
                vec![trail("logs", Some(false)), trail("other", Some(true))],
                json!({})
            ),
            Compliant
        );
        // s3BucketName
        assert_eq!(
            account_verdict(
                vec![trail("logs", Some(true))],
                json!({"s3BucketName": "logs"})
            ),
            Compliant
        );
        assert_eq!(
            account_verdict(
                vec![trail("logs", Some(true))],
                json!({"s3BucketName": "audit"})
            ),
            NonCompliant
        );
    }
}
