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
