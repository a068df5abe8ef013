//! The `conform` imports of ABI v1, as typed Rust functions.
//!
//! On wasm32 they call the host. Elsewhere they read documents set by [`crate::testing`], using
//! the same pointer rules as the host, so a rule's native tests see what the host will show it.

#[cfg(target_arch = "wasm32")]
pub use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub use native::*;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod wasm {
    mod sys {
        #[link(wasm_import_module = "conform")]
        unsafe extern "C" {
            pub fn kind(doc: i32, ptr: *const u8, len: i32) -> i32;
            pub fn get_bool(doc: i32, ptr: *const u8, len: i32) -> i32;
            pub fn get_number(doc: i32, ptr: *const u8, len: i32) -> f64;
            pub fn get_string(doc: i32, ptr: *const u8, len: i32, out: *mut u8, cap: i32) -> i32;
            pub fn length(doc: i32, ptr: *const u8, len: i32) -> i32;
            pub fn key_at(
                doc: i32,
                ptr: *const u8,
                len: i32,
                index: i32,
                out: *mut u8,
                cap: i32,
            ) -> i32;
            pub fn result(compliance: i32, ptr: *const u8, len: i32);
            pub fn emit(
                compliance: i32,
                tp: *const u8,
                tl: i32,
                ip: *const u8,
                il: i32,
                ap: *const u8,
                al: i32,
            );
            pub fn log(level: i32, ptr: *const u8, len: i32);
            pub fn estate_account(out: *mut u8, cap: i32) -> i32;
            pub fn estate_count() -> i32;
            pub fn estate_select(index: i32) -> i32;
        }
    }

    // SAFETY (every call below): the host reads `len` bytes at `ptr` from a live `&str` and writes
    // at most `cap` bytes into a buffer of that capacity, as ABI v1 §4 specifies; it keeps no
    // pointer after the call returns.

    pub fn kind(doc: i32, pointer: &str) -> i32 {
        unsafe { sys::kind(doc, pointer.as_ptr(), pointer.len() as i32) }
    }

    pub fn get_bool(doc: i32, pointer: &str) -> i32 {
        unsafe { sys::get_bool(doc, pointer.as_ptr(), pointer.len() as i32) }
    }

    pub fn get_number(doc: i32, pointer: &str) -> f64 {
        unsafe { sys::get_number(doc, pointer.as_ptr(), pointer.len() as i32) }
    }

    pub fn length(doc: i32, pointer: &str) -> i32 {
        unsafe { sys::length(doc, pointer.as_ptr(), pointer.len() as i32) }
    }

    thread_local! {
        /// Where output imports write: reused, so reading a string allocates only the string.
        static OUT: core::cell::RefCell<Vec<u8>> = core::cell::RefCell::new(vec![0u8; 256]);
    }

    /// Calls an output import with the shared buffer, and again with a bigger one if the value
    /// did not fit.
    fn read_out(call: impl Fn(*mut u8, i32) -> i32) -> Option<String> {
        OUT.with(|buf| {
            let mut buf = buf.borrow_mut();
            let n = call(buf.as_mut_ptr(), buf.len() as i32);
            if n < 0 {
                return None;
            }
            if n as usize > buf.len() {
                buf.resize(n as usize, 0);
                call(buf.as_mut_ptr(), buf.len() as i32);
            }
            core::str::from_utf8(&buf[..n as usize])
                .ok()
                .map(str::to_owned)
        })
    }

    pub fn get_string(doc: i32, pointer: &str) -> Option<String> {
        read_out(|out, cap| unsafe {
            sys::get_string(doc, pointer.as_ptr(), pointer.len() as i32, out, cap)
        })
    }

    pub fn key_at(doc: i32, pointer: &str, index: i32) -> Option<String> {
        read_out(|out, cap| unsafe {
            sys::key_at(doc, pointer.as_ptr(), pointer.len() as i32, index, out, cap)
        })
    }

    pub fn result(compliance: i32, annotation: &str) {
        unsafe { sys::result(compliance, annotation.as_ptr(), annotation.len() as i32) }
    }

    pub fn log(level: i32, message: &str) {
        unsafe { sys::log(level, message.as_ptr(), message.len() as i32) }
    }

    pub fn emit(compliance: i32, kind: &str, id: &str, annotation: &str) {
        unsafe {
            sys::emit(
                compliance,
                kind.as_ptr(),
                kind.len() as i32,
                id.as_ptr(),
                id.len() as i32,
                annotation.as_ptr(),
                annotation.len() as i32,
            )
        }
    }

    pub fn estate_account() -> Option<String> {
        read_out(|out, cap| unsafe { sys::estate_account(out, cap) })
    }

    pub fn estate_count() -> i32 {
        unsafe { sys::estate_count() }
    }

    pub fn estate_select(index: i32) -> i32 {
        unsafe { sys::estate_select(index) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;

    use serde_json::Value;

    use crate::json_pointer::{kind_code, with_pointer};

    thread_local! {
        static DOCUMENTS: RefCell<(Value, Value)> = const { RefCell::new((Value::Null, Value::Null)) };
        static RESULTS: RefCell<Vec<(i32, String)>> = const { RefCell::new(Vec::new()) };
        static ESTATE: RefCell<(String, Vec<Value>)> = const { RefCell::new((String::new(), Vec::new())) };
        static EMITTED: RefCell<Vec<(i32, String, String, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub(crate) fn set_estate(account: &str, items: Vec<Value>, params: Value) {
        ESTATE.with(|e| *e.borrow_mut() = (account.to_string(), items));
        EMITTED.with(|e| e.borrow_mut().clear());
        set_documents(Value::Null, params);
    }

    pub(crate) fn take_emitted() -> Vec<(i32, String, String, String)> {
        EMITTED.with(|e| std::mem::take(&mut *e.borrow_mut()))
    }

    pub fn emit(compliance: i32, kind: &str, id: &str, annotation: &str) {
        EMITTED.with(|e| {
            e.borrow_mut().push((
                compliance,
                kind.to_string(),
                id.to_string(),
                annotation.to_string(),
            ))
        });
    }

    pub fn estate_account() -> Option<String> {
        Some(ESTATE.with(|e| e.borrow().0.clone()))
    }

    pub fn estate_count() -> i32 {
        ESTATE.with(|e| e.borrow().1.len() as i32)
    }

    pub fn estate_select(index: i32) -> i32 {
        let item = ESTATE.with(|e| {
            usize::try_from(index)
                .ok()
                .and_then(|i| e.borrow().1.get(i).cloned())
        });
        match item {
            Some(item) => {
                DOCUMENTS.with(|d| d.borrow_mut().0 = item);
                0
            }
            None => -1,
        }
    }

    pub(crate) fn set_documents(item: Value, params: Value) {
        DOCUMENTS.with(|d| *d.borrow_mut() = (item, params));
        RESULTS.with(|r| r.borrow_mut().clear());
    }

    pub(crate) fn take_results() -> Vec<(i32, String)> {
        RESULTS.with(|r| std::mem::take(&mut *r.borrow_mut()))
    }

    fn lookup<R>(doc: i32, pointer: &str, f: impl FnOnce(Option<&Value>) -> R) -> Option<R> {
        DOCUMENTS.with(|d| {
            let d = d.borrow();
            let root = match doc {
                0 => &d.0,
                1 => &d.1,
                _ => return None,
            };
            with_pointer(root, pointer, f).ok()
        })
    }

    pub fn kind(doc: i32, pointer: &str) -> i32 {
        lookup(doc, pointer, kind_code).unwrap_or(-1)
    }

    pub fn get_bool(doc: i32, pointer: &str) -> i32 {
        lookup(doc, pointer, |v| {
            v.and_then(Value::as_bool).map_or(-1, i32::from)
        })
        .unwrap_or(-1)
    }

    pub fn get_number(doc: i32, pointer: &str) -> f64 {
        lookup(doc, pointer, |v| {
            v.and_then(Value::as_f64).unwrap_or(f64::NAN)
        })
        .unwrap_or(f64::NAN)
    }

    pub fn length(doc: i32, pointer: &str) -> i32 {
        lookup(doc, pointer, |v| match v {
            Some(Value::Array(a)) => a.len() as i32,
            Some(Value::Object(m)) => m.len() as i32,
            _ => -1,
        })
        .unwrap_or(-1)
    }

    pub fn get_string(doc: i32, pointer: &str) -> Option<String> {
        lookup(doc, pointer, |v| {
            v.and_then(Value::as_str).map(str::to_owned)
        })
        .flatten()
    }

    pub fn key_at(doc: i32, pointer: &str, index: i32) -> Option<String> {
        lookup(doc, pointer, |v| match v {
            Some(Value::Object(m)) => usize::try_from(index)
                .ok()
                .and_then(|i| m.keys().nth(i))
                .cloned(),
            _ => None,
        })
        .flatten()
    }

    pub fn result(compliance: i32, annotation: &str) {
        RESULTS.with(|r| r.borrow_mut().push((compliance, annotation.to_string())));
    }

    pub fn log(_level: i32, message: &str) {
        eprintln!("rule log: {message}");
    }
}
