//! The fuzz targets: what `cargo fuzz` drives (`tests/fuzz/`, coverage-guided) and what
//! `cargo test` runs over the kept corpus and, for a bounded time, over mutations of it.
//!
//! Each target takes arbitrary bytes. Panicking is a finding; so is any disagreement a target
//! checks: the ingest readers must read every text alike, the canonical writer must be
//! idempotent and agree with serde, the document index must answer every pointer as the SDK's
//! resolver does on the same JSON. Waivers and `conform.toml` must refuse or accept, never
//! panic. Nothing here is used by conform itself.

use std::path::Path;

/// A fuzz target: arbitrary bytes in; a panic is a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus folder and `cargo fuzz` target have.
pub const TARGETS: &[(&str, Target)] = &[
    ("ingest_forms", ingest_forms),
    ("canonical", canonical),
    ("document", document),
    ("waivers", waivers),
    ("config", config),
    ("inventory", inventory),
];

/// Terraform and Kubernetes detection and mapping: whatever a file holds, detection never
/// panics, says the same from any prefix holding the keys it read, and a document it takes
/// becomes items each with a string type and id, or an error with a pointer, never a panic.
pub fn inventory(data: &[u8]) {
    use crate::ingest::inventory::{PREFIX, detect, translate};
    let form = detect(&data[..data.len().min(PREFIX)]);
    let Some(form) = form else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match translate(form, value) {
        Ok(translated) => {
            let items: Vec<serde_json::Value> =
                serde_json::from_str(&translated.items).expect("the items are JSON");
            for item in items {
                assert!(item["resourceType"].is_string(), "{item}");
                assert!(item["resourceId"].is_string(), "{item}");
            }
        }
        Err((pointer, _)) => assert!(pointer.starts_with('/'), "{pointer}"),
    }
}

/// The ingest readers (the strict scanner over mapped text, serde over text and over a
/// stream): a text one takes, all take, with the same items and fields; a text one refuses,
/// all refuse.
pub fn ingest_forms(data: &[u8]) {
    use crate::ingest::forms::agreement::{read_both, readers_agree_on_outcome};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Only the text reader looks for JSON after text (an e-mail body) or past a byte-order
    // mark; the readers are held to agree on the rest, as `read_str` tells them apart.
    let first = text.bytes().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        readers_agree_on_outcome(text);
    } else {
        read_both(text);
    }
}

/// The canonical writer: on JSON it accepts, its output is JSON, canonical already (writing
/// it again changes nothing), and what serde reads of the input, written canonically.
pub fn canonical(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut scratch = crate::canonical::Scratch::default();
    let mut out = Vec::new();
    if crate::canonical::write_canonical(text, &mut out, &mut scratch).is_err() {
        return;
    }
    let written = std::str::from_utf8(&out).expect("canonical JSON is UTF-8");
    let mut again = Vec::new();
    crate::canonical::write_canonical(written, &mut again, &mut scratch)
        .expect("canonical JSON is accepted");
    assert_eq!(again, out, "canonical JSON is a fixed point: {text:?}");
    let parsed: serde_json::Value = serde_json::from_str(written).expect("canonical JSON parses");
    // serde reads floats as f64 too: the canonical text of its reading is the same text.
    assert_eq!(
        crate::canonical::to_canonical_string(&parsed).as_bytes(),
        &out[..],
        "{text:?}"
    );
}

/// The document index rules read through: the first line is a pointer, the rest a JSON
/// document. Every pointer into the document (up to a few hundred) and the given one must
/// resolve as `conform_sdk::json_pointer` resolves them on the same JSON.
pub fn document(data: &[u8]) {
    use crate::engine::document::{Found, JsonText, with_pointer};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pointer, json) = text.split_once('\n').unwrap_or(("", text));
    let mut canonical = Vec::new();
    let mut scratch = crate::canonical::Scratch::default();
    if crate::canonical::write_canonical(json, &mut canonical, &mut scratch).is_err() {
        return;
    }
    let value: serde_json::Value = serde_json::from_slice(&canonical).expect("canonical parses");
    let Ok(indexed) = JsonText::parse(canonical) else {
        panic!("canonical JSON the index refuses: {json:?}");
    };
    let mut pointers = vec![pointer.to_string()];
    every_pointer(&value, String::new(), &mut pointers);
    for pointer in &pointers {
        let got = with_pointer(indexed.root(), pointer, |v: Option<Found<'_>>| {
            v.map(|v| {
                (
                    v.kind() as i32,
                    v.as_bool(),
                    v.as_str().map(|s| s.into_owned()),
                    v.length(),
                )
            })
        });
        let want = conform_sdk::json_pointer::with_pointer(&value, pointer, |v| {
            v.map(|v| {
                (
                    conform_sdk::json_pointer::kind_code(Some(v)),
                    v.as_bool(),
                    v.as_str().map(str::to_owned),
                    v.as_array()
                        .map(Vec::len)
                        .or(v.as_object().map(|m| m.len())),
                )
            })
        });
        assert_eq!(got.ok(), want.ok(), "pointer {pointer:?} in {json:?}");
    }
}

/// Pointers to the values of `value`, at most 256 (a fuzz input may hold many).
fn every_pointer(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    if out.len() >= 256 {
        return;
    }
    out.push(at.clone());
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let token = key.replace('~', "~0").replace('/', "~1");
                every_pointer(v, format!("{at}/{token}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                every_pointer(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A waivers file, as YAML and as TOML.
pub fn waivers(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::gate::Waivers::parse(text, Path::new("waivers.yaml"));
        let _ = crate::gate::Waivers::parse(text, Path::new("waivers.toml"));
    }
}

/// A `conform.toml`.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::Config::parse(text, "conform.toml".into());
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use super::TARGETS;

    /// The kept inputs of a target: `tests/fuzz/corpus/TARGET/` (what `cargo fuzz` keeps,
    /// minimised with `cmin`) and `tests/fuzz/regressions/TARGET/` (each input that once
    /// failed, named for what it found; `cmin` never touches these).
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz");
        let mut files: Vec<PathBuf> = ["corpus", "regressions"]
            .iter()
            .filter_map(|kind| std::fs::read_dir(root.join(kind).join(target)).ok())
            .flat_map(|dir| dir.map(|e| e.unwrap().path()))
            .collect();
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    }

    /// One mutation of `input`, of the kinds fuzzers make: flip, insert, delete, splice a
    /// piece of another input, or repeat a piece.
    fn mutate(input: &[u8], other: &[u8], rng: &mut fastrand::Rng) -> Vec<u8> {
        const BYTES: &[u8] = b"{}[]\":,\\0123456789.eE-+tfnul \n\t/~\x00\xff";
        let mut out = input.to_vec();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..=out.len());
            match rng.u8(..5) {
                0 if !out.is_empty() => {
                    let i = rng.usize(..out.len());
                    out[i] = BYTES[rng.usize(..BYTES.len())];
                }
                1 => out.insert(at, BYTES[rng.usize(..BYTES.len())]),
                2 if at < out.len() => {
                    let end = rng.usize(at..=out.len().min(at + 16));
                    out.drain(at..end);
                }
                3 if !other.is_empty() => {
                    let from = rng.usize(..other.len());
                    let end = rng.usize(from..=other.len().min(from + 64));
                    out.splice(at..at, other[from..end].iter().copied());
                }
                _ if at < out.len() => {
                    let end = rng.usize(at..=out.len().min(at + 8));
                    let piece = out[at..end].to_vec();
                    for _ in 0..rng.usize(1..8) {
                        out.splice(at..at, piece.iter().copied());
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The default seed: a run of `cargo test` is then a prefix of the same sequence on any
    /// machine (a slower one runs fewer mutations, never others), so CI fails only on a change,
    /// never on luck. Any other seed explores further.
    const DEFAULT_SEED: u64 = 2026;

    /// Every corpus input through its target, then mutations of them until the time runs out:
    /// CONFORM_FUZZ_SECS per target (default 2), seeded by CONFORM_FUZZ_SEED (default
    /// `DEFAULT_SEED`), both printed so a failure can be replayed.
    #[test]
    fn the_fuzz_targets_hold_on_the_corpus_and_its_mutations() {
        let seconds: f64 = std::env::var("CONFORM_FUZZ_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0);
        let seed: u64 = std::env::var("CONFORM_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_SEED);
        // CONFORM_FUZZ_REPLAY=TARGET:FILE runs one input alone, to see its failure whole.
        if let Some((name, file)) = std::env::var("CONFORM_FUZZ_REPLAY")
            .ok()
            .as_deref()
            .and_then(|r| r.split_once(':'))
        {
            let (_, target) = TARGETS.iter().find(|(n, _)| *n == name).expect("a target");
            target(&std::fs::read(file).expect("the input"));
            return;
        }
        for (name, target) in TARGETS {
            let inputs = corpus(name);
            assert!(!inputs.is_empty(), "{name} has no corpus");
            for input in &inputs {
                target(input);
            }
            let mut rng = fastrand::Rng::with_seed(seed);
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let mut runs = 0u64;
            while Instant::now() < deadline {
                let a = &inputs[rng.usize(..inputs.len())];
                let b = &inputs[rng.usize(..inputs.len())];
                let input = mutate(a, b, &mut rng);
                let outcome = std::panic::catch_unwind(|| target(&input));
                if outcome.is_err() {
                    let kept = std::env::temp_dir().join(format!("conform-fuzz-{name}-{seed}"));
                    let _ = std::fs::write(&kept, &input);
                    panic!(
                        "fuzz target {name} failed (CONFORM_FUZZ_SEED={seed}; input kept in {}, \
                         replay with CONFORM_FUZZ_REPLAY={name}:{}) on {:?}",
                        kept.display(),
                        kept.display(),
                        String::from_utf8_lossy(&input)
                    );
                }
                runs += 1;
            }
            eprintln!(
                "fuzz {name}: {} corpus inputs, {runs} mutations (seed {seed})",
                inputs.len()
            );
        }
    }
}
