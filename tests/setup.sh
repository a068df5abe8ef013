#!/usr/bin/env bash
# What the tests need beyond a Rust toolchain, installed if missing: the wasm32 target (the
# built-in rules are compiled to it) and Debian's clang and lld (the C rule test compiles C).
set -euo pipefail

rustup target add wasm32-unknown-unknown >/dev/null

missing=0
command -v clang >/dev/null || missing=1
command -v wasm-ld >/dev/null || missing=1
if [ "$missing" = 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang lld >/dev/null
    else
        echo "tests need clang and lld (Debian: sudo apt-get install clang lld)" >&2
        exit 2
    fi
fi

# The SARIF 2.1.0 JSON Schema, from the npm registry (@microsoft/jest-sarif ships the OASIS
# schema): the gate's SARIF output is validated against it.
schema=tests/.deps/sarif-schema-2.1.0.json
if [ ! -s "$schema" ]; then
    command -v npm >/dev/null || { echo "tests need npm (Node.js) to fetch the SARIF schema" >&2; exit 2; }
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null 2>&1)
    mkdir -p "$(dirname "$schema")"
    tar -xzf "$work"/microsoft-jest-sarif-*.tgz -C "$work" package/lib/schemas/sarif-2.1.0-rtm.5.json
    mv "$work/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$schema"
    rm -rf "$work"
fi
