#!/usr/bin/env bash
# The main job on the bundled sample estate, end to end: build conform, ingest the sample's
# synced bucket (three weekly deliveries of two accounts and two regions) into a fresh store
# (embedded SQLite, no server), take the first week as the approved baseline, scan every week with the built-in rules (WebAssembly), then show what
# drifted, the estate over time, what changed in compliance, and the CI gate, which fails on
# the sample's real drift: a new unencrypted volume and a new public, unencrypted database.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true  # built-in rules build to wasm32
cargo build --release --locked --quiet
conform=target/release/conform
export CONFORM_DB="${CONFORM_DB:-target/sample.db}"
rm -f "$CONFORM_DB" "$CONFORM_DB-wal" "$CONFORM_DB-shm"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "ingest a synced AWS Config bucket: three weeks of deliveries, 2 accounts x 2 regions (.json.gz)"
$conform ingest snapshots/AWSLogs
$conform snapshots

step "run it again, as a cron job after each sync would: nothing new is read"
$conform ingest snapshots/AWSLogs

step "the first week is the approved state"
$conform baseline set prod --snapshot 1

step "scan each week with the 13 built-in rules, plus a rule written by hand in WAT"
for snapshot in 1 2; do
    $conform scan --snapshot "$snapshot" --rules rules-sdk/examples/wat/encrypted-volumes.wat --quiet
done
$conform scan --snapshot 3 --rules rules-sdk/examples/wat/encrypted-volumes.wat

step "drift of the latest week from the baseline, field by field"
$conform drift

step "the estate over time, and one resource's history"
$conform timeline
$conform timeline vol-21fdeb26bf000000037

step "what changed in compliance with the latest scan"
$conform compliance-changes

step "the CI gate: fail on new non-compliance (SARIF for code scanning in target/sample-gate.sarif)"
$conform gate --format sarif --output target/sample-gate.sarif && status=0 || status=$?
if [ "$status" = 1 ]; then
    echo "gate failed as a CI job would see it: exit 1 (findings), not 2 (tool failure)"
else
    echo "unexpected gate exit status $status" >&2
    exit 1
fi
