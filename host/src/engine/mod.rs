//! The rule engine: loads WebAssembly rules (ABI v1, `rules-sdk/ABI.md`) and runs them,
//! sandboxed, over configuration items.
//!
//! Rules are untrusted. Each runs in its own store with a memory cap and an epoch deadline; a
//! module importing anything no runtime provides is refused at load. A rule that traps, loops,
//! or reports garbage yields an ERROR evaluation for that rule and item, its instance is thrown
//! away, and evaluation goes on.
//!
//! A `Rule` is what the rest of conform sees; how it is linked and called is its runtime's
//! (`runtime`: ABI v1 alone, or with WASI preview 1), behind one closed enum.

pub mod abi;
pub mod budget;
pub mod builtin;
pub mod document;
pub mod manifest;
pub mod ruleset;
pub mod runtime;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use wasmtime::{Engine, Module, StoreLimitsBuilder};

use crate::canonical::ContentHasher;
use abi::{HostState, Target};
pub use budget::Budget;
use document::{ItemDocument, JsonText};
pub use manifest::{ABI_VERSION, Manifest, RuleKind, Scope, Severity};
pub use ruleset::{RuleSelection, RuleSet, RuleSetError};
pub use runtime::Runtime;
use runtime::{Code, Linkers, Stopped};

pub use crate::model::Compliance;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("rule {name}: {message}")]
    Load { name: String, message: String },
    #[error("rule {rule}: invalid parameters: {message}")]
    Params { rule: String, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the WebAssembly engine could not start: {0}")]
    Engine(String),
}

impl EngineError {
    pub(crate) fn load(name: &str, message: impl Into<String>) -> EngineError {
        EngineError::Load {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// How far a rule may go in one evaluation and in one scan, and where compiled rules are cached.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deadline of one evaluation.
    pub timeout: Duration,
    /// Linear memory of one instance.
    pub memory_bytes: usize,
    /// Consecutive timeouts after which a rule is disabled for the rest of the scan; 0: never.
    pub max_timeouts: u32,
    /// Time one rule may spend in one scan, over all its evaluations; `None`: no limit.
    pub rule_budget: Option<Duration>,
    /// Time the whole scan may spend evaluating; past it, what is left is ERROR.
    pub scan_budget: Option<Duration>,
    /// How long compiling one rule may take.
    pub compile_timeout: Duration,
    /// Directory of compiled modules, keyed by content and compiler settings; `None` compiles
    /// every module in every process.
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            max_timeouts: 3,
            rule_budget: None,
            scan_budget: None,
            compile_timeout: Duration::from_secs(120),
            cache_dir: None,
        }
    }
}

/// Tables one instance may have, and elements per table (a funcref is a pointer: 8 MiB a
/// table at most). Toolchains make one table of a few thousand functions; a rule looping on
/// `table.grow` sees it fail at this size, as `memory.grow` fails at the memory cap.
pub const MAX_TABLES: usize = 4;
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Largest rule module conform compiles (componentized interpreters run to tens of MiB).
pub const MAX_MODULE_BYTES: usize = 256 << 20;

/// The resource type of an evaluation about a whole account (estate rules), as AWS Config names it.
pub const ACCOUNT_TYPE: &str = "AWS::::Account";

/// Why a module's imports are refused: every one of them at once (an author should not
/// rebuild once per import), with what a toolchain's known extras need.
fn refused_imports(refused: &[(String, String)]) -> String {
    let listed: Vec<String> = refused
        .iter()
        .map(|(module, name)| format!("`{module}.{name}`"))
        .collect();
    let mut message = format!(
        "imports {} conform does not provide ({}): rules may import only the `conform` \
         functions of ABI v{ABI_VERSION} and WASI preview 1 (`{}`)",
        match refused.len() {
            1 => "a function".to_string(),
            n => format!("{n} functions"),
        },
        listed.join(", "),
        runtime::wasi::MODULE
    );
    if refused
        .iter()
        .any(|(m, _)| m.starts_with("wasi") && m != runtime::wasi::MODULE)
    {
        message.push_str(
            "; other `wasi*` modules are older or newer snapshots of WASI: build for \
             `wasm32-wasip1` (or a freestanding target)",
        );
    }
    if refused.iter().any(|(m, _)| m == runtime::wasi::MODULE) {
        message
            .push_str("; the `wasi_snapshot_preview1` functions named are not in WASI preview 1");
    }
    if refused.iter().any(|(m, n)| m == "env" && n == "abort") {
        message.push_str(
            "; `env.abort` is AssemblyScript's: build with `--use abort=` (or point it at a \
             function of your own)",
        );
    }
    message
}

/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);

/// Compiles and runs rules. One per process: compiled code and the deadline clock are shared.
pub struct RuleHost {
    engine: Engine,
    linkers: Linkers,
    limits: Limits,
    ticker: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for RuleHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleHost")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Drop for RuleHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// A loaded rule: manifest, validated parameters and compiled code ready to instantiate.
pub struct Rule {
    pub manifest: Manifest,
    /// Where it came from (a path, or `builtin:ID`).
    pub source: String,
    /// Hash of the module's bytes: which exact code produced an evaluation.
    pub module_hash: String,
    pub params: Arc<Value>,
    /// The parameters as rules read them (document 1), indexed once.
    params_text: Arc<JsonText>,
    code: Code,
}

impl Rule {
    /// The same rule with other parameters (validated against its schema, defaults filled
    /// in), sharing its compiled code: for `conform test`, whose cases each set their own.
    pub fn with_params(&self, params: Option<&Value>) -> Result<Rule, EngineError> {
        let params = Arc::new(self.manifest.parameters(params)?);
        Ok(Rule {
            manifest: self.manifest.clone(),
            source: self.source.clone(),
            module_hash: self.module_hash.clone(),
            params_text: Arc::new(JsonText::from_value(&params)),
            params,
            code: self.code.clone(),
        })
    }

    /// Which runtime links and calls it, chosen at load from its imports.
    pub fn runtime(&self) -> Runtime {
        self.code.runtime
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.manifest.id)
            .field("source", &self.source)
            .field("runtime", &self.code.runtime)
            .finish()
    }
}

/// What a resource rule concluded about the item it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub compliance: Compliance,
    pub annotation: String,
}

/// One evaluation an estate rule made for one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// The in-scope item it evaluated, by index in the items the rule was given; `None`: the
    /// account itself (`AWS::::Account`).
    pub item: Option<usize>,
    pub compliance: Compliance,
    pub annotation: String,
}

/// Why an evaluation failed, and whether it was by running out of time (which counts towards
/// the circuit breaker).
struct Failure {
    message: String,
    timed_out: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            timed_out: false,
        }
    }
}

impl RuleHost {
    pub fn new(limits: Limits) -> Result<RuleHost, EngineError> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        if let Some(dir) = &limits.cache_dir {
            // wasmtime keys each artifact by the module's bytes and the compiler's version and
            // settings, so a changed module or a new conform never loads a stale artifact.
            // The cache only saves time: where it cannot be made (a read-only home, say), rules
            // are compiled afresh.
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            match std::fs::create_dir_all(dir)
                .map_err(|e| e.to_string())
                .and_then(|()| wasmtime::Cache::new(cache).map_err(|e| e.to_string()))
            {
                Ok(cache) => {
                    config.cache(Some(cache));
                }
                Err(e) => tracing::warn!(
                    "compiled-rule cache {} unusable ({e}); compiling rules afresh",
                    dir.display()
                ),
            }
        }
        let engine = Engine::new(&config).map_err(|e| EngineError::Engine(e.to_string()))?;
        let linkers = Linkers::new(&engine).map_err(|e| EngineError::Engine(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("conform-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| EngineError::Engine(e.to_string()))?
        };
        Ok(RuleHost {
            engine,
            linkers,
            limits,
            ticker: Some(ticker),
            stop,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Loads a rule from a `.wasm` or `.wat` file.
    pub fn load_file(
        &self,
        path: &Path,
        params: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<Rule, EngineError> {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load(&path.display().to_string(), &bytes, params)
    }

    /// Loads a rule from module bytes (binary or text). `params` gives the parameters set for a
    /// rule id, if any; defaults fill in the rest.
    pub fn load(
        &self,
        source: &str,
        bytes: &[u8],
        params: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<Rule, EngineError> {
        let rule = self.load_code(source, bytes)?;
        rule.with_params(params(&rule.manifest.id).as_ref())
    }

    /// Loads a rule's code with no parameters bound yet (its parameter document is `{}`, even
    /// where the schema requires some): for `conform test`, whose cases each bind theirs with
    /// [`Rule::with_params`], so a rule with required parameters loads before any case sets
    /// them.
    pub fn load_code(&self, source: &str, bytes: &[u8]) -> Result<Rule, EngineError> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(EngineError::load(
                source,
                format!(
                    "is {} bytes; conform compiles rules of at most {MAX_MODULE_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let binary = wat::parse_bytes(bytes)
            .map_err(|e| EngineError::load(source, format!("not WebAssembly: {e}")))?;
        let manifest = Manifest::from_module(source, &binary)?;
        let name = format!("{} ({source})", manifest.id);
        let code = if wasmparser::Parser::is_component(&binary) {
            self.load_component(&name, &manifest, &binary)?
        } else {
            self.load_module(&name, &manifest, &binary)?
        };
        let params = Arc::new(Value::Object(Default::default()));
        let params_text = Arc::new(JsonText::from_value(&params));
        let mut hasher = ContentHasher::new();
        hasher.part(0, Some(&binary));
        Ok(Rule {
            manifest,
            source: source.to_string(),
            module_hash: hasher.finish().to_string(),
            params,
            params_text,
            code,
        })
    }

    /// Compiles and links a component of the WIT world (`runtime::component`).
    fn load_component(
        &self,
        name: &str,
        manifest: &Manifest,
        binary: &[u8],
    ) -> Result<Code, EngineError> {
        let component = self.compile(name, binary, |engine, binary| {
            wasmtime::component::Component::new(engine, binary)
        })?;
        let refused = runtime::component::refused(&component, &self.engine);
        if !refused.is_empty() {
            let listed: Vec<String> = refused.iter().map(|i| format!("`{i}`")).collect();
            return Err(EngineError::load(
                name,
                format!(
                    "imports {} conform does not provide ({}): components may import only `{}` \
                     (rules-sdk/wit/1.0.0) and WASI 0.2",
                    match refused.len() {
                        1 => "an interface".to_string(),
                        n => format!("{n} interfaces"),
                    },
                    listed.join(", "),
                    runtime::component::HOST_INTERFACE
                ),
            ));
        }
        self.linkers
            .link_component(&component, manifest.kind)
            .map_err(|e| {
                EngineError::load(
                    name,
                    format!(
                        "does not match the {} world of conform:rule@1.0.0: {e:#}",
                        match manifest.kind {
                            RuleKind::Resource => "resource-rule",
                            RuleKind::Estate => "estate-rule",
                        }
                    ),
                )
            })
    }

    /// Compiles and links a core module, for ABI v1 alone or with WASI preview 1.
    fn load_module(
        &self,
        name: &str,
        manifest: &Manifest,
        binary: &[u8],
    ) -> Result<Code, EngineError> {
        let module = self.compile(name, binary, |engine, binary| Module::new(engine, binary))?;
        let runtime = Runtime::of(&module)
            .map_err(|refused| EngineError::load(name, refused_imports(&refused)))?;
        let entry = manifest.kind.entry_point();
        if module.get_export("memory").is_none() {
            return Err(EngineError::load(name, "exports no `memory`"));
        }
        if module.get_export(entry).is_none() {
            return Err(EngineError::load(
                name,
                format!("is a {:?} rule but exports no `{entry}`", manifest.kind),
            ));
        }
        self.linkers
            .link(runtime, &module)
            .map_err(|e| EngineError::load(name, format!("{e:#}")))
    }

    /// Compiles a module within the compile timeout. Compilation cannot be interrupted, so a
    /// module that takes too long is left to its thread and the load fails; the process ends
    /// soon after (a rule that cannot load stops the command).
    fn compile<T: Send + 'static>(
        &self,
        name: &str,
        binary: &[u8],
        compile: fn(&Engine, &[u8]) -> wasmtime::Result<T>,
    ) -> Result<T, EngineError> {
        let (engine, binary) = (self.engine.clone(), binary.to_vec());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("conform-compile".into())
            .spawn(move || {
                let _ = tx.send(compile(&engine, &binary));
            })
            .map_err(|e| EngineError::Engine(e.to_string()))?;
        match rx.recv_timeout(self.limits.compile_timeout) {
            Ok(compiled) => compiled.map_err(|e| EngineError::load(name, format!("{e:#}"))),
            Err(_) => Err(EngineError::load(
                name,
                format!(
                    "did not compile within {} s",
                    self.limits.compile_timeout.as_secs_f64()
                ),
            )),
        }
    }

    /// Loads every built-in rule. A built-in whose parameters are required but were not given
    /// (REQUIRED_TAGS needs `tag1Key`, as in AWS Config) is left out, with the reason returned;
    /// parameters that were given and are invalid are an error.
    pub fn load_builtins(
        &self,
        params: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<(Vec<Rule>, Vec<String>), EngineError> {
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        for (name, bytes) in builtin::BUILTIN {
            match self.load(&format!("builtin:{name}"), bytes, params) {
                Ok(rule) => rules.push(rule),
                Err(EngineError::Params { rule, message }) if params(&rule).is_none() => {
                    skipped.push(format!(
                        "built-in rule {rule} not run: it needs parameters ({message})"
                    ));
                }
                Err(other) => return Err(other),
            }
        }
        Ok((rules, skipped))
    }

    /// An evaluator for `rules`: it keeps one live instance per rule and reuses it across items.
    /// It starts a scan's budget (`Budget`); the scan's other jobs take a `sibling`.
    ///
    /// The evaluator holds the rules it runs (a shared list, as a [`RuleSet`] holds them), so
    /// whoever loaded them may load a new set meanwhile: a scan finishes with the rules it
    /// started with, and the next one takes the new set.
    pub fn evaluator(&self, rules: &Arc<[Rule]>) -> Evaluator {
        Evaluator {
            engine: self.engine.clone(),
            limits: self.limits.clone(),
            budget: Arc::new(Budget::new(rules, &self.limits)),
            rules: rules.clone(),
            live: rules.iter().map(|_| None).collect(),
        }
    }
}

/// Runs rules over items, one instance per rule, on one thread.
pub struct Evaluator {
    engine: Engine,
    limits: Limits,
    budget: Arc<Budget>,
    rules: Arc<[Rule]>,
    live: Vec<Option<Live>>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// A rule's live instance, reused across items until it traps.
type Live = runtime::Instance;

impl Evaluator {
    /// Another evaluator of the same rules, sharing this one's budget: for another job of the
    /// same scan.
    pub fn sibling(&self) -> Evaluator {
        Evaluator {
            engine: self.engine.clone(),
            limits: self.limits.clone(),
            budget: self.budget.clone(),
            rules: self.rules.clone(),
            live: self.rules.iter().map(|_| None).collect(),
        }
    }

    /// The rules it runs, in the order `evaluate` numbers them.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What the scan's budget cut short (disabled rules, dropped log lines), for its log.
    pub fn budget_notes(&self) -> Vec<String> {
        self.budget.notes(&self.rules)
    }

    /// Evaluates rule `index` on `item` (the CI as rules see it), if it is in the rule's scope.
    pub fn evaluate(&mut self, index: usize, item: &Arc<ItemDocument>) -> Option<Verdict> {
        let rule = &self.rules[index];
        if rule.manifest.kind != RuleKind::Resource || !rule.manifest.scope.includes_item(item) {
            return None;
        }
        let ran = match self.budget.refuses(index) {
            Some(reason) => Err(reason),
            None => self.run(index, item),
        };
        let rule = &self.rules[index];
        Some(match ran {
            Ok((compliance, annotation)) => Verdict {
                compliance,
                annotation,
            },
            Err(message) => {
                tracing::debug!(rule = %rule.manifest.id, "{message}");
                Verdict {
                    compliance: Compliance::Error,
                    annotation: format!(
                        "rule {} v{}: {message}",
                        rule.manifest.id, rule.manifest.version
                    ),
                }
            }
        })
    }

    /// Runs estate rule `index` once for `account` over its in-scope `items` (ABI §6). Returns the
    /// evaluations it emitted, each naming its item by index; if it failed, one ERROR evaluation
    /// of the account.
    pub fn evaluate_estate(
        &mut self,
        index: usize,
        account: &str,
        items: Arc<Vec<Arc<ItemDocument>>>,
    ) -> Vec<Evaluation> {
        let rule = &self.rules[index];
        if rule.manifest.kind != RuleKind::Estate {
            return Vec::new();
        }
        let (rule_id, version) = (rule.manifest.id.clone(), rule.manifest.version.clone());
        let failed = |message: String| {
            vec![Evaluation {
                item: None,
                compliance: Compliance::Error,
                annotation: format!("rule {rule_id} v{version}: {message}"),
            }]
        };
        if let Some(reason) = self.budget.refuses(index) {
            return failed(reason);
        }
        let estate = abi::Estate::new(account, items);
        match self.call(index, None, Some(estate)) {
            Ok((reported, None)) if !reported.is_empty() => reported
                .into_iter()
                .map(|r| Evaluation {
                    item: match r.target {
                        Target::Item(i) => Some(i),
                        Target::Account | Target::Current => None,
                    },
                    compliance: r.compliance,
                    annotation: r.annotation,
                })
                .collect(),
            Ok((_, Some(problem))) => failed(problem),
            Ok(_) => failed("emitted no evaluation".to_string()),
            Err(failure) => failed(failure.message),
        }
    }

    fn run(
        &mut self,
        index: usize,
        item: &Arc<ItemDocument>,
    ) -> Result<(Compliance, String), String> {
        let (mut reported, broken) = self
            .call(index, Some(item.clone()), None)
            .map_err(|f| f.message)?;
        match (broken, reported.as_slice()) {
            (Some(problem), _) => Err(problem),
            (None, [_]) => {
                let one = reported.pop().expect("one result");
                Ok((one.compliance, one.annotation))
            }
            (None, []) => Err("returned without reporting a result".to_string()),
            (None, many) => Err(format!("reported {} results for one item", many.len())),
        }
    }

    /// Calls the rule's entry point with the given current item or estate, and returns what it
    /// reported and the first broken report. A trap or non-zero return is an `Err`. The time
    /// it took is charged to the rule's budget.
    fn call(
        &mut self,
        index: usize,
        item: Option<Arc<ItemDocument>>,
        estate: Option<abi::Estate>,
    ) -> Result<(Vec<abi::Reported>, Option<String>), Failure> {
        let started = std::time::Instant::now();
        let called = self.call_once(index, item, estate);
        let timed_out = matches!(&called, Err(f) if f.timed_out);
        self.budget.spent(index, started.elapsed(), timed_out);
        called
    }

    fn call_once(
        &mut self,
        index: usize,
        item: Option<Arc<ItemDocument>>,
        estate: Option<abi::Estate>,
    ) -> Result<(Vec<abi::Reported>, Option<String>), Failure> {
        if self.live[index].is_none() {
            self.live[index] = Some(self.instantiate(index)?);
        }
        let deadline = self.budget.deadline();
        let live = self.live[index].as_mut().expect("instantiated above");
        live.state().begin(item, estate);
        match live.call(ticks(deadline)) {
            Ok(returned) if returned.code == 0 => Ok((returned.reported, returned.broken)),
            Ok(returned) => Err(format!("reported error {}", returned.code).into()),
            Err(stopped) => {
                // A trapped, interrupted or exited instance may be in any state: never reuse it.
                self.live[index] = None;
                match stopped {
                    // What it reported before it exited stands; without a report it is ERROR.
                    Stopped::Exit {
                        reported, broken, ..
                    } if !reported.is_empty() || broken.is_some() => Ok((reported, broken)),
                    Stopped::Exit { code, .. } => {
                        Err(format!("exited with code {code} before reporting a result").into())
                    }
                    Stopped::Trap(error) => Err(self.describe_trap(&error, deadline)),
                    Stopped::Start(message, _) => Err(message.into()),
                }
            }
        }
    }

    fn instantiate(&self, index: usize) -> Result<Live, Failure> {
        let rule = &self.rules[index];
        let (memories, instances, tables) = rule.code.runtime.counts();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .memories(memories)
            .tables(tables)
            .table_elements(MAX_TABLE_ELEMENTS)
            .instances(instances)
            .build();
        let state = HostState::new(
            Arc::from(rule.manifest.id.as_str()),
            rule.params_text.clone(),
            limits,
            self.budget.rule(index).clone(),
        );
        let deadline = self.budget.deadline();
        let entry = rule.manifest.kind.entry_point();
        rule.code
            .instantiate(&self.engine, state, entry, ticks(deadline))
            .map_err(|stopped| match stopped {
                Stopped::Trap(e) => {
                    let f = self.describe_trap(&e, deadline);
                    Failure {
                        message: format!("could not start: {}", f.message),
                        ..f
                    }
                }
                Stopped::Start(message, Some(e)) => {
                    let f = self.describe_trap(&e, deadline);
                    Failure {
                        message: format!("{message}: {}", f.message),
                        ..f
                    }
                }
                Stopped::Start(message, None) => message.into(),
                Stopped::Exit { code, .. } => {
                    format!("could not start: exited with code {code}").into()
                }
            })
    }

    fn describe_trap(&self, error: &wasmtime::Error, deadline: Duration) -> Failure {
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Failure {
                message: if deadline < self.limits.timeout {
                    format!(
                        "stopped at the end of the scan's time budget ({} ms left)",
                        deadline.as_millis()
                    )
                } else {
                    format!(
                        "exceeded its deadline of {} ms",
                        self.limits.timeout.as_millis()
                    )
                },
                timed_out: true,
            },
            Some(trap) => format!("trapped: {trap}").into(),
            // A host import refused the call (a range outside memory): its own message says why.
            None => error.root_cause().to_string().into(),
        }
    }
}

/// Epoch ticks for a deadline: at least one.
fn ticks(deadline: Duration) -> u64 {
    runtime::ticks(deadline, TICK)
}
