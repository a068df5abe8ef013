//! Strict JSON scanning over bytes, without building values.
//!
//! Ingest reads every byte of every file, and most of what it reads it only has to find the end
//! of: the item it belongs to, the field it belongs to. A general parser (serde's) costs about
//! as much to skip a value as to read one, through layers made for turning text into types.
//! These functions find where a value ends, checking it against RFC 8259 on the way, and
//! nothing else. Where one finds the text is not JSON, it says at which byte; the caller turns
//! that into a message (serde_json words the message, so that every syntax error reads alike).
//!
//! The two SIMD steps (sixteen and sixty-four bytes at a time) are the `unsafe` intrinsics of
//! `audited::sse2`; everything here is safe code over them.

#[cfg(target_arch = "x86_64")]
use crate::audited::sse2::{block_masks, special_bytes_16};

/// Where a text stops being JSON: the byte offset of the first byte that cannot be where it is
/// (the text's length when it ends too soon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson(pub usize);

/// Skips JSON whitespace from `pos`. Compact text (most of what AWS writes) has none, so the
/// first test is the one that decides: every JSON whitespace byte is below `!`.
#[inline(always)]
pub fn skip_space(text: &[u8], mut pos: usize) -> usize {
    if text.get(pos).is_none_or(|&b| b > b' ') {
        return pos;
    }
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(pos) {
        pos += 1;
    }
    pos
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit set in every byte of `word` that is zero, and in no other.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// The high bit set in every byte of `word` (eight bytes of text, first byte lowest) that a
/// string scan must stop at: a quote, a backslash or a control character.
#[inline(always)]
fn special_bytes(word: u64) -> u64 {
    zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
        | zero_bytes(word & (ONES * 0xe0))
}

#[inline(always)]
fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The position of the first quote, backslash or control character at or after `at`.
#[inline(always)]
fn next_special(text: &[u8], mut at: usize) -> Option<usize> {
    // Sixteen bytes at a time past ordinary characters where SSE2 is at hand (every x86-64),
    // eight at a time elsewhere; the last few one at a time.
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = text.get(at..at + 16) {
        let found = special_bytes_16(chunk.try_into().expect("sixteen bytes"));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize);
        }
        at += 16;
    }
    while let Some(chunk) = text.get(at..at + 8) {
        let found = special_bytes(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    text.get(at..)?
        .iter()
        .position(|b| is_special(*b))
        .map(|i| at + i)
}

/// The end (one past the closing quote) of the string whose opening quote is at `pos`, and
/// whether it holds escape sequences. Escapes are checked for form (`\uXXXX` has four hex
/// digits); control characters must be escaped. The text is known to be UTF-8.
#[inline(always)]
pub fn string_end(text: &[u8], pos: usize) -> Result<(usize, bool), NotJson> {
    let mut at = pos + 1;
    let mut escaped = false;
    loop {
        let Some(special) = next_special(text, at) else {
            return Err(NotJson(text.len()));
        };
        match text[special] {
            b'"' => return Ok((special + 1, escaped)),
            b'\\' => {
                escaped = true;
                at = escape_end(text, special)?;
            }
            _ => return Err(NotJson(special)),
        }
    }
}

/// The end of the escape sequence whose backslash is at `pos`.
#[inline]
fn escape_end(text: &[u8], pos: usize) -> Result<usize, NotJson> {
    match text.get(pos + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 2),
        Some(b'u') => {
            for i in pos + 2..pos + 6 {
                match text.get(i) {
                    Some(b) if b.is_ascii_hexdigit() => {}
                    Some(_) => return Err(NotJson(i)),
                    None => return Err(NotJson(text.len())),
                }
            }
            Ok(pos + 6)
        }
        Some(_) => Err(NotJson(pos + 1)),
        None => Err(NotJson(text.len())),
    }
}

/// The end of the number starting at `pos`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[inline]
pub fn number_end(text: &[u8], pos: usize) -> Result<usize, NotJson> {
    let digit = |i: usize| text.get(i).is_some_and(u8::is_ascii_digit);
    let need_digit = |i: usize| {
        if digit(i) {
            Ok(())
        } else {
            Err(NotJson(i.min(text.len())))
        }
    };
    let mut at = pos;
    if text.get(at) == Some(&b'-') {
        at += 1;
    }
    need_digit(at)?;
    if text[at] == b'0' {
        at += 1;
        // A leading zero is the whole integer part: "01" is not a number (serde_json stops
        // at the second digit too).
        if digit(at) {
            return Err(NotJson(at));
        }
    } else {
        while digit(at) {
            at += 1;
        }
    }
    if text.get(at) == Some(&b'.') {
        at += 1;
        need_digit(at)?;
        while digit(at) {
            at += 1;
        }
    }
    if let Some(b'e' | b'E') = text.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = text.get(at) {
            at += 1;
        }
        need_digit(at)?;
        while digit(at) {
            at += 1;
        }
    }
    Ok(at)
}

/// The end of `true`, `false` or `null` at `pos`.
#[inline]
fn literal_end(text: &[u8], pos: usize, word: &[u8]) -> Result<usize, NotJson> {
    for (i, expected) in word.iter().enumerate() {
        match text.get(pos + i) {
            Some(b) if b == expected => {}
            Some(_) => return Err(NotJson(pos + i)),
            None => return Err(NotJson(text.len())),
        }
    }
    Ok(pos + word.len())
}

/// Open containers, innermost last, as bits (1 for an object). The first 128 levels need no
/// allocation; deeper ones, which no configuration item has, spill into a vector.
struct Nesting {
    bits: [u64; 2],
    deeper: Vec<u64>,
    depth: usize,
}

impl Nesting {
    fn new() -> Nesting {
        Nesting {
            bits: [0; 2],
            deeper: Vec::new(),
            depth: 0,
        }
    }

    fn word(&mut self, index: usize) -> &mut u64 {
        if index < 2 {
            return &mut self.bits[index];
        }
        let index = index - 2;
        if self.deeper.len() <= index {
            self.deeper.resize(index + 1, 0);
        }
        &mut self.deeper[index]
    }

    fn push(&mut self, object: bool) {
        let (index, bit) = (self.depth / 64, self.depth % 64);
        let word = self.word(index);
        if object {
            *word |= 1 << bit;
        } else {
            *word &= !(1 << bit);
        }
        self.depth += 1;
    }

    /// Whether the innermost open container is an object; `None` when none is open.
    fn innermost_is_object(&mut self) -> Option<bool> {
        let d = self.depth.checked_sub(1)?;
        Some(*self.word(d / 64) >> (d % 64) & 1 == 1)
    }
}

/// Reads `"key"` and the colon after it at `pos`; returns where the member's value starts.
/// Inlined: a key is read at every member, and the call cost as much as reading a short key.
#[inline(always)]
fn member_value_start(text: &[u8], pos: usize) -> Result<usize, NotJson> {
    if text.get(pos) != Some(&b'"') {
        return Err(NotJson(pos.min(text.len())));
    }
    let (end, _) = string_end(text, pos)?;
    let colon = skip_space(text, end);
    if text.get(colon) != Some(&b':') {
        return Err(NotJson(colon.min(text.len())));
    }
    Ok(skip_space(text, colon + 1))
}

/// The end of the JSON value starting at `pos` (no whitespace before it). Iterative, so deep
/// nesting cannot overflow the stack.
pub fn value_end(text: &[u8], mut pos: usize) -> Result<usize, NotJson> {
    let mut open = Nesting::new();
    loop {
        // A value starts at `pos`.
        match text.get(pos) {
            Some(&b @ (b'{' | b'[')) => {
                let object = b == b'{';
                open.push(object);
                pos = skip_space(text, pos + 1);
                let close = if object { b'}' } else { b']' };
                if text.get(pos) == Some(&close) {
                    open.depth -= 1;
                    pos += 1;
                } else {
                    if object {
                        pos = member_value_start(text, pos)?;
                    }
                    continue;
                }
            }
            Some(b'"') => pos = string_end(text, pos)?.0,
            Some(b'-' | b'0'..=b'9') => pos = number_end(text, pos)?,
            Some(b't') => pos = literal_end(text, pos, b"true")?,
            Some(b'f') => pos = literal_end(text, pos, b"false")?,
            Some(b'n') => pos = literal_end(text, pos, b"null")?,
            Some(_) => return Err(NotJson(pos)),
            None => return Err(NotJson(text.len())),
        }
        // After a value: close what it ends, or go on to the next element or member.
        loop {
            let Some(object) = open.innermost_is_object() else {
                return Ok(pos);
            };
            pos = skip_space(text, pos);
            match text.get(pos) {
                Some(b',') => {
                    pos = skip_space(text, pos + 1);
                    if object {
                        pos = member_value_start(text, pos)?;
                    }
                    break;
                }
                Some(b'}') if object => {
                    open.depth -= 1;
                    pos += 1;
                }
                Some(b']') if !object => {
                    open.depth -= 1;
                    pos += 1;
                }
                Some(_) => return Err(NotJson(pos)),
                None => return Err(NotJson(text.len())),
            }
        }
    }
}

/// Where the object or array at `pos` (its `{` or `[`) ends, found by matching brackets outside
/// strings and nothing more: a delimiter, not a check. On JSON it agrees with [`value_end`].
/// On text that is not JSON it returns some position or `None`, so a caller must check the
/// value with [`value_end`] before trusting it, unless it holds the same bytes as a value it
/// checked before (ingest re-reading an unchanged item: most of what it reads).
///
/// It reads 64 bytes at a time: one mask each of quotes and brackets, the bytes inside strings
/// found from the quotes by a running XOR, and only the brackets outside them looked at one by
/// one. A block with a backslash (an escape, which may hide a quote) is read byte by byte.
/// That is several times fewer steps than [`value_end`], which stops at every token.
pub fn container_end_unchecked(text: &[u8], pos: usize) -> Option<usize> {
    let mut state = Delimiting {
        depth: 0,
        in_string: false,
        escaped: false,
    };
    let mut at = pos;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = text.get(at..at + 64) {
        let block: &[u8; 64] = block.try_into().expect("64 bytes");
        let masks = block_masks(block);
        if masks.backslash != 0 || state.escaped {
            if let Some(end) = state.bytes(block, at) {
                return Some(end);
            }
        } else {
            // Bit i of `inside` is set when byte i is in a string, its opening quote included
            // and its closing quote not: the XOR of every quote bit up to i.
            let mut inside = masks.quote;
            for shift in [1, 2, 4, 8, 16, 32] {
                inside ^= inside << shift;
            }
            if state.in_string {
                inside = !inside;
            }
            state.in_string = inside >> 63 == 1;
            let mut brackets = (masks.open | masks.close) & !inside;
            while brackets != 0 {
                let i = brackets.trailing_zeros();
                brackets &= brackets - 1;
                if masks.open >> i & 1 == 1 {
                    state.depth += 1;
                } else {
                    state.depth = state.depth.checked_sub(1)?;
                    if state.depth == 0 {
                        return Some(at + i as usize + 1);
                    }
                }
            }
        }
        at += 64;
    }
    state.bytes(text.get(at..)?, at)
}

/// Where [`container_end_unchecked`] is: brackets open, and inside a string (just after a
/// backslash) or not.
struct Delimiting {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Delimiting {
    /// Reads `bytes` (which start at `offset` of the text) one by one; the end of the value if
    /// it is among them.
    fn bytes(&mut self, bytes: &[u8], offset: usize) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.checked_sub(1)?;
                    if self.depth == 0 {
                        return Some(offset + i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// Calls `each` with every member of the object at `pos` (its `{`): the key as written (with
/// its quotes) and where its value starts; `each` returns where the value ends, or `None` to
/// stop. Returns where the object ends; `None` if `each` stopped or the text is not JSON.
pub fn members<'t>(
    text: &'t [u8],
    pos: usize,
    mut each: impl FnMut(&'t [u8], usize) -> Option<usize>,
) -> Option<usize> {
    let mut at = skip_space(text, pos + 1);
    if text.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    loop {
        if text.get(at) != Some(&b'"') {
            return None;
        }
        let (key_end, _) = string_end(text, at).ok()?;
        let colon = skip_space(text, key_end);
        if text.get(colon) != Some(&b':') {
            return None;
        }
        at = skip_space(text, each(&text[at..key_end], skip_space(text, colon + 1))?);
        match text.get(at)? {
            b',' => at = skip_space(text, at + 1),
            b'}' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// Calls `each` with where every element of the array at `pos` (its `[`) starts; `each`
/// returns where the element ends, or `None` to stop. Returns where the array ends.
pub fn elements(
    text: &[u8],
    pos: usize,
    mut each: impl FnMut(usize) -> Option<usize>,
) -> Option<usize> {
    let mut at = skip_space(text, pos + 1);
    if text.get(at) == Some(&b']') {
        return Some(at + 1);
    }
    loop {
        at = skip_space(text, each(at)?);
        match text.get(at)? {
            b',' => at = skip_space(text, at + 1),
            b']' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// The kind of a JSON value, with the codes ABI v1 gives rules (`conform_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Null = 1,
    Bool = 2,
    Number = 3,
    String = 4,
    Array = 5,
    Object = 6,
}

impl Kind {
    /// The kind of the (valid) value whose first byte is `first`; `None`, an absent value, is
    /// null.
    pub fn of_first_byte(first: Option<u8>) -> Kind {
        match first {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') | None => Kind::Null,
            Some(_) => Kind::Number,
        }
    }
}

/// The kind of value that starts with `first`, in words, for messages.
pub fn kind_in_words(first: u8) -> &'static str {
    match first {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

/// Damaged copies of valid JSON, for tests that hold one reader against another.
#[cfg(test)]
pub(crate) mod damage {
    /// `count` copies of `valid`, each with one to `changes` bytes changed, inserted or
    /// dropped (never the first), the new bytes taken from `alphabet`. Reproducible by `seed`.
    pub(crate) fn copies(
        valid: &str,
        alphabet: &[u8],
        changes: usize,
        seed: u64,
        count: usize,
    ) -> impl Iterator<Item = String> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let valid = valid.as_bytes().to_vec();
        let alphabet = alphabet.to_vec();
        (0..count).map(move |_| {
            let mut bytes = valid.clone();
            for _ in 0..rng.usize(1..=changes) {
                let at = rng.usize(1..bytes.len());
                let byte = alphabet[rng.usize(..alphabet.len())];
                match rng.u8(..3) {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            String::from_utf8(bytes).expect("ASCII changes keep UTF-8")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json says of the same text: where the first value ends, or that it is not
    /// JSON. The scanner must agree on every case.
    fn serde_end(text: &str) -> Option<usize> {
        let mut values =
            serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
        values.next()?.ok()?;
        Some(values.byte_offset())
    }

    fn ours(text: &str) -> Option<usize> {
        value_end(text.as_bytes(), 0).ok()
    }

    #[test]
    fn agrees_with_serde_on_valid_and_invalid_text() {
        let cases = [
            r#"{"a":[1,2,{"b":null}],"c":"x\"y\\z\u00e9\n","d":true,"e":false}"#,
            r#"{ "a" : [ 1 , -2.5e+3 , 0.0 , -0 , 1E9 ] }"#,
            r#"[]"#,
            r#"{}"#,
            r#"[[[[[]]]]]"#,
            r#""\ud83d\ude00 and é and \/""#,
            "\"a long string with no escapes at all, well past eight bytes\"",
            r#"0"#,
            r#"-1"#,
            r#"123456789012345678901234567890"#,
            // invalid
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"x\q"}"#,
            r#"{"a":"\u12g4"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":[1,2}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"a":1"#,
            r#"{"a":"unterminated"#,
            r#"[1 2]"#,
            r#"{1:2}"#,
            r#"+1"#,
            r#"{"a":"12345678\"12345678\\12345678"}"#,
        ];
        for case in cases {
            assert_eq!(ours(case), serde_end(case), "{case}");
        }
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_confuses_levels() {
        for depth in [127, 128, 129, 1000] {
            let deep = "[{\"a\":".repeat(depth) + "1" + &"}]".repeat(depth);
            assert_eq!(ours(&deep), serde_end(&deep), "{depth}");
            let crossed = "[{\"a\":".repeat(depth) + "1" + &"]}".repeat(depth);
            assert_eq!(ours(&crossed), None, "{depth}");
        }
        let unclosed = "[".repeat(100_000);
        assert_eq!(value_end(unclosed.as_bytes(), 0), Err(NotJson(100_000)));
    }

    #[test]
    fn errors_point_at_the_first_bad_byte() {
        assert_eq!(value_end(br#"{"a":1,}"#, 0), Err(NotJson(7)));
        assert_eq!(value_end(br#"{"a":1"#, 0), Err(NotJson(6)));
        assert_eq!(value_end(b"\"ab\x01\"", 0), Err(NotJson(3)));
    }

    #[test]
    fn agrees_with_serde_on_damaged_text() {
        // Valid text, then many copies of it with a byte or two changed, inserted or dropped
        // (from bytes that matter to JSON): wherever serde finds the end of the value or finds
        // none, so does the scanner.
        let valid = r#"{"configuration":{"size":8,"encrypted":true,"kmsKeyId":null,"attachments":[{"device":"/dev/xvda","deleteOnTermination":false}],"ratio":-1.5e-3,"name":"v\u00e9l \"x\""},"tags":{"a":"1"},"relationships":[]}"#;
        let alphabet = b"{}[]:,\"\\ \n-+.0123456789eEtrufalsn\x01u/";
        for text in damage::copies(valid, alphabet, 2, 17, 50_000) {
            assert_eq!(ours(&text), serde_end(&text), "{text}");
        }
    }

    #[test]
    fn special_bytes_are_found_exactly() {
        // Every byte value at every position of a word, among every kind of neighbour: the
        // mask marks exactly the bytes a string scan stops at.
        for byte in 0..=255u8 {
            for at in 0..8 {
                for filler in [b'a', 0x00, b'"', 0x7f, 0x80, 0xff, b' ', 0x21, 0x5b, 0x1f] {
                    let mut word = [filler; 8];
                    word[at] = byte;
                    let mask = special_bytes(u64::from_le_bytes(word));
                    for (i, b) in word.iter().enumerate() {
                        let marked = mask >> (i * 8 + 7) & 1 == 1;
                        assert_eq!(marked, is_special(*b), "{word:?} at {i}");
                    }
                    #[cfg(target_arch = "x86_64")]
                    {
                        let mut wide = [filler; 16];
                        wide[at + 8] = byte;
                        let mask = special_bytes_16(&wide);
                        for (i, b) in wide.iter().enumerate() {
                            assert_eq!(mask >> i & 1 == 1, is_special(*b), "{wide:?} at {i}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_unchecked_delimiter_agrees_with_the_scanner_on_json_and_never_panics() {
        let valid = r#"{"configuration":{"size":8,"encrypted":true,"kmsKeyId":null,"attachments":[{"device":"/dev/xvda","deleteOnTermination":false}],"ratio":-1.5e-3,"name":"v\u00e9l \"x\" [{\\","deep":[[{"a":"}"}],"]"]},"tags":{"a":"1"},"relationships":[]}"#;
        assert_eq!(ours(valid), Some(valid.len()), "the sample is JSON");
        assert_eq!(container_end_unchecked(valid.as_bytes(), 0), ours(valid));
        let inner = valid.find(r#"{"size""#).unwrap();
        assert_eq!(
            container_end_unchecked(valid.as_bytes(), inner),
            value_end(valid.as_bytes(), inner).ok()
        );
        let alphabet = b"{}[]:,\"\\ \n-+.0123456789eEtrufalsn\x01u/";
        for text in damage::copies(valid, alphabet, 2, 23, 50_000) {
            let unchecked = container_end_unchecked(text.as_bytes(), 0);
            if let Some(end) = ours(&text) {
                assert_eq!(unchecked, Some(end), "{text}");
            }
        }
        for broken in ["{", "[\"", "{\"a\\", "{]", "[}}", "{\"a\":\"\\\""] {
            let end = container_end_unchecked(broken.as_bytes(), 0);
            assert!(end.is_none_or(|end| end <= broken.len()), "{broken}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn block_masks_mark_exactly_quotes_backslashes_and_brackets() {
        for byte in 0..=255u8 {
            for at in [0, 1, 15, 16, 17, 31, 32, 47, 48, 63] {
                for filler in [
                    b'a', 0x00, b'"', 0x7f, 0x80, 0xff, b' ', 0x5b, 0x7d, 0x3b, 0x5c,
                ] {
                    let mut block = [filler; 64];
                    block[at] = byte;
                    let masks = block_masks(&block);
                    for (i, b) in block.iter().enumerate() {
                        let bit = |mask: u64| mask >> i & 1 == 1;
                        assert_eq!(bit(masks.quote), *b == b'"', "{block:?} at {i}");
                        assert_eq!(bit(masks.backslash), *b == b'\\', "{block:?} at {i}");
                        assert_eq!(bit(masks.open), matches!(b, b'{' | b'['), "{i}");
                        assert_eq!(bit(masks.close), matches!(b, b'}' | b']'), "{i}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_delimiter_agrees_across_block_boundaries_and_escapes() {
        // Strings of every length up to past two blocks, with escapes and brackets inside,
        // placed at every alignment: the delimiter ends each value where the scanner does.
        let escapes = ["x", "\\\"", "\\\\", "]", "}", "{", "[", "\\u0041", "é"];
        let plain = ["x", "]", "}", "{", "[", "é", "yy"];
        for len in 0..280 {
            let pieces = if len % 2 == 0 {
                &escapes[..]
            } else {
                &plain[..]
            };
            let content: String = (0..len / 2)
                .map(|i| pieces[(i * 7 + len) % pieces.len()])
                .collect();
            for shift in 0..66 {
                let text = format!(
                    "{{{}\"k\":\"{content}\",\"a\":[{{\"b\":\"]}}\"}}],\"c\":\"\\\\\",\"d\":{{}}}} tail",
                    " ".repeat(shift)
                );
                let expected = value_end(text.as_bytes(), 0).ok();
                assert!(expected.is_some(), "{text}");
                assert_eq!(
                    container_end_unchecked(text.as_bytes(), 0),
                    expected,
                    "{text}"
                );
            }
        }
    }
}
