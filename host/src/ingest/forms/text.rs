//! Reading a document held whole in memory (a mapped file) with the strict scanner of
//! [`crate::json`]: items are found and split into their fields in one pass over the bytes,
//! each field a slice of the file.
//!
//! It reads exactly the forms the serde reader does, into the same [`TopObject`] and
//! [`RawItem`], and hands them to the same code to decide the form. Where the text is not
//! JSON, or a value has a type the form does not allow, it stops and lets the serde reader read
//! the text again, delivering nothing, for the error: so every message about bad input is worded
//! by one parser, whichever read the good input.

use serde_json::value::RawValue;

use super::{
    Document, DocumentError, Field, Form, ItemEvent, RawItem, Sink, Top, TopKey, TopObject,
    read_top,
};
use crate::json::{self, NotJson};

/// Why the fast reader stopped.
enum Stop {
    /// The text is not JSON, from this byte on.
    NotJson(usize),
    /// Valid JSON, but a value of a type the form does not allow: serde words that.
    WrongType(usize),
    /// Decided: the form is not recognised, or the like.
    Document(DocumentError),
}

impl From<NotJson> for Stop {
    fn from(e: NotJson) -> Stop {
        Stop::NotJson(e.0)
    }
}

/// Reads `text`, which holds one document (or, with `strict_end`, newline-delimited items).
pub(super) fn read(
    text: &str,
    sink: &mut Sink<'_>,
    strict_end: bool,
) -> Result<Document, DocumentError> {
    match read_document(text, sink, strict_end) {
        Ok(doc) => Ok(doc),
        Err(Stop::Document(e)) => Err(e),
        Err(Stop::WrongType(at)) if let Some(kind) = lone_scalar(text, at) => {
            Err(DocumentError::Unrecognised(format!(
                "the file holds a lone JSON {kind}, not configuration items"
            )))
        }
        Err(Stop::NotJson(at) | Stop::WrongType(at)) => Err(serde_verdict(text, strict_end, at)),
    }
}

/// The kind of the valid scalar at `at` when it is all the document holds (its first value):
/// worded here, because serde's wording quotes the value whole (a 1 GB string in a message).
fn lone_scalar(text: &str, at: usize) -> Option<&'static str> {
    let bytes = text.as_bytes();
    if at != json::skip_space(bytes, 0) {
        return None;
    }
    let kind = match bytes.get(at)? {
        b'"' => "string",
        b't' | b'f' => "boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "number",
        _ => return None,
    };
    let end = json::value_end(bytes, at).ok()?;
    // A short value is left to serde, which words it as the stream reader does.
    (end - at > 4096 && json::skip_space(bytes, end) == bytes.len()).then_some(kind)
}

/// What the serde reader says of `text`, which the scanner found wrong at byte `at`.
fn serde_verdict(text: &str, strict_end: bool, at: usize) -> DocumentError {
    let dry_run = read_top::<_, &RawValue>(
        serde_json::Deserializer::from_str(text),
        &mut |_: ItemEvent<'_>| Ok(()),
        strict_end,
    );
    match dry_run {
        Err(e) => e,
        // The two parsers disagree (neither should): say where the scanner stopped.
        Ok(_) => {
            let (line, column) = crate::ingest::source::line_column(&text.as_bytes()[..at]);
            DocumentError::Invalid { line, column }
        }
    }
}

fn read_document(text: &str, sink: &mut Sink<'_>, strict_end: bool) -> Result<Document, Stop> {
    let bytes = text.as_bytes();
    let start = json::skip_space(bytes, 0);
    let (top, mut pos) = match bytes.get(start) {
        Some(b'[') => {
            let (items, end) = items(text, start, sink)?;
            (Top::Array(items), end)
        }
        Some(b'{') => {
            let (object, end) = top_object(text, start, sink)?;
            (Top::Object(Box::new(object)), end)
        }
        // Not a document conform reads (or not JSON): serde says which.
        _ => return Err(Stop::WrongType(start)),
    };
    let mut doc = match top {
        Top::Array(items) => Document {
            form: Form::NativeArray,
            items,
            wrappers: vec![],
        },
        Top::Object(object) => object.into_document(sink).map_err(Stop::Document)?,
    };
    if !strict_end {
        return Ok(doc);
    }
    pos = json::skip_space(bytes, pos);
    if pos == bytes.len() {
        return Ok(doc);
    }
    if doc.form != Form::NativeLines {
        return Err(Stop::Document(DocumentError::Unrecognised(format!(
            "more JSON follows the {}; only single items may be newline-delimited",
            doc.form.name()
        ))));
    }
    while pos < bytes.len() {
        let (item, end) = item(text, pos, true)?;
        // As serde's stream of values: a value that does not end itself (a number, a literal)
        // must be followed by a space, a bracket, a quote or a separator.
        let self_delimited = matches!(bytes[pos], b'{' | b'[' | b'"');
        let ends_well = matches!(
            bytes.get(end),
            None | Some(
                b' ' | b'\n' | b'\t' | b'\r' | b'"' | b'[' | b']' | b'{' | b'}' | b',' | b':'
            )
        );
        if !self_delimited && !ends_well {
            return Err(Stop::NotJson(end));
        }
        hand_on(text, &item, doc.items, true, sink)?;
        doc.items += 1;
        pos = json::skip_space(bytes, end);
    }
    Ok(doc)
}

/// Reads the string at `pos` (known to be one): its text, decoded if it has escapes, and its end.
fn string(text: &str, pos: usize) -> Result<(std::borrow::Cow<'_, str>, usize), Stop> {
    let (end, escaped) = json::string_end(text.as_bytes(), pos)?;
    if !escaped {
        return Ok((text[pos + 1..end - 1].into(), end));
    }
    // Escapes checked for form may still be a lone surrogate, which is not text.
    let decoded: String = serde_json::from_str(&text[pos..end]).map_err(|_| Stop::NotJson(pos))?;
    Ok((decoded.into(), end))
}

/// Calls `each` with every member of the object at `pos` (`{`) as its key and the position
/// of its value; `each` returns where the value ends. Returns where the object ends.
///
/// The same walk as [`json::members`], written out here because this one is the hottest loop
/// of ingest: it decodes keys as it reads them and says where it stopped. Built on
/// `json::members` instead, ingest ran 3% more instructions.
fn members(
    text: &str,
    pos: usize,
    mut each: impl FnMut(&str, usize) -> Result<usize, Stop>,
) -> Result<usize, Stop> {
    let bytes = text.as_bytes();
    let mut pos = json::skip_space(bytes, pos + 1);
    if bytes.get(pos) == Some(&b'}') {
        return Ok(pos + 1);
    }
    loop {
        if bytes.get(pos) != Some(&b'"') {
            return Err(Stop::NotJson(pos.min(bytes.len())));
        }
        let (key, end) = string(text, pos)?;
        pos = json::skip_space(bytes, end);
        if bytes.get(pos) != Some(&b':') {
            return Err(Stop::NotJson(pos.min(bytes.len())));
        }
        pos = json::skip_space(bytes, pos + 1);
        pos = json::skip_space(bytes, each(&key, pos)?);
        match bytes.get(pos) {
            Some(b',') => pos = json::skip_space(bytes, pos + 1),
            Some(b'}') => return Ok(pos + 1),
            _ => return Err(Stop::NotJson(pos.min(bytes.len()))),
        }
    }
}

/// The raw text of the value at `pos`, and its end.
fn raw(text: &str, pos: usize) -> Result<(&str, usize), Stop> {
    let end = json::value_end(text.as_bytes(), pos)?;
    Ok((&text[pos..end], end))
}

/// The item at `pos`, split into its fields (or the kind of value found instead).
///
/// With `defer`, an object in `configuration` or `supplementaryConfiguration` (most of an
/// item's bytes) is only delimited, and its check left to the sink, which skips it when the
/// item's content is what the store already holds (`ItemFields::check_deferred`).
fn item(text: &str, pos: usize, defer: bool) -> Result<(RawItem<&str>, usize), Stop> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'{') {
        let (_, end) = raw(text, pos)?;
        // serde reads a string that stands for an item as text, so a lone surrogate in it
        // stops the file there, as in serde's reader.
        // Likewise a number (serde reads it as a float: beyond every float, it stops).
        match bytes[pos] {
            b'"' => {
                string(text, pos)?;
            }
            b'-' | b'0'..=b'9' if text[pos..end].parse::<f64>().is_ok_and(f64::is_infinite) => {
                return Err(Stop::NotJson(end));
            }
            _ => {}
        }
        return Ok((RawItem::not_an_object(json::kind_in_words(bytes[pos])), end));
    }
    let mut item = RawItem::new();
    let end = members(text, pos, |key, at| {
        let field = Field::for_key(key);
        if let Some(field) = field
            && defer
            && bytes.get(at) == Some(&b'{')
            && matches!(field.0, Field::Configuration | Field::SupplementaryConfiguration)
            // A value that a later key would not replace: every other one is checked here.
            && item.is_unset(field.0)
        {
            let end = json::container_end_unchecked(bytes, at).ok_or(Stop::NotJson(bytes.len()))?;
            item.set_deferred(field, &text[at..end]);
            return Ok(end);
        }
        let (value, end) = raw(text, at)?;
        if let Some(field) = field {
            item.set(field, value);
        }
        Ok(end)
    })?;
    Ok((item, end))
}

/// Hands `item` to the sink; if the sink finds JSON the reader left unchecked broken, the text
/// stops being JSON where it says.
fn hand_on(
    text: &str,
    item: &RawItem<&str>,
    index: usize,
    in_lines: bool,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let verdict = sink(ItemEvent {
        index,
        fields: item.fields(),
        in_lines,
    });
    verdict.map_err(|broken| {
        // Deferred fields are slices of `text`: where this one starts is its distance from
        // the start of `text`.
        let start = item.raw[broken.field as usize]
            .map_or(0, |raw| raw.as_ptr() as usize - text.as_ptr() as usize);
        Stop::NotJson((start + broken.offset).min(text.len()))
    })
}

/// Hands every element of the array at `pos` to the sink as an item; returns how many there
/// were, and where the array ends.
fn items(text: &str, pos: usize, sink: &mut Sink<'_>) -> Result<(usize, usize), Stop> {
    let bytes = text.as_bytes();
    let mut pos = json::skip_space(bytes, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return Ok((0, pos + 1));
    }
    let mut index = 0;
    loop {
        let (item, end) = item(text, pos, true)?;
        hand_on(text, &item, index, false, sink)?;
        index += 1;
        pos = json::skip_space(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos = json::skip_space(bytes, pos + 1),
            Some(b']') => return Ok((index, pos + 1)),
            _ => return Err(Stop::NotJson(pos.min(bytes.len()))),
        }
    }
}

/// A string or null, as `Option<String>` deserialises.
fn optional_string(text: &str, pos: usize) -> Result<(Option<String>, usize), Stop> {
    // `pos` may be the end of the text: a key with nothing after its colon.
    match text.as_bytes().get(pos) {
        Some(b'"') => {
            let (s, end) = string(text, pos)?;
            Ok((Some(s.into_owned()), end))
        }
        Some(b'n') => Ok((None, raw(text, pos)?.1)),
        Some(_) => Err(Stop::WrongType(pos)),
        None => Err(Stop::NotJson(pos)),
    }
}

/// The top-level object at `pos`, streaming the items of `configurationItems` as they come.
fn top_object<'t>(
    text: &'t str,
    pos: usize,
    sink: &mut Sink<'_>,
) -> Result<(TopObject<&'t str>, usize), Stop> {
    let mut top = TopObject::new();
    let end = members(text, pos, |key, at| {
        let Some(key) = TopKey::classify(key) else {
            top.other_keys += 1;
            return Ok(raw(text, at)?.1);
        };
        Ok(match key {
            TopKey::ConfigurationItems => {
                match text.as_bytes().get(at) {
                    Some(b'[') => {}
                    Some(_) => return Err(Stop::WrongType(at)),
                    None => return Err(Stop::NotJson(at)),
                }
                let (count, end) = items(text, at, sink)?;
                top.streamed = Some(count);
                end
            }
            TopKey::ConfigurationItem => {
                let (item, end) = item(text, at, false)?;
                top.item = Some(item);
                end
            }
            TopKey::ConfigSnapshotId => {
                let (id, end) = optional_string(text, at)?;
                top.snapshot_id = id;
                end
            }
            TopKey::MessageType => {
                let (kind, end) = optional_string(text, at)?;
                top.message_type = kind;
                end
            }
            TopKey::Message | TopKey::InvokingEvent | TopKey::S3DeliverySummary => {
                let (value, end) = raw(text, at)?;
                match key {
                    TopKey::Message => top.message = Some(value),
                    TopKey::InvokingEvent => top.invoking_event = Some(value),
                    _ => top.s3_delivery = Some(value),
                }
                end
            }
            TopKey::Item(field) => {
                let (value, end) = raw(text, at)?;
                top.own.set(field, value);
                end
            }
        })
    })?;
    Ok((top, end))
}
