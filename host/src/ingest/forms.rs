//! One input document: its form, detected from content, and its items, streamed.
//!
//! Every file is read in a single pass. Items are handed to a callback as soon as the parser
//! has split them into their top-level fields ([`ItemFields`]), each still raw JSON text; the
//! file is never held as a tree, so a 1 GB snapshot costs the memory of one item.
//!
//! A file held whole in memory (memory-mapped) is read by [`text`] with conform's own strict
//! scanner, each field a slice of the file. A stream (a `.gz` file) is read by serde_json, each
//! field a `Box<RawValue>`; serde_json also words every syntax error, for both. Both fill the
//! same [`RawItem`] and [`TopObject`], and one function decides the form.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

pub use crate::model::Field;

impl Field {
    /// Maps a key of either dialect, and the misspellings of AWS's oldest published files
    /// (`availibilityZone`, `configurationStateID`, `snapshotVersion`), to its field. Also
    /// returns how the key was spelled, so errors can point at the key the file used.
    pub fn for_key(key: &str) -> Option<(Field, Spelling)> {
        let at = match key {
            "version" => 0,
            "configurationItemVersion" => 1,
            "snapshotVersion" => 2,
            "accountId" => 3,
            "awsAccountId" => 4,
            "configurationItemCaptureTime" => 5,
            "configurationItemStatus" => 6,
            "configurationStateId" => 7,
            "configurationStateID" => 8,
            "configurationItemMD5Hash" => 9,
            "configurationStateMd5Hash" => 10,
            "arn" => 11,
            "ARN" => 12,
            "resourceType" => 13,
            "resourceId" => 14,
            "resourceName" => 15,
            "awsRegion" => 16,
            "availabilityZone" => 17,
            "availibilityZone" => 18,
            "resourceCreationTime" => 19,
            "tags" => 20,
            "relationships" => 21,
            "configuration" => 22,
            "supplementaryConfiguration" => 23,
            _ => return None,
        };
        Some((SPELLINGS[at].0, Spelling(at as u8)))
    }

    /// How the API dialect spells this field's key (index into [`SPELLINGS`]).
    const fn api_spelling(self) -> Spelling {
        Spelling(match self {
            Field::Version => 0,
            Field::AccountId => 3,
            Field::CaptureTime => 5,
            Field::Status => 6,
            Field::StateId => 7,
            Field::Md5Hash => 9,
            Field::Arn => 11,
            Field::ResourceType => 13,
            Field::ResourceId => 14,
            Field::ResourceName => 15,
            Field::Region => 16,
            Field::AvailabilityZone => 17,
            Field::ResourceCreationTime => 19,
            Field::Tags => 20,
            Field::Relationships => 21,
            Field::Configuration => 22,
            Field::SupplementaryConfiguration => 23,
        })
    }
}

/// Every key an item field is read from: both dialects, and AWS's old misspellings.
const SPELLINGS: [(Field, &str); 24] = [
    (Field::Version, "version"),
    (Field::Version, "configurationItemVersion"),
    (Field::Version, "snapshotVersion"),
    (Field::AccountId, "accountId"),
    (Field::AccountId, "awsAccountId"),
    (Field::CaptureTime, "configurationItemCaptureTime"),
    (Field::Status, "configurationItemStatus"),
    (Field::StateId, "configurationStateId"),
    (Field::StateId, "configurationStateID"),
    (Field::Md5Hash, "configurationItemMD5Hash"),
    (Field::Md5Hash, "configurationStateMd5Hash"),
    (Field::Arn, "arn"),
    (Field::Arn, "ARN"),
    (Field::ResourceType, "resourceType"),
    (Field::ResourceId, "resourceId"),
    (Field::ResourceName, "resourceName"),
    (Field::Region, "awsRegion"),
    (Field::AvailabilityZone, "availabilityZone"),
    (Field::AvailabilityZone, "availibilityZone"),
    (Field::ResourceCreationTime, "resourceCreationTime"),
    (Field::Tags, "tags"),
    (Field::Relationships, "relationships"),
    (Field::Configuration, "configuration"),
    (
        Field::SupplementaryConfiguration,
        "supplementaryConfiguration",
    ),
];

/// How an item spelled a field's key: a place in [`SPELLINGS`]. One byte rather than a string
/// reference, because an item's fields are passed around by value for every item read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelling(u8);

impl Spelling {
    pub fn text(self) -> &'static str {
        SPELLINGS[self.0 as usize].1
    }
}

/// One item's fields as raw JSON text, borrowed from wherever the parser holds them.
#[derive(Debug, Clone, Copy)]
pub struct ItemFields<'a> {
    raw: [Option<&'a str>; Field::COUNT],
    keys: [Spelling; Field::COUNT],
    /// Fields (one bit each) the reader only delimited, leaving their check to whoever uses
    /// them: see [`ItemFields::check_deferred`].
    deferred: u32,
    /// A key the item has twice, spelled the same.
    duplicate: Option<Spelling>,
}

/// Deferred JSON that is not JSON: in `field`, from byte `offset` of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenJson {
    pub field: Field,
    pub offset: usize,
}

impl fmt::Display for BrokenJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} of an item is not JSON (from its byte {})",
            self.field.key(),
            self.offset
        )
    }
}

/// What a sink says of an item: `Err` when JSON whose check the reader left to it is broken,
/// which stops the document there as the reader's own check would have.
pub type KeepReading = Result<(), BrokenJson>;

/// Each field spelled as the API dialect spells it.
const API_SPELLINGS: [Spelling; Field::COUNT] = {
    let mut spellings = [Spelling(0); Field::COUNT];
    let mut i = 0;
    while i < Field::COUNT {
        spellings[i] = Field::ALL[i].api_spelling();
        i += 1;
    }
    spellings
};

impl Default for ItemFields<'_> {
    fn default() -> Self {
        ItemFields {
            raw: [None; Field::COUNT],
            keys: API_SPELLINGS,
            deferred: 0,
            duplicate: None,
        }
    }
}

impl<'a> ItemFields<'a> {
    /// A field's key that the item has twice, spelled alike (`"configuration"` twice): refused,
    /// as RFC 8259 leaves open which one counts. Both AWS dialects' spellings of one field may
    /// stand side by side; the first non-null one counts.
    pub fn duplicate_key(&self) -> Option<&'static str> {
        self.duplicate.map(Spelling::text)
    }

    /// Bytes of the item's fields' JSON, and the largest field: what the item-size limit
    /// judges and names.
    pub fn size(&self) -> (u64, Option<Field>) {
        let mut total = 0u64;
        let mut largest: Option<(usize, Field)> = None;
        for (i, raw) in self.raw.iter().enumerate() {
            if let Some(raw) = raw {
                total += raw.len() as u64;
                if largest.is_none_or(|(n, _)| raw.len() > n) {
                    largest = Some((raw.len(), Field::ALL[i]));
                }
            }
        }
        (total, largest.map(|(_, f)| f))
    }

    pub fn get(&self, field: Field) -> Option<&'a str> {
        self.raw[field as usize]
    }

    /// Present and not JSON `null`.
    pub fn value(&self, field: Field) -> Option<&'a str> {
        self.get(field).filter(|raw| *raw != "null")
    }

    /// The key the document used for `field` (its dialect's name), for error pointers.
    pub fn key_used(&self, field: Field) -> &'static str {
        self.keys[field as usize].text()
    }

    /// Checks the JSON the reader only delimited (an item's `configuration` and
    /// `supplementaryConfiguration`, most of its bytes). The reader defers it because most
    /// items ingest reads are unchanged: their content is byte for byte content stored before,
    /// which was checked then, and need not be checked again. Anything that uses the content
    /// of an item calls this first.
    pub fn check_deferred(&self) -> KeepReading {
        let mut deferred = self.deferred;
        while deferred != 0 {
            let field = Field::ALL[deferred.trailing_zeros() as usize];
            deferred &= deferred - 1;
            let Some(raw) = self.raw[field as usize] else {
                continue;
            };
            match crate::json::value_end(raw.as_bytes(), 0) {
                Ok(end) if end == raw.len() => {}
                Ok(end) => return Err(BrokenJson { field, offset: end }),
                Err(crate::json::NotJson(offset)) => return Err(BrokenJson { field, offset }),
            }
        }
        Ok(())
    }

    /// Whether every field was checked by the reader.
    pub fn deferred_is_empty(&self) -> bool {
        self.deferred == 0
    }

    /// Some field's text, to locate the item in the file it came from.
    pub fn anchor(&self) -> Option<&'a str> {
        self.raw.iter().flatten().next().copied()
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(Field, &'a str)]) -> ItemFields<'a> {
        let mut fields = ItemFields::default();
        for (f, raw) in pairs {
            fields.raw[*f as usize] = Some(raw);
        }
        fields
    }
}

/// What the callback receives for each item of a document, in order.
#[derive(Debug)]
pub struct ItemEvent<'a> {
    /// Position of the item in its array, or of the line in NDJSON (0-based).
    pub index: usize,
    /// The item, or the kind of JSON value that stood where an object was expected.
    pub fields: Result<ItemFields<'a>, &'static str>,
    /// The item is a line of newline-delimited items (locate it by line, not index).
    pub in_lines: bool,
}

/// The forms conform recognises, detected from content, never from file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `{"fileVersion", "configSnapshotId"?, "configurationItems": [...]}`: a snapshot or a
    /// history file (they share the envelope; see [`Document::is_history`]).
    ConfigurationItemsFile { snapshot_id: Option<String> },
    /// `{"configurationItem": {...}, "messageType": "ConfigurationItemChangeNotification"}`,
    /// bare or inside an SNS envelope, a Lambda rule event or an e-mail body.
    ChangeNotification,
    /// A JSON array of items.
    NativeArray,
    /// Newline-delimited items (or one item alone).
    NativeLines,
    /// A message that carries no configuration item, such as a compliance change notification.
    NoItems {
        message_type: String,
        note: Option<String>,
    },
    /// Terraform state or a Kubernetes list, read as items ([`super::inventory`]), with what
    /// was left out.
    Inventory {
        form: super::inventory::Inventory,
        notes: Vec<String>,
    },
}

impl Form {
    pub fn name(&self) -> &'static str {
        match self {
            Form::ConfigurationItemsFile { .. } => "configuration-items file",
            Form::ChangeNotification => "change notification",
            Form::NativeArray => "item array",
            Form::NativeLines => "item lines",
            Form::NoItems { .. } => "message without items",
            Form::Inventory { form, .. } => form.name(),
        }
    }

    /// Change records update only the resources they name; they never imply deletions.
    pub fn is_change_record(&self) -> bool {
        matches!(self, Form::ChangeNotification)
    }
}

/// A parsed document: its form and how many items it held.
#[derive(Debug, Clone)]
pub struct Document {
    pub form: Form,
    pub items: usize,
    /// Wrappers peeled off to reach the form: "SNS message", "Lambda event", "e-mail body".
    pub wrappers: Vec<&'static str>,
}

/// Why a document could not be read.
#[derive(Debug)]
pub enum DocumentError {
    /// Not JSON, or truncated: stops the file where it happened.
    Syntax(serde_json::Error),
    /// Valid JSON but no recognised form; says what it found.
    Unrecognised(String),
    /// Not JSON from this position on, where serde_json had no more to say.
    Invalid { line: usize, column: usize },
}

impl From<serde_json::Error> for DocumentError {
    fn from(e: serde_json::Error) -> Self {
        DocumentError::Syntax(e)
    }
}

type Sink<'s> = dyn FnMut(ItemEvent<'_>) -> KeepReading + 's;

/// Only the text reader defers checks, and only for the items of arrays and lines: where the
/// serde reader (or a single item) hands an item on, a sink cannot find deferred JSON broken.
/// Should one, the document stops where serde_json's own reading would have said.
impl From<BrokenJson> for DocumentError {
    fn from(broken: BrokenJson) -> Self {
        DocumentError::Unrecognised(broken.to_string())
    }
}

mod text;

/// Reads a document held whole in memory (fields are slices of it, no copies).
pub fn read_str(text: &str, sink: &mut Sink<'_>) -> Result<Document, DocumentError> {
    let trimmed = text.trim_start_matches('\u{feff}');
    let first = trimmed.bytes().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'{' | b'[') | None) {
        // An SNS e-mail subscription delivers the notification as text with a JSON body.
        if let Some(body) = email_json_body(trimmed) {
            let mut doc = text::read(body, sink, false)?;
            doc.wrappers.insert(0, "e-mail body");
            return Ok(doc);
        }
    }
    text::read(trimmed, sink, true)
}

/// Reads a document from a stream (owned raw values, one item in memory at a time).
pub fn read_stream(
    reader: impl std::io::Read,
    sink: &mut Sink<'_>,
) -> Result<Document, DocumentError> {
    read_top::<_, Box<RawValue>>(serde_json::Deserializer::from_reader(reader), sink, true)
}

/// The JSON object in an e-mail body: from the first line that opens one.
fn email_json_body(text: &str) -> Option<&str> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('{') {
            return Some(&text[offset..]);
        }
        offset += line.len();
    }
    None
}

/// A raw JSON value's text, however it is held: borrowed from a mapped file, or boxed by serde
/// while streaming.
trait RawText {
    fn text(&self) -> &str;
}

impl RawText for &RawValue {
    fn text(&self) -> &str {
        self.get()
    }
}

impl RawText for Box<RawValue> {
    fn text(&self) -> &str {
        self.get()
    }
}

impl RawText for &str {
    fn text(&self) -> &str {
        self
    }
}

/// How serde holds a raw JSON value while parsing: borrowed or boxed.
trait RawHandle<'de>: Deserialize<'de> + RawText {}
impl<'de> RawHandle<'de> for &'de RawValue {}
impl<'de> RawHandle<'de> for Box<RawValue> {}

fn read_top<'de, R, H>(
    mut de: serde_json::Deserializer<R>,
    sink: &mut Sink<'_>,
    strict_end: bool,
) -> Result<Document, DocumentError>
where
    R: serde_json::de::Read<'de>,
    H: RawHandle<'de>,
{
    let top = TopSeed::<H> {
        sink: &mut *sink,
        marker: std::marker::PhantomData,
    }
    .deserialize(&mut de)?;
    let mut doc = match top {
        Top::Array(items) => Document {
            form: Form::NativeArray,
            items,
            wrappers: vec![],
        },
        Top::Object(object) => object.into_document(sink)?,
    };
    if !strict_end {
        return Ok(doc);
    }
    // Anything after the first value makes this newline-delimited items.
    let mut rest = de.into_iter::<RawItem<H>>().peekable();
    if rest.peek().is_none() {
        return Ok(doc);
    }
    if doc.form != Form::NativeLines {
        return Err(DocumentError::Unrecognised(format!(
            "more JSON follows the {}; only single items may be newline-delimited",
            doc.form.name()
        )));
    }
    for next in rest {
        let item = next?;
        sink(ItemEvent {
            index: doc.items,
            fields: item.fields(),
            in_lines: true,
        })?;
        doc.items += 1;
    }
    Ok(doc)
}

/// A configuration item split into raw fields; deserialising it never fails on valid JSON,
/// so one bad item does not stop the others from being read and checked.
struct RawItem<H> {
    raw: [Option<H>; Field::COUNT],
    keys: [Spelling; Field::COUNT],
    not_an_object: Option<&'static str>,
    /// Fields only delimited, not checked (the text reader's; see `ItemFields::check_deferred`).
    deferred: u32,
    duplicate: Option<Spelling>,
}

impl<H> RawItem<H> {
    fn new() -> Self {
        RawItem {
            raw: std::array::from_fn(|_| None),
            keys: API_SPELLINGS,
            not_an_object: None,
            deferred: 0,
            duplicate: None,
        }
    }

    fn not_an_object(kind: &'static str) -> Self {
        RawItem {
            not_an_object: Some(kind),
            ..RawItem::new()
        }
    }

    /// Keeps the first non-null value when a key appears twice (say, in both dialects).
    fn set(&mut self, (field, key): (Field, Spelling), value: H)
    where
        H: RawText,
    {
        let slot = &mut self.raw[field as usize];
        if slot.is_some() && self.keys[field as usize] == key {
            self.duplicate.get_or_insert(key);
        }
        if slot.as_ref().is_none_or(|v| v.text() == "null") {
            *slot = Some(value);
            self.keys[field as usize] = key;
        }
    }

    fn is_empty(&self) -> bool {
        self.raw.iter().all(Option::is_none)
    }

    /// Whether `field` has no value yet (so that one set now is the one kept).
    fn is_unset(&self, field: Field) -> bool {
        self.raw[field as usize].is_none()
    }

    /// Sets `field`, which has no value yet, to a value only delimited, not checked.
    fn set_deferred(&mut self, (field, key): (Field, Spelling), value: H) {
        self.raw[field as usize] = Some(value);
        self.keys[field as usize] = key;
        self.deferred |= 1 << field as u32;
    }
}

impl<H: RawText> RawItem<H> {
    fn fields(&self) -> Result<ItemFields<'_>, &'static str> {
        match self.not_an_object {
            Some(kind) => Err(kind),
            None => Ok(ItemFields {
                raw: std::array::from_fn(|i| self.raw[i].as_ref().map(RawText::text)),
                keys: self.keys,
                deferred: self.deferred,
                duplicate: self.duplicate,
            }),
        }
    }
}

fn kind_of_unexpected(u: de::Unexpected<'_>) -> &'static str {
    use de::Unexpected::*;
    match u {
        Bool(_) => "a boolean",
        Unsigned(_) | Signed(_) | Float(_) => "a number",
        Str(_) | Char(_) | Bytes(_) => "a string",
        Unit | Option => "null",
        Seq => "an array",
        _ => "a non-object value",
    }
}

impl<'de, H: RawHandle<'de>> Deserialize<'de> for RawItem<H> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<H>(std::marker::PhantomData<H>);
        impl<'de, H: RawHandle<'de>> Visitor<'de> for V<H> {
            type Value = RawItem<H>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a configuration item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawItem<H>, A::Error> {
                let mut item = RawItem::new();
                while let Some(key) = map.next_key::<KnownKey>()? {
                    match key.0 {
                        Some(TopKey::Item(field)) => item.set(field, map.next_value::<H>()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(item)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawItem<H>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawItem::not_an_object("an array"))
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawItem<H>, E> {
                Ok(RawItem::not_an_object(kind_of_unexpected(
                    de::Unexpected::Bool(v),
                )))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawItem<H>, E> {
                Ok(RawItem::not_an_object("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawItem<H>, E> {
                Ok(RawItem::not_an_object("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawItem<H>, E> {
                Ok(RawItem::not_an_object("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<RawItem<H>, E> {
                Ok(RawItem::not_an_object("a string"))
            }
            fn visit_unit<E>(self) -> Result<RawItem<H>, E> {
                Ok(RawItem::not_an_object("null"))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Keys with a meaning at the top level of a document or an item.
#[derive(Debug, Clone, Copy)]
enum TopKey {
    Item((Field, Spelling)),
    ConfigurationItems,
    ConfigurationItem,
    ConfigSnapshotId,
    Message,
    InvokingEvent,
    MessageType,
    S3DeliverySummary,
}

impl TopKey {
    fn classify(key: &str) -> Option<TopKey> {
        match key {
            "configurationItems" => Some(TopKey::ConfigurationItems),
            "configurationItem" => Some(TopKey::ConfigurationItem),
            "configSnapshotId" => Some(TopKey::ConfigSnapshotId),
            "Message" => Some(TopKey::Message),
            "invokingEvent" => Some(TopKey::InvokingEvent),
            "messageType" => Some(TopKey::MessageType),
            "s3DeliverySummary" => Some(TopKey::S3DeliverySummary),
            other => Field::for_key(other).map(TopKey::Item),
        }
    }
}

/// A key, classified without allocating.
struct KnownKey(Option<TopKey>);

impl<'de> Deserialize<'de> for KnownKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KnownKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<KnownKey, E> {
                Ok(KnownKey(TopKey::classify(key)))
            }
        }
        d.deserialize_str(V)
    }
}

enum Top<H> {
    Array(usize),
    Object(Box<TopObject<H>>),
}

/// What the top-level object held, besides the items already streamed out of it.
struct TopObject<H> {
    /// Items of `configurationItems`, already handed to the sink; `None` if the key was absent.
    streamed: Option<usize>,
    snapshot_id: Option<String>,
    /// The item of a change notification.
    item: Option<RawItem<H>>,
    /// The object's own fields, in case the document is itself one item.
    own: RawItem<H>,
    message: Option<H>,
    invoking_event: Option<H>,
    message_type: Option<String>,
    s3_delivery: Option<H>,
    other_keys: usize,
}

impl<H: RawText> TopObject<H> {
    fn new() -> TopObject<H> {
        TopObject {
            streamed: None,
            snapshot_id: None,
            item: None,
            own: RawItem::new(),
            message: None,
            invoking_event: None,
            message_type: None,
            s3_delivery: None,
            other_keys: 0,
        }
    }

    fn into_document(self, sink: &mut Sink<'_>) -> Result<Document, DocumentError> {
        if let Some(items) = self.streamed {
            return Ok(Document {
                form: Form::ConfigurationItemsFile {
                    snapshot_id: self.snapshot_id,
                },
                items,
                wrappers: vec![],
            });
        }
        if let Some(item) = self.item {
            sink(ItemEvent {
                index: 0,
                fields: item.fields(),
                in_lines: false,
            })?;
            return Ok(Document {
                form: Form::ChangeNotification,
                items: 1,
                wrappers: vec![],
            });
        }
        for (raw, wrapper) in [
            (&self.message, "SNS message"),
            (&self.invoking_event, "Lambda event"),
        ] {
            if let Some(raw) = raw {
                let mut doc = read_embedded(raw.text(), sink)?;
                doc.wrappers.insert(0, wrapper);
                return Ok(doc);
            }
        }
        if let Some(message_type) = self.message_type {
            let note = self.s3_delivery.as_ref().and_then(|raw| {
                let summary: serde_json::Value = serde_json::from_str(raw.text()).ok()?;
                let location = summary.get("s3BucketLocation")?.as_str()?;
                Some(format!("the full item was delivered to s3://{location}"))
            });
            return Ok(Document {
                form: Form::NoItems { message_type, note },
                items: 0,
                wrappers: vec![],
            });
        }
        if self.own.is_empty() {
            return Err(DocumentError::Unrecognised(format!(
                "found a JSON object with {} key(s) but none of a configuration item, a snapshot \
                 or history file (configurationItems) or a notification (configurationItem, Message)",
                self.other_keys
            )));
        }
        sink(ItemEvent {
            index: 0,
            fields: self.own.fields(),
            in_lines: true,
        })?;
        Ok(Document {
            form: Form::NativeLines,
            items: 1,
            wrappers: vec![],
        })
    }
}

/// A document nested in a field: either a JSON object or a string holding one.
fn read_embedded(raw: &str, sink: &mut Sink<'_>) -> Result<Document, DocumentError> {
    if raw.starts_with('"') {
        let decoded: String = serde_json::from_str(raw)?;
        text::read(&decoded, sink, true)
    } else {
        text::read(raw, sink, true)
    }
}

struct TopSeed<'s, 'k, H> {
    sink: &'s mut Sink<'k>,
    marker: std::marker::PhantomData<H>,
}

impl<'de, H: RawHandle<'de>> DeserializeSeed<'de> for TopSeed<'_, '_, H> {
    type Value = Top<H>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top<H>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, H: RawHandle<'de>> Visitor<'de> for TopSeed<'_, '_, H> {
    type Value = Top<H>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top<H>, A::Error> {
        ItemsSeed::<H> {
            sink: self.sink,
            marker: self.marker,
        }
        .visit_seq(seq)
        .map(Top::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<H>, A::Error> {
        let mut top = TopObject::new();
        while let Some(KnownKey(key)) = map.next_key()? {
            match key {
                Some(TopKey::ConfigurationItems) => {
                    let seed = ItemsSeed::<H> {
                        sink: &mut *self.sink,
                        marker: self.marker,
                    };
                    top.streamed = Some(map.next_value_seed(seed)?);
                }
                Some(TopKey::ConfigurationItem) => top.item = Some(map.next_value()?),
                Some(TopKey::ConfigSnapshotId) => top.snapshot_id = map.next_value()?,
                Some(TopKey::Message) => top.message = Some(map.next_value()?),
                Some(TopKey::InvokingEvent) => top.invoking_event = Some(map.next_value()?),
                Some(TopKey::MessageType) => top.message_type = map.next_value()?,
                Some(TopKey::S3DeliverySummary) => top.s3_delivery = Some(map.next_value()?),
                Some(TopKey::Item(field)) => top.own.set(field, map.next_value()?),
                None => {
                    top.other_keys += 1;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Object(Box::new(top)))
    }
}

/// Streams the elements of an item array to the sink; returns how many there were.
struct ItemsSeed<'s, 'k, H> {
    sink: &'s mut Sink<'k>,
    marker: std::marker::PhantomData<H>,
}

impl<'de, H: RawHandle<'de>> DeserializeSeed<'de> for ItemsSeed<'_, '_, H> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, H: RawHandle<'de>> Visitor<'de> for ItemsSeed<'_, '_, H> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of configuration items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut index = 0;
        while let Some(item) = seq.next_element::<RawItem<H>>()? {
            (self.sink)(ItemEvent {
                index,
                fields: item.fields(),
                in_lines: false,
            })
            .map_err(de::Error::custom)?;
            index += 1;
        }
        Ok(index)
    }
}

/// The readers held against each other, by the tests and by the fuzz targets
/// (`crate::fuzzing`): every form and every damaged text must read alike.
#[cfg(any(test, feature = "fuzzing"))]
pub mod agreement {
    use super::*;

    /// Everything a reader reports of a text: each item event, then the outcome.
    fn trace(read: impl FnOnce(&mut Sink<'_>) -> Result<Document, DocumentError>) -> Vec<String> {
        let mut events = Vec::new();
        let outcome = read(&mut |e: ItemEvent<'_>| {
            // As ingest with an empty store: every item is new, so deferred checks all run.
            let verdict = e.fields.map_or(Ok(()), |f| f.check_deferred());
            let fields = e
                .fields
                .map(|f| Field::ALL.map(|k| (f.get(k), f.key_used(k))));
            // An item whose deferred JSON is broken is refused, never taken in.
            if verdict.is_ok() {
                events.push(format!("{} {:?} {}", e.index, fields, e.in_lines));
            }
            verdict
        });
        events.push(match outcome {
            Ok(doc) => format!("{:?} {} {:?}", doc.form, doc.items, doc.wrappers),
            Err(e) => format!("{e:?}"),
        });
        events
    }

    /// Reads `text` with both readers, comparing nothing: for texts only one reader takes (an
    /// e-mail body is found in text, not in a stream of JSON).
    pub fn read_both(text: &str) {
        trace(|sink| read_str(text, sink));
        trace(|sink| read_stream(text.as_bytes(), sink));
    }

    /// The in-memory reader (the strict scanner) and serde's reader over the same text must
    /// see the same items with the same fields, and end the same way, error messages and
    /// positions included. (serde reading a stream places some errors one column later.)
    #[cfg(test)]
    pub fn readers_agree(text: &str) {
        let (scanned, parsed) = scanned_and_parsed(text);
        assert_eq!(scanned, parsed, "{text}");
        let streamed = trace(|sink| read_stream(text.as_bytes(), sink));
        assert_eq!(scanned.len(), streamed.len(), "{text}");
        assert_eq!(scanned[..scanned.len() - 1], streamed[..streamed.len() - 1]);
    }

    /// What ingest depends on, for any text: a file one reader takes, the other takes too,
    /// with the same items and fields; a file one refuses, the other refuses. (On damaged
    /// text the two may stop at different items, or word the damage differently; nothing of a
    /// refused file is stored either way.)
    pub fn readers_agree_on_outcome(text: &str) {
        let (scanned, parsed) = scanned_and_parsed(text);
        let streamed = trace(|sink| read_stream(text.as_bytes(), sink));
        let refused = |t: &[String]| t.last().is_some_and(|end| is_error(end));
        let ends = || {
            format!(
                "scanned: {:?}\nparsed: {:?}\nstreamed: {:?}\n{text}",
                scanned.last(),
                parsed.last(),
                streamed.last()
            )
        };
        assert_eq!(refused(&scanned), refused(&parsed), "{}", ends());
        assert_eq!(refused(&scanned), refused(&streamed), "{}", ends());
        if !refused(&scanned) {
            assert_eq!(scanned, parsed, "{text}");
            assert_eq!(scanned, streamed, "{text}");
        }
    }

    fn scanned_and_parsed(text: &str) -> (Vec<String>, Vec<String>) {
        let scanned = trace(|sink| read_str(text, sink));
        let parsed = trace(|sink| {
            read_top::<_, &RawValue>(serde_json::Deserializer::from_str(text), sink, true)
        });
        (scanned, parsed)
    }

    /// Whether a trace's last line is an error (the `Debug` of a `DocumentError`).
    fn is_error(end: &str) -> bool {
        ["Syntax(", "Unrecognised(", "Invalid {"]
            .iter()
            .any(|p| end.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::agreement::readers_agree;
    use super::*;

    /// Each item seen: its index, and its identity fields or the kind found instead.
    type ReadItems = Vec<(usize, Result<Vec<(Field, String)>, &'static str>)>;

    fn collect(text: &str) -> (Result<Document, DocumentError>, ReadItems) {
        let mut seen = Vec::new();
        let doc = read_str(text, &mut |e: ItemEvent<'_>| {
            // As ingest with an empty store: every item is new, so deferred checks all run.
            let verdict = e.fields.map_or(Ok(()), |f| f.check_deferred());
            let fields = e.fields.map(|f| {
                [
                    Field::ResourceType,
                    Field::ResourceId,
                    Field::AccountId,
                    Field::Arn,
                ]
                .into_iter()
                .filter_map(|k| f.get(k).map(|v| (k, v.to_string())))
                .collect()
            });
            if verdict.is_ok() {
                seen.push((e.index, fields));
            }
            verdict
        });
        (doc, seen)
    }

    #[test]
    fn snapshot_envelope_streams_items_and_keeps_its_id() {
        let (doc, items) = collect(
            r#"{"fileVersion":"1.0","configurationItems":[{"resourceType":"T","resourceId":"a"},7],"configSnapshotId":"s-1"}"#,
        );
        let doc = doc.unwrap();
        assert_eq!(
            doc.form,
            Form::ConfigurationItemsFile {
                snapshot_id: Some("s-1".into())
            }
        );
        assert_eq!(doc.items, 2);
        assert_eq!(
            items[0].1.as_ref().unwrap()[1],
            (Field::ResourceId, "\"a\"".into())
        );
        assert_eq!(items[1].1, Err("a number"));
    }

    #[test]
    fn every_spelling_maps_to_its_field_and_back() {
        for (at, (field, key)) in SPELLINGS.iter().enumerate() {
            let (found, spelling) = Field::for_key(key).unwrap();
            assert_eq!((found, spelling), (*field, Spelling(at as u8)), "{key}");
            assert_eq!(spelling.text(), *key);
        }
        for field in Field::ALL {
            assert_eq!(field.api_spelling().text(), field.key(), "{field:?}");
            assert_eq!(SPELLINGS[field.api_spelling().0 as usize].0, field);
        }
    }

    #[test]
    fn dialect_keys_map_to_one_field() {
        let (_, api) =
            collect(r#"{"resourceType":"T","resourceId":"a","accountId":"1","arn":"x"}"#);
        let (_, file) =
            collect(r#"{"resourceType":"T","resourceId":"a","awsAccountId":"1","ARN":"x"}"#);
        assert_eq!(api[0].1, file[0].1);
    }

    #[test]
    fn sns_message_as_string_or_object_and_lambda_event() {
        let inner = r#"{"configurationItem":{"resourceType":"T","resourceId":"a"},"messageType":"ConfigurationItemChangeNotification"}"#;
        let as_object = format!(r#"{{"Type":"Notification","Message":{inner}}}"#);
        let as_string = format!(
            r#"{{"Type":"Notification","Message":{}}}"#,
            serde_json::to_string(inner).unwrap()
        );
        let lambda = format!(
            r#"{{"invokingEvent":{},"version":"1.0"}}"#,
            serde_json::to_string(inner).unwrap()
        );
        for text in [as_object, as_string, lambda] {
            let (doc, items) = collect(&text);
            let doc = doc.unwrap();
            assert_eq!(doc.form, Form::ChangeNotification, "{text}");
            assert_eq!(items.len(), 1);
        }
    }

    #[test]
    fn ndjson_lines_are_items() {
        let (doc, items) = collect(
            "{\"resourceType\":\"T\",\"resourceId\":\"a\"}\n{\"resourceType\":\"T\",\"resourceId\":\"b\"}\n",
        );
        assert_eq!(doc.unwrap().form, Form::NativeLines);
        assert_eq!(items.iter().map(|i| i.0).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn messages_without_items_are_recognised() {
        let (doc, items) =
            collect(r#"{"messageType":"ComplianceChangeNotification","newEvaluationResult":{}}"#);
        assert!(matches!(doc.unwrap().form, Form::NoItems { .. }));
        assert!(items.is_empty());
    }

    #[test]
    fn email_body_is_found_after_text() {
        let (doc, _) = collect(
            "Some text\n  more:\n  {\n \"messageType\": \"ScheduledNotification\"\n}\n-- footer\n",
        );
        let doc = doc.unwrap();
        assert_eq!(doc.wrappers, vec!["e-mail body"]);
    }

    #[test]
    fn truncated_json_is_a_syntax_error() {
        let (doc, items) = collect(
            r#"{"configurationItems":[{"resourceType":"T","resourceId":"a"},{"resourceType":"#,
        );
        assert!(matches!(doc, Err(DocumentError::Syntax(_))));
        assert_eq!(items.len(), 1, "items before the damage are still seen");
    }

    #[test]
    fn both_readers_agree_on_every_form() {
        let item = r#"{"resourceType":"T","resourceId":"a","awsAccountId":"1","ARN":"x","configuration":{"k":[1,2.5,"s\"q"]},"tags":null,"tags":{"a":"b"},"unknown":{"x":1}}"#;
        let cases = [
            format!(r#"{{"fileVersion":"1.0","configSnapshotId":"s-1","configurationItems":[{item},7,"x",null,[]]}}"#),
            r#"{"configurationItems":[],"configSnapshotId":null}"#.to_string(),
            format!(r#"[{item}, {item}]"#),
            format!("{item}\n{item}\n\n{item}"),
            format!(r#"{{"configurationItem":{item},"messageType":"ConfigurationItemChangeNotification"}}"#),
            format!(r#"{{"Type":"Notification","Message":{}}}"#, serde_json::to_string(&format!(r#"{{"configurationItem":{item}}}"#)).unwrap()),
            format!(r#"{{"invokingEvent":{{"configurationItem":{item}}}}}"#),
            r#"{"messageType":"OversizedConfigurationItemChangeNotification","s3DeliverySummary":{"s3BucketLocation":"b/k"}}"#.to_string(),
            r#"{"hello":"world"}"#.to_string(),
            format!(r#"{{"configurationItems":[{item}]}} {item}"#),
            r#"{"configurationItems":{"not":"an array"}}"#.to_string(),
            r#"{"configSnapshotId":5,"configurationItems":[]}"#.to_string(),
            r#"{"messageType":["x"]}"#.to_string(),
            format!(r#"{{"configurationItems":[{item},{{"resourceType":"T","resourceId":"b""#),
            r#"{"configurationItems":[{"resourceType":"T\ud800x","resourceId":"b"}]}"#.to_string(),
            r#"{"configurationItems":[{"resource\u0054ype":"T","resourceId":"b"}]}"#.to_string(),
            "42".to_string(),
            "\"text\"".to_string(),
            "{\"a\":1} x".to_string(),
        ];
        for case in &cases {
            readers_agree(case);
        }
    }

    #[test]
    fn both_readers_agree_on_damaged_files() {
        let text = r#"{"fileVersion":"1.0","configSnapshotId":"s","configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-1","awsRegion":"eu-west-1","configuration":{"size":8,"encrypted":false,"attachments":[{"instanceId":"i-1","deleteOnTermination":true}]},"tags":{"Name":"a \"b\""},"configurationStateId":12},{"resourceType":"AWS::S3::Bucket","resourceId":"b","configuration":null,"relationships":[{"name":"Is associated with","resourceId":"x"}]}]}"#;
        let alphabet = b"{}[]:,\"\\ -.0123456789etrfalsnu";
        for damaged in crate::json::damage::copies(text, alphabet, 1, 5, 3000) {
            readers_agree(&damaged);
        }
    }

    #[test]
    fn unrelated_object_is_unrecognised() {
        let (doc, _) = collect(r#"{"hello":"world"}"#);
        assert!(matches!(doc, Err(DocumentError::Unrecognised(_))));
    }
}
