//! WebAssembly components: rules built against the WIT world `conform:rule@1.0.0`
//! (`rules-sdk/wit/1.0.0`), as Python (componentize-py), JavaScript (componentize-js) and
//! `wasm32-wasip2` toolchains make them. The same contract as ABI v1 in the component model's
//! encoding: the host side below answers each WIT function with the same `HostState` methods
//! the core imports use, so the two encodings cannot drift apart.
//!
//! Components get WASI preview 2 from the same sandbox as core modules (`super::wasi::sandbox`):
//! nothing granted, output to the log, time and randomness per evaluation.

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtxView, WasiView};

use super::Stopped;
use super::wasi::Ctx;
use crate::engine::abi::{HostState, Target};
use crate::engine::document::Found;
use crate::engine::{Compliance, RuleKind};

mod bindings {
    pub mod resource {
        wasmtime::component::bindgen!({
            path: "../rules-sdk/wit/1.0.0",
            world: "resource-rule",
        });
    }
    pub mod estate {
        wasmtime::component::bindgen!({
            path: "../rules-sdk/wit/1.0.0",
            world: "estate-rule",
            with: { "conform:rule/host": super::resource::conform::rule::host },
        });
    }
}

use bindings::resource::conform::rule::host::{self as wit, Document, ValueKind};

/// The WIT package a component rule imports the host from, at the version this host speaks.
pub const HOST_INTERFACE: &str = "conform:rule/host@1.0.0";

/// The WASI 0.2 packages components get (all of `wasi:cli` to `wasi:sockets`, from the
/// sandbox); `wasi:http` and the proposals are not among them.
const WASI_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

/// Whether a component may import `name`: the host interface, or a WASI 0.2 interface the
/// sandbox provides.
pub fn provides(name: &str) -> bool {
    name == HOST_INTERFACE
        || (WASI_PACKAGES.iter().any(|p| name.starts_with(p)) && name.contains("@0.2."))
}

/// Every import of `component` no runtime provides.
pub fn refused(component: &Component, engine: &Engine) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !provides(name))
        .collect()
}

pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wit::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
    Ok(linker)
}

/// A component, linked for the world of its kind.
#[derive(Clone)]
pub(super) enum Pre {
    Resource(bindings::resource::ResourceRulePre<HostState>),
    Estate(bindings::estate::EstateRulePre<HostState>),
}

impl Pre {
    pub fn new(
        linker: &Linker<HostState>,
        component: &Component,
        kind: RuleKind,
    ) -> wasmtime::Result<Pre> {
        let pre = linker.instantiate_pre(component)?;
        Ok(match kind {
            RuleKind::Resource => Pre::Resource(bindings::resource::ResourceRulePre::new(pre)?),
            RuleKind::Estate => Pre::Estate(bindings::estate::EstateRulePre::new(pre)?),
        })
    }

    /// Instantiates the component and calls its `init`.
    pub fn instantiate(&self, store: &mut Store<HostState>) -> Result<Bound, Stopped> {
        let bound = match self {
            Pre::Resource(pre) => {
                Bound::Resource(pre.instantiate(&mut *store).map_err(Stopped::Trap)?)
            }
            Pre::Estate(pre) => Bound::Estate(pre.instantiate(&mut *store).map_err(Stopped::Trap)?),
        };
        let init = match &bound {
            Bound::Resource(rule) => rule.call_init(&mut *store),
            Bound::Estate(rule) => rule.call_init(&mut *store),
        };
        store.data_mut().flush_output();
        match init {
            Ok(Ok(())) => Ok(bound),
            Ok(Err(code)) => Err(Stopped::Start(format!("init reported error {code}"), None)),
            Err(e) => Err(Stopped::Start("init failed".into(), Some(e))),
        }
    }
}

/// A live component's exports.
pub(super) enum Bound {
    Resource(bindings::resource::ResourceRule),
    Estate(bindings::estate::EstateRule),
}

impl Bound {
    /// Calls `evaluate` or `evaluate-estate`: the code it returned (0 for `ok`), or the trap.
    pub fn call(&self, store: &mut Store<HostState>) -> wasmtime::Result<i32> {
        let returned = match self {
            Bound::Resource(rule) => rule.call_evaluate(&mut *store)?,
            Bound::Estate(rule) => rule.call_evaluate_estate(&mut *store)?,
        };
        Ok(returned.err().unwrap_or(0))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        match self.wasi.as_mut().map(|guest| &mut guest.ctx) {
            Some(Ctx::P2(ctx, table)) => WasiCtxView { ctx, table },
            _ => unreachable!("a component's instance is started with a WASI preview 2 context"),
        }
    }
}

fn doc(document: Document) -> i32 {
    match document {
        Document::Item => 0,
        Document::Params => 1,
    }
}

fn compliance(c: wit::Compliance) -> Compliance {
    match c {
        wit::Compliance::Compliant => Compliance::Compliant,
        wit::Compliance::NonCompliant => Compliance::NonCompliant,
        wit::Compliance::NotApplicable => Compliance::NotApplicable,
    }
}

/// The host interface, answered as ABI v1 answers the same calls.
impl wit::Host for HostState {
    fn kind(&mut self, document: Document, pointer: String) -> ValueKind {
        use crate::json::Kind;
        let kind = self
            .read(doc(document), &pointer, |v| v.map(|v| v.kind()))
            .flatten();
        match kind {
            None => ValueKind::Absent,
            Some(Kind::Null) => ValueKind::Null,
            Some(Kind::Bool) => ValueKind::Boolean,
            Some(Kind::Number) => ValueKind::Number,
            Some(Kind::String) => ValueKind::String,
            Some(Kind::Array) => ValueKind::Array,
            Some(Kind::Object) => ValueKind::Object,
        }
    }

    fn get_bool(&mut self, document: Document, pointer: String) -> Option<bool> {
        self.read(doc(document), &pointer, |v| v.and_then(|v| v.as_bool()))
            .flatten()
    }

    fn get_number(&mut self, document: Document, pointer: String) -> Option<f64> {
        self.read(doc(document), &pointer, |v| v.and_then(|v| v.as_f64()))
            .flatten()
    }

    fn get_string(&mut self, document: Document, pointer: String) -> Option<String> {
        self.read(doc(document), &pointer, |v| {
            v.and_then(|v: Found<'_>| v.as_str().map(|s| s.into_owned()))
        })
        .flatten()
    }

    fn length(&mut self, document: Document, pointer: String) -> Option<u32> {
        self.read(doc(document), &pointer, |v| {
            v.and_then(|v| v.length())
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        })
        .flatten()
    }

    fn key_at(&mut self, document: Document, pointer: String, index: u32) -> Option<String> {
        self.read(doc(document), &pointer, |v| {
            v.and_then(|v| v.key_at(index as usize).map(|s| s.into_owned()))
        })
        .flatten()
    }

    fn raw(&mut self, document: Document) -> String {
        self.raw_text(doc(document))
            .map(|text| String::from_utf8_lossy(text).into_owned())
            .unwrap_or_default()
    }

    fn result(&mut self, c: wit::Compliance, annotation: String) {
        self.accept(compliance(c), annotation, Ok(Target::Current));
    }

    fn emit(
        &mut self,
        c: wit::Compliance,
        resource_type: String,
        resource_id: String,
        annotation: String,
    ) {
        let target = self.emitted(&resource_type, &resource_id);
        self.accept(compliance(c), annotation, target);
    }

    fn log(&mut self, level: u8, message: String) {
        self.log_line(i32::from(level), &message);
    }

    fn estate_account(&mut self) -> Option<String> {
        self.estate_of().map(|(account, _)| account.to_string())
    }

    fn estate_count(&mut self) -> Option<u32> {
        self.estate_of()
            .map(|(_, n)| u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn estate_select(&mut self, index: u32) -> bool {
        self.select(index as usize)
    }
}
