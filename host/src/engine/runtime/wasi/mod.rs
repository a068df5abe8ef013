//! Core modules that import WASI preview 1 (`wasi_snapshot_preview1`), as a language's standard
//! library makes them: Rust std on wasm32-wasip1, C with wasi-libc, Zig's std, Go's wasip1.
//!
//! They get ABI v1 and every WASI preview 1 function, in a context that grants nothing
//! ([`sandbox`]): a rule that opens a file, reads the environment or resolves a name gets an
//! error back, as a program would from an empty machine. The standard library's start function
//! (`_initialize`, a reactor's) runs once per instance before `conform_init`; `proc_exit` ends
//! the evaluation.

pub mod sandbox;

use std::time::Duration;

use wasmtime::{Engine, Instance, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

use super::Stopped;
use crate::engine::abi::HostState;
use crate::engine::document::ItemDocument;
use sandbox::Sandbox;

/// The module WASI preview 1 is imported from.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The functions of WASI preview 1 (its witx), so that a misspelt or newer import is refused at
/// load with the others rather than at link time alone.
const FUNCTIONS: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// Whether WASI preview 1 provides `module.name`.
pub fn provides(module: &str, name: &str) -> bool {
    module == MODULE && FUNCTIONS.contains(&name)
}

/// A WASI rule's context and what the host reads back from it.
pub struct Guest {
    pub ctx: Ctx,
    pub sandbox: Sandbox,
}

/// The context of the WASI a rule imports: preview 1 for core modules, preview 2 (with the
/// table of its resources: streams, descriptors) for components.
#[allow(missing_debug_implementations)] // wasmtime-wasi's contexts have none
pub enum Ctx {
    P1(WasiP1Ctx),
    P2(wasmtime_wasi::WasiCtx, wasmtime_wasi::ResourceTable),
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").finish_non_exhaustive()
    }
}

impl Guest {
    /// For a core module importing WASI preview 1.
    pub fn p1() -> Guest {
        let sandbox = Sandbox::default();
        Guest {
            ctx: Ctx::P1(sandbox.context_p1()),
            sandbox,
        }
    }

    /// For a component, which imports WASI preview 2.
    pub fn p2() -> Guest {
        let sandbox = Sandbox::default();
        Guest {
            ctx: Ctx::P2(sandbox.context_p2(), wasmtime_wasi::ResourceTable::new()),
            sandbox,
        }
    }

    /// Starts an evaluation of `item`, or of an estate's `items`: the clock at the latest capture
    /// time among them, the generator seeded by the rule and what it evaluates.
    pub fn begin(&self, rule_id: &str, subject: &str, items: &[&ItemDocument]) {
        let now = items
            .iter()
            .filter_map(|item| item.capture_time())
            .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
            .max()
            .map_or(Duration::ZERO, |t| {
                Duration::try_from(t.duration_since(jiff::Timestamp::UNIX_EPOCH))
                    .unwrap_or_default()
            });
        let mut seed = xxhash_rust::xxh3::Xxh3::new();
        seed.update(rule_id.as_bytes());
        seed.update(&[0]);
        seed.update(subject.as_bytes());
        self.sandbox.begin(now, seed.digest());
    }
}

pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = super::core::linker(engine)?;
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut HostState| {
        match state.wasi.as_mut().map(|guest| &mut guest.ctx) {
            Some(Ctx::P1(ctx)) => ctx,
            _ => unreachable!("a WASI preview 1 instance is started with its context"),
        }
    })?;
    Ok(linker)
}

/// Runs the reactor's `_initialize`, if it exports one: the language's own start (static
/// constructors, Go's runtime), once per instance, before `conform_init`.
pub(super) fn initialize(instance: &Instance, store: &mut Store<HostState>) -> Result<(), Stopped> {
    let Ok(start) = instance.get_typed_func::<(), ()>(&mut *store, "_initialize") else {
        return Ok(());
    };
    let called = start.call(&mut *store, ());
    store.data_mut().flush_output();
    match called {
        Ok(()) => Ok(()),
        Err(e) => match exit_code(&e) {
            Some(code) => Err(Stopped::Start(
                format!("exited with code {code} in _initialize"),
                None,
            )),
            None => Err(Stopped::Start("_initialize failed".into(), Some(e))),
        },
    }
}

/// The code a rule passed to `proc_exit`, if that is how the call ended.
pub(super) fn exit_code(error: &wasmtime::Error) -> Option<i32> {
    error
        .downcast_ref::<wasmtime_wasi::I32Exit>()
        .map(|exit| exit.0)
}
