#!/usr/bin/env bash
# The main job on the bundled sample estate: build conform, ingest the three weekly snapshots
# into a fresh store (embedded SQLite, no server), and print what is stored.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true  # built-in rules build to wasm32
cargo build --release --locked --quiet
conform=target/release/conform
export CONFORM_DB="${CONFORM_DB:-target/sample.db}"
rm -f "$CONFORM_DB" "$CONFORM_DB-wal" "$CONFORM_DB-shm"

$conform ingest --each snapshots/2026-11-02 snapshots/2026-11-09 snapshots/2026-11-16
echo
$conform snapshots
echo
$conform stats
echo
# A resource that changed over the three weeks: its versions, and what it is now.
$conform history AIDA1011A25CCA00000001A
echo
$conform show AIDA1011A25CCA00000001A --at 1 | head -n 12
echo
# Rules: scan the latest snapshot with the built-in rules (Rust, compiled to wasm) and a rule
# written by hand in WebAssembly text (ABI v1), then list what they found non-compliant.
$conform scan --rules rules-sdk/examples/wat/encrypted-volumes.wat
echo
$conform results --compliance NON_COMPLIANT
