//! Inputs built to hurt the reader: decompression bombs, huge items and values, duplicate
//! keys, numbers beyond a float. Each is refused naming file, item and field, within bounded
//! memory and stderr, and leaves the store byte-identical.

use std::io::Write;

use serde_json::json;

use crate::support::*;

/// The store's file and log are as they were (a log that is absent or empty is the same).
#[track_caller]
fn assert_same_store(s: &Scratch, before: &(Vec<u8>, Option<Vec<u8>>)) {
    let now = s.db_bytes();
    assert!(now.0 == before.0, "the store's file changed");
    assert!(
        now.1.unwrap_or_default() == before.1.clone().unwrap_or_default(),
        "the store's log changed"
    );
}

/// A store holding one snapshot, to show that failed ingests leave it as it was.
fn store() -> Scratch {
    let s = Scratch::new();
    s.ingest_items(
        "first.json",
        &[volume("vol-a", 8, true, "2026-11-02T06:00:00Z")],
    );
    s
}

/// A `.gz` whose one item holds a string of `mib` MiB of one letter: it compresses about
/// a thousandfold.
fn string_bomb(s: &Scratch, name: &str, mib: usize) -> std::path::PathBuf {
    let path = s.path(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    gz.write_all(br#"{"configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-bomb","configuration":{"s":""#)
        .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..mib {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(br#""}}]}"#).unwrap();
    gz.finish().unwrap();
    path
}

#[test]
fn a_decompression_bomb_is_refused_early_and_stores_nothing() {
    let s = store();
    let before = s.db_bytes();
    let bomb = string_bomb(&s, "bomb.json.gz", 256);
    let (run, peak_mib) = s.conform_measured(&["ingest", as_str(&bomb)]);
    let run = run.fails_with(&["bomb.json.gz", "decompression bomb", "--max-gzip-ratio"]);
    // Before, the expansion was buffered: 2 GiB of it took 6 GB.
    assert!(peak_mib < 200, "peak {peak_mib} MiB");
    assert!(run.stderr.len() < 1_000, "{}", run.stderr);
    assert_same_store(&s, &before);

    // With the ratio raised, the item's size is the limit, named with its item.
    let run = s.conform(&[
        "ingest",
        as_str(&bomb),
        "--max-gzip-ratio",
        "100000",
        "--max-item-bytes",
        "8M",
    ]);
    run.fails_with(&[
        "bomb.json.gz: item 0",
        "more than 8388608 bytes",
        "--max-item-bytes",
    ]);
    // And with both raised, the file's size.
    s.conform(&[
        "ingest",
        as_str(&bomb),
        "--max-gzip-ratio",
        "100000",
        "--max-item-bytes",
        "1G",
        "--max-file-bytes",
        "64M",
    ])
    .fails_with(&[
        "bomb.json.gz",
        "more than 67108864 bytes",
        "--max-file-bytes",
    ]);
    assert_same_store(&s, &before);
}

#[test]
fn a_large_item_is_refused_naming_its_field_and_a_flag_raises_the_limit() {
    let s = store();
    let before = s.db_bytes();
    let mut item = volume("vol-big", 8, true, "2026-11-09T06:00:00Z");
    item["configuration"]["blob"] = json!("x".repeat(2 << 20));
    let file = s.snapshot_file("big.json", &[item]);
    let run = s.conform(&[
        "ingest",
        "--partial",
        as_str(&file),
        "--max-item-bytes",
        "1M",
    ]);
    let run = run.fails_with(&[
        "big.json: item 0",
        "/configuration",
        "more than the limit per item of 1048576",
        "--max-item-bytes",
    ]);
    assert!(run.stderr.len() < 1_000, "{}", run.stderr);
    assert_same_store(&s, &before);
    // A plain file over the file limit is refused before it is read.
    s.conform(&["ingest", as_str(&file), "--max-file-bytes", "1K"])
        .fails_with(&["big.json", "more than the limit per file of 1024"]);
    assert_same_store(&s, &before);
    // The default (32 MiB) takes it.
    s.conform(&["ingest", "--partial", as_str(&file)]).ok();
}

#[test]
fn messages_quote_at_most_an_excerpt_of_a_huge_value() {
    let s = store();
    let before = s.db_bytes();
    // A lone top-level string, and an item whose tags are a 4 MiB string.
    let lone = s.write("lone.json", format!("\"{}\"", "b".repeat(4 << 20)));
    let run = s.conform(&["ingest", as_str(&lone)]);
    let run = run.fails_with(&["lone.json", "a lone JSON string"]);
    assert!(run.stderr.len() < 1_000, "{} bytes", run.stderr.len());
    let mut item = volume("vol-t", 8, true, "2026-11-09T06:00:00Z");
    item["tags"] = json!("t".repeat(4 << 20));
    item["resourceType"] = json!(7);
    let file = s.snapshot_file("tags.json", &[item]);
    let run = s.conform(&["ingest", as_str(&file)]);
    let run = run.fails_with(&["tags.json: item 0"]);
    assert!(run.stderr.len() < 2_000, "{} bytes", run.stderr.len());
    assert_same_store(&s, &before);
}

#[test]
fn problems_are_listed_up_to_a_bound() {
    let s = store();
    let bad = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| json!({"resourceType": i, "resourceId": "x", "configuration": {}}))
            .collect()
    };
    let file = s.snapshot_file("some.json", &bad(150));
    let run = s.conform(&["ingest", as_str(&file)]);
    let run = run.fails_with(&["some.json: item 0", "… and 50 more"]);
    assert_eq!(
        run.stderr.lines().count(),
        102,
        "a header, 100 problems, the rest counted"
    );
    // What is kept is bounded too (the JSON report lists all that is kept).
    let file = s.snapshot_file("many.json", &bad(10_050));
    let json = s.conform(&["ingest", "--format", "json", as_str(&file)]);
    assert_eq!(json.code, 2);
    let report = json.json();
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(
        problems.len(),
        10_001,
        "10,000 kept and one saying how many more"
    );
    assert!(
        problems[10_000]["message"]
            .as_str()
            .unwrap()
            .contains("and 50 more problems"),
        "{}",
        problems[10_000]
    );
}

#[test]
fn duplicate_keys_are_refused_at_every_level() {
    let s = store();
    let before = s.db_bytes();
    let nested = r#"{"configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-d","awsRegion":"us-east-1","configuration":{"volumeId":"vol-d","encrypted":true,"encrypted":false}}]}"#;
    let top = r#"{"configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-d","configuration":{},"resourceId":"vol-e"}]}"#;
    let tags = r#"{"configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-d","configuration":{},"tags":{"env":"prod","env":"dev"}}]}"#;
    for (name, text, key) in [
        ("nested.json", nested, "\"encrypted\" twice"),
        ("top.json", top, "\"resourceId\" twice"),
        ("tags.json", tags, "\"env\" twice"),
    ] {
        let file = s.write(name, text);
        s.conform(&["ingest", "--partial", as_str(&file)])
            .fails_with(&[&format!("{name}: item 0"), key]);
        // check reads as ingest does.
        let run = s.conform(&["check", as_str(&file)]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{name}: {}", run.stderr);
        // A gzipped copy is read by the other reader, to the same verdict.
        let gz = s.path(&format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        s.conform(&["ingest", "--partial", as_str(&gz)])
            .fails_with(&[key]);
    }
    assert_same_store(&s, &before);
}

#[test]
fn numbers_are_kept_exactly_or_refused() {
    let s = store();
    let text = r#"{"configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-n","configuration":{"big":18446744073709551615,"least":-9223372036854775808,"small":1.5e-300}}]}"#;
    let file = s.write("n.json", text);
    s.conform(&["ingest", "--partial", as_str(&file)]).ok();
    let shown = s.conform(&["show", "vol-n"]).ok();
    for exact in ["18446744073709551615", "-9223372036854775808", "1.5e-300"] {
        assert!(shown.stdout.contains(exact), "{exact}: {}", shown.stdout);
    }
    let before = s.db_bytes();
    let message = |n: &str| {
        if n.contains('e') {
            format!("the number {n} is beyond what a 64-bit float holds")
        } else {
            format!("the integer {n} is beyond 64 bits")
        }
    };
    for number in [
        "1e-400",
        "1e999",
        "-7.5e400",
        "123456789012345678901234567890",
        "18446744073709551616",
    ] {
        let text = format!(
            r#"{{"configurationItems":[{{"resourceType":"AWS::EC2::Volume","resourceId":"vol-m","configuration":{{"x":{number}}}}}]}}"#
        );
        let file = s.write("m.json", text);
        s.conform(&["ingest", "--partial", as_str(&file)])
            .fails_with(&["m.json: item 0", "/configuration", &message(number)]);
    }
    assert_same_store(&s, &before);
}
