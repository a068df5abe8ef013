//! Canonical JSON and content hashes.
//!
//! A resource gets a new version only when its content changes, so two captures of the same
//! content must hash the same even if AWS wrote their keys in another order or with other
//! whitespace. The canonical form is compact JSON with every object's keys sorted (by their
//! escaped bytes), duplicate keys resolved to the last one as JSON parsers do, and integral
//! floats written as integers (`1.0` and `1` are the same number to every rule).
//!
//! It is written straight from the parser's events into a byte buffer, without building a
//! `serde_json::Value`: ingest canonicalises every new item, and a tree per item would cost
//! more than the rest of ingest together.

use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::Xxh3;

/// 128-bit XXH3 of a canonical form. Fast enough to hash every item of every ingest; it detects
/// change, it is not a signature (see ARCHITECTURE.md, "Hashes").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub u128);

impl ContentHash {
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<ContentHash> {
        Some(ContentHash(u128::from_be_bytes(bytes.try_into().ok()?)))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A 128-bit XXH3 of text parts, each ended by a NUL (which no identity part holds): keys for
/// in-memory maps of identities (a resource, a rule and resource) that should not own a string
/// per entry.
pub fn identity_hash<P: AsRef<[u8]>>(parts: &[P]) -> u128 {
    // One call on the parts laid end to end when they fit a small buffer (an identity always
    // does); XXH3 of a concatenation is the same however it is fed.
    let mut buffer = [0u8; 256];
    let mut len = 0;
    for part in parts {
        let part = part.as_ref();
        let end = len + part.len() + 1;
        if end > buffer.len() {
            let mut h = Xxh3::new();
            for part in parts {
                h.update(part.as_ref());
                h.update(&[0]);
            }
            return h.digest128();
        }
        buffer[len..end - 1].copy_from_slice(part);
        len = end;
    }
    xxhash_rust::xxh3::xxh3_128(&buffer[..len])
}

/// A hasher for content made of several labelled parts.
///
/// Each part is hashed as its label, a presence byte, its length and its bytes, one after the
/// other: the hash is XXH3-128 of that concatenation. The parts are gathered in one buffer and
/// hashed in one call at the end: feeding XXH3's streaming state part by part (and setting up
/// and copying that state, half a kilobyte, per item) cost three times the hashing itself.
/// XXH3 of a concatenation does not depend on how it is fed, so stored hashes stay valid.
#[derive(Clone)]
pub struct ContentHasher {
    buffer: Vec<u8>,
}

impl fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContentHasher")
    }
}

impl ContentHasher {
    pub fn new() -> ContentHasher {
        ContentHasher {
            buffer: Vec::with_capacity(2048),
        }
    }

    /// Feeds one labelled part; `None` (absent) and an empty part hash differently.
    pub fn part(&mut self, label: u8, bytes: Option<&[u8]>) {
        match bytes {
            None => self.buffer.extend_from_slice(&[label, 0]),
            Some(b) => {
                self.buffer.extend_from_slice(&[label, 1]);
                self.buffer
                    .extend_from_slice(&(b.len() as u64).to_le_bytes());
                self.buffer.extend_from_slice(b);
            }
        }
    }

    pub fn finish(&self) -> ContentHash {
        ContentHash(xxhash_rust::xxh3::xxh3_128(&self.buffer))
    }
}

impl Default for ContentHasher {
    fn default() -> Self {
        ContentHasher::new()
    }
}

/// A body written straight after the parts hashed before it, laid out as [`ContentHasher`]
/// lays out its parts, so that the hash of those parts and the body needs no copy of the body
/// (a kilobyte per new item, copied only to be hashed).
#[derive(Debug, Default)]
pub struct HashedBody {
    bytes: Vec<u8>,
    /// Where the body starts in `bytes`.
    start: usize,
}

impl HashedBody {
    pub fn new() -> HashedBody {
        HashedBody {
            bytes: Vec::with_capacity(4096),
            start: 0,
        }
    }

    /// Starts over: lays out `parts` (as [`ContentHasher::part`] would, all present) and the
    /// head of the body's part, labelled `label`, and returns the buffer to append the body to.
    pub fn begin(&mut self, parts: &[(u8, &[u8])], label: u8) -> &mut Vec<u8> {
        let bytes = &mut self.bytes;
        bytes.clear();
        for (part, content) in parts {
            bytes.extend_from_slice(&[*part, 1]);
            bytes.extend_from_slice(&(content.len() as u64).to_le_bytes());
            bytes.extend_from_slice(content);
        }
        bytes.extend_from_slice(&[label, 1]);
        bytes.extend_from_slice(&0u64.to_le_bytes()); // the body's length, once known
        self.start = bytes.len();
        bytes
    }

    /// Ends the body appended since [`HashedBody::begin`], and hashes the parts and it.
    pub fn finish(&mut self) -> ContentHash {
        let len = (self.bytes.len() - self.start) as u64;
        self.bytes[self.start - 8..self.start].copy_from_slice(&len.to_le_bytes());
        ContentHash(xxhash_rust::xxh3::xxh3_128(&self.bytes))
    }

    /// The body written.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

/// Appends the canonical form of the JSON text `json` to `out`.
///
/// `scratch` is reused between calls to avoid allocating while objects are reordered.
///
/// The text is read with the strict scanner of [`crate::json`], copying what needs no change
/// (strings without escapes, integers, literals) straight from the input. What it does not
/// handle itself (numbers with a fraction or exponent, escapes) it hands to serde_json, value
/// by value; text that is not JSON is read again by serde_json alone, to word the error.
pub fn write_canonical(
    json: &str,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Result<(), serde_json::Error> {
    let (start, base) = (out.len(), scratch.members.len());
    let bytes = json.as_bytes();
    let written = Scanned {
        text: json,
        out: &mut *out,
        scratch: &mut *scratch,
    }
    .value(crate::json::skip_space(bytes, 0), 0)
    .and_then(|end| (crate::json::skip_space(bytes, end) == bytes.len()).then_some(()));
    if written.is_some() {
        return Ok(());
    }
    out.truncate(start);
    scratch.members.truncate(base);
    if let Some(why) = scratch.refused.take() {
        return Err(serde::de::Error::custom(why));
    }
    write_canonical_serde(json, out, scratch)
}

/// How deep values may nest, as serde_json allows.
const MAX_DEPTH: usize = 127;

/// Writes canonical JSON from text read with the strict scanner; `None` where it cannot.
struct Scanned<'a> {
    text: &'a str,
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
}

impl Scanned<'_> {
    /// Writes the value at `pos`; returns where it ends.
    fn value(&mut self, pos: usize, depth: usize) -> Option<usize> {
        use crate::json::{number_end, skip_space};
        let bytes = self.text.as_bytes();
        match *bytes.get(pos)? {
            b'{' => {
                if depth == MAX_DEPTH {
                    return None;
                }
                let start = self.out.len();
                self.out.push(b'{');
                let base = self.scratch.members.len();
                let mut at = skip_space(bytes, pos + 1);
                if bytes.get(at) == Some(&b'}') {
                    self.out.push(b'}');
                    return Some(at + 1);
                }
                loop {
                    if bytes.get(at) != Some(&b'"') {
                        return None;
                    }
                    let key_start = self.scratch.next_key_start(start, base);
                    at = self.string(at)?;
                    let key_end = self.out.len();
                    at = skip_space(bytes, at);
                    if bytes.get(at) != Some(&b':') {
                        return None;
                    }
                    self.out.push(b':');
                    at = self.value(skip_space(bytes, at + 1), depth + 1)?;
                    self.scratch.members.push(Member {
                        key: (key_start, key_end),
                        span: (key_start, self.out.len()),
                    });
                    at = skip_space(bytes, at);
                    match bytes.get(at)? {
                        b',' => {
                            self.out.push(b',');
                            at = skip_space(bytes, at + 1);
                        }
                        b'}' => break,
                        _ => return None,
                    }
                }
                self.out.push(b'}');
                let duplicate = self.scratch.reorder(self.out, start, base);
                self.scratch.members.truncate(base);
                // serde_json then reads the text again and refuses it, saying where.
                duplicate.is_none().then_some(at + 1)
            }
            b'[' => {
                if depth == MAX_DEPTH {
                    return None;
                }
                self.out.push(b'[');
                let mut at = skip_space(bytes, pos + 1);
                if bytes.get(at) == Some(&b']') {
                    self.out.push(b']');
                    return Some(at + 1);
                }
                loop {
                    at = skip_space(bytes, self.value(at, depth + 1)?);
                    match bytes.get(at)? {
                        b',' => {
                            self.out.push(b',');
                            at = skip_space(bytes, at + 1);
                        }
                        b']' => break,
                        _ => return None,
                    }
                }
                self.out.push(b']');
                Some(at + 1)
            }
            b'"' => self.string(pos),
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, pos).ok()?;
                let token = &self.text[pos..end];
                let digits = token.strip_prefix('-').unwrap_or(token);
                // An integer is kept as written ("-0" is 0). One beyond 64 bits is refused:
                // every reader of the store (rules, drift, JSON Schema) holds integers in 64
                // bits, and would read it as another number.
                if !digits.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    let fits = digits.len() <= 18
                        || token.parse::<i64>().is_ok()
                        || token.parse::<u64>().is_ok();
                    if !fits {
                        self.scratch.refused =
                            Some(format!("the integer {} is beyond 64 bits", excerpt(token)));
                        return None;
                    }
                    if token == "-0" {
                        self.out.push(b'0');
                    } else {
                        self.out.extend_from_slice(token.as_bytes());
                    }
                    return Some(end);
                }
                // A fraction or exponent is a 64-bit float, as for every JSON reader: one it
                // cannot hold (1e999, or 1e-400, which is not 0) is refused, not changed.
                let value: f64 = token.parse().ok()?;
                let nonzero = token
                    .split(['e', 'E'])
                    .next()
                    .is_some_and(|m| m.bytes().any(|b| matches!(b, b'1'..=b'9')));
                if !value.is_finite() || (value == 0.0 && nonzero) {
                    self.scratch.refused = Some(format!(
                        "the number {} is beyond what a 64-bit float holds",
                        excerpt(token)
                    ));
                    return None;
                }
                write_f64(self.out, value);
                Some(end)
            }
            b't' | b'f' | b'n' => {
                let word: &[u8] = match bytes[pos] {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                bytes[pos..].starts_with(word).then(|| {
                    self.out.extend_from_slice(word);
                    pos + word.len()
                })
            }
            _ => None,
        }
    }

    /// Writes the string (or key) at `pos`: as it is when it has no escapes, decoded and
    /// written in serde_json's escaping when it has.
    fn string(&mut self, pos: usize) -> Option<usize> {
        let (end, escaped) = crate::json::string_end(self.text.as_bytes(), pos).ok()?;
        let raw = &self.text[pos..end];
        if escaped {
            let decoded: String = serde_json::from_str(raw).ok()?;
            write_str(self.out, &decoded);
        } else {
            self.out.extend_from_slice(raw.as_bytes());
        }
        Some(end)
    }
}

/// [`write_canonical`] by serde_json alone.
fn write_canonical_serde(
    json: &str,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    Canon {
        out,
        scratch,
        from_text: true,
    }
    .deserialize(&mut de)?;
    de.end()
}

/// Appends the canonical form of an already parsed value.
pub fn write_canonical_value(value: &serde_json::Value, out: &mut Vec<u8>, scratch: &mut Scratch) {
    Canon {
        out,
        scratch,
        from_text: false,
    }
    .deserialize(value)
    .expect("a serde_json::Value always deserializes");
}

/// Canonical JSON text of a value, as a `String`.
pub fn to_canonical_string(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    write_canonical_value(value, &mut out, &mut Scratch::default());
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// Reusable buffers for reordering object members.
#[derive(Debug, Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    members: Vec<Member>,
    /// Why the text read is refused although it is JSON (a number beyond a 64-bit float, which
    /// serde_json would change rather than refuse), once the scanner finds it.
    refused: Option<String>,
}

/// One object member already written to the output: key bytes `key`, whole member `span`.
#[derive(Debug, Clone, Copy)]
struct Member {
    key: (usize, usize),
    span: (usize, usize),
}

struct Canon<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    /// Whether a borrowed string comes straight from JSON text (so it has no escape sequence
    /// and needs none), rather than from a `Value`, whose strings may hold anything.
    from_text: bool,
}

impl<'de> DeserializeSeed<'de> for Canon<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// A string the parser borrowed straight from the input had no escape sequence there, and JSON
/// forbids raw quotes, backslashes and control characters in strings: it needs no escaping,
/// and copying it is what escaping it would produce.
fn write_unescaped_str(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Floats that hold an integer are written as one, so `1.0` and `1` canonicalise alike.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() == 0.0 && v.abs() < EXACT {
        write_number(out, v as i64);
    } else {
        write_number(out, v);
    }
}

fn write_number(out: &mut Vec<u8>, v: impl Serialize) {
    serde_json::to_writer(&mut *out, &v).expect("writing to a Vec cannot fail");
}

impl<'de> Visitor<'de> for Canon<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        write_number(self.out, v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        write_number(self.out, v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        write_f64(self.out, v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_str(self.out, v);
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        if self.from_text {
            write_unescaped_str(self.out, v);
        } else {
            write_str(self.out, v);
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let at = self.out.len();
            if !first {
                self.out.push(b',');
            }
            let element = Canon {
                out: &mut *self.out,
                scratch: &mut *self.scratch,
                from_text: self.from_text,
            };
            if seq.next_element_seed(element)?.is_none() {
                self.out.truncate(at);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.out.len();
        self.out.push(b'{');
        // Members are written in input order and remembered on a stack shared by all nesting
        // levels; this level's members are those above `base`.
        let base = self.scratch.members.len();
        while let Some(()) = map.next_key_seed(Key(&mut *self.out, self.from_text))? {
            let key_end = self.out.len();
            let key_start = self.scratch.next_key_start(start, base);
            self.out.push(b':');
            map.next_value_seed(Canon {
                out: &mut *self.out,
                scratch: &mut *self.scratch,
                from_text: self.from_text,
            })?;
            self.scratch.members.push(Member {
                key: (key_start, key_end),
                span: (key_start, self.out.len()),
            });
            self.out.push(b',');
        }
        if self.scratch.members.len() > base {
            self.out.pop(); // trailing comma
        }
        self.out.push(b'}');
        let duplicate = self.scratch.reorder(self.out, start, base);
        self.scratch.members.truncate(base);
        match duplicate {
            Some(key) => Err(de::Error::custom(duplicate_message(&key))),
            None => Ok(()),
        }
    }
}

impl Scratch {
    /// Where the key just written starts: right after the previous member's comma, or the brace.
    fn next_key_start(&self, object_start: usize, base: usize) -> usize {
        match self.members[base..].last() {
            Some(prev) => prev.span.1 + 1,
            None => object_start + 1,
        }
    }

    /// Rewrites the object at `out[start..]` with its members sorted by key. Most objects AWS
    /// writes are unsorted, so this is the common path. Returns a key the object has twice
    /// (its text as written, quotes included), which the caller refuses.
    fn reorder(&mut self, out: &mut Vec<u8>, start: usize, base: usize) -> Option<String> {
        let members = &mut self.members[base..];
        let key_of = |m: &Member| &out[m.key.0..m.key.1];
        let sorted_unique = members.windows(2).all(|w| key_of(&w[0]) < key_of(&w[1]));
        if sorted_unique {
            return None;
        }
        members.sort_by(|a, b| out[a.key.0..a.key.1].cmp(&out[b.key.0..b.key.1]));
        if let Some(pair) = members
            .windows(2)
            .find(|w| out[w[0].key.0..w[0].key.1] == out[w[1].key.0..w[1].key.1])
        {
            return Some(String::from_utf8_lossy(&out[pair[0].key.0..pair[0].key.1]).into_owned());
        }
        let bytes = &mut self.bytes;
        bytes.clear();
        bytes.extend_from_slice(&out[start..]);
        out.truncate(start);
        out.push(b'{');
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&bytes[m.span.0 - start..m.span.1 - start]);
        }
        out.push(b'}');
        None
    }
}

fn duplicate_message(key: &str) -> String {
    format!(
        "an object has the key {} twice; which one counts would be a guess",
        excerpt(key)
    )
}

/// At most 60 characters of input quoted in a message.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Writes an object key, escaped, straight into the output.
struct Key<'a>(&'a mut Vec<u8>, bool);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        write_str(self.0, v);
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        if self.1 {
            write_unescaped_str(self.0, v);
        } else {
            write_str(self.0, v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body hashed in place hashes as the same parts fed to a `ContentHasher`: stored
    /// content hashes stay valid.
    #[test]
    fn a_hashed_body_hashes_as_its_parts_do() {
        let mut body = HashedBody::new();
        for (status, text) in [
            ("OK", ""),
            ("ResourceDeleted", "{}"),
            ("ResourceDiscovered", &"{\"a\":1}".repeat(300)),
        ] {
            let out = body.begin(&[(0xFF, status.as_bytes()), (7, b"x")], 0);
            out.extend_from_slice(text.as_bytes());
            let hash = body.finish();
            assert_eq!(body.body(), text.as_bytes());
            let mut hasher = ContentHasher::new();
            hasher.part(0xFF, Some(status.as_bytes()));
            hasher.part(7, Some(b"x"));
            hasher.part(0, Some(text.as_bytes()));
            assert_eq!(hash, hasher.finish(), "{status}");
        }
    }

    fn canon(json: &str) -> String {
        let mut out = Vec::new();
        write_canonical(json, &mut out, &mut Scratch::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn sorts_keys_at_every_level_and_drops_whitespace() {
        assert_eq!(
            canon(r#"{ "b": {"z": 1, "a": [ {"y":2,"x":1} ]}, "a": null }"#),
            r#"{"a":null,"b":{"a":[{"x":1,"y":2}],"z":1}}"#
        );
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_form() {
        let a = canon(r#"{"size":8,"tags":{"b":"2","a":"1"},"encrypted":true}"#);
        let b = canon(
            "{\n  \"encrypted\": true,\n  \"tags\": {\"a\": \"1\", \"b\": \"2\"},\n  \"size\": 8\n}",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn arrays_keep_their_order() {
        assert_eq!(canon("[3, 1, 2]"), "[3,1,2]");
        assert_ne!(canon("[1,2]"), canon("[2,1]"));
    }

    #[test]
    fn duplicate_keys_are_refused_at_every_level_and_by_both_writers() {
        let mut out = Vec::new();
        for text in [
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"x":{"encrypted":true,"encrypted":false}}"#,
            r#"[{"k":"\u0041","k":1}]"#,
        ] {
            let err = write_canonical(text, &mut out, &mut Scratch::default()).unwrap_err();
            assert!(err.to_string().contains("twice"), "{text}: {err}");
            let err = write_canonical_serde(text, &mut out, &mut Scratch::default()).unwrap_err();
            assert!(err.to_string().contains("twice"), "{text}: {err}");
        }
        // Keys equal only once unescaped are the same key.
        let text = r#"{"A":1,"\u0041":2}"#;
        assert!(write_canonical(text, &mut out, &mut Scratch::default()).is_err());
    }

    #[test]
    fn numbers_are_kept_as_written_or_refused() {
        assert_eq!(
            canon("[18446744073709551615, -9223372036854775808, -0, 1e2, 0.0, 1.5e-300]"),
            "[18446744073709551615,-9223372036854775808,0,100,0,1.5e-300]"
        );
        let mut out = Vec::new();
        for text in ["[1e-400]", "[1e999]", "[-2.5e400]"] {
            let err = write_canonical(text, &mut out, &mut Scratch::default()).unwrap_err();
            assert!(
                err.to_string().contains("beyond what a 64-bit float holds"),
                "{text}: {err}"
            );
        }
        for text in ["[18446744073709551616]", "[-9223372036854775809]"] {
            let err = write_canonical(text, &mut out, &mut Scratch::default()).unwrap_err();
            assert!(err.to_string().contains("beyond 64 bits"), "{text}: {err}");
        }
        assert_eq!(
            canon("[0e-400, 0.000e5]"),
            "[0,0]",
            "zero written small is zero"
        );
    }

    #[test]
    fn integral_floats_are_integers_and_strings_are_escaped() {
        assert_eq!(
            canon(r#"[1.0, -2.50, 1e2, "a\"\u00e9\n"]"#),
            "[1,-2.5,100,\"a\\\"é\\n\"]"
        );
    }

    #[test]
    fn empty_containers() {
        assert_eq!(canon(r#"{"b":{},"a":[]}"#), r#"{"a":[],"b":{}}"#);
    }

    #[test]
    fn value_and_text_forms_agree() {
        // Strings and keys with quotes, backslashes and control characters must come out
        // escaped from a `Value` too (tags and relationships are canonicalised from one).
        let text = r#"{"k":{"y":[1,{"b":true,"a":false}],"x":"s \"q\" \\ \t"},"a\"b":1}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(to_canonical_string(&value), canon(text));
    }

    /// The scanner's canonical form is serde_json's, byte for byte, and it fails where serde
    /// fails, with serde's message.
    fn agrees_with_serde(text: &str) {
        let run = |write: fn(&str, &mut Vec<u8>, &mut Scratch) -> Result<(), serde_json::Error>| {
            let mut out = b"prefix".to_vec();
            let mut scratch = Scratch::default();
            let result = write(text, &mut out, &mut scratch).map_err(|e| e.to_string());
            (result, if out.len() > 6 { out } else { Vec::new() })
        };
        let scanned = run(write_canonical);
        let parsed = run(write_canonical_serde);
        assert_eq!(scanned.0, parsed.0, "{text}");
        if parsed.0.is_ok() {
            assert_eq!(
                String::from_utf8_lossy(&scanned.1),
                String::from_utf8_lossy(&parsed.1),
                "{text}"
            );
        }
    }

    #[test]
    fn scanned_form_is_serdes_form() {
        let cases = [
            r#"{"b":1,"a":{"d":[true,false,null],"c":"x"},"b":2}"#,
            r#"{"k\u0041":"v\n\u00e9\ud83d\ude00","kA":1,"\"q":"\/"}"#,
            r#"[0,-0,1,-1,123456789012345678,1234567890123456789,-9223372036854775808,18446744073709551615]"#,
            r#"[1.0,1.5,-2.50,1e2,1E-2,0.1,3.0e0,-0.0,123456789.123456789]"#,
            r#"  { "spaced" : [ 1 , 2 ] , "empty" : { } , "none" : [ ] }  "#,
            r#""just a string""#,
            r#"{"a":{"b":{"c":{"d":{"e":{}}}}}}"#,
            r#"{"lone":"\ud800"}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":"tab	in"}"#,
            "",
        ];
        for case in cases {
            agrees_with_serde(case);
        }
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        for n in [126, 127, 128, 129] {
            agrees_with_serde(&deep(n));
        }
    }

    #[test]
    fn scanned_form_is_serdes_form_on_damaged_text() {
        let valid = r#"{"z":{"size":8,"encrypted":true,"kmsKeyId":null,"list":[{"b":1,"a":2},{"a":"\u00e9"}],"ratio":-1.5e-3,"n":"v \"x\""},"a":{"B":"1","A":"2"},"m":[]}"#;
        let alphabet = b"{}[]:,\"\\ \n-+.0123456789eEtrufalsnAz";
        for text in crate::json::damage::copies(valid, alphabet, 2, 3, 20_000) {
            agrees_with_serde(&text);
        }
    }

    #[test]
    fn identity_hash_is_xxh3_of_the_parts_each_ended_by_nul() {
        let long = "x".repeat(300);
        for parts in [&["a", "b", "c", "d"][..], &["", ""], &[&long, "y"]] {
            let mut reference = Xxh3::new();
            for part in parts {
                reference.update(part.as_bytes());
                reference.update(&[0]);
            }
            assert_eq!(identity_hash(parts), reference.digest128(), "{parts:?}");
        }
        assert_ne!(identity_hash(&["ab", "c"]), identity_hash(&["a", "bc"]));
    }

    #[test]
    fn hasher_is_xxh3_of_the_parts_concatenated() {
        // Stored hashes were made by feeding each piece to XXH3 in turn; however the hasher
        // gathers them now, the digest must be the same.
        let big = vec![b'x'; 700];
        let parts: [(u8, Option<&[u8]>); 5] = [
            (0xff, Some(b"OK")),
            (1, None),
            (2, Some(b"")),
            (3, Some(&big)),
            (4, Some(b"{\"a\":1}")),
        ];
        let mut reference = Xxh3::new();
        let mut hasher = ContentHasher::new();
        for (label, bytes) in parts {
            match bytes {
                None => reference.update(&[label, 0]),
                Some(b) => {
                    reference.update(&[label, 1]);
                    reference.update(&(b.len() as u64).to_le_bytes());
                    reference.update(b);
                }
            }
            hasher.part(label, bytes);
        }
        assert_eq!(hasher.finish(), ContentHash(reference.digest128()));
    }

    #[test]
    fn hasher_separates_absent_from_empty_and_labels() {
        let hash = |parts: &[(u8, Option<&[u8]>)]| {
            let mut h = ContentHasher::new();
            for (l, b) in parts {
                h.part(*l, *b);
            }
            h.finish()
        };
        assert_ne!(hash(&[(1, None)]), hash(&[(1, Some(b""))]));
        assert_ne!(hash(&[(1, Some(b"x"))]), hash(&[(2, Some(b"x"))]));
        assert_ne!(
            hash(&[(1, Some(b"ab")), (2, Some(b"c"))]),
            hash(&[(1, Some(b"a")), (2, Some(b"bc"))])
        );
    }
}
