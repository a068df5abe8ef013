//! Write conform rules in Rust.
//!
//! A rule is a type implementing [`Rule`], registered with [`rule!`]. Built for
//! `wasm32-unknown-unknown`, it becomes a module that speaks conform's rule ABI v1
//! (`rules-sdk/ABI.md`): the manifest goes into the `conform.manifest` custom section and the
//! item is read through the host's document imports, so the rule carries no JSON parser. Built
//! for any other target, the imports are served from a JSON value in memory, so the rule's tests
//! run with plain `cargo test` ([`testing`]).
//!
//! ```
//! use conform_sdk::{Compliance, Document, Rule, Verdict};
//!
//! /// EBS volumes must be encrypted (AWS Config's ENCRYPTED_VOLUMES, without its kmsId).
//! pub struct EncryptedVolumes;
//!
//! impl Rule for EncryptedVolumes {
//!     const MANIFEST: &'static str = r#"{
//!         "abi": 1, "id": "EXAMPLE_ENCRYPTED_VOLUMES", "version": "1.0.0",
//!         "title": "EBS volumes are encrypted", "severity": "medium", "kind": "resource",
//!         "scope": {"resourceTypes": ["AWS::EC2::Volume"]},
//!         "parameters": {"type": "object"}
//!     }"#;
//!
//!     fn evaluate(item: &Document, _params: &Document) -> Verdict {
//!         match item.bool("/configuration/encrypted") {
//!             Some(true) => Verdict::compliant(),
//!             _ => Verdict::non_compliant("the volume is not encrypted"),
//!         }
//!     }
//! }
//!
//! conform_sdk::rule!(EncryptedVolumes);
//!
//! // Natively, the same rule runs over a fixture:
//! let case = conform_sdk::testing::Case::new(
//!     serde_json::json!({"resourceType": "AWS::EC2::Volume", "configuration": {"encrypted": false}}),
//!     Compliance::NonCompliant,
//! );
//! conform_sdk::testing::assert_cases::<EncryptedVolumes>(&[case]);
//! ```

pub mod aws;
mod imports;
#[cfg(not(target_arch = "wasm32"))]
pub mod json_pointer;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// The ABI version this SDK builds rules for.
pub const ABI_VERSION: u32 = 1;

/// The outcome a rule reports for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compliance {
    Compliant = 1,
    NonCompliant = 2,
    NotApplicable = 3,
}

/// A compliance and its annotation (at most 256 characters; the SDK shortens longer ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub compliance: Compliance,
    pub annotation: String,
}

impl Verdict {
    pub fn compliant() -> Verdict {
        Verdict {
            compliance: Compliance::Compliant,
            annotation: String::new(),
        }
    }

    pub fn non_compliant(annotation: impl Into<String>) -> Verdict {
        Verdict {
            compliance: Compliance::NonCompliant,
            annotation: annotation.into(),
        }
    }

    pub fn not_applicable(annotation: impl Into<String>) -> Verdict {
        Verdict {
            compliance: Compliance::NotApplicable,
            annotation: annotation.into(),
        }
    }
}

/// A rule. Implement `MANIFEST` and `evaluate`; register the type with [`rule!`].
pub trait Rule {
    /// The manifest, as JSON (see ABI §2). `abi` must be [`ABI_VERSION`].
    const MANIFEST: &'static str;

    /// Evaluates the current item. `item` is the configuration item; `params` the rule's
    /// parameters, validated by the host against the manifest's schema, defaults filled in.
    fn evaluate(item: &Document, params: &Document) -> Verdict;
}

/// An estate rule (ABI §6): runs once per account per snapshot over the account's in-scope
/// resources, and emits evaluations, typically one of the account. Register with [`estate_rule!`].
pub trait EstateRule {
    /// The manifest, as JSON, with `"kind": "estate"`.
    const MANIFEST: &'static str;

    fn evaluate(estate: &mut Estate, params: &Document);
}

/// The account an estate rule evaluates and its in-scope resources.
#[derive(Debug)]
pub struct Estate {
    _private: (),
}

/// The resource type of an evaluation about a whole account.
pub const ACCOUNT: &str = "AWS::::Account";

impl Estate {
    #[doc(hidden)]
    pub fn current() -> Estate {
        Estate { _private: () }
    }

    pub fn account(&self) -> String {
        imports::estate_account().unwrap_or_default()
    }

    /// How many in-scope resources the account has.
    pub fn len(&self) -> usize {
        usize::try_from(imports::estate_count()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes resource `index` the current item and returns it.
    pub fn select(&mut self, index: usize) -> Option<Document> {
        (imports::estate_select(index as i32) == 0).then_some(Document::ITEM)
    }

    /// Emits an evaluation of a resource.
    pub fn emit(&mut self, resource_type: &str, resource_id: &str, verdict: &Verdict) {
        let annotation = __private::shorten(&verdict.annotation, 256);
        imports::emit(
            verdict.compliance as i32,
            resource_type,
            resource_id,
            annotation,
        );
    }

    /// Emits the evaluation of the account itself.
    pub fn emit_account(&mut self, verdict: &Verdict) {
        let account = self.account();
        self.emit(ACCOUNT, &account, verdict);
    }
}

/// The kind of a JSON value, as ABI v1's `kind` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Absent,
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// A document the host holds: the item (0) or the parameters (1). Values are addressed by JSON
/// Pointer; a pointer may continue inside a string that holds JSON (ABI §4).
#[derive(Debug, Clone, Copy)]
pub struct Document(i32);

impl Document {
    pub const ITEM: Document = Document(0);
    pub const PARAMS: Document = Document(1);

    pub fn kind(&self, pointer: &str) -> Kind {
        match imports::kind(self.0, pointer) {
            1 => Kind::Null,
            2 => Kind::Bool,
            3 => Kind::Number,
            4 => Kind::String,
            5 => Kind::Array,
            6 => Kind::Object,
            _ => Kind::Absent,
        }
    }

    pub fn bool(&self, pointer: &str) -> Option<bool> {
        match imports::get_bool(self.0, pointer) {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        }
    }

    pub fn number(&self, pointer: &str) -> Option<f64> {
        let n = imports::get_number(self.0, pointer);
        (!n.is_nan()).then_some(n)
    }

    pub fn string(&self, pointer: &str) -> Option<String> {
        imports::get_string(self.0, pointer)
    }

    /// Elements of an array or members of an object.
    pub fn len(&self, pointer: &str) -> Option<usize> {
        usize::try_from(imports::length(self.0, pointer)).ok()
    }

    /// The keys of an object, in sorted order (by code point), as the ABI gives them.
    pub fn keys(&self, pointer: &str) -> Vec<String> {
        let n = self.len(pointer).unwrap_or(0);
        (0..n)
            .filter_map(|i| imports::key_at(self.0, pointer, i as i32))
            .collect()
    }

    /// Whether the value is absent or null.
    pub fn is_missing(&self, pointer: &str) -> bool {
        matches!(self.kind(pointer), Kind::Absent | Kind::Null)
    }
}

/// Escapes one JSON Pointer segment (`~` and `/`), for keys taken from the document.
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Logs a message to the host's log under the rule's id.
pub fn log(level: Level, message: &str) {
    imports::log(level as i32, message);
}

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
    Trace = 4,
}

/// Registers a [`Rule`]: exports `conform_evaluate` and writes the manifest into the module's
/// `conform.manifest` custom section (on wasm32).
#[macro_export]
macro_rules! rule {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "conform.manifest")]
        #[used]
        static __CONFORM_MANIFEST: [u8; <$rule as $crate::Rule>::MANIFEST.len()] =
            $crate::__private::manifest_bytes(<$rule as $crate::Rule>::MANIFEST);

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn conform_evaluate() -> i32 {
            $crate::__private::run::<$rule>()
        }
    };
}

/// Registers an [`EstateRule`]: exports `conform_evaluate_estate` and writes the manifest into
/// the module's `conform.manifest` custom section (on wasm32).
#[macro_export]
macro_rules! estate_rule {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "conform.manifest")]
        #[used]
        static __CONFORM_MANIFEST: [u8; <$rule as $crate::EstateRule>::MANIFEST.len()] =
            $crate::__private::manifest_bytes(<$rule as $crate::EstateRule>::MANIFEST);

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn conform_evaluate_estate() -> i32 {
            <$rule as $crate::EstateRule>::evaluate(
                &mut $crate::Estate::current(),
                &$crate::Document::PARAMS,
            );
            0
        }
    };
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Copies the manifest text into a fixed-size array at compile time.
    pub const fn manifest_bytes<const N: usize>(text: &str) -> [u8; N] {
        let bytes = text.as_bytes();
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }

    /// Evaluates the current item and reports the verdict.
    pub fn run<R: Rule>() -> i32 {
        let verdict = R::evaluate(&Document::ITEM, &Document::PARAMS);
        let annotation = shorten(&verdict.annotation, 256);
        imports::result(verdict.compliance as i32, annotation);
        0
    }

    /// At most `max` characters, cut at a character boundary.
    pub fn shorten(text: &str, max: usize) -> &str {
        match text.char_indices().nth(max) {
            Some((at, _)) => &text[..at],
            None => text,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_character_boundaries() {
        assert_eq!(__private::shorten("héllo", 2), "hé");
        assert_eq!(__private::shorten("hi", 5), "hi");
    }

    #[test]
    fn documents_read_through_the_native_stubs() {
        let item = serde_json::json!({
            "configuration": {"encrypted": true, "size": 8, "tags": {"b": "2", "a/b": "1"}},
            "supplementaryConfiguration": {"Acl": "{\"grants\": [{\"permission\": \"Read\"}]}"}
        });
        testing::with_documents(&item, &serde_json::json!({"limit": 3}), || {
            let d = Document::ITEM;
            assert_eq!(d.bool("/configuration/encrypted"), Some(true));
            assert_eq!(d.number("/configuration/size"), Some(8.0));
            assert_eq!(d.kind("/configuration/missing"), Kind::Absent);
            assert_eq!(
                d.keys("/configuration/tags"),
                vec!["a/b".to_string(), "b".to_string()]
            );
            assert_eq!(
                d.string(&format!("/configuration/tags/{}", escape_segment("a/b")))
                    .as_deref(),
                Some("1")
            );
            assert_eq!(
                d.string("/supplementaryConfiguration/Acl/grants/0/permission")
                    .as_deref(),
                Some("Read")
            );
            assert_eq!(Document::PARAMS.number("/limit"), Some(3.0));
        });
    }
}
