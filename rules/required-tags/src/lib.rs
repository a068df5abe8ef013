//! REQUIRED_TAGS: resources carry the tags you require, with allowed values.
//!
//! As AWS Config defines it: `tag1Key` is required, `tag2Key`..`tag6Key` optional; each
//! `tagNValue` optionally lists the allowed values, comma-separated. NON_COMPLIANT if a required
//! key is missing, or its value is not one of the allowed ones.

use conform_sdk::{Document, Rule, Verdict, escape_segment};

#[derive(Debug)]
pub struct RequiredTags;

impl Rule for RequiredTags {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "REQUIRED_TAGS",
        "version": "1.0.0",
        "title": "Resources have the required tags",
        "description": "Checks that resources carry the tags given as tag1Key..tag6Key, with values among tagNValue (comma-separated) when given.",
        "severity": "low",
        "kind": "resource",
        "scope": {"resourceTypes": [
            "AWS::EC2::Instance", "AWS::EC2::Volume", "AWS::EC2::SecurityGroup", "AWS::S3::Bucket",
            "AWS::RDS::DBInstance", "AWS::CloudTrail::Trail", "AWS::KMS::Key", "AWS::IAM::User"
        ]},
        "parameters": {
            "type": "object",
            "required": ["tag1Key"],
            "properties": {
                "tag1Key": {"type": "string", "minLength": 1}, "tag1Value": {"type": "string"},
                "tag2Key": {"type": "string", "minLength": 1}, "tag2Value": {"type": "string"},
                "tag3Key": {"type": "string", "minLength": 1}, "tag3Value": {"type": "string"},
                "tag4Key": {"type": "string", "minLength": 1}, "tag4Value": {"type": "string"},
                "tag5Key": {"type": "string", "minLength": 1}, "tag5Value": {"type": "string"},
                "tag6Key": {"type": "string", "minLength": 1}, "tag6Value": {"type": "string"}
            },
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        let mut problems = Vec::new();
        for n in 1..=6 {
            let Some(key) = params.string(&format!("/tag{n}Key")) else {
                continue;
            };
            match item.string(&format!("/tags/{}", escape_segment(&key))) {
                None => problems.push(format!("missing tag {key}")),
                Some(value) => {
                    if let Some(allowed) = params
                        .string(&format!("/tag{n}Value"))
                        .filter(|v| !v.trim().is_empty())
                        && !allowed.split(',').any(|a| a.trim() == value)
                    {
                        problems.push(format!("tag {key} is '{value}', not one of {allowed}"));
                    }
                }
            }
        }
        if problems.is_empty() {
            Verdict::compliant()
        } else {
            Verdict::non_compliant(problems.join("; "))
        }
    }
}

conform_sdk::rule!(RequiredTags);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::RequiredTags;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<RequiredTags>()["parameters"]["required"][0],
            "tag1Key"
        );
    }
}
