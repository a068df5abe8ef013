//! JSON Pointer resolution as ABI v1 defines it (RFC 6901, plus: a string met before the last
//! segment is parsed as JSON and the pointer continues inside it).
//!
//! The SDK's native stubs serve a rule's `cargo test` with this function. The host serves
//! rules from its own index of the stored text (`host/src/engine/document.rs`), which its unit
//! tests and a fuzz target hold to answer every pointer as this function does, so a rule's
//! tests read documents as the host will.

use std::borrow::Cow;

use serde_json::Value;

/// A string that is not a JSON Pointer (non-empty and not starting with `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAPointer;

/// Resolves `pointer` in `root` and hands the value found (or `None`) to `f`.
pub fn with_pointer<R>(
    root: &Value,
    pointer: &str,
    f: impl FnOnce(Option<&Value>) -> R,
) -> Result<R, NotAPointer> {
    if pointer.is_empty() {
        return Ok(f(Some(root)));
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(NotAPointer);
    };
    Ok(walk(root, rest, f))
}

/// A reference token with `~1` and `~0` decoded; borrowed when it has none (the usual case:
/// rules look pointers up by the million, so a lookup allocates nothing it need not).
fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Follows `path` (the pointer without its leading `/`) from `current`.
fn walk<R>(mut current: &Value, path: &str, f: impl FnOnce(Option<&Value>) -> R) -> R {
    let mut remaining = Some(path);
    while let Some(path) = remaining {
        let (token, rest) = match path.split_once('/') {
            Some((token, rest)) => (token, Some(rest)),
            None => (path, None),
        };
        let next = match current {
            Value::Object(map) => map.get(unescape(token).as_ref()),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|n| items.get(n)),
            Value::String(text) => {
                // A string with tokens left: read inside the JSON it holds.
                return match serde_json::from_str::<Value>(text) {
                    Ok(inner) => walk(&inner, path, f),
                    Err(_) => f(None),
                };
            }
            _ => None,
        };
        match next {
            Some(value) => current = value,
            None => return f(None),
        }
        remaining = rest;
    }
    f(Some(current))
}

/// ABI v1's kind codes.
pub fn kind_code(value: Option<&Value>) -> i32 {
    match value {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Bool(_)) => 2,
        Some(Value::Number(_)) => 3,
        Some(Value::String(_)) => 4,
        Some(Value::Array(_)) => 5,
        Some(Value::Object(_)) => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_inside_json_held_in_strings() {
        let acl = serde_json::json!({"grantList": [{"permission": "Read", "grantee": "AllUsers"}]})
            .to_string();
        let doc = serde_json::json!({"supplementaryConfiguration": {"AccessControlList": acl}, "a/b": {"~": 1}});
        let get = |p: &str| with_pointer(&doc, p, |v| v.cloned()).unwrap();
        assert_eq!(
            get("/supplementaryConfiguration/AccessControlList/grantList/0/permission"),
            Some("Read".into())
        );
        assert_eq!(
            get("/supplementaryConfiguration/AccessControlList/grantList/1"),
            None
        );
        assert_eq!(get("/a~1b/~0"), Some(1.into()));
        assert_eq!(get(""), Some(doc.clone()));
        assert!(with_pointer(&doc, "no-slash", |_| ()).is_err());
    }
}
