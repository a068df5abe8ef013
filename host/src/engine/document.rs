//! The documents rules read (ABI v1, "Documents"), looked up by JSON Pointer without building a
//! tree.
//!
//! A scan reads every item of a snapshot, and a rule looks at three or four of an item's fields.
//! Parsing each item into a `serde_json::Value` cost about 10 µs (an allocation per node, and as
//! many frees); indexing its stored text once costs about 1 µs, and a lookup then walks an array
//! of offsets. So an item is kept as the canonical JSON text the store holds plus one [`Node`]
//! per value, and the identity and capture fields that the store keeps beside the body are
//! answered from their columns.
//!
//! Semantics are those of `conform_sdk::json_pointer` over the document `conform show` prints,
//! which rule authors' native tests use; a unit test checks the two agree.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

pub use crate::json::Kind;
use crate::store::{StoreError, StoredItem};

/// One value of an indexed text. An object's members follow it as key, value, key, value; an
/// array's elements follow it in order; `next` skips a whole subtree.
#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    /// For strings: whether the text holds backslash escapes (then it is decoded to be read).
    escaped: bool,
    /// Byte range of the value in the text (strings with their quotes).
    start: u32,
    end: u32,
    /// Members of an object or elements of an array.
    len: u32,
    /// Index of the node after this value and everything inside it.
    next: u32,
}

/// Text that is not JSON, at a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed JSON at byte {0}")]
pub struct Malformed(pub usize);

/// A JSON text and its index.
#[derive(Debug, Clone)]
pub struct JsonText {
    text: Vec<u8>,
    nodes: Vec<Node>,
    keys: KeyOrder,
}

/// What is known of the keys of every object in a text, which lets a lookup stop early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyOrder {
    /// Anything JSON allows, duplicates included (the last one counts).
    Any,
    /// No duplicates (a serialised map).
    Unique,
    /// No duplicates, and in order of their bytes as written: conform's canonical form, which
    /// stored bodies are in.
    Sorted,
}

impl JsonText {
    /// Indexes `text`, which must be one JSON value by every rule of RFC 8259: strings and
    /// numbers are read by the strict scanner of [`crate::json`], as ingest reads them.
    pub fn parse(text: Vec<u8>) -> Result<JsonText, Malformed> {
        if simdutf8::basic::from_utf8(&text).is_err() || text.len() >= u32::MAX as usize {
            return Err(Malformed(0));
        }
        let nodes = index(&text)?;
        Ok(JsonText {
            text,
            nodes,
            keys: KeyOrder::Any,
        })
    }

    /// The JSON held in a string (an S3 bucket's ACL), if it is JSON by every rule of RFC 8259:
    /// a string that is not behaves as absent.
    fn parse_embedded(text: &str) -> Option<JsonText> {
        JsonText::parse(text.as_bytes().to_vec()).ok()
    }

    /// A value as a text, keys sorted (serde_json's `Value` sorts them).
    pub fn from_value(value: &Value) -> JsonText {
        let text = serde_json::to_vec(value).expect("a Value always serialises");
        let mut text = JsonText::parse(text).expect("serde_json writes JSON");
        text.keys = KeyOrder::Unique;
        text
    }

    pub fn text(&self) -> &[u8] {
        &self.text
    }

    pub fn root(&self) -> Found<'_> {
        Found::Node(self, 0)
    }

    fn raw(&self, node: &Node) -> &[u8] {
        &self.text[node.start as usize..node.end as usize]
    }

    /// The content of string node `at`, decoded if it holds escapes.
    fn string(&self, at: usize) -> Cow<'_, str> {
        let node = &self.nodes[at];
        let inner = &self.text[node.start as usize + 1..node.end as usize - 1];
        // The text was checked to be UTF-8 and a string's quotes are ASCII.
        let inner = std::str::from_utf8(inner).unwrap_or_default();
        if !node.escaped {
            return Cow::Borrowed(inner);
        }
        match serde_json::from_slice::<String>(self.raw(node)) {
            Ok(decoded) => Cow::Owned(decoded),
            Err(_) => Cow::Borrowed(inner),
        }
    }

    /// The value of member `key` of object node `at`, or element `key` of array node `at`.
    fn child(&self, at: usize, token: &str) -> Option<usize> {
        let node = self.nodes[at];
        match node.kind {
            Kind::Object => {
                let wanted = token.as_bytes();
                // A key with an escape sorts by its escaped bytes, so a sorted object may be
                // left early only for a token that needs none (decided when first needed).
                let mut plain: Option<bool> = None;
                let mut key = at + 1;
                let mut found = None;
                for _ in 0..node.len {
                    let k = &self.nodes[key];
                    if k.escaped {
                        if self.string(key) == token {
                            found = Some(key + 1);
                        }
                    } else {
                        let raw = &self.text[k.start as usize + 1..k.end as usize - 1];
                        if raw == wanted {
                            found = Some(key + 1);
                            if self.keys != KeyOrder::Any {
                                break;
                            }
                        } else if self.keys == KeyOrder::Sorted
                            && raw.first() > wanted.first()
                            && *plain.get_or_insert_with(|| {
                                !wanted.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20)
                            })
                        {
                            // Past a greater key, a sorted object cannot hold `token`.
                            break;
                        }
                    }
                    // Otherwise the last of duplicate keys wins, as when a parser builds a map.
                    key = self.nodes[key + 1].next as usize;
                }
                found
            }
            Kind::Array => {
                let n: usize = token.parse().ok()?;
                if n >= node.len as usize {
                    return None;
                }
                let mut element = at + 1;
                for _ in 0..n {
                    element = self.nodes[element].next as usize;
                }
                Some(element)
            }
            _ => None,
        }
    }

    /// The keys of object node `at`, in sorted order (by code point), as ABI v1's `key_at` gives
    /// them.
    fn keys(&self, at: usize) -> Vec<Cow<'_, str>> {
        let node = self.nodes[at];
        let mut keys = Vec::with_capacity(node.len as usize);
        let mut key = at + 1;
        for _ in 0..node.len {
            keys.push(self.string(key));
            key = self.nodes[key + 1].next as usize;
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// Key `index` of object node `at`: the text's own order when it is canonical (sorted, no
    /// escapes, no duplicates), which is the common case and costs no allocation.
    fn key_at(&self, at: usize, index: usize) -> Option<Cow<'_, str>> {
        let node = self.nodes[at];
        let mut key = at + 1;
        let mut previous: Option<&[u8]> = None;
        let mut canonical = true;
        let mut wanted = None;
        for i in 0..node.len as usize {
            let k = &self.nodes[key];
            let bytes = &self.text[k.start as usize + 1..k.end as usize - 1];
            if k.escaped || previous.is_some_and(|p| p >= bytes) {
                canonical = false;
                break;
            }
            if i == index {
                wanted = Some(key);
            }
            previous = Some(bytes);
            key = self.nodes[key + 1].next as usize;
        }
        if canonical {
            wanted.map(|k| self.string(k))
        } else {
            self.keys(at).into_iter().nth(index)
        }
    }

    /// The number of distinct members (duplicates count once, as in a map).
    fn members(&self, at: usize) -> usize {
        let node = self.nodes[at];
        let mut key = at + 1;
        let mut previous: Option<&[u8]> = None;
        for _ in 0..node.len {
            let k = &self.nodes[key];
            let bytes = &self.text[k.start as usize + 1..k.end as usize - 1];
            if k.escaped || previous.is_some_and(|p| p >= bytes) {
                return self.keys(at).len();
            }
            previous = Some(bytes);
            key = self.nodes[key + 1].next as usize;
        }
        node.len as usize
    }
}

/// A value found in a document.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// A value of an indexed text.
    Node(&'a JsonText, usize),
    /// An identity or capture field of an item (always a string).
    Field(&'a str),
    /// A content field the item does not have, as `show` fills it in: `{}`, `[]` or null.
    Default(Kind),
    /// The item itself.
    Item(&'a ItemDocument),
}

impl<'a> Found<'a> {
    pub fn kind(&self) -> Kind {
        match *self {
            Found::Node(text, at) => text.nodes[at].kind,
            Found::Field(_) => Kind::String,
            Found::Default(kind) => kind,
            Found::Item(_) => Kind::Object,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Found::Node(text, at) if text.nodes[at].kind == Kind::Bool => {
                Some(text.text[text.nodes[at].start as usize] == b't')
            }
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Found::Node(text, at) if text.nodes[at].kind == Kind::Number => {
                std::str::from_utf8(text.raw(&text.nodes[at]))
                    .ok()?
                    .parse()
                    .ok()
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match *self {
            Found::Node(text, at) if text.nodes[at].kind == Kind::String => Some(text.string(at)),
            Found::Field(value) => Some(Cow::Borrowed(value)),
            _ => None,
        }
    }

    /// Elements of an array or members of an object.
    pub fn length(&self) -> Option<usize> {
        match *self {
            Found::Node(text, at) => match text.nodes[at].kind {
                Kind::Array => Some(text.nodes[at].len as usize),
                Kind::Object => Some(text.members(at)),
                _ => None,
            },
            Found::Default(Kind::Array | Kind::Object) => Some(0),
            Found::Item(item) => Some(item.root_keys().len()),
            _ => None,
        }
    }

    /// An object's `index`-th key, in sorted order.
    pub fn key_at(&self, index: usize) -> Option<Cow<'a, str>> {
        match *self {
            Found::Node(text, at) if text.nodes[at].kind == Kind::Object => text.key_at(at, index),
            Found::Item(item) => item
                .root_keys()
                .get(index)
                .map(|k| Cow::Borrowed(k.as_str())),
            _ => None,
        }
    }

    /// The member or element named by one (decoded) pointer token, not looking inside strings.
    pub fn member(&self, token: &str) -> Option<Found<'a>> {
        match *self {
            Found::Node(text, at) => text.child(at, token).map(|at| Found::Node(text, at)),
            Found::Item(item) => item.member(token),
            Found::Field(_) | Found::Default(_) => None,
        }
    }
}

/// A string that is not a JSON Pointer (non-empty and not starting with `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAPointer;

/// Resolves `pointer` from `root` and hands the value found (or `None`) to `f`. A string met
/// with segments left is parsed as JSON and the pointer continues inside it (ABI v1).
pub fn with_pointer<R>(
    root: Found<'_>,
    pointer: &str,
    f: impl FnOnce(Option<Found<'_>>) -> R,
) -> Result<R, NotAPointer> {
    with_pointer_cached(root, pointer, &mut Cursor::default(), f)
}

/// Where the previous lookup in a document went. Rules look up runs of pointers with a common
/// prefix (`/configuration/ipPermissions/0/fromPort`, then `.../toPort`); a lookup resumes
/// from the longest prefix the previous one resolved instead of walking from the root. Reset
/// it (or use a new one) when the document changes.
#[derive(Debug, Default)]
pub struct Cursor {
    /// The previous pointer.
    path: String,
    /// Its prefixes that ended on a value of the root's text: (byte length, node).
    stops: Vec<(usize, usize)>,
}

impl Cursor {
    pub fn reset(&mut self) {
        self.path.clear();
        self.stops.clear();
    }
}

/// As [`with_pointer`], resuming from what `cursor` remembers of the previous lookup from the
/// same `root`, and remembering this one.
pub fn with_pointer_cached<R>(
    root: Found<'_>,
    pointer: &str,
    cursor: &mut Cursor,
    f: impl FnOnce(Option<Found<'_>>) -> R,
) -> Result<R, NotAPointer> {
    if pointer.is_empty() {
        return Ok(f(Some(root)));
    }
    if !pointer.starts_with('/') {
        return Err(NotAPointer);
    }
    let (text, item) = match root {
        Found::Item(item) => (Some(&item.body), Some(item)),
        Found::Node(text, 0) => (Some(text), None),
        _ => (None, None),
    };
    let Some(text) = text else {
        return Ok(walk(root, pointer, 0, item, None, f));
    };
    // The longest remembered prefix that this pointer shares, ending at a token boundary.
    let common = pointer
        .bytes()
        .zip(cursor.path.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let at_boundary = |len: usize| len == pointer.len() || pointer.as_bytes()[len] == b'/';
    let keep = cursor
        .stops
        .iter()
        .take_while(|(len, _)| *len <= common && at_boundary(*len))
        .count();
    cursor.stops.truncate(keep);
    cursor.path.clear();
    cursor.path.push_str(pointer);
    let (start, resolved) = match cursor.stops.last() {
        Some(&(len, node)) => (Found::Node(text, node), len),
        None => (root, 0),
    };
    let stops = Some((text, &mut cursor.stops));
    Ok(walk(start, pointer, resolved, item, stops, f))
}

fn unescape(token: &str) -> Cow<'_, str> {
    Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
}

/// The first token of `path` (a pointer without its leading `/`), whether it holds a `~`
/// escape, and the rest of the path after its `/`. One pass over bytes: pointers are short,
/// and every rule looks up several per item.
fn next_token(path: &str) -> (&str, bool, Option<&str>) {
    let bytes = path.as_bytes();
    let mut tilde = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'/' {
            return (&path[..i], tilde, Some(&path[i + 1..]));
        }
        tilde |= b == b'~';
    }
    (path, tilde, None)
}

/// Follows `pointer` from byte `resolved` (a token boundary, where `current` was found).
/// `item` is the item whose body strings' JSON is parsed once; each value reached in the
/// cursor's text is remembered in `stops`.
fn walk<R>(
    mut current: Found<'_>,
    pointer: &str,
    resolved: usize,
    item: Option<&ItemDocument>,
    mut stops: Option<(&JsonText, &mut Vec<(usize, usize)>)>,
    f: impl FnOnce(Option<Found<'_>>) -> R,
) -> R {
    let mut remaining = (resolved < pointer.len()).then(|| &pointer[resolved + 1..]);
    while let Some(path) = remaining {
        let (token, tilde, rest) = next_token(path);
        if current.kind() == Kind::String {
            // A string with tokens left: read inside the JSON it holds.
            let inner = match (current, item) {
                (Found::Node(text, at), Some(item)) if std::ptr::eq(text, &item.body) => {
                    item.embedded(at)
                }
                _ => JsonText::parse_embedded(&current.as_str().unwrap_or_default()).map(Arc::new),
            };
            let from = pointer.len() - path.len() - 1;
            return match inner {
                Some(inner) => walk(inner.root(), pointer, from, None, None, f),
                None => f(None),
            };
        }
        let next = if tilde {
            current.member(&unescape(token))
        } else {
            current.member(token)
        };
        match next {
            Some(next) => current = next,
            None => return f(None),
        }
        if let (Some((text, stops)), Found::Node(found_in, at)) = (&mut stops, current)
            && std::ptr::eq(*text, found_in)
        {
            let end = pointer.len() - rest.map_or(0, |r| r.len() + 1);
            stops.push((end, at));
        }
        remaining = rest;
    }
    f(Some(current))
}

/// The content fields `show` always prints, and what it prints when the item has none.
const CONTENT_DEFAULTS: [(&str, Kind); 4] = [
    ("configuration", Kind::Null),
    ("relationships", Kind::Array),
    ("supplementaryConfiguration", Kind::Object),
    ("tags", Kind::Object),
];

pub use crate::model::{Field, Fields};

/// A configuration item as rules read it: the document `conform show` prints.
#[derive(Debug)]
pub struct ItemDocument {
    /// The stored body: the content fields, in canonical JSON (one object).
    body: JsonText,
    fields: Fields,
    /// Every root key, sorted; built when a rule first lists them.
    root_keys: OnceLock<Vec<String>>,
    /// The whole document as compact JSON; built when a rule first asks for it.
    raw: OnceLock<Vec<u8>>,
    /// JSON held in strings of the body, by string node, parsed when first read into.
    embedded: Mutex<Vec<(usize, Option<Arc<JsonText>>)>>,
}

impl ItemDocument {
    /// Indexes a stored body (the content fields, one JSON object).
    pub fn parse_body(body: Vec<u8>) -> Result<JsonText, Malformed> {
        let mut body = JsonText::parse(body)?;
        if body.nodes[0].kind != Kind::Object {
            return Err(Malformed(0));
        }
        // Ingest wrote it in canonical form.
        body.keys = KeyOrder::Sorted;
        Ok(body)
    }

    /// An item read from the store (or by `conform check`), its body indexed once. A body that
    /// does not index is a corrupt store: ingest wrote it canonical.
    pub fn from_stored(item: StoredItem) -> Result<ItemDocument, StoreError> {
        let (_, fields, body) = item.into_parts();
        let body = ItemDocument::parse_body(body).map_err(|e| {
            let part = |f| fields.get(f).unwrap_or_default();
            StoreError::Corrupt(format!(
                "body of {}/{} ({}, {}): {e}",
                part(Field::ResourceType),
                part(Field::ResourceId),
                part(Field::AccountId),
                part(Field::Region)
            ))
        })?;
        Ok(ItemDocument::new(body, fields))
    }

    /// An item from its body (from [`ItemDocument::parse_body`]) and its stored fields
    /// ([`Field::STORED`]).
    pub fn new(body: JsonText, fields: Fields) -> ItemDocument {
        debug_assert_eq!(body.nodes[0].kind, Kind::Object);
        ItemDocument {
            body,
            fields,
            root_keys: OnceLock::new(),
            raw: OnceLock::new(),
            embedded: Mutex::new(Vec::new()),
        }
    }

    /// The JSON held in string node `at` of the body, parsed once.
    fn embedded(&self, at: usize) -> Option<Arc<JsonText>> {
        let mut cache = self.embedded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, parsed)) = cache.iter().find(|(node, _)| *node == at) {
            return parsed.clone();
        }
        let parsed = JsonText::parse_embedded(&self.body.string(at)).map(Arc::new);
        cache.push((at, parsed.clone()));
        parsed
    }

    pub fn root(&self) -> Found<'_> {
        Found::Item(self)
    }

    pub fn account_id(&self) -> &str {
        self.fields.get(Field::AccountId).unwrap_or_default()
    }

    pub fn resource_type(&self) -> &str {
        self.fields.get(Field::ResourceType).unwrap_or_default()
    }

    pub fn resource_id(&self) -> &str {
        self.fields.get(Field::ResourceId).unwrap_or_default()
    }

    /// When AWS Config captured it, as stored (RFC 3339), if it says.
    pub fn capture_time(&self) -> Option<&str> {
        self.fields.get(Field::CaptureTime)
    }

    pub fn region(&self) -> &str {
        self.fields.get(Field::Region).unwrap_or_default()
    }

    fn member(&self, key: &str) -> Option<Found<'_>> {
        if let Some(field) = Field::STORED.into_iter().find(|f| f.key() == key) {
            return self.fields.get(field).map(Found::Field);
        }
        if let Some(at) = self.body.child(0, key) {
            return Some(Found::Node(&self.body, at));
        }
        CONTENT_DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| Found::Default(*kind))
    }

    fn root_keys(&self) -> &[String] {
        self.root_keys.get_or_init(|| {
            let mut keys: Vec<String> = self
                .body
                .keys(0)
                .into_iter()
                .map(Cow::into_owned)
                .filter(|k| !Field::STORED.iter().any(|f| f.key() == k))
                .collect();
            for field in Field::STORED {
                if self.fields.get(field).is_some() {
                    keys.push(field.key().to_string());
                }
            }
            for (key, _) in CONTENT_DEFAULTS {
                if !keys.iter().any(|k| k == key) {
                    keys.push(key.to_string());
                }
            }
            keys.sort();
            keys
        })
    }

    /// The whole document as compact JSON, keys sorted: what ABI v1's `raw` returns.
    pub fn raw(&self) -> &[u8] {
        self.raw.get_or_init(|| {
            let mut out = Vec::with_capacity(self.body.text.len() + 512);
            out.push(b'{');
            for (i, key) in self.root_keys().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, key).expect("writing to a Vec");
                out.push(b':');
                match self.member(key) {
                    Some(Found::Node(text, at)) => out.extend_from_slice(text.raw(&text.nodes[at])),
                    Some(Found::Field(value)) => {
                        serde_json::to_writer(&mut out, value).expect("writing to a Vec");
                    }
                    Some(Found::Default(Kind::Object)) => out.extend_from_slice(b"{}"),
                    Some(Found::Default(Kind::Array)) => out.extend_from_slice(b"[]"),
                    _ => out.extend_from_slice(b"null"),
                }
            }
            out.push(b'}');
            out
        })
    }
}

/// Appends a node; it is followed by the next one until it is known to hold more.
/// (Inlined, as `index_key` is: they run for every value and key, and as calls they cost a
/// fifth of indexing.)
#[inline(always)]
fn push_node(nodes: &mut Vec<Node>, kind: Kind, escaped: bool, start: usize, end: usize) {
    let next = nodes.len() as u32 + 1;
    nodes.push(Node {
        kind,
        escaped,
        start: start as u32,
        end: end as u32,
        len: 0,
        next,
    });
}

/// Reads `"key":` at `pos` into a node; returns where the member's value starts.
#[inline(always)]
fn index_key(text: &[u8], nodes: &mut Vec<Node>, pos: usize) -> Result<usize, Malformed> {
    use crate::json::skip_space;
    if text.get(pos) != Some(&b'"') {
        return Err(Malformed(pos));
    }
    let (end, escaped) = string_end(text, pos)?;
    push_node(nodes, Kind::String, escaped, pos, end);
    let colon = skip_space(text, end);
    if text.get(colon) != Some(&b':') {
        return Err(Malformed(colon));
    }
    Ok(skip_space(text, colon + 1))
}

/// Indexes one JSON value; iterative, so deep nesting cannot overflow the stack.
fn index(text: &[u8]) -> Result<Vec<Node>, Malformed> {
    use crate::json::skip_space;
    let mut nodes: Vec<Node> = Vec::with_capacity(text.len() / 12 + 4);
    // Open containers, innermost last.
    let mut open: Vec<u32> = Vec::new();
    let mut pos = skip_space(text, 0);
    loop {
        // A value starts at `pos`.
        let start = pos;
        let Some(&first) = text.get(pos) else {
            return Err(Malformed(pos));
        };
        match first {
            b'{' | b'[' => {
                let (kind, close) = if first == b'{' {
                    (Kind::Object, b'}')
                } else {
                    (Kind::Array, b']')
                };
                let at = nodes.len() as u32;
                push_node(&mut nodes, kind, false, start, start);
                pos = skip_space(text, pos + 1);
                if text.get(pos) == Some(&close) {
                    pos += 1;
                    let node = &mut nodes[at as usize];
                    node.end = pos as u32;
                } else {
                    open.push(at);
                    nodes[at as usize].len = 1;
                    if kind == Kind::Object {
                        pos = index_key(text, &mut nodes, pos)?;
                    }
                    continue;
                }
            }
            b'"' => {
                let (end, escaped) = string_end(text, pos)?;
                push_node(&mut nodes, Kind::String, escaped, start, end);
                pos = end;
            }
            b't' | b'f' | b'n' => {
                let (word, kind): (&[u8], _) = match first {
                    b't' => (b"true", Kind::Bool),
                    b'f' => (b"false", Kind::Bool),
                    _ => (b"null", Kind::Null),
                };
                if !text[pos..].starts_with(word) {
                    return Err(Malformed(pos));
                }
                pos += word.len();
                push_node(&mut nodes, kind, false, start, pos);
            }
            b'-' | b'0'..=b'9' => {
                pos = crate::json::number_end(text, pos).map_err(|e| Malformed(e.0))?;
                push_node(&mut nodes, Kind::Number, false, start, pos);
            }
            _ => return Err(Malformed(pos)),
        }
        // After a value: close finished containers, or go on to the next member.
        loop {
            pos = skip_space(text, pos);
            let Some(&container) = open.last() else {
                return if pos == text.len() {
                    Ok(nodes)
                } else {
                    Err(Malformed(pos))
                };
            };
            let kind = nodes[container as usize].kind;
            match (text.get(pos), kind) {
                (Some(b','), _) => {
                    pos = skip_space(text, pos + 1);
                    nodes[container as usize].len += 1;
                    if kind == Kind::Object {
                        pos = index_key(text, &mut nodes, pos)?;
                    }
                    break;
                }
                (Some(b'}'), Kind::Object) | (Some(b']'), Kind::Array) => {
                    pos += 1;
                    open.pop();
                    let next = nodes.len() as u32;
                    let node = &mut nodes[container as usize];
                    node.end = pos as u32;
                    node.next = next;
                }
                _ => return Err(Malformed(pos)),
            }
        }
    }
}

/// The end of the string at `pos` and whether it has escapes, by the strict scanner.
#[inline(always)]
fn string_end(text: &[u8], pos: usize) -> Result<(usize, bool), Malformed> {
    crate::json::string_end(text, pos).map_err(|_| Malformed(pos))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::canonical::to_canonical_string;

    /// The document `show` prints for a body and fields: what rule authors' native tests read.
    fn as_shown(body: &Value, fields: &[Option<String>; 9]) -> Value {
        let mut map = body.as_object().cloned().unwrap_or_default();
        for (field, value) in Field::STORED.iter().zip(fields) {
            if let Some(value) = value {
                map.insert(field.key().to_string(), Value::String(value.clone()));
            }
        }
        for (key, default) in [
            ("tags", json!({})),
            ("relationships", json!([])),
            ("configuration", Value::Null),
            ("supplementaryConfiguration", json!({})),
        ] {
            map.entry(key).or_insert(default);
        }
        Value::Object(map)
    }

    /// Every pointer to a value of `value`, plus a missing member and element under each.
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        out.push(format!("{at}/missing"));
        out.push(format!("{at}/7"));
        match value {
            Value::Object(map) => {
                for (key, member) in map {
                    let token = key.replace('~', "~0").replace('/', "~1");
                    pointers(member, format!("{at}/{token}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    pointers(item, format!("{at}/{i}"), out);
                }
            }
            Value::String(text) => {
                if let Ok(inner) = serde_json::from_str::<Value>(text) {
                    pointers(&inner, at, out);
                }
            }
            _ => {}
        }
    }

    /// Checks every ABI read of every pointer against `conform_sdk::json_pointer`.
    fn agree(body: Value, fields: [Option<String>; 9]) {
        let canonical = to_canonical_string(&body);
        let stored: Value = serde_json::from_str(&canonical).unwrap();
        let expected = as_shown(&stored, &fields);
        let mut packed = Fields::default();
        for (field, value) in Field::STORED.into_iter().zip(&fields) {
            if let Some(value) = value {
                packed.set(field, value);
            }
        }
        let item = ItemDocument::new(
            ItemDocument::parse_body(canonical.into_bytes()).unwrap(),
            packed,
        );
        assert_eq!(item.raw(), expected.to_string().as_bytes());
        let mut all = Vec::new();
        pointers(&expected, String::new(), &mut all);
        let mut forward = Cursor::default();
        let mut backward = Cursor::default();
        let mut previous = String::new();
        for pointer in all.iter().rev() {
            let kind =
                |v: Option<Found<'_>>| v.map(|v| (v.kind(), v.as_str().map(Cow::into_owned)));
            assert_eq!(
                with_pointer_cached(item.root(), pointer, &mut backward, kind).unwrap(),
                with_pointer(item.root(), pointer, kind).unwrap(),
                "pointer {pointer:?}, looked up backwards"
            );
        }
        for pointer in &all {
            let want = conform_sdk::json_pointer::with_pointer(&expected, pointer, |v| {
                v.map(|v| {
                    let keys: Vec<String> = v
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    let len = v
                        .as_array()
                        .map(Vec::len)
                        .or(v.as_object().map(|m| m.len()));
                    (
                        conform_sdk::json_pointer::kind_code(Some(v)),
                        v.as_bool(),
                        v.as_f64(),
                        v.as_str().map(str::to_owned),
                        len,
                        keys,
                    )
                })
            })
            .unwrap();
            let read = |v: Option<Found<'_>>| {
                v.map(|v| {
                    let keys: Vec<String> = (0..v.length().unwrap_or(0))
                        .map_while(|i| v.key_at(i).map(Cow::into_owned))
                        .collect();
                    (
                        v.kind() as i32,
                        v.as_bool(),
                        v.as_f64(),
                        v.as_str().map(Cow::into_owned),
                        v.length(),
                        keys,
                    )
                })
            };
            let got = with_pointer(item.root(), pointer, read).unwrap();
            // Lookups that resume from the previous one, in either order, find the same.
            let cached = with_pointer_cached(item.root(), pointer, &mut forward, read).unwrap();
            assert_eq!(cached, got, "pointer {pointer:?} after {previous:?}");
            previous = pointer.clone();
            assert_eq!(got, want, "pointer {pointer:?}");
        }
    }

    fn fields(resource_type: &str, id: &str) -> [Option<String>; 9] {
        [
            Some("123456789012".into()),
            Some("eu-west-1".into()),
            Some("2026-11-01T00:00:00.000Z".into()),
            None,
            Some("OK".into()),
            Some("17".into()),
            Some(id.into()),
            Some(resource_type.into()),
            Some("1.3".into()),
        ]
    }

    #[test]
    fn lookups_agree_with_the_sdk_on_every_pointer() {
        let acl = json!({"grantList": [{"grantee": "AllUsers", "permission": "Read"}], "owner": {"id": "x"}})
            .to_string();
        agree(
            json!({
                "arn": "arn:aws:s3:::b",
                "configuration": {
                    "name": "b", "size": 8.0, "ratio": -1.5e-3, "big": 18446744073709551615u64,
                    "flags": [true, false, null], "empty": {}, "none": [],
                    "nested": [[1, [2, {"deep": "x"}]], {"k": "v"}],
                    "escaped \"key\"\\": "tab\there \u{e9} \u{1F600} \"quoted\"",
                    "a/b": {"~": 1, "~1": 2}, "é": "accent sorts after ASCII", "Z": 0
                },
                "supplementaryConfiguration": {
                    "AccessControlList": acl,
                    "NotJson": "{oops",
                    "Lenient": "[01, 1.2.3]",
                    // As AWS writes it: not sorted, spaced, and here with a duplicate key.
                    "Policy": "{ \"b\": 1, \"a\": [ 1 , {\"z\": null, \"y\": \"\\u00e9\"} ], \"b\": 3 }"
                },
                "tags": {"env": "prod", "team": "x"}
            }),
            fields("AWS::S3::Bucket", "b"),
        );
        // No content fields at all: `show` fills in their defaults.
        agree(json!({}), fields("AWS::IAM::User", "u"));
    }

    #[test]
    fn parameters_read_as_documents() {
        let params = json!({"blockedPort1": 20, "kmsId": "", "list": ["a", "b"]});
        let text = JsonText::from_value(&params);
        let get = |p: &str| with_pointer(text.root(), p, |v| v.map(|v| (v.kind(), v.as_f64())));
        assert_eq!(
            get("/blockedPort1").unwrap(),
            Some((Kind::Number, Some(20.0)))
        );
        assert_eq!(get("/list/1").unwrap().map(|v| v.0), Some(Kind::String));
        assert_eq!(get("/list/2").unwrap(), None);
        assert!(get("no-slash").is_err());
        assert_eq!(text.text(), params.to_string().as_bytes());
    }

    #[test]
    fn malformed_text_is_refused_not_misread() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "\"open",
            "tru",
            "[1 2]",
            "{} {}",
            "]",
            "{\"a\":[}",
            "nul",
            "[\"\\\"]",
            "01",
            "[1.]",
            "[-]",
            "[1e]",
            "[\"tab\there\"]",
            "[\"\\q\"]",
            "[\"\\u12g4\"]",
            "truex",
        ] {
            assert!(
                JsonText::parse(bad.as_bytes().to_vec()).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(JsonText::parse(vec![b'"', 0xff, b'"']).is_err());
        assert!(ItemDocument::parse_body(b"[1]".to_vec()).is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(JsonText::parse(deep.into_bytes()).is_ok());
    }
}
