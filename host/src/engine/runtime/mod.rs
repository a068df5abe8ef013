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
//! - [`component`]: a component of the WIT world `conform:rule@1.0.0` (Python, JavaScript),
//!   with WASI preview 2 from the same sandbox.

pub mod component;
pub mod core;
pub mod wasi;

use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Engine, InstancePre, Linker, Module, TypedFunc};

use super::RuleKind;
use super::abi::{HostState, Reported};

/// The kind of binary a rule is, chosen at load from what it is and what it imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// A core module importing ABI v1 alone.
    Core,
    /// A core module importing ABI v1 and WASI preview 1.
    WasiP1,
    /// A component of the WIT world `conform:rule@1.0.0`, with WASI preview 2.
    Component,
}

impl Runtime {
    /// Which runtime runs core module `module`, or every import no runtime provides.
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
            Runtime::Component => "component",
        }
    }

    /// Memories, instances and tables one instance may have: one each for a core module; a
    /// component is several core modules (an interpreter, its libc, WASI's adapter).
    pub fn counts(self) -> (usize, usize, usize) {
        match self {
            Runtime::Core | Runtime::WasiP1 => (1, 1, super::MAX_TABLES),
            Runtime::Component => (16, 64, 64),
        }
    }
}

/// The imports of every runtime, linked once per process.
pub(super) struct Linkers {
    core: Linker<HostState>,
    wasi: Linker<HostState>,
    component: wasmtime::component::Linker<HostState>,
}

impl Linkers {
    pub fn new(engine: &Engine) -> wasmtime::Result<Linkers> {
        Ok(Linkers {
            core: core::linker(engine)?,
            wasi: wasi::linker(engine)?,
            component: component::linker(engine)?,
        })
    }

    /// Links core module `module` for `runtime`: what is left per instance is to start it.
    pub fn link(&self, runtime: Runtime, module: &Module) -> wasmtime::Result<Code> {
        let linker = match runtime {
            Runtime::Core | Runtime::Component => &self.core,
            Runtime::WasiP1 => &self.wasi,
        };
        Ok(Code {
            runtime,
            pre: Pre::Core(linker.instantiate_pre(module)?),
        })
    }

    /// Links a component for the world of a rule of `kind`.
    pub fn link_component(&self, component: &Component, kind: RuleKind) -> wasmtime::Result<Code> {
        Ok(Code {
            runtime: Runtime::Component,
            pre: Pre::Component(component::Pre::new(&self.component, component, kind)?),
        })
    }
}

/// A rule's code, linked and ready to instantiate (cheap to clone: it is shared).
#[derive(Clone)]
pub(super) struct Code {
    pub runtime: Runtime,
    pre: Pre,
}

#[derive(Clone)]
enum Pre {
    Core(InstancePre<HostState>),
    Component(component::Pre),
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
    entry: Entry,
}

enum Entry {
    Core(TypedFunc<(), i32>),
    Component(component::Bound),
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
        state.wasi = match self.runtime {
            Runtime::Core => None,
            Runtime::WasiP1 => Some(wasi::Guest::p1()),
            Runtime::Component => Some(wasi::Guest::p2()),
        };
        let mut store = wasmtime::Store::new(engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks);
        let pre = match &self.pre {
            Pre::Core(pre) => pre,
            Pre::Component(pre) => {
                let bound = pre.instantiate(&mut store)?;
                return Ok(Instance {
                    store,
                    entry: Entry::Component(bound),
                });
            }
        };
        let instance = pre.instantiate(&mut store).map_err(Stopped::Trap)?;
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
        Ok(Instance {
            store,
            entry: Entry::Core(evaluate),
        })
    }
}

impl Instance {
    /// The state the host keeps for it, to set up an evaluation.
    pub fn state(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Calls the entry point once, within `ticks`. The evaluation must have been begun on
    /// [`Instance::state`]; it is ended here, whatever happens.
    pub fn call(&mut self, ticks: u64) -> Result<Returned, Stopped> {
        self.store.set_epoch_deadline(ticks);
        let called = match &self.entry {
            Entry::Core(evaluate) => evaluate.call(&mut self.store, ()),
            Entry::Component(bound) => bound.call(&mut self.store),
        };
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
