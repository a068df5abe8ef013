//! Field-by-field differences between two JSON documents, as changes people read and as an
//! RFC 6902 patch machines apply.
//!
//! Objects are compared key by key. Arrays are aligned by element content (a Myers diff over
//! each element's canonical hash, from the `similar` crate): a rule added to a security group's
//! `ipPermissions` is one added element, not every later index shifted. Where the alignment
//! replaces a run of elements by another, the runs are paired in order and each pair is diffed
//! inside, so a changed field of one element is reported at its own pointer; what is left over is
//! added or removed whole.
//!
//! Pointers in [`FieldChange`] name the field in the document it exists in: the old document for
//! a removal, the new one otherwise. Patch paths are sequential, as RFC 6902 applies them, and
//! every `remove` or `replace` is preceded by a `test` of the old value, so a patch can be
//! checked against the state it expects (and read backwards to reverse it).

use serde::Serialize;
use serde_json::Value;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::canonical::to_canonical_string;

/// What happened to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One changed field, at an RFC 6901 JSON Pointer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub pointer: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One RFC 6902 operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    Test { path: String, value: Value },
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
}

/// The differences between two documents, with the ignored ones left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    pub changes: Vec<FieldChange>,
    pub patch: Vec<PatchOp>,
    /// Changes left out because an ignore pattern matched them.
    pub ignored: usize,
}

/// Compares `before` with `after`; `ignored(pointer)` says which changed fields do not count.
pub fn diff(before: &Value, after: &Value, ignored: &dyn Fn(&str) -> bool) -> Diff {
    let mut walk = Walk {
        ignored,
        diff: Diff::default(),
    };
    walk.values(&mut String::new(), &mut String::new(), before, after);
    walk.diff
}

/// Appends one reference token to a pointer, escaped as RFC 6901 requires.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

struct Walk<'i> {
    ignored: &'i dyn Fn(&str) -> bool,
    diff: Diff,
}

impl Walk<'_> {
    /// `at` is the field's pointer for people; `path` its sequential patch path.
    fn values(&mut self, at: &mut String, path: &mut String, before: &Value, after: &Value) {
        if before == after {
            return;
        }
        match (before, after) {
            (Value::Object(b), Value::Object(a)) => {
                for (key, old) in b {
                    let (at_len, path_len) = (at.len(), path.len());
                    push_token(at, key);
                    push_token(path, key);
                    match a.get(key) {
                        Some(new) => self.values(at, path, old, new),
                        None => self.removed(at, path, old),
                    }
                    at.truncate(at_len);
                    path.truncate(path_len);
                }
                for (key, new) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
                    let (at_len, path_len) = (at.len(), path.len());
                    push_token(at, key);
                    push_token(path, key);
                    self.added(at, path, new);
                    at.truncate(at_len);
                    path.truncate(path_len);
                }
            }
            (Value::Array(b), Value::Array(a)) => self.arrays(at, path, b, a),
            _ => self.changed(at, path, before, after),
        }
    }

    fn arrays(&mut self, at: &mut String, path: &mut String, before: &[Value], after: &[Value]) {
        let hash = |v: &Value| xxhash_rust::xxh3::xxh3_128(to_canonical_string(v).as_bytes());
        let old: Vec<u128> = before.iter().map(hash).collect();
        let new: Vec<u128> = after.iter().map(hash).collect();
        let (at_len, path_len) = (at.len(), path.len());
        // Invariant: as the patch is applied, the array is after[..new_index] ++ before[old_index..],
        // so the element before[old_index] sits at new_index.
        let mut element =
            |walk: &mut Self,
             at_index: usize,
             path_index: usize,
             op: &dyn Fn(&mut Self, &mut String, &mut String)| {
                at.truncate(at_len);
                path.truncate(path_len);
                push_token(at, &at_index.to_string());
                push_token(path, &path_index.to_string());
                op(walk, at, path);
            };
        for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
            match op {
                DiffOp::Equal { .. } => {}
                DiffOp::Delete {
                    old_index,
                    old_len,
                    new_index,
                } => {
                    for k in 0..old_len {
                        let value = &before[old_index + k];
                        element(self, old_index + k, new_index, &|w, at, path| {
                            w.removed(at, path, value)
                        });
                    }
                }
                DiffOp::Insert {
                    new_index, new_len, ..
                } => {
                    for k in 0..new_len {
                        let value = &after[new_index + k];
                        element(self, new_index + k, new_index + k, &|w, at, path| {
                            w.added(at, path, value)
                        });
                    }
                }
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    let olds = &before[old_index..old_index + old_len];
                    let news = &after[new_index..new_index + new_len];
                    let mut added = 0; // elements of `news` placed so far
                    for step in align(olds, news) {
                        let at_new = new_index + added;
                        match step {
                            Step::Remove(i) => {
                                let value = &olds[i];
                                element(self, old_index + i, at_new, &|w, at, path| {
                                    w.removed(at, path, value)
                                });
                            }
                            Step::Add(j) => {
                                let value = &news[j];
                                element(self, new_index + j, at_new, &|w, at, path| {
                                    w.added(at, path, value)
                                });
                                added += 1;
                            }
                            Step::Pair(i, j) => {
                                let (b, a) = (&olds[i], &news[j]);
                                element(self, new_index + j, at_new, &|w, at, path| {
                                    w.values(at, path, b, a)
                                });
                                added += 1;
                            }
                        }
                    }
                }
            }
        }
        at.truncate(at_len);
        path.truncate(path_len);
    }

    fn added(&mut self, at: &str, path: &str, value: &Value) {
        if (self.ignored)(at) {
            self.diff.ignored += 1;
            return;
        }
        self.diff.patch.push(PatchOp::Add {
            path: path.to_string(),
            value: value.clone(),
        });
        self.diff.changes.push(FieldChange {
            pointer: at.to_string(),
            kind: ChangeKind::Added,
            before: None,
            after: Some(value.clone()),
        });
    }

    fn removed(&mut self, at: &str, path: &str, value: &Value) {
        if (self.ignored)(at) {
            self.diff.ignored += 1;
            return;
        }
        self.diff.patch.push(PatchOp::Test {
            path: path.to_string(),
            value: value.clone(),
        });
        self.diff.patch.push(PatchOp::Remove {
            path: path.to_string(),
        });
        self.diff.changes.push(FieldChange {
            pointer: at.to_string(),
            kind: ChangeKind::Removed,
            before: Some(value.clone()),
            after: None,
        });
    }

    fn changed(&mut self, at: &str, path: &str, before: &Value, after: &Value) {
        if (self.ignored)(at) {
            self.diff.ignored += 1;
            return;
        }
        self.diff.patch.push(PatchOp::Test {
            path: path.to_string(),
            value: before.clone(),
        });
        self.diff.patch.push(PatchOp::Replace {
            path: path.to_string(),
            value: after.clone(),
        });
        self.diff.changes.push(FieldChange {
            pointer: at.to_string(),
            kind: ChangeKind::Changed,
            before: Some(before.clone()),
            after: Some(after.clone()),
        });
    }
}

/// One step of the alignment of a replaced run of elements, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Remove(usize),
    Add(usize),
    /// The old element `.0` became the new element `.1`: diffed inside.
    Pair(usize, usize),
}

/// How alike two elements are, from 0 to 1: the share of an object's members that are equal.
/// Only objects are diffed inside; other values are replaced whole.
fn similarity(a: &Value, b: &Value) -> f64 {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let same = a.iter().filter(|(k, v)| b.get(*k) == Some(*v)).count();
            same as f64 / a.len().max(b.len()).max(1) as f64
        }
        _ => 0.0,
    }
}

/// Elements at least this alike are the same element, changed; less alike, one replaced
/// the other.
const SAME_ELEMENT: f64 = 0.5;

/// Aligns a replaced run in order, pairing the elements most alike (an order-keeping
/// assignment that maximises total similarity; runs are short, so the quadratic table is
/// cheap, and a very long run falls back to pairing by position).
fn align(olds: &[Value], news: &[Value]) -> Vec<Step> {
    let (n, m) = (olds.len(), news.len());
    if n * m > 250_000 {
        let paired = n.min(m);
        let mut steps: Vec<Step> = (0..paired).map(|k| Step::Pair(k, k)).collect();
        steps.extend((paired..n).map(Step::Remove));
        steps.extend((paired..m).map(Step::Add));
        return steps;
    }
    let sim: Vec<f64> = (0..n * m)
        .map(|x| similarity(&olds[x / m], &news[x % m]))
        .collect();
    // best[i][j]: the best total over olds[i..] and news[j..].
    let mut best = vec![0.0f64; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let mut b = best[at(i + 1, j)].max(best[at(i, j + 1)]);
            let s = sim[i * m + j];
            if s >= SAME_ELEMENT {
                b = b.max(best[at(i + 1, j + 1)] + s);
            }
            best[at(i, j)] = b;
        }
    }
    let (mut i, mut j, mut steps) = (0, 0, Vec::with_capacity(n + m));
    while i < n && j < m {
        let s = sim[i * m + j];
        if s >= SAME_ELEMENT && best[at(i, j)] == best[at(i + 1, j + 1)] + s {
            steps.push(Step::Pair(i, j));
            i += 1;
            j += 1;
        } else if best[at(i, j)] == best[at(i + 1, j)] {
            steps.push(Step::Remove(i));
            i += 1;
        } else {
            steps.push(Step::Add(j));
            j += 1;
        }
    }
    steps.extend((i..n).map(Step::Remove));
    steps.extend((j..m).map(Step::Add));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_ignores(_: &str) -> bool {
        false
    }

    fn pointers(d: &Diff) -> Vec<(&str, ChangeKind)> {
        d.changes
            .iter()
            .map(|c| (c.pointer.as_str(), c.kind))
            .collect()
    }

    /// Applies a patch the way RFC 6902 says, for the round-trip checks below.
    fn apply(doc: &Value, patch: &[PatchOp]) -> Value {
        let patch: json_patch::Patch =
            serde_json::from_value(serde_json::to_value(patch).unwrap()).unwrap();
        let mut doc = doc.clone();
        json_patch::patch(&mut doc, &patch).unwrap();
        doc
    }

    #[test]
    fn scalar_object_and_escaped_keys() {
        let before = json!({"configuration": {"size": 8, "a/b": 1, "t~": true, "gone": "x"}});
        let after = json!({"configuration": {"size": 16, "a/b": 2, "t~": true, "new": [1]}});
        let d = diff(&before, &after, &no_ignores);
        assert_eq!(
            pointers(&d),
            vec![
                ("/configuration/a~1b", ChangeKind::Changed),
                ("/configuration/gone", ChangeKind::Removed),
                ("/configuration/size", ChangeKind::Changed),
                ("/configuration/new", ChangeKind::Added),
            ]
        );
        assert_eq!(apply(&before, &d.patch), after);
    }

    #[test]
    fn an_element_inserted_in_the_middle_is_one_addition() {
        let rule = |port: u16| json!({"fromPort": port, "toPort": port, "ipProtocol": "tcp"});
        let before = json!({"ipPermissions": [rule(80), rule(443), rule(8080)]});
        let after = json!({"ipPermissions": [rule(80), rule(22), rule(443), rule(8080)]});
        let d = diff(&before, &after, &no_ignores);
        assert_eq!(pointers(&d), vec![("/ipPermissions/1", ChangeKind::Added)]);
        assert_eq!(d.changes[0].after, Some(rule(22)));
        assert_eq!(apply(&before, &d.patch), after);
    }

    #[test]
    fn a_changed_element_is_diffed_inside_and_removals_use_old_indexes() {
        let before =
            json!({"xs": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}, 9]});
        let after = json!({"xs": [{"id": 2, "v": "B"}, {"id": 3, "v": "c"}]});
        let d = diff(&before, &after, &no_ignores);
        assert_eq!(
            pointers(&d),
            vec![
                ("/xs/0", ChangeKind::Removed),
                ("/xs/0/v", ChangeKind::Changed),
                ("/xs/3", ChangeKind::Removed),
            ]
        );
        assert_eq!(apply(&before, &d.patch), after);
    }

    #[test]
    fn patches_round_trip_on_reordered_and_mixed_arrays() {
        let cases = [
            (json!([1, 2, 3, 4, 5]), json!([5, 4, 3, 2, 1])),
            (json!([]), json!([{"a": 1}, 2])),
            (
                json!([{"a": [1, 2]}, "x"]),
                json!(["y", {"a": [2, 3]}, "x", null]),
            ),
            (json!({"a": [1]}), json!({"a": {"0": 1}})),
        ];
        for (before, after) in cases {
            let d = diff(&before, &after, &no_ignores);
            assert_eq!(apply(&before, &d.patch), after, "{before} -> {after}");
            assert!(!d.changes.is_empty());
        }
    }

    #[test]
    fn ignored_fields_are_counted_and_left_out() {
        let before = json!({"configuration": {"state": "running", "type": "t3.micro"}});
        let after = json!({"configuration": {"state": "stopped", "type": "t3.micro"}});
        let d = diff(&before, &after, &|p: &str| {
            p.starts_with("/configuration/state")
        });
        assert!(d.changes.is_empty() && d.patch.is_empty());
        assert_eq!(d.ignored, 1);
    }
}
