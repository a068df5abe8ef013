//! One configuration item: checked, normalised to one dialect, hashed, and turned into the body
//! the store keeps.
//!
//! Checking is split in two so that re-ingesting an unchanged estate stays cheap:
//! - [`Checker::read`] runs on every item. It checks the JSON kind of each envelope field and
//!   decodes identity, status and capture time, the only fields ingest needs from an item whose
//!   content it has seen before.
//! - [`Checker::check_content`] runs the envelope JSON Schema (and the resource type's schema,
//!   if one was given) over items whose content is new. Content already stored passed it when
//!   it was first stored, and its raw hash proves it is the same text.
//!
//! Whenever the first check finds a problem, the schema is run too, so every message a user sees
//! comes from the schema kept in `schemas/`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Map, Value};

use super::forms::{Field, ItemFields};
use crate::canonical::{self, ContentHash, ContentHasher, HashedBody, Scratch};
use crate::json::Kind;
use crate::model::ItemStatus;

/// The envelope schema, kept in the repository and compiled into the binary.
pub const ENVELOPE_SCHEMA: &str = include_str!("../../schemas/configuration-item.schema.json");

/// A problem with one item: a JSON Pointer into the item and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemProblem {
    pub pointer: String,
    pub message: String,
}

/// A problem with a schema file given to ingest.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaFileError {
    pub path: PathBuf,
    pub message: String,
}

/// An item whose envelope passed the per-item checks.
#[derive(Debug)]
pub struct Item<'a> {
    /// Borrowed, not copied: an item's fields are some three hundred bytes, and an item passed
    /// through three hands.
    pub fields: &'a ItemFields<'a>,
    pub resource_type: Cow<'a, str>,
    pub resource_id: Cow<'a, str>,
    pub account_id: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub status: ItemStatus,
    pub capture_time: Option<jiff::Timestamp>,
}

/// Compiled schemas, shared by every item of an ingest.
#[derive(Debug)]
pub struct Checker {
    /// Compiled when first needed: the quick checks pass most items without it, and compiling
    /// it took as long as re-ingesting ten thousand unchanged items.
    envelope: OnceLock<Envelope>,
    by_type: HashMap<String, Validator>,
}

/// The envelope schema, and its sub-schemas for `tags` and `relationships`.
#[derive(Debug)]
struct Envelope {
    whole: Validator,
    tags: Validator,
    relationships: Validator,
}

impl Envelope {
    fn compile() -> Envelope {
        // The schema is part of the binary: a unit test holds it to compiling.
        let path = Path::new("schemas/configuration-item.schema.json");
        let compiled = |text: &str| compile(text, path).expect("the envelope schema compiles");
        let schema: Value =
            serde_json::from_str(ENVELOPE_SCHEMA).expect("the envelope schema is JSON");
        let part = |name: &str| compiled(&schema["properties"][name].to_string());
        Envelope {
            whole: compiled(ENVELOPE_SCHEMA),
            tags: part("tags"),
            relationships: part("relationships"),
        }
    }
}

/// The content fields, in the canonical (sorted) order of their keys in a body.
const BODY_FIELDS: [Field; 8] = [
    Field::Arn,
    Field::AvailabilityZone,
    Field::Configuration,
    Field::Relationships,
    Field::ResourceCreationTime,
    Field::ResourceName,
    Field::SupplementaryConfiguration,
    Field::Tags,
];

impl Checker {
    /// Compiles, from `type_schemas`, one schema per resource type: a file
    /// `AWS_EC2_Volume.json` (or `.schema.json`) checks the `configuration` of
    /// `AWS::EC2::Volume` items. (The envelope schema is compiled when first needed.)
    pub fn new(type_schemas: Option<&Path>) -> Result<Checker, SchemaFileError> {
        let mut by_type = HashMap::new();
        if let Some(dir) = type_schemas {
            let entries = std::fs::read_dir(dir).map_err(|e| SchemaFileError {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
            for entry in entries {
                let path = entry
                    .map_err(|e| SchemaFileError {
                        path: dir.to_path_buf(),
                        message: e.to_string(),
                    })?
                    .path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(stem) = name
                    .strip_suffix(".schema.json")
                    .or_else(|| name.strip_suffix(".json"))
                else {
                    continue;
                };
                let text = std::fs::read_to_string(&path).map_err(|e| SchemaFileError {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                by_type.insert(stem.replace('_', "::"), compile(&text, &path)?);
            }
        }
        Ok(Checker {
            envelope: OnceLock::new(),
            by_type,
        })
    }

    /// Whether [`Checker::check_content`] parses the item's `configuration` (it does when a
    /// schema for the item's type was given).
    pub fn reads_configuration(&self, item: &Item<'_>) -> bool {
        !self.by_type.is_empty() && self.by_type.contains_key(item.resource_type.as_ref())
    }

    fn envelope(&self) -> &Envelope {
        self.envelope.get_or_init(Envelope::compile)
    }

    /// The checks every item gets; decodes what ingest needs to place it.
    pub fn read<'a>(&self, fields: &'a ItemFields<'a>) -> Result<Item<'a>, Vec<ItemProblem>> {
        match read_envelope(fields) {
            Ok(item) => Ok(item),
            Err(quick) => {
                let mut problems = self.schema_problems(fields);
                if problems.is_empty() {
                    problems.push(quick);
                }
                Err(problems)
            }
        }
    }

    /// The full schema check, for items whose content is new to the store.
    pub fn check_content(&self, item: &Item<'_>) -> Result<(), Vec<ItemProblem>> {
        // The quick checks of `read` already hold every item to the envelope's constraints on
        // its scalar fields; what remains are the constraints inside `tags` and
        // `relationships`, checked with the envelope schema's own sub-schemas for them.
        let mut checks = vec![(Field::Tags, None), (Field::Relationships, None)];
        if let Some(schema) = (!self.by_type.is_empty())
            .then(|| self.by_type.get(item.resource_type.as_ref()))
            .flatten()
        {
            checks.push((Field::Configuration, Some(schema)));
        }
        let problems: Vec<ItemProblem> = checks
            .into_iter()
            .filter_map(|(field, validator)| {
                let raw = item.fields.value(field)?;
                if surely_valid(field, raw) {
                    return None;
                }
                let validator = validator.unwrap_or_else(|| match field {
                    Field::Tags => &self.envelope().tags,
                    _ => &self.envelope().relationships,
                });
                Some(validate_field(validator, raw, item.fields.key_used(field)))
            })
            .flatten()
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Runs the envelope schema over the item's fields, with `configuration` and
    /// `supplementaryConfiguration` stood in for by an empty value of their kind: the envelope
    /// only constrains their kind, and parsing them whole would cost more than all else.
    fn schema_problems(&self, fields: &ItemFields<'_>) -> Vec<ItemProblem> {
        let mut stub = Map::new();
        for field in Field::ALL {
            let Some(raw) = fields.get(field) else {
                continue;
            };
            let value = match field {
                Field::Configuration | Field::SupplementaryConfiguration => kind_stub(raw),
                _ => serde_json::from_str(raw).unwrap_or(Value::Null),
            };
            stub.insert(field.key().to_string(), value);
        }
        let stub = Value::Object(stub);
        self.envelope()
            .whole
            .iter_errors(&stub)
            .map(|e| ItemProblem {
                pointer: dialect_pointer(&e.instance_path().to_string(), fields),
                message: e.masked().to_string(),
            })
            .collect()
    }
}

/// Whether the raw JSON of `tags` or `relationships` (valid JSON, as ingest read it) certainly
/// passes the envelope schema's part for it, seen without parsing it: a map of strings (or
/// nulls), or relationships whose named fields are strings (or nulls). It only ever says yes
/// when the schema would: anything else (tags as a list, an escaped key) goes to the schema.
fn surely_valid(field: Field, raw: &str) -> bool {
    let text = raw.as_bytes();
    let string_or_null = |at: usize| matches!(text.get(at), Some(b'"' | b'n'));
    match field {
        Field::Tags if raw.starts_with('{') => crate::json::members(text, 0, |_, value| {
            string_or_null(value)
                .then(|| crate::json::value_end(text, value).ok())
                .flatten()
        })
        .is_some(),
        Field::Relationships if raw.starts_with('[') => {
            const NAMED: [&[u8]; 4] = [
                b"\"resourceType\"",
                b"\"resourceId\"",
                b"\"resourceName\"",
                b"\"relationshipName\"",
            ];
            crate::json::elements(text, 0, |element| {
                if text.get(element) != Some(&b'{') {
                    return None;
                }
                crate::json::members(text, element, |key, value| {
                    let named = NAMED.contains(&key);
                    if key.contains(&b'\\') || (named && !string_or_null(value)) {
                        return None;
                    }
                    crate::json::value_end(text, value).ok()
                })
            })
            .is_some()
        }
        _ => false,
    }
}

/// Checks one field's raw JSON against `validator`, with pointers under `/key`.
fn validate_field(validator: &Validator, raw: &str, key: &str) -> Vec<ItemProblem> {
    match serde_json::from_str::<Value>(raw) {
        Ok(value) if validator.is_valid(&value) => Vec::new(),
        Ok(value) => validator
            .iter_errors(&value)
            .map(|e| ItemProblem {
                pointer: format!("/{key}{}", e.instance_path()),
                message: e.masked().to_string(),
            })
            .collect(),
        Err(e) => vec![ItemProblem {
            pointer: format!("/{key}"),
            message: e.to_string(),
        }],
    }
}

fn compile(text: &str, path: &Path) -> Result<Validator, SchemaFileError> {
    let err = |message: String| SchemaFileError {
        path: path.to_path_buf(),
        message,
    };
    let schema: Value = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| err(format!("not a valid JSON Schema: {e}")))
}

/// Rewrites the first segment of a pointer from the API key to the key the item used.
fn dialect_pointer(pointer: &str, fields: &ItemFields<'_>) -> String {
    let rest = pointer.strip_prefix('/').unwrap_or(pointer);
    let (first, tail) = rest.split_once('/').map_or((rest, ""), |(a, b)| (a, b));
    match Field::ALL.into_iter().find(|f| f.key() == first) {
        Some(field) if tail.is_empty() => format!("/{}", fields.key_used(field)),
        Some(field) => format!("/{}/{tail}", fields.key_used(field)),
        None => pointer.to_string(),
    }
}

fn kind_stub(raw: &str) -> Value {
    match raw.as_bytes().first() {
        Some(b'{') => Value::Object(Map::new()),
        Some(b'[') => Value::Array(Vec::new()),
        Some(b'"') => Value::String(String::new()),
        Some(b't' | b'f') => Value::Bool(false),
        Some(b'n') | None => Value::Null,
        Some(_) => Value::from(0),
    }
}

fn kind(raw: &str) -> Kind {
    Kind::of_first_byte(raw.as_bytes().first().copied())
}

/// A raw JSON scalar as text: a string decoded, anything else as written.
pub fn text_of(raw: &str) -> String {
    if raw.starts_with('"') {
        json_str(raw).into_owned()
    } else {
        raw.to_string()
    }
}

/// A raw JSON string's text: borrowed unless it has escapes.
fn json_str(raw: &str) -> Cow<'_, str> {
    let inner = &raw[1..raw.len() - 1];
    if inner.contains('\\') {
        Cow::Owned(serde_json::from_str::<String>(raw).unwrap_or_default())
    } else {
        Cow::Borrowed(inner)
    }
}

/// The per-item checks, mirroring the envelope schema's constraints on each field's kind.
/// Any failure here is re-checked by the schema itself, which words the message.
fn read_envelope<'a>(fields: &'a ItemFields<'a>) -> Result<Item<'a>, ItemProblem> {
    let problem = |field: Field, message: &str| ItemProblem {
        pointer: format!("/{}", fields.key_used(field)),
        message: message.to_string(),
    };
    for field in Field::ALL {
        let Some(raw) = fields.get(field) else {
            continue;
        };
        let k = kind(raw);
        let ok = match field {
            Field::ResourceType | Field::ResourceId => k == Kind::String && raw.len() > 2,
            Field::StateId => {
                matches!(k, Kind::String | Kind::Null)
                    || (k == Kind::Number && !raw.contains(['.', 'e', 'E']))
            }
            Field::Configuration | Field::SupplementaryConfiguration => {
                matches!(k, Kind::Object | Kind::Null)
            }
            Field::Tags => matches!(k, Kind::Object | Kind::Array | Kind::Null),
            Field::Relationships => matches!(k, Kind::Array | Kind::Null),
            _ => matches!(k, Kind::String | Kind::Null),
        };
        if !ok {
            return Err(problem(field, "has the wrong type"));
        }
    }
    let required = |field: Field| {
        fields.get(field).ok_or_else(|| {
            problem(
                field,
                &format!("\"{}\" is a required property", field.key()),
            )
        })
    };
    let resource_type = json_str(required(Field::ResourceType)?);
    let resource_id = json_str(required(Field::ResourceId)?);
    required(Field::Configuration)?;
    let text = |field: Field| fields.value(field).map(json_str);
    let status = match text(Field::Status) {
        None => ItemStatus::Ok,
        Some(s) => ItemStatus::parse(&s)
            .ok_or_else(|| problem(Field::Status, "is not a configurationItemStatus"))?,
    };
    let capture_time = match text(Field::CaptureTime) {
        None => None,
        Some(s) => Some(
            utc_timestamp(&s)
                .map_or_else(|| s.parse::<jiff::Timestamp>(), Ok)
                .map_err(|e| {
                    problem(
                        Field::CaptureTime,
                        &format!("is not an RFC 3339 date-time: {e}"),
                    )
                })?,
        ),
    };
    let account_id = text(Field::AccountId).unwrap_or_default();
    let region = match text(Field::Region) {
        Some(region) => region,
        None => derive_region(
            text(Field::AvailabilityZone).as_deref(),
            text(Field::Arn).as_deref(),
        )
        .map_or(Cow::Borrowed(""), Cow::Owned),
    };
    Ok(Item {
        fields,
        resource_type,
        resource_id,
        account_id,
        region,
        status,
        capture_time,
    })
}

/// The instant of `2026-11-02T05:59:59.972Z`, the one form AWS writes capture times in (UTC,
/// `Z`, up to nine digits of fraction), read directly; `None` for anything else, which jiff's
/// full RFC 3339 reader then reads (or refuses). Every item has a capture time, and reading it
/// was a fifth of checking an item's envelope.
fn utc_timestamp(text: &str) -> Option<jiff::Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        b.get(range)?.iter().try_fold(0i64, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(20..20 + digits.len())? * 10i64.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let days_in_month = *month_days.get(usize::try_from(month - 1).ok()?)?;
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    jiff::Timestamp::new(seconds, i32::try_from(nanos).ok()?).ok()
}

/// AWS's oldest files have no `awsRegion`: take it from the availability zone (`us-west-2b`
/// is in `us-west-2`) or, failing that, from the ARN.
fn derive_region(zone: Option<&str>, arn: Option<&str>) -> Option<String> {
    if let Some(zone) = zone {
        let bytes = zone.as_bytes();
        let n = bytes.len();
        if n > 3
            && bytes[n - 1].is_ascii_lowercase()
            && bytes[n - 2].is_ascii_digit()
            && zone.contains('-')
        {
            return Some(zone[..n - 1].to_string());
        }
    }
    let region = arn?.split(':').nth(3)?;
    (!region.is_empty()).then(|| region.to_string())
}

/// Labels of the parts that make up a content hash.
const STATUS_PART: u8 = 0xFF;

impl Item<'_> {
    /// Hash of the raw text of the content fields: equal raw text means equal content, with no
    /// parsing. Different text may still be equal content; [`Item::write_body`] decides that.
    pub fn raw_hash(&self) -> ContentHash {
        let mut hasher = ContentHasher::new();
        hasher.part(STATUS_PART, Some(self.status.as_str().as_bytes()));
        for field in BODY_FIELDS {
            hasher.part(field as u8, self.fields.value(field).map(str::as_bytes));
        }
        hasher.finish()
    }

    /// Writes the canonical body (content fields, in the API dialect, keys sorted, no nulls)
    /// and returns the content hash (status + body).
    pub fn write_body(
        &self,
        out: &mut HashedBody,
        scratch: &mut Scratch,
    ) -> Result<ContentHash, ItemProblem> {
        let body = out.begin(&[(STATUS_PART, self.status.as_str().as_bytes())], 0);
        let start = body.len();
        body.push(b'{');
        for field in BODY_FIELDS {
            let Some(raw) = self.fields.value(field) else {
                continue;
            };
            if body.len() > start + 1 {
                body.push(b',');
            }
            body.push(b'"');
            body.extend_from_slice(field.key().as_bytes());
            body.extend_from_slice(b"\":");
            let problem = |e: serde_json::Error| ItemProblem {
                pointer: format!("/{}", self.fields.key_used(field)),
                message: e.to_string(),
            };
            match field {
                Field::Relationships => {
                    if !write_relationships(raw, body, scratch) {
                        // The tree would keep one of two equal keys silently: refuse as the
                        // canonical writer does.
                        canonical::write_canonical(raw, &mut Vec::new(), scratch)
                            .map_err(problem)?;
                        let value =
                            normalise_relationships(serde_json::from_str(raw).map_err(problem)?);
                        canonical::write_canonical_value(&value, body, scratch);
                    }
                }
                Field::Tags if raw.starts_with('[') => {
                    canonical::write_canonical(raw, &mut Vec::new(), scratch).map_err(problem)?;
                    let value = tags_as_map(serde_json::from_str(raw).map_err(problem)?);
                    canonical::write_canonical_value(&value, body, scratch);
                }
                _ => canonical::write_canonical(raw, body, scratch).map_err(problem)?,
            }
        }
        body.push(b'}');
        Ok(out.finish())
    }
}

/// The body of a deletion that no item described (a resource absent from a full snapshot).
pub fn deletion_body() -> (&'static [u8], ContentHash) {
    let body = b"{}";
    let mut hasher = ContentHasher::new();
    hasher.part(
        STATUS_PART,
        Some(ItemStatus::ResourceDeleted.as_str().as_bytes()),
    );
    hasher.part(0, Some(body));
    (body, hasher.finish())
}

/// [`normalise_relationships`] from the raw text, without a tree: each relationship is written
/// in canonical form and then renamed in place. Writes nothing and returns false where it
/// cannot (not an array, a string that is not text); the tree does those, and words the error.
fn write_relationships(raw: &str, out: &mut Vec<u8>, scratch: &mut Scratch) -> bool {
    let text = raw.as_bytes();
    if !raw.starts_with('[') {
        return false;
    }
    let mut relationships: Vec<Vec<u8>> = Vec::new();
    let read = crate::json::elements(text, 0, |at| {
        let end = crate::json::value_end(text, at).ok()?;
        let mut one = Vec::with_capacity(end - at);
        canonical::write_canonical(&raw[at..end], &mut one, scratch).ok()?;
        if one.first() == Some(&b'{') {
            one = normalise_relationship(one)?;
        }
        relationships.push(one);
        Some(end)
    });
    if read.is_none() {
        return false;
    }
    relationships.sort();
    out.push(b'[');
    for (i, one) in relationships.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(one);
    }
    out.push(b']');
    true
}

/// One relationship, in canonical form (keys unique and sorted), in one dialect: `name`
/// becomes `relationshipName` unless that is present too, and a null `resourceName` goes.
fn normalise_relationship(canonical: Vec<u8>) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"\"name\"";
    const RELATIONSHIP_NAME: &[u8] = b"\"relationshipName\"";
    const RESOURCE_NAME: &[u8] = b"\"resourceName\"";
    let mut members: Vec<(&[u8], &[u8])> = Vec::new();
    crate::json::members(&canonical, 0, |key, at| {
        let end = crate::json::value_end(&canonical, at).ok()?;
        members.push((key, &canonical[at..end]));
        Some(end)
    })?;
    let has = |name: &[u8]| members.iter().any(|(key, _)| *key == name);
    let renames = has(NAME);
    let drops_name = members
        .iter()
        .any(|(key, value)| *key == RESOURCE_NAME && *value == b"null");
    if !renames && !drops_name {
        return Some(canonical);
    }
    let keep_relationship_name = has(RELATIONSHIP_NAME);
    let mut kept: Vec<(&[u8], &[u8])> = members
        .iter()
        .filter(|(key, value)| !(*key == RESOURCE_NAME && *value == b"null"))
        .filter(|(key, _)| !(*key == NAME && keep_relationship_name))
        .map(|&(key, value)| {
            if key == NAME {
                (RELATIONSHIP_NAME, value)
            } else {
                (key, value)
            }
        })
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(canonical.len());
    out.push(b'{');
    for (i, (key, value)) in kept.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
    Some(out)
}

/// Relationships in one dialect (`relationshipName`), without null names, in a stable order:
/// AWS lists them in no particular order, and a reordering is not a change.
fn normalise_relationships(value: Value) -> Value {
    let Value::Array(items) = value else {
        return value;
    };
    let mut items: Vec<(String, Value)> = items
        .into_iter()
        .map(|mut item| {
            if let Value::Object(map) = &mut item {
                if let Some(name) = map.remove("name") {
                    map.entry("relationshipName").or_insert(name);
                }
                if map.get("resourceName").is_some_and(Value::is_null) {
                    map.remove("resourceName");
                }
            }
            (canonical::to_canonical_string(&item), item)
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(items.into_iter().map(|(_, v)| v).collect())
}

/// `[{"key": k, "value": v}]` (or `Key`/`Value`) as the map AWS Config uses.
fn tags_as_map(value: Value) -> Value {
    let Value::Array(items) = value else {
        return value;
    };
    let mut map = Map::new();
    for item in items {
        let key = item
            .get("key")
            .or_else(|| item.get("Key"))
            .and_then(Value::as_str);
        let value = item
            .get("value")
            .or_else(|| item.get("Value"))
            .cloned()
            .unwrap_or(Value::Null);
        if let Some(key) = key {
            map.insert(key.to_string(), value);
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> Checker {
        Checker::new(None).unwrap()
    }

    #[test]
    fn capture_times_read_directly_are_what_jiff_reads() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut direct = 0;
        for _ in 0..200_000 {
            let year = rng.i64(0..=9999);
            let text = format!(
                "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{}",
                rng.u8(0..=13),
                rng.u8(0..=32),
                rng.u8(0..=24),
                rng.u8(0..=60),
                rng.u8(0..=61),
                match rng.u8(0..4) {
                    0 => String::new(),
                    1 => format!(".{}", rng.u32(0..1000)),
                    2 => format!(".{:09}", rng.u32(0..1_000_000_000)),
                    _ => ".".to_string() + &"1".repeat(rng.usize(0..12)),
                },
                ["Z", "z", "+00:00", ""][rng.usize(0..4)],
            );
            let jiff = text.parse::<jiff::Timestamp>().ok();
            if let Some(read) = utc_timestamp(&text) {
                direct += 1;
                assert_eq!(Some(read), jiff, "{text}");
            }
        }
        assert!(
            direct > 10_000,
            "the direct path reads the common form ({direct})"
        );
        for text in [
            "2026-11-02T05:59:59.972Z",
            "2024-02-29T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            assert_eq!(utc_timestamp(text), text.parse().ok(), "{text}");
        }
        for text in [
            "2023-02-29T00:00:00Z",
            "2026-11-02T05:59:60Z",
            "2026-11-02 05:59:59Z",
        ] {
            assert_eq!(utc_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn the_envelope_schema_and_its_parts_compile() {
        // Compiled on first use, where a failure could only panic: held to compiling here.
        let envelope = Envelope::compile();
        let volume = serde_json::json!({"resourceType": "AWS::EC2::Volume", "resourceId": "vol-1",
                                        "configuration": {}, "tags": {"a": "b"}});
        assert!(envelope.whole.is_valid(&volume));
        assert!(
            !envelope
                .whole
                .is_valid(&serde_json::json!({"resourceId": "vol-1"}))
        );
        assert!(envelope.tags.is_valid(&serde_json::json!({"a": "b"})));
        assert!(!envelope.tags.is_valid(&serde_json::json!("a")));
        assert!(envelope.relationships.is_valid(&serde_json::json!([])));
        assert!(!envelope.relationships.is_valid(&serde_json::json!({})));
    }

    fn base<'a>(extra: &[(Field, &'a str)]) -> ItemFields<'a> {
        let mut pairs = vec![
            (Field::ResourceType, "\"AWS::EC2::Volume\""),
            (Field::ResourceId, "\"vol-1\""),
            (Field::Configuration, "{\"size\":8}"),
        ];
        pairs.extend_from_slice(extra);
        ItemFields::from_pairs(&pairs)
    }

    #[test]
    fn the_schema_compiles_and_accepts_a_minimal_item() {
        let c = checker();
        let fields = base(&[]);
        let item = c.read(&fields).unwrap();
        assert_eq!(item.resource_id, "vol-1");
        assert_eq!(item.status, ItemStatus::Ok);
        assert!(c.check_content(&item).is_ok());
    }

    #[test]
    fn relationships_from_text_are_those_of_the_tree() {
        let cases = [
            r#"[]"#,
            r#"[{"resourceId":"b","name":"Is attached to","resourceType":"T"},{"resourceId":"a","relationshipName":"Contains","resourceName":null}]"#,
            r#"[{"name":"N","relationshipName":"R","resourceId":"x"},{"relationshipName":"R","name":"N"}]"#,
            r#"[{"name":null,"resourceName":"keep"},{"resourceName":null}]"#,
            r#"["text",3,null,[{"name":"inner"}],{}]"#,
            r#"[ { "resourceId" : "vpc-1" , "name" : "Is contained in VPC" } ]"#,
            r#"[{"na\u006de":"escaped key","resourceId":"é\n"}]"#,
            r#"[{"resourceId":"z"},{"resourceId":"a"},{"resourceId":"a"}]"#,
        ];
        for raw in cases {
            let mut scratch = Scratch::default();
            let mut scanned = Vec::new();
            assert!(
                write_relationships(raw, &mut scanned, &mut scratch),
                "{raw}"
            );
            let tree = normalise_relationships(serde_json::from_str(raw).unwrap());
            let mut expected = Vec::new();
            canonical::write_canonical_value(&tree, &mut expected, &mut scratch);
            assert_eq!(
                String::from_utf8(scanned).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{raw}"
            );
        }
        let mut out = Vec::new();
        for duplicate in [
            r#"[{"resourceName":"x","resourceName":null}]"#,
            r#"[{"name":"dup","name":"last"}]"#,
        ] {
            assert!(!write_relationships(
                duplicate,
                &mut out,
                &mut Scratch::default()
            ));
        }
        let lone = r#"[{"resourceId":"\ud800"}]"#;
        assert!(!write_relationships(
            lone,
            &mut out,
            &mut Scratch::default()
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn surely_valid_never_passes_what_the_schema_refuses() {
        let c = checker();
        let tags = [
            (r#"{"Name":"a","Team":null}"#, true),
            (r#"{}"#, true),
            (r#"{"a":"x","b":1}"#, false),
            (r#"{"a":{"nested":"x"}}"#, false),
            (r#"{"a":["x"]}"#, false),
            (r#"{"a":true}"#, false),
            (r#"[{"key":"a","value":"b"}]"#, false),
        ];
        let relationships = [
            (r#"[]"#, true),
            (
                r#"[{"resourceType":"AWS::EC2::VPC","resourceId":"vpc-1","resourceName":null,"relationshipName":"Is contained in VPC","extra":{"x":[1]}}]"#,
                true,
            ),
            (
                r#"[{"name":"Is attached to Instance","resourceId":"i-1"},{}]"#,
                true,
            ),
            (r#"[{"resourceId":5}]"#, false),
            (r#"[{"resourceType":["x"]}]"#, false),
            (r#"[{"relationshipName":{}}]"#, false),
            (r#"["not an object"]"#, false),
            (r#"[{"resource\u0049d":5}]"#, false),
        ];
        for (field, validator, cases) in [
            (Field::Tags, &c.envelope().tags, &tags[..]),
            (
                Field::Relationships,
                &c.envelope().relationships,
                &relationships[..],
            ),
        ] {
            for (raw, expected) in cases {
                let quick = surely_valid(field, raw);
                assert_eq!(quick, *expected, "{raw}");
                let value: Value = serde_json::from_str(raw).unwrap();
                if quick {
                    assert!(validator.is_valid(&value), "{raw}");
                }
            }
        }
        // What the quick check leaves to the schema, the schema still refuses.
        for raw in [r#"{"a":1}"#, r#"[{"resourceId":5}]"#] {
            let field = if raw.starts_with('{') {
                Field::Tags
            } else {
                Field::Relationships
            };
            let fields = base(&[(field, raw)]);
            let item = c.read(&fields).unwrap();
            assert!(c.check_content(&item).is_err(), "{raw}");
        }
    }

    #[test]
    fn quick_checks_and_schema_agree_on_bad_fields() {
        let c = checker();
        let cases: &[(Field, &str, &str)] = &[
            (Field::AccountId, "12", "/accountId"),
            (Field::Configuration, "\"text\"", "/configuration"),
            (Field::Tags, "7", "/tags"),
            (Field::Relationships, "{}", "/relationships"),
            (Field::Status, "\"Gone\"", "/configurationItemStatus"),
            (Field::StateId, "1.5", "/configurationStateId"),
            (Field::ResourceId, "\"\"", "/resourceId"),
            (
                Field::CaptureTime,
                "\"yesterday\"",
                "/configurationItemCaptureTime",
            ),
        ];
        for (field, raw, pointer) in cases {
            let problems = c.read(&base(&[(*field, raw)])).unwrap_err();
            assert_eq!(
                problems[0].pointer, *pointer,
                "{field:?} = {raw}: {problems:?}"
            );
        }
    }

    #[test]
    fn content_only_problems_are_found_by_the_schema() {
        let c = checker();
        // Quick checks look at kinds only; a tag value of the wrong type is the schema's to find.
        let fields = base(&[(Field::Tags, "{\"env\":1}")]);
        let item = c.read(&fields).unwrap();
        let problems = c.check_content(&item).unwrap_err();
        assert_eq!(problems[0].pointer, "/tags/env");
    }

    #[test]
    fn missing_resource_type_is_named() {
        let fields =
            ItemFields::from_pairs(&[(Field::ResourceId, "\"x\""), (Field::Configuration, "{}")]);
        let problems = checker().read(&fields).unwrap_err();
        assert!(
            problems.iter().any(|p| p.message.contains("resourceType")),
            "{problems:?}"
        );
    }

    #[test]
    fn pointer_uses_the_key_of_the_dialect_read() {
        let doc = r#"{"resourceType":"T","resourceId":"x","configuration":{},"awsAccountId":5}"#;
        let mut seen = None;
        super::super::forms::read_str(doc, &mut |e| {
            seen = Some(checker().read(&e.fields.unwrap()).unwrap_err());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.unwrap()[0].pointer, "/awsAccountId");
    }

    #[test]
    fn region_is_derived_for_old_files() {
        assert_eq!(
            derive_region(Some("us-west-2b"), None).as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            derive_region(
                Some("Not Applicable"),
                Some("arn:aws:kms:eu-west-1:1:key/x")
            )
            .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(derive_region(None, Some("arn:aws:s3:::bucket")), None);
    }

    #[test]
    fn relationship_dialects_and_order_normalise_alike() {
        let a = normalise_relationships(serde_json::json!([
            {"resourceType": "B", "resourceId": "2", "name": "n", "resourceName": null},
            {"resourceType": "A", "resourceId": "1", "relationshipName": "n"}
        ]));
        let b = normalise_relationships(serde_json::json!([
            {"resourceType": "A", "resourceId": "1", "name": "n"},
            {"relationshipName": "n", "resourceId": "2", "resourceType": "B"}
        ]));
        assert_eq!(a, b);
    }

    #[test]
    fn body_is_canonical_and_hash_includes_status() {
        let c = checker();
        let one = base(&[(Field::Tags, "{\"b\":\"2\",\"a\":\"1\"}")]);
        let two = base(&[(
            Field::Tags,
            "[{\"key\":\"a\",\"value\":\"1\"},{\"Key\":\"b\",\"Value\":\"2\"}]",
        )]);
        let (mut out1, mut out2) = (HashedBody::new(), HashedBody::new());
        let mut scratch = Scratch::default();
        let h1 = c
            .read(&one)
            .unwrap()
            .write_body(&mut out1, &mut scratch)
            .unwrap();
        let h2 = c
            .read(&two)
            .unwrap()
            .write_body(&mut out2, &mut scratch)
            .unwrap();
        assert_eq!(
            String::from_utf8(out1.body().to_vec()).unwrap(),
            r#"{"configuration":{"size":8},"tags":{"a":"1","b":"2"}}"#
        );
        assert_eq!(h1, h2);
        let deleted = base(&[(Field::Status, "\"ResourceDeleted\"")]);
        let h3 = c
            .read(&deleted)
            .unwrap()
            .write_body(&mut out2, &mut scratch)
            .unwrap();
        assert_ne!(h1, h3);
    }
}
