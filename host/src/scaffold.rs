//! `conform new-rule`: a rule to start from, in the language of the author's choice.
//!
//! Every scaffold is the same working rule, ENCRYPTED_VOLUMES with exactly the built-in's
//! semantics, under the author's id; its manifest; the built-in's test cases (`cases.yaml`, for
//! `conform test`); what it needs of the SDK, copied in so the directory builds on its own
//! (the C header, the WIT world, the Rust SDK crate); and one build command, printed and
//! written in its README. The scaffolds are made from the examples the end-to-end tests hold to
//! the built-in, so the two cannot drift apart.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// A language `new-rule` writes a scaffold for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    C,
    Cpp,
    Zig,
    Assemblyscript,
    Go,
    Python,
    Javascript,
    Typescript,
    Wat,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "{0:?} is not a rule name: use 1 to 64 ASCII letters, digits, `-` or `_`, starting with \
         a letter"
    )]
    Name(String),
    #[error("{} exists and is not empty: choose another --dir, or remove it", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What `new-rule` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Scaffold {
    pub id: String,
    pub lang: Lang,
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The one command that builds the rule, run in `dir`.
    pub build: String,
    /// The module the build writes, relative to `dir`.
    pub module: String,
    /// The command that runs its cases, in `dir`.
    pub test: String,
}

const CASES: &str = include_str!("../../rules/encrypted-volumes/cases.yaml");
const C_SOURCE: &str = include_str!("../../rules-sdk/examples/c/encrypted_volumes.c");
const C_HEADER: &str = include_str!("../../rules-sdk/include/conform.h");
const CPP_SOURCE: &str = include_str!("../../rules-sdk/examples/cpp/encrypted_volumes.cpp");
const CPP_HEADER: &str = include_str!("../../rules-sdk/cpp/conform.hpp");
const ZIG_SOURCE: &str = include_str!("../../rules-sdk/examples/zig/encrypted_volumes.zig");
const ZIG_SDK: &str = include_str!("../../rules-sdk/zig/conform.zig");
const AS_SOURCE: &str =
    include_str!("../../rules-sdk/examples/assemblyscript/encrypted_volumes.ts");
const AS_MANIFEST_TRANSFORM: &str = include_str!("../../rules-sdk/assemblyscript/manifest.mjs");
const AS_SDK: &str = include_str!("../../rules-sdk/assemblyscript/conform.ts");
/// The AssemblyScript compiler the scaffold pins.
const ASSEMBLYSCRIPT: &str = "0.28.20";
const GO_SOURCE: &str = include_str!("../../rules-sdk/examples/go/encrypted_volumes.go");
const GO_MANIFEST: &str = include_str!("../../rules-sdk/examples/go/encrypted_volumes.json");
const GO_SDK: &str = include_str!("../../rules-sdk/go/conform/conform.go");
const JS_SOURCE: &str = include_str!("../../rules-sdk/examples/javascript/encrypted_volumes.js");
const JS_MANIFEST: &str =
    include_str!("../../rules-sdk/examples/javascript/encrypted_volumes.json");
/// The JavaScript toolchain the scaffold pins: componentize-js and the WASI shim it needs.
const COMPONENTIZE_JS: &str = "0.23.0";
const PREVIEW2_SHIM: &str = "0.17.9";
/// The TypeScript compiler the TypeScript scaffold adds to them.
const TYPESCRIPT: &str = "5.9.3";
const TS_SOURCE: &str = include_str!("../../rules-sdk/examples/typescript/encrypted_volumes.ts");
const TS_MANIFEST: &str =
    include_str!("../../rules-sdk/examples/typescript/encrypted_volumes.json");
const TS_CONFIG: &str = include_str!("../../rules-sdk/examples/typescript/tsconfig.json");
const TS_SDK: &str = include_str!("../../rules-sdk/typescript/conform.d.ts");
const WAT_SOURCE: &str = include_str!("../../rules-sdk/examples/wat/encrypted-volumes.wat");
const PYTHON_SOURCE: &str = include_str!("../../rules-sdk/examples/python/encrypted_volumes.py");
const PYTHON_MANIFEST: &str =
    include_str!("../../rules-sdk/examples/python/encrypted_volumes.json");
const WIT: &str = include_str!("../../rules-sdk/wit/1.0.0/rule.wit");
const RUST_SOURCE: &str = include_str!("../../rules/encrypted-volumes/src/lib.rs");
/// The Rust SDK's sources, copied in as a crate of the scaffold's own.
const RUST_SDK: &[(&str, &str)] = &[
    ("lib.rs", include_str!("../../rules-sdk/src/lib.rs")),
    ("aws.rs", include_str!("../../rules-sdk/src/aws.rs")),
    ("imports.rs", include_str!("../../rules-sdk/src/imports.rs")),
    (
        "json_pointer.rs",
        include_str!("../../rules-sdk/src/json_pointer.rs"),
    ),
    ("testing.rs", include_str!("../../rules-sdk/src/testing.rs")),
];

/// The rule id a name makes: `my-volumes` is `MY_VOLUMES`.
pub fn rule_id(name: &str) -> String {
    name.replace('-', "_").to_ascii_uppercase()
}

/// Writes the scaffold of rule `name` in `lang` into `dir` (created; it must be empty).
pub fn write(name: &str, lang: Lang, dir: &Path) -> Result<Scaffold, ScaffoldError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let id = rule_id(name);
    // File and module names: Python modules and C files take `snake_case`.
    let stem = name.replace('-', "_").to_ascii_lowercase();
    let (files, build, module) = files(lang, &id, &stem);
    let mut written = Vec::new();
    for (path, text) in files
        .into_iter()
        .chain([("cases.yaml".to_string(), cases())])
        .chain([("README.md".to_string(), readme(&id, lang, &build, &module))])
    {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok(Scaffold {
        id,
        lang,
        dir: dir.to_path_buf(),
        files: written,
        build,
        test: test_command(&module),
        module,
    })
}

fn test_command(module: &str) -> String {
    format!("conform test {module} --cases cases.yaml")
}

fn cases() -> String {
    CASES.replace(
        "# ENCRYPTED_VOLUMES's cases, for `conform test`. They name no rule, so any re-implementation\n\
         # runs them too: `conform test RULE.wasm --cases rules/encrypted-volumes/cases.yaml`.",
        "# The rule's cases, for `conform test` (the built-in ENCRYPTED_VOLUMES's, which this rule\n\
         # starts as). Add yours, and run them with `conform test MODULE --cases cases.yaml`.",
    )
}

/// The files of a scaffold (relative path, text), its build command and the module it makes.
fn files(lang: Lang, id: &str, stem: &str) -> (Vec<(String, String)>, String, String) {
    match lang {
        Lang::Wat => (
            vec![(
                format!("{stem}.wat"),
                WAT_SOURCE.replace("WAT_ENCRYPTED_VOLUMES", id),
            )],
            // Nothing to build: conform reads WebAssembly text.
            format!("conform rules --rules {stem}.wat --no-builtins"),
            format!("{stem}.wat"),
        ),
        Lang::C => (
            vec![
                (
                    format!("{stem}.c"),
                    C_SOURCE.replace("C_ENCRYPTED_VOLUMES", id),
                ),
                ("conform.h".to_string(), C_HEADER.to_string()),
            ],
            // The manifest is in the source (CONFORM_MANIFEST): the compiler writes it.
            format!(
                "clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -I . -o {stem}.wasm {stem}.c"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Cpp => (
            vec![
                (
                    format!("{stem}.cpp"),
                    CPP_SOURCE.replace("CPP_ENCRYPTED_VOLUMES", id),
                ),
                ("conform.h".to_string(), C_HEADER.to_string()),
                ("conform.hpp".to_string(), CPP_HEADER.to_string()),
            ],
            format!(
                "clang++ --target=wasm32 -O2 -std=c++17 -nostdlib -fno-exceptions -fno-rtti \
                 -Wl,--no-entry -I . -o {stem}.wasm {stem}.cpp"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Zig => (
            vec![
                (
                    format!("{stem}.zig"),
                    ZIG_SOURCE.replace("ZIG_ENCRYPTED_VOLUMES", id),
                ),
                ("conform.zig".to_string(), ZIG_SDK.to_string()),
            ],
            // Zig from PyPI (`pip install ziglang`); `zig build-exe ...` is the same. The
            // manifest is in the source (`conform.manifest`): the compiler writes it.
            format!(
                "python3 -m ziglang build-exe {stem}.zig -target wasm32-freestanding -fno-entry \
                 -rdynamic -O ReleaseSmall"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Assemblyscript => (
            vec![
                (
                    format!("{stem}.ts"),
                    AS_SOURCE.replace("AS_ENCRYPTED_VOLUMES", id),
                ),
                ("conform.ts".to_string(), AS_SDK.to_string()),
                (
                    "manifest.mjs".to_string(),
                    AS_MANIFEST_TRANSFORM.to_string(),
                ),
                (
                    "package.json".to_string(),
                    format!(
                        "{{\n  \"name\": \"{}\",\n  \"private\": true,\n  \"devDependencies\": \
                         {{ \"assemblyscript\": \"{ASSEMBLYSCRIPT}\" }}\n}}\n",
                        stem.replace('_', "-")
                    ),
                ),
            ],
            // `--use abort=`: conform provides no `env.abort`. The transform writes the
            // source's MANIFEST into the module.
            format!(
                "npm install --silent --no-audit --no-fund && npx asc {stem}.ts -O3 --use abort= \
                 --transform ./manifest.mjs -o {stem}.wasm"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Go => (
            vec![
                (
                    format!("{stem}.go"),
                    GO_SOURCE.replace(
                        "conform.example/rules-sdk/go/conform",
                        &format!("{stem}/conform"),
                    ),
                ),
                (
                    format!("{stem}.json"),
                    GO_MANIFEST.replace("GO_ENCRYPTED_VOLUMES", id),
                ),
                ("conform/conform.go".to_string(), GO_SDK.to_string()),
                ("go.mod".to_string(), format!("module {stem}\n\ngo 1.24\n")),
            ],
            // A reactor (`c-shared`): conform calls its `_initialize`, then `conform_evaluate`.
            format!(
                "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o {stem}.wasm . && \
                 conform rules annotate {stem}.wasm --manifest {stem}.json"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Python => (
            vec![
                (format!("{stem}.py"), PYTHON_SOURCE.to_string()),
                (
                    format!("{stem}.json"),
                    PYTHON_MANIFEST.replace("PY_ENCRYPTED_VOLUMES", id),
                ),
                ("wit/rule.wit".to_string(), WIT.to_string()),
            ],
            format!(
                "componentize-py -d wit -w resource-rule componentize {stem} -o {stem}.wasm && \
                 conform rules annotate {stem}.wasm --manifest {stem}.json"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Javascript => (
            vec![
                (format!("{stem}.js"), JS_SOURCE.to_string()),
                (
                    format!("{stem}.json"),
                    JS_MANIFEST.replace("JS_ENCRYPTED_VOLUMES", id),
                ),
                ("wit/rule.wit".to_string(), WIT.to_string()),
                ("package.json".to_string(), package_json(stem, &[])),
            ],
            // `-d http fetch-event`: a rule has no use for an HTTP client or server.
            format!(
                "npm install --silent --no-audit --no-fund && npx componentize-js {stem}.js --wit \
                 wit -n resource-rule -d http fetch-event -o {stem}.wasm && conform rules \
                 annotate {stem}.wasm --manifest {stem}.json"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Typescript => (
            vec![
                (format!("{stem}.ts"), TS_SOURCE.to_string()),
                (
                    format!("{stem}.json"),
                    TS_MANIFEST.replace("TS_ENCRYPTED_VOLUMES", id),
                ),
                ("conform.d.ts".to_string(), TS_SDK.to_string()),
                (
                    "tsconfig.json".to_string(),
                    TS_CONFIG.replace("encrypted_volumes.ts", &format!("{stem}.ts")),
                ),
                ("wit/rule.wit".to_string(), WIT.to_string()),
                (
                    "package.json".to_string(),
                    package_json(stem, &[("typescript", TYPESCRIPT)]),
                ),
            ],
            // tsc checks the rule against conform.d.ts and writes build/; the rest is as for
            // JavaScript.
            format!(
                "npm install --silent --no-audit --no-fund && npx tsc && npx componentize-js \
                 build/{stem}.js --wit wit -n resource-rule -d http fetch-event -o {stem}.wasm && \
                 conform rules annotate {stem}.wasm --manifest {stem}.json"
            ),
            format!("{stem}.wasm"),
        ),
        Lang::Rust => {
            let mut files = vec![
                (
                    "Cargo.toml".to_string(),
                    format!(
                        "[package]\nname = \"{stem}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                         publish = false\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
                         [dependencies]\nconform-sdk = {{ path = \"conform-sdk\" }}\n\n\
                         [dev-dependencies]\nserde_json = \"1\"\n\n[workspace]\n"
                    ),
                ),
                (
                    "src/lib.rs".to_string(),
                    RUST_SOURCE.replace("ENCRYPTED_VOLUMES", id),
                ),
                (
                    "conform-sdk/Cargo.toml".to_string(),
                    "[package]\nname = \"conform-sdk\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                     publish = false\n\n[lib]\ncrate-type = [\"rlib\"]\n\n\
                     [target.'cfg(not(target_arch = \"wasm32\"))'.dependencies]\n\
                     serde_json = \"1\"\n"
                        .to_string(),
                ),
            ];
            for (name, text) in RUST_SDK {
                files.push((format!("conform-sdk/src/{name}"), text.to_string()));
            }
            (
                files,
                "cargo build --release --target wasm32-unknown-unknown".to_string(),
                format!("target/wasm32-unknown-unknown/release/{stem}.wasm"),
            )
        }
    }
}

/// A JavaScript scaffold's package.json: componentize-js and its WASI shim, pinned, and `more`.
fn package_json(stem: &str, more: &[(&str, &str)]) -> String {
    let mut dependencies = vec![
        ("@bytecodealliance/componentize-js", COMPONENTIZE_JS),
        ("@bytecodealliance/preview2-shim", PREVIEW2_SHIM),
    ];
    dependencies.extend_from_slice(more);
    let dependencies: serde_json::Map<String, serde_json::Value> = dependencies
        .into_iter()
        .map(|(name, version)| (name.to_string(), version.into()))
        .collect();
    let package = serde_json::json!({
        "name": stem.replace('_', "-"),
        "private": true,
        "type": "module",
        "devDependencies": dependencies,
    });
    serde_json::to_string_pretty(&package).expect("strings serialize") + "\n"
}

fn readme(id: &str, lang: Lang, build: &str, module: &str) -> String {
    let lang = match lang {
        Lang::Rust => "Rust",
        Lang::C => "C",
        Lang::Cpp => "C++",
        Lang::Zig => "Zig",
        Lang::Assemblyscript => "AssemblyScript",
        Lang::Go => "Go",
        Lang::Python => "Python",
        Lang::Javascript => "JavaScript",
        Lang::Typescript => "TypeScript",
        Lang::Wat => "WebAssembly text",
    };
    format!(
        "# {id}\n\n\
         A conform rule in {lang}, started from `conform new-rule`: ENCRYPTED_VOLUMES as the \
         built-in defines it (attached EBS volumes are encrypted, optionally with the KMS key \
         `kmsId`). Change it into yours; the contract is conform's `rules-sdk/ABI.md`.\n\n\
         Build:\n\n    {build}\n\n\
         Test (the cases in `cases.yaml`):\n\n    {}\n\n\
         Run it over a store's latest snapshot:\n\n    conform scan --rules {module}\n",
        test_command(module)
    )
}
