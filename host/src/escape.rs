//! Escaping untrusted text for the place it lands in.
//!
//! Annotations, log lines and rule ids come from rules, resource and account ids from inputs:
//! conform trusts none of them. Every output context has its own escape here, one function per
//! context, so a renderer never decides for itself what is safe:
//!
//! - [`terminal`]: control characters (CR, LF, ESC, NUL, C1, bidirectional overrides) shown as
//!   `\u{..}`, so text cannot move the cursor, recolour the screen or forge a line;
//! - [`markdown`]: inline text where every ASCII punctuation character is backslash-escaped
//!   (CommonMark guarantees that such a character is then literal), so no link, image, HTML tag,
//!   emphasis or table cell can be opened; [`markdown_code`] for a code span inside a table;
//! - [`xml`]: characters XML 1.0 cannot carry at all (most C0 controls, even as references),
//!   replaced; the writer escapes markup;
//! - [`uri_segment`]: one percent-encoded path segment that can never be `.` or `..`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` could change what a terminal shows beyond printing itself.
fn is_terminal_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1, ESC and CSI among them
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Text safe to print on a terminal, on one line: every control character is written as
/// `\u{XX}`, and a backslash that could start such an escape is doubled so the escape cannot
/// be faked.
pub fn terminal(text: &str) -> Cow<'_, str> {
    escape_controls(text, false)
}

/// As [`terminal`], but keeps line feeds: for conform's own multi-line messages, which quote
/// untrusted text.
pub fn terminal_lines(text: &str) -> Cow<'_, str> {
    escape_controls(text, true)
}

fn escape_controls(text: &str, keep_lf: bool) -> Cow<'_, str> {
    let escaped = |c: char| is_terminal_control(c) && !(keep_lf && c == '\n');
    // Text with no control character stays as it was, backslashes and all; once an escape is
    // written, backslashes are doubled so that none can be faked.
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if escaped(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Inline markdown text that renders as exactly these characters: every character that can
/// open an inline construct of GitHub-flavoured markdown is backslash-escaped (CommonMark makes
/// an escaped ASCII punctuation character literal): emphasis, code, links and images, raw HTML
/// and entities, strikethrough, math, table cells, mentions; `://` and `www.` are broken so no
/// bare URL becomes a link. Line breaks and other controls become spaces. For inline text only
/// (a table cell, the middle of a line): the block constructs that need a line start do not
/// apply there.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("://") || rest.starts_with("www.") {
            let (head, tail) = rest.split_at(if rest.starts_with("www.") { 3 } else { 1 });
            out.push_str(head);
            out.push('\\');
            rest = tail;
            continue;
        }
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '<'
                | '>'
                | '!'
                | '|'
                | '&'
                | '~'
                | '#'
                | '$'
                | '@'
        ) {
            out.push('\\');
            out.push(c);
        } else if is_terminal_control(c) {
            out.push(' ');
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A code span for a markdown table cell: delimited by more backticks than any run inside,
/// padded when the text starts or ends with a backtick or space, pipes escaped (GitHub splits
/// table cells on a bare pipe even inside a code span) and line breaks made spaces.
pub fn markdown_code(text: &str) -> String {
    let body: String = text
        .chars()
        .map(|c| if is_terminal_control(c) { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']);
    let space = if pad { " " } else { "" };
    format!("{fence}{space}{body}{space}{fence}")
}

/// Text XML 1.0 can hold: characters it forbids outright (C0 controls but tab, LF and CR;
/// U+FFFE and U+FFFF) are written as `\u{XX}`. Markup (`<`, `&`, quotes) is the XML writer's
/// to escape.
pub fn xml(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}');
    if !text.chars().any(forbidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if forbidden(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One URI path segment: RFC 3986 percent-encoding of everything but unreserved characters,
/// with the dot segments `.` and `..` (which a URI resolver would collapse, escaping the path
/// they sit in) encoded too, and the empty segment written `_`.
pub fn uri_segment(text: &str) -> String {
    match text {
        "" => return "_".to_string(),
        "." => return "%2E".to_string(),
        ".." => return "%2E%2E".to_string(),
        _ => {}
    }
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strings every output is tested with: each tries to break out of its context.
    const HOSTILE: &[&str] = &[
        "x` | ![p](https://evil.example/p.png) <img src=y> [a](javascript:alert(1))",
        "a\r\nFAIL forged line\u{1b}[2J\u{0}",
        "``",
        "..",
        "\u{202E}txt.exe",
        "back\\slash\u{7}",
    ];

    #[test]
    fn terminal_text_has_no_control_character_left() {
        for s in HOSTILE {
            let out = terminal(s);
            assert!(!out.chars().any(is_terminal_control), "{s:?} → {out:?}");
        }
        assert_eq!(terminal("a\r\nb\u{1b}[0m"), "a\\u{d}\\u{a}b\\u{1b}[0m");
        assert_eq!(
            terminal("plain \\ text"),
            "plain \\ text",
            "nothing to escape"
        );
        assert_eq!(
            terminal("\\u{1b}\u{1b}"),
            "\\\\u{1b}\\u{1b}",
            "a fake escape is not"
        );
        assert_eq!(terminal_lines("one\ntwo\r"), "one\ntwo\\u{d}");
    }

    #[test]
    fn markdown_text_escapes_every_construct() {
        let out = markdown(HOSTILE[0]);
        assert_eq!(
            out,
            "x\\` \\| \\!\\[p\\](https:\\//evil.example/p.png) \\<img src=y\\> \\[a\\](javascript:alert(1))"
        );
        assert_eq!(
            markdown("see www.evil.example @team"),
            "see www\\.evil.example \\@team"
        );
        assert_eq!(
            markdown("snapshot 2, taken 2026-11-09T10:00:00Z"),
            "snapshot 2, taken 2026-11-09T10:00:00Z"
        );
        assert!(!markdown("a\nb\rc").contains(['\n', '\r']));
    }

    #[test]
    fn a_code_span_outlasts_every_backtick_run_inside() {
        assert_eq!(markdown_code("vol-1"), "`vol-1`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("``"), "``` `` ```");
        assert_eq!(markdown_code("a|b\nc"), "`a\\|b c`");
    }

    #[test]
    fn xml_text_drops_what_xml_cannot_hold() {
        assert_eq!(xml("a\u{0}b\u{1b}c\td"), "a\\u{0}b\\u{1b}c\td");
        assert!(matches!(xml("<fine & well>"), Cow::Borrowed(_)));
    }

    #[test]
    fn uri_segments_cannot_climb() {
        assert_eq!(uri_segment(".."), "%2E%2E");
        assert_eq!(uri_segment("."), "%2E");
        assert_eq!(uri_segment("a/../b"), "a%2F..%2Fb");
        assert_eq!(uri_segment(""), "_");
        assert_eq!(uri_segment("vol-1"), "vol-1");
    }
}
