//! DB_INSTANCE_BACKUP_ENABLED: RDS DB instances have automated backups, as required.
//!
//! As AWS Config defines it: NON_COMPLIANT if backups are off (retention period 0); when set,
//! `backupRetentionPeriod` must equal the instance's, `backupRetentionMinimum` must not exceed
//! it, and `preferredBackupWindow` must equal it. Read replicas are NOT_APPLICABLE unless
//! `checkReadReplicas` is true.

use conform_sdk::{Document, Rule, Verdict};

#[derive(Debug)]
pub struct DbInstanceBackupEnabled;

impl Rule for DbInstanceBackupEnabled {
    const MANIFEST: &'static str = r#"{
        "abi": 1,
        "id": "DB_INSTANCE_BACKUP_ENABLED",
        "version": "1.0.0",
        "title": "RDS DB instances have backups enabled",
        "description": "Checks that RDS DB instances have automated backups, optionally with a given retention period, minimum and window.",
        "severity": "medium",
        "kind": "resource",
        "scope": {"resourceTypes": ["AWS::RDS::DBInstance"]},
        "parameters": {
            "type": "object",
            "properties": {
                "backupRetentionPeriod": {"type": "integer", "minimum": 1, "maximum": 35},
                "backupRetentionMinimum": {"type": "integer", "minimum": 1, "maximum": 35},
                "preferredBackupWindow": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$"},
                "checkReadReplicas": {"type": "boolean", "default": false}
            },
            "additionalProperties": false
        }
    }"#;

    fn evaluate(item: &Document, params: &Document) -> Verdict {
        let replica = !item.is_missing("/configuration/readReplicaSourceDBInstanceIdentifier");
        if replica && params.bool("/checkReadReplicas") != Some(true) {
            return Verdict::not_applicable("read replica (checkReadReplicas is false)");
        }
        let period = item
            .number("/configuration/backupRetentionPeriod")
            .unwrap_or(0.0) as i64;
        if period == 0 {
            return Verdict::non_compliant("automated backups are off (retention period 0)");
        }
        if let Some(want) = params.number("/backupRetentionPeriod").map(|n| n as i64)
            && period != want
        {
            return Verdict::non_compliant(format!("backups are kept {period} days, not {want}"));
        }
        if let Some(min) = params.number("/backupRetentionMinimum").map(|n| n as i64)
            && period < min
        {
            return Verdict::non_compliant(format!(
                "backups are kept {period} days, fewer than {min}"
            ));
        }
        if let Some(window) = params.string("/preferredBackupWindow") {
            let actual = item
                .string("/configuration/preferredBackupWindow")
                .unwrap_or_default();
            if actual != window {
                return Verdict::non_compliant(format!(
                    "the backup window is {actual}, not {window}"
                ));
            }
        }
        Verdict::compliant()
    }
}

conform_sdk::rule!(DbInstanceBackupEnabled);

#[cfg(test)]
/// The cases are in `cases.yaml` beside this crate, run through `conform test` by the
/// end-to-end tests (the built-in compiled to wasm, as a scan runs it).
mod tests {
    use conform_sdk::testing::manifest;

    use super::DbInstanceBackupEnabled;

    #[test]
    fn manifest_is_valid() {
        assert_eq!(
            manifest::<DbInstanceBackupEnabled>()["id"],
            "DB_INSTANCE_BACKUP_ENABLED"
        );
    }
}
