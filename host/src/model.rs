//! The configuration item (CI) as conform understands it, independent of the dialect it was read in.
//!
//! AWS Config writes the same item with two sets of key names: the API dialect
//! (`version`, `accountId`, `arn`, `configurationItemMD5Hash`, relationship `relationshipName`)
//! and the file/notification dialect (`configurationItemVersion`, `awsAccountId`, `ARN`,
//! `configurationStateMd5Hash`, relationship `name`). conform reads both and always writes the
//! API dialect, which is what `aws configservice get-resource-config-history` returns.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `configurationItemStatus`, as AWS Config defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemStatus {
    #[serde(rename = "OK")]
    Ok,
    ResourceDiscovered,
    ResourceNotRecorded,
    ResourceDeleted,
    ResourceDeletedNotRecorded,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 5] = [
        ItemStatus::Ok,
        ItemStatus::ResourceDiscovered,
        ItemStatus::ResourceNotRecorded,
        ItemStatus::ResourceDeleted,
        ItemStatus::ResourceDeletedNotRecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Ok => "OK",
            ItemStatus::ResourceDiscovered => "ResourceDiscovered",
            ItemStatus::ResourceNotRecorded => "ResourceNotRecorded",
            ItemStatus::ResourceDeleted => "ResourceDeleted",
            ItemStatus::ResourceDeletedNotRecorded => "ResourceDeletedNotRecorded",
        }
    }

    pub fn parse(text: &str) -> Option<ItemStatus> {
        ItemStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Both deletion statuses end a resource's life in the estate.
    pub fn is_deleted(self) -> bool {
        matches!(
            self,
            ItemStatus::ResourceDeleted | ItemStatus::ResourceDeletedNotRecorded
        )
    }
}

impl fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a resource across snapshots: (account, region, resourceType, resourceId).
///
/// Estates that are not AWS may leave account and region empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    pub account_id: String,
    pub region: String,
    pub resource_type: String,
    pub resource_id: String,
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // For people, so safe on a terminal: ids come from inputs.
        use crate::escape::terminal as t;
        write!(f, "{}/{}", t(&self.resource_type), t(&self.resource_id))?;
        if !self.account_id.is_empty() || !self.region.is_empty() {
            write!(
                f,
                " ({} {})",
                t(or_dash(&self.account_id)),
                t(or_dash(&self.region))
            )?;
        }
        Ok(())
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Where a snapshot is complete: an account and region, or all of either (`None`).
///
/// AWS Config records one account and region per recorder, and delivers each recorder's
/// snapshot on its own: a delivery says nothing about the resources of other scopes, so it
/// must not delete them. `Scope::ESTATE` (both `None`) is the whole estate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub account_id: Option<String>,
    pub region: Option<String>,
}

impl Scope {
    /// Every account and region.
    pub const ESTATE: Scope = Scope {
        account_id: None,
        region: None,
    };

    /// One account and region.
    pub fn of(account_id: &str, region: &str) -> Scope {
        Scope {
            account_id: Some(account_id.to_string()),
            region: Some(region.to_string()),
        }
    }

    /// Whether a resource of this account and region lies in the scope.
    pub fn covers(&self, account_id: &str, region: &str) -> bool {
        self.account_id.as_deref().is_none_or(|a| a == account_id)
            && self.region.as_deref().is_none_or(|r| r == region)
    }

    /// Whether some resource could lie in both scopes.
    pub fn overlaps(&self, other: &Scope) -> bool {
        fn meet(a: &Option<String>, b: &Option<String>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        meet(&self.account_id, &other.account_id) && meet(&self.region, &other.region)
    }

    /// `*` for "any", as the store records it (no account or region is named `*`).
    pub fn column(part: &Option<String>) -> &str {
        part.as_deref().unwrap_or(Scope::ANY)
    }

    /// The inverse of [`Scope::column`].
    pub fn from_columns(account_id: String, region: String) -> Scope {
        let part = |s: String| (s != Scope::ANY).then_some(s);
        Scope {
            account_id: part(account_id),
            region: part(region),
        }
    }

    pub const ANY: &'static str = "*";
}

/// `ACCOUNT/REGION`, `ACCOUNT` (every region), `*/REGION`, `*` (the estate).
impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Scope, String> {
        let (account, region) = s.split_once('/').unwrap_or((s, Scope::ANY));
        let part = |p: &str, what: &str| -> Result<Option<String>, String> {
            if p == Scope::ANY {
                Ok(None)
            } else if p.is_empty() || p.contains('/') || p.chars().any(char::is_control) {
                Err(format!(
                    "'{s}' is not a scope: give ACCOUNT, ACCOUNT/REGION or * ({what} is empty or not a name)"
                ))
            } else {
                Ok(Some(p.to_string()))
            }
        };
        Ok(Scope {
            account_id: part(account, "the account")?,
            region: part(region, "the region")?,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::escape::terminal as t;
        match (&self.account_id, &self.region) {
            (None, None) => f.write_str("*"),
            (Some(a), None) => write!(f, "{}", t(or_dash(a))),
            (a, r) => write!(
                f,
                "{}/{}",
                t(a.as_deref().map_or(Scope::ANY, or_dash)),
                t(r.as_deref().map_or(Scope::ANY, or_dash))
            ),
        }
    }
}

/// Row id of a snapshot. Ids are the order snapshots were applied in: a later id is a later
/// state of the estate. Within one scope, a later id is also a later time (ingest keeps
/// each scope's deliveries in time order); across scopes, deliveries may arrive out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SnapshotId(pub i64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Row id of a resource in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceRowId(pub i64);

/// Row id of one version of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionId(pub i64);

/// A configuration item reconstructed from the store, in the API dialect.
///
/// Field order follows AWS's own output so that `conform show` reads like `aws configservice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_item_capture_time: Option<String>,
    pub configuration_item_status: ItemStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_state_id: Option<String>,
    #[serde(
        rename = "configurationItemMD5Hash",
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration_item_md5_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    pub resource_type: String,
    pub resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    pub aws_region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_creation_time: Option<String>,
    pub tags: serde_json::Value,
    pub relationships: serde_json::Value,
    pub configuration: serde_json::Value,
    pub supplementary_configuration: serde_json::Value,
}

impl ConfigurationItem {
    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            account_id: self.account_id.clone(),
            region: self.aws_region.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
        }
    }
}

/// The outcome of one evaluation, as AWS Config names it, plus ERROR for a rule that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    NonCompliant,
    NotApplicable,
    Error,
}

impl Compliance {
    /// The codes of ABI v1's `result` and `emit`.
    pub fn from_code(code: i32) -> Option<Compliance> {
        match code {
            1 => Some(Compliance::Compliant),
            2 => Some(Compliance::NonCompliant),
            3 => Some(Compliance::NotApplicable),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compliance::Compliant => "COMPLIANT",
            Compliance::NonCompliant => "NON_COMPLIANT",
            Compliance::NotApplicable => "NOT_APPLICABLE",
            Compliance::Error => "ERROR",
        }
    }

    pub fn parse(text: &str) -> Option<Compliance> {
        [
            Compliance::Compliant,
            Compliance::NonCompliant,
            Compliance::NotApplicable,
            Compliance::Error,
        ]
        .into_iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }
}

/// The top-level fields of a configuration item, by meaning: the one name for them in every
/// layer. AWS's two dialects spell some keys differently; `ingest::forms` reads every
/// spelling (`Field::for_key`) and conform writes the API dialect's (`Field::key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Version,
    AccountId,
    CaptureTime,
    Status,
    StateId,
    Md5Hash,
    Arn,
    ResourceType,
    ResourceId,
    ResourceName,
    Region,
    AvailabilityZone,
    ResourceCreationTime,
    Tags,
    Relationships,
    Configuration,
    SupplementaryConfiguration,
}

impl Field {
    pub const COUNT: usize = 17;

    /// The key conform writes (the API dialect).
    pub fn key(self) -> &'static str {
        match self {
            Field::Version => "version",
            Field::AccountId => "accountId",
            Field::CaptureTime => "configurationItemCaptureTime",
            Field::Status => "configurationItemStatus",
            Field::StateId => "configurationStateId",
            Field::Md5Hash => "configurationItemMD5Hash",
            Field::Arn => "arn",
            Field::ResourceType => "resourceType",
            Field::ResourceId => "resourceId",
            Field::ResourceName => "resourceName",
            Field::Region => "awsRegion",
            Field::AvailabilityZone => "availabilityZone",
            Field::ResourceCreationTime => "resourceCreationTime",
            Field::Tags => "tags",
            Field::Relationships => "relationships",
            Field::Configuration => "configuration",
            Field::SupplementaryConfiguration => "supplementaryConfiguration",
        }
    }

    pub const ALL: [Field; Field::COUNT] = [
        Field::Version,
        Field::AccountId,
        Field::CaptureTime,
        Field::Status,
        Field::StateId,
        Field::Md5Hash,
        Field::Arn,
        Field::ResourceType,
        Field::ResourceId,
        Field::ResourceName,
        Field::Region,
        Field::AvailabilityZone,
        Field::ResourceCreationTime,
        Field::Tags,
        Field::Relationships,
        Field::Configuration,
        Field::SupplementaryConfiguration,
    ];

    /// Its place among the fields stored beside an item's body ([`Fields`]), if it is one.
    pub const fn stored_slot(self) -> Option<usize> {
        match self {
            Field::AccountId => Some(0),
            Field::Region => Some(1),
            Field::CaptureTime => Some(2),
            Field::Md5Hash => Some(3),
            Field::Status => Some(4),
            Field::StateId => Some(5),
            Field::ResourceId => Some(6),
            Field::ResourceType => Some(7),
            Field::Version => Some(8),
            _ => None,
        }
    }

    /// The fields stored beside an item's body (its identity and capture metadata), in the
    /// sorted order of their keys.
    pub const STORED: [Field; 9] = [
        Field::AccountId,
        Field::Region,
        Field::CaptureTime,
        Field::Md5Hash,
        Field::Status,
        Field::StateId,
        Field::ResourceId,
        Field::ResourceType,
        Field::Version,
    ];
}

/// The values of an item's [`Field::STORED`] fields, packed in one string: a scan reads every
/// item of a snapshot, and one allocation per item is cheaper than nine.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    text: String,
    spans: [Option<(u32, u32)>; 9],
}

impl Fields {
    pub fn with_capacity(bytes: usize) -> Fields {
        Fields {
            text: String::with_capacity(bytes),
            spans: [None; 9],
        }
    }

    /// Fields from raw bytes (as a store row holds them), checked as UTF-8 once for all of
    /// them; `None` if they are not UTF-8. A scan builds one per item, and checking each short
    /// value on its own cost more than building the rest.
    pub fn from_bytes<'b>(values: impl IntoIterator<Item = (Field, &'b [u8])>) -> Option<Fields> {
        let mut text = Vec::with_capacity(160);
        let mut spans = [None; 9];
        for (field, value) in values {
            let Some(slot) = field.stored_slot() else {
                continue;
            };
            let start = text.len() as u32;
            text.extend_from_slice(value);
            spans[slot] = Some((start, text.len() as u32));
        }
        let text = String::from_utf8(text).ok()?;
        Some(Fields { text, spans })
    }

    /// Sets a stored field's value (others are not kept here).
    pub fn set(&mut self, field: Field, value: &str) {
        let Some(slot) = field.stored_slot() else {
            return;
        };
        let start = self.text.len() as u32;
        self.text.push_str(value);
        self.spans[slot] = Some((start, self.text.len() as u32));
    }

    /// A stored field's value, if the item has one.
    pub fn get(&self, field: Field) -> Option<&str> {
        let slot = field.stored_slot()?;
        self.spans[slot].map(|(start, end)| &self.text[start as usize..end as usize])
    }
}
