//! Core modules of ABI v1: they import only the `conform` functions (`rules-sdk/ABI.md` §4).

use wasmtime::{Engine, Instance, Linker, Store};

use super::Stopped;
use crate::engine::abi::{self, HostState};

/// The imports ABI v1 provides.
const IMPORTS: &[&str] = &[
    "kind",
    "get_bool",
    "get_number",
    "get_string",
    "length",
    "key_at",
    "raw",
    "result",
    "emit",
    "log",
    "estate_account",
    "estate_count",
    "estate_select",
];

/// Whether ABI v1 provides `module.name`.
pub fn provides(module: &str, name: &str) -> bool {
    module == "conform" && IMPORTS.contains(&name)
}

pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    abi::link(&mut linker)?;
    Ok(linker)
}

/// Calls `conform_init`, if the rule exports it: once per instance, before any evaluation.
pub(super) fn initialize(instance: &Instance, store: &mut Store<HostState>) -> Result<(), Stopped> {
    let Ok(init) = instance.get_typed_func::<(), i32>(&mut *store, "conform_init") else {
        return Ok(());
    };
    let called = init.call(&mut *store, ());
    store.data_mut().flush_output();
    match called {
        Ok(0) => Ok(()),
        Ok(code) => Err(Stopped::Start(
            format!("conform_init reported error {code}"),
            None,
        )),
        Err(e) => Err(Stopped::Start("conform_init failed".into(), Some(e))),
    }
}
