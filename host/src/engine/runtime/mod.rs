//! How a rule binary is linked, started and called: one module per kind of binary, behind one
//! closed enum, as kubewarden's policy-evaluator keeps one folder per policy runtime. The
//! evaluator above never asks which runtime a rule has.
//!
//! What every runtime shares is the contract's meaning: the documents a rule reads, what it
//! reports and how a broken report or a trap becomes ERROR (`abi::HostState`), the memory cap,
//! the deadline, and throwing away an instance that trapped. What differs is what a binary may
//! import and how it starts:
//!
//! - [`core`]: a core module importing only ABI v1's `conform` functions.
//! - [`wasi`]: a core module that also imports WASI preview 1, which a language's standard
//!   library brings (Rust std, C's stdio, Zig, Go), run in a context that grants nothing.

pub mod core;
pub mod wasi;

use std::time::Duration;

use wasmtime::{Engine, InstancePre, Linker, Module, TypedFunc};

use super::abi::{HostState, Reported};

/// The kind of binary a rule is, chosen at load from what it imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// ABI v1 alone.
    Core,
    /// ABI v1 and WASI preview 1.
    WasiP1,
}

impl Runtime {
    /// Which runtime runs `module`, or every import no runtime provides: (module, name).
    pub fn of(module: &Module) -> Result<Runtime, Vec<(String, String)>> {
        let mut runtime = Runtime::Core;
        let mut refused = Vec::new();
        for import in module.imports() {
            if core::provides(import.module(), import.name()) {
                continue;
            }
            if wasi::provides(import.module(), import.name()) {
                runtime = Runtime::WasiP1;
                continue;
            }
            refused.push((import.module().to_string(), import.name().to_string()));
        }
        if refused.is_empty() {
            Ok(runtime)
        } else {
            Err(refused)
        }
    }

    /// How `conform rules` names it.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Core => "core",
            Runtime::WasiP1 => "wasi-p1",
        }
    }
}

/// The imports of every runtime, linked once per process.
pub(super) struct Linkers {
    core: Linker<HostState>,
    wasi: Linker<HostState>,
}

impl Linkers {
    pub fn new(engine: &Engine) -> wasmtime::Result<Linkers> {
        Ok(Linkers {
            core: core::linker(engine)?,
            wasi: wasi::linker(engine)?,
        })
    }

    /// Links `module` for `runtime`: what is left to do per instance is only to start it.
    pub fn link(&self, runtime: Runtime, module: &Module) -> wasmtime::Result<Code> {
        let linker = match runtime {
            Runtime::Core => &self.core,
            Runtime::WasiP1 => &self.wasi,
        };
        Ok(Code {
            runtime,
            pre: linker.instantiate_pre(module)?,
        })
    }
}

/// A rule's code, linked and ready to instantiate.
pub(super) struct Code {
    pub runtime: Runtime,
    pre: InstancePre<HostState>,
}

/// How an instance failed to start or a call ended other than by returning.
pub(super) enum Stopped {
    /// A trap, an interrupt at the deadline, or an import refusing the call.
    Trap(wasmtime::Error),
    /// The rule called WASI's `proc_exit`; what it reported before is kept.
    Exit {
        code: i32,
        reported: Vec<Reported>,
        broken: Option<String>,
    },
    /// A start function (`_initialize`, `conform_init`) failed; the message says which.
    Start(String, Option<wasmtime::Error>),
}

/// What one call of the entry point returned: its code, what it reported, the first broken
/// report.
pub(super) struct Returned {
    pub code: i32,
    pub reported: Vec<Reported>,
    pub broken: Option<String>,
}

/// A live instance: its store, and its entry point.
pub(super) struct Instance {
    /// The guest's wasmtime store (its memory, tables): not conform's `store::Store`.
    store: wasmtime::Store<HostState>,
    evaluate: TypedFunc<(), i32>,
}

impl Code {
    /// Starts an instance over `state`: instantiates it, runs the start functions its runtime
    /// has, and finds `entry`, all within `ticks` of the epoch.
    pub fn instantiate(
        &self,
        engine: &Engine,
        mut state: HostState,
        entry: &str,
        ticks: u64,
    ) -> Result<Instance, Stopped> {
        if self.runtime == Runtime::WasiP1 {
            state.wasi = Some(wasi::Guest::new());
        }
        let mut store = wasmtime::Store::new(engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks);
        let instance = self.pre.instantiate(&mut store).map_err(Stopped::Trap)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Stopped::Start("exports no memory".into(), None))?;
        store.data_mut().memory = Some(memory);
        if self.runtime == Runtime::WasiP1 {
            wasi::initialize(&instance, &mut store)?;
        }
        core::initialize(&instance, &mut store)?;
        let evaluate = instance
            .get_typed_func::<(), i32>(&mut store, entry)
            .map_err(|e| Stopped::Start(format!("{entry} has the wrong type: {e}"), None))?;
        Ok(Instance { store, evaluate })
    }
}

impl Instance {
    /// The state the host keeps for it, to set up an evaluation.
    pub fn state(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Calls the entry point once, within `deadline`. The evaluation must have been begun on
    /// [`Instance::state`]; it is ended here, whatever happens.
    pub fn call(&mut self, ticks: u64) -> Result<Returned, Stopped> {
        self.store.set_epoch_deadline(ticks);
        let called = self.evaluate.call(&mut self.store, ());
        let (reported, broken) = self.store.data_mut().end();
        match called {
            Ok(code) => Ok(Returned {
                code,
                reported,
                broken,
            }),
            Err(error) => match wasi::exit_code(&error) {
                Some(code) => Err(Stopped::Exit {
                    code,
                    reported,
                    broken,
                }),
                None => Err(Stopped::Trap(error)),
            },
        }
    }
}

/// Epoch ticks for a deadline: at least one.
pub(super) fn ticks(deadline: Duration, tick: Duration) -> u64 {
    (deadline.as_millis() / tick.as_millis()).max(1) as u64
}
