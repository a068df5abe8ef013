//! The host side of ABI v1: the `conform` imports a rule may call (see `rules-sdk/ABI.md`, §4).
//!
//! Every import reads its arguments from guest memory with bounds checks; a range outside memory
//! is a trap (the evaluation becomes ERROR), never a host failure.

use std::sync::Arc;

use wasmtime::{Caller, Linker, Memory, StoreLimits};

use super::Compliance;
use super::document::{Cursor, Found, ItemDocument, JsonText, with_pointer_cached};

/// Longest annotation AWS Config accepts, in characters.
pub const MAX_ANNOTATION_CHARS: usize = 256;

/// What an instance's store holds between and during calls.
#[derive(Debug)]
pub struct HostState {
    pub rule_id: Arc<str>,
    /// Document 0: the current item.
    pub item: Option<Arc<ItemDocument>>,
    /// Document 1: the rule's parameters.
    pub params: Arc<JsonText>,
    /// What the guest reported during the current evaluation.
    pub reported: Vec<Reported>,
    /// The first broken report, which makes the evaluation ERROR.
    pub broken: Option<String>,
    pub memory: Option<Memory>,
    pub limits: StoreLimits,
    /// For estate rules: the account evaluated and its in-scope items.
    pub estate: Option<Estate>,
    /// Where the last lookups in the item and in the parameters went.
    item_cursor: Cursor,
    cursor_item: Option<Arc<ItemDocument>>,
    params_cursor: Cursor,
}

/// What an estate rule walks: one account's in-scope items of a snapshot.
#[derive(Debug, Clone)]
pub struct Estate {
    pub account: String,
    pub items: Arc<Vec<Arc<ItemDocument>>>,
}

/// One evaluation as the guest reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub compliance: Compliance,
    pub annotation: String,
    /// For estate rules: the resource evaluated; `None` means the current item.
    pub resource: Option<(String, String)>,
}

impl HostState {
    pub fn new(rule_id: Arc<str>, params: Arc<JsonText>, limits: StoreLimits) -> HostState {
        HostState {
            rule_id,
            item: None,
            params,
            reported: Vec::new(),
            broken: None,
            memory: None,
            limits,
            estate: None,
            item_cursor: Cursor::default(),
            cursor_item: None,
            params_cursor: Cursor::default(),
        }
    }

    /// Looks `pointer` up in document `doc` and applies `f`; `None` when the document or the
    /// pointer is bad. Each document's cursor lets a lookup resume where the last one went.
    fn lookup<R>(
        &mut self,
        doc: i32,
        pointer: &str,
        f: impl FnOnce(Option<Found<'_>>) -> R,
    ) -> Option<R> {
        match doc {
            0 => {
                let item = self.item.as_ref()?;
                // The cursor holds the item it was made in, so it can never point into another.
                if !self
                    .cursor_item
                    .as_ref()
                    .is_some_and(|of| Arc::ptr_eq(of, item))
                {
                    self.item_cursor.reset();
                    self.cursor_item = Some(item.clone());
                }
                with_pointer_cached(item.root(), pointer, &mut self.item_cursor, f).ok()
            }
            1 => with_pointer_cached(self.params.root(), pointer, &mut self.params_cursor, f).ok(),
            _ => None,
        }
    }

    /// A whole document as compact JSON (ABI v1's `raw`).
    fn raw(&self, doc: i32) -> Option<&[u8]> {
        match doc {
            0 => self.item.as_deref().map(ItemDocument::raw),
            1 => Some(self.params.text()),
            _ => None,
        }
    }
}

type Trap = wasmtime::Error;

fn memory(caller: &Caller<'_, HostState>) -> Result<Memory, Trap> {
    caller
        .data()
        .memory
        .ok_or_else(|| wasmtime::Error::msg("the rule exports no memory"))
}

/// Copies `len` bytes at `ptr` out of guest memory, or traps.
fn read_bytes(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, Trap> {
    let data = memory(caller)?.data(caller);
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    data.get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            wasmtime::Error::msg(format!("range {start}+{len} is outside the rule's memory"))
        })
}

fn read_str(
    caller: &Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> Result<Result<String, ()>, Trap> {
    Ok(String::from_utf8(read_bytes(caller, ptr, len)?).map_err(|_| ()))
}

/// Copies `bytes` (up to `cap`) to guest memory at `out`; returns the full length.
fn write_out(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    out: i32,
    cap: i32,
) -> Result<i32, Trap> {
    let memory = memory(caller)?;
    copy_into(memory.data_mut(caller), bytes, out, cap)
}

fn copy_into(memory: &mut [u8], bytes: &[u8], out: i32, cap: i32) -> Result<i32, Trap> {
    let n = bytes.len().min(cap.max(0) as usize);
    let start = out as u32 as usize;
    let dest = memory
        .get_mut(start..start.saturating_add(n))
        .ok_or_else(|| {
            wasmtime::Error::msg(format!(
                "output range {start}+{n} is outside the rule's memory"
            ))
        })?;
    dest.copy_from_slice(&bytes[..n]);
    Ok(i32::try_from(bytes.len()).unwrap_or(i32::MAX))
}

/// Looks up `(doc, pointer)`, takes text from what it finds with `text`, and copies that text
/// to the guest's buffer; -1 when there is none. The text is copied straight from the
/// document, not through an intermediate string, when it needs no decoding.
fn copy_out(
    caller: &mut Caller<'_, HostState>,
    doc: i32,
    pointer: (i32, i32),
    out: i32,
    cap: i32,
    text: impl FnOnce(Found<'_>) -> Option<std::borrow::Cow<'_, str>>,
) -> Result<i32, Trap> {
    let memory = memory(caller)?;
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let (start, len) = (pointer.0 as u32 as usize, pointer.1 as u32 as usize);
    let Some(bytes) = data.get(start..start.saturating_add(len)) else {
        return Err(wasmtime::Error::msg(format!(
            "range {start}+{len} is outside the rule's memory"
        )));
    };
    // The pointer is copied out of guest memory (on the stack when short), as the answer is
    // written into that memory.
    let mut short = [0u8; 256];
    let long;
    let pointer = if bytes.len() <= short.len() {
        short[..bytes.len()].copy_from_slice(bytes);
        &short[..bytes.len()]
    } else {
        long = bytes.to_vec();
        &long[..]
    };
    let Ok(pointer) = std::str::from_utf8(pointer) else {
        return Ok(-1);
    };
    state
        .lookup(doc, pointer, |v| match v.and_then(text) {
            Some(found) => copy_into(data, found.as_bytes(), out, cap),
            None => Ok(-1),
        })
        .unwrap_or(Ok(-1))
}

/// Looks up `(doc, ptr, len)` and applies `f`; `None` when the pointer or document is bad.
/// The pointer is read in place in guest memory: lookups are the hot path of every rule.
fn lookup<R>(
    caller: &mut Caller<'_, HostState>,
    doc: i32,
    ptr: i32,
    len: i32,
    f: impl FnOnce(Option<Found<'_>>) -> R,
) -> Result<Option<R>, Trap> {
    let memory = memory(caller)?;
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let bytes = data.get(start..start.saturating_add(len)).ok_or_else(|| {
        wasmtime::Error::msg(format!("range {start}+{len} is outside the rule's memory"))
    })?;
    let Ok(pointer) = std::str::from_utf8(bytes) else {
        return Ok(None);
    };
    Ok(state.lookup(doc, pointer, f))
}

/// ABI v1's kind codes; 0 is absent.
fn kind_code(found: Option<Found<'_>>) -> i32 {
    found.map_or(0, |v| v.kind() as i32)
}

fn report(
    caller: &mut Caller<'_, HostState>,
    compliance: i32,
    annotation: (i32, i32),
    resource: Option<(String, String)>,
) -> Result<(), Trap> {
    let text = read_bytes(caller, annotation.0, annotation.1)?;
    let state = caller.data_mut();
    let problem = match (Compliance::from_code(compliance), String::from_utf8(text)) {
        (None, _) => Some(format!(
            "reported compliance code {compliance}, which is not 1, 2 or 3"
        )),
        (_, Err(_)) => Some("reported an annotation that is not UTF-8".to_string()),
        (Some(_), Ok(text)) if text.chars().count() > MAX_ANNOTATION_CHARS => Some(format!(
            "reported an annotation of {} characters; the limit is {MAX_ANNOTATION_CHARS}",
            text.chars().count()
        )),
        (Some(compliance), Ok(annotation)) => {
            state.reported.push(Reported {
                compliance,
                annotation,
                resource,
            });
            None
        }
    };
    if let Some(problem) = problem {
        state.broken.get_or_insert(problem);
    }
    Ok(())
}

/// Registers every ABI v1 import in the `conform` module.
pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    const M: &str = "conform";
    linker.func_wrap(
        M,
        "kind",
        |mut caller: Caller<'_, HostState>, doc: i32, ptr: i32, len: i32| {
            Ok(lookup(&mut caller, doc, ptr, len, kind_code)?.unwrap_or(-1))
        },
    )?;
    linker.func_wrap(
        M,
        "get_bool",
        |mut caller: Caller<'_, HostState>, doc: i32, ptr: i32, len: i32| {
            Ok(lookup(&mut caller, doc, ptr, len, |v| {
                v.and_then(|v| v.as_bool()).map_or(-1, i32::from)
            })?
            .unwrap_or(-1))
        },
    )?;
    linker.func_wrap(
        M,
        "get_number",
        |mut caller: Caller<'_, HostState>, doc: i32, ptr: i32, len: i32| {
            Ok(lookup(&mut caller, doc, ptr, len, |v| {
                v.and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
            })?
            .unwrap_or(f64::NAN))
        },
    )?;
    linker.func_wrap(
        M,
        "get_string",
        |mut caller: Caller<'_, HostState>, doc: i32, ptr: i32, len: i32, out: i32, cap: i32| {
            copy_out(&mut caller, doc, (ptr, len), out, cap, |v| v.as_str())
        },
    )?;
    linker.func_wrap(
        M,
        "length",
        |mut caller: Caller<'_, HostState>, doc: i32, ptr: i32, len: i32| {
            Ok(lookup(&mut caller, doc, ptr, len, |v| {
                v.and_then(|v| v.length())
                    .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX))
            })?
            .unwrap_or(-1))
        },
    )?;
    linker.func_wrap(
        M,
        "key_at",
        |mut caller: Caller<'_, HostState>,
         doc: i32,
         ptr: i32,
         len: i32,
         index: i32,
         out: i32,
         cap: i32| {
            let Ok(index) = usize::try_from(index) else {
                return Ok(-1);
            };
            copy_out(&mut caller, doc, (ptr, len), out, cap, |v| v.key_at(index))
        },
    )?;
    linker.func_wrap(
        M,
        "raw",
        |mut caller: Caller<'_, HostState>, doc: i32, out: i32, cap: i32| {
            let memory = memory(&caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            match state.raw(doc) {
                Some(text) => copy_into(data, text, out, cap),
                None => Ok(-1),
            }
        },
    )?;
    linker.func_wrap(
        M,
        "result",
        |mut caller: Caller<'_, HostState>, compliance: i32, ptr: i32, len: i32| {
            report(&mut caller, compliance, (ptr, len), None)
        },
    )?;
    linker.func_wrap(
        M,
        "emit",
        |mut caller: Caller<'_, HostState>,
         compliance: i32,
         tp: i32,
         tl: i32,
         ip: i32,
         il: i32,
         ap: i32,
         al: i32| {
            let kind = read_str(&caller, tp, tl)?;
            let id = read_str(&caller, ip, il)?;
            match (kind, id) {
                (Ok(kind), Ok(id)) => report(&mut caller, compliance, (ap, al), Some((kind, id))),
                _ => {
                    caller
                        .data_mut()
                        .broken
                        .get_or_insert("emitted a resource name that is not UTF-8".into());
                    Ok(())
                }
            }
        },
    )?;
    linker.func_wrap(
        M,
        "estate_account",
        |mut caller: Caller<'_, HostState>, out: i32, cap: i32| {
            let account = caller.data().estate.as_ref().map(|e| e.account.clone());
            match account {
                Some(account) => write_out(&mut caller, account.as_bytes(), out, cap),
                None => Ok(-1),
            }
        },
    )?;
    linker.func_wrap(M, "estate_count", |caller: Caller<'_, HostState>| {
        Ok(caller
            .data()
            .estate
            .as_ref()
            .map_or(-1, |e| e.items.len() as i32))
    })?;
    linker.func_wrap(
        M,
        "estate_select",
        |mut caller: Caller<'_, HostState>, index: i32| {
            let state = caller.data_mut();
            let chosen = state.estate.as_ref().and_then(|e| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| e.items.get(i))
                    .cloned()
            });
            match chosen {
                Some(item) => {
                    state.item = Some(item);
                    Ok(0)
                }
                None => Ok(-1),
            }
        },
    )?;
    linker.func_wrap(
        M,
        "log",
        |caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
            let text = String::from_utf8_lossy(&read_bytes(&caller, ptr, len)?).into_owned();
            let rule = caller.data().rule_id.clone();
            match level {
                0 => tracing::error!(rule = %rule, "{text}"),
                1 => tracing::warn!(rule = %rule, "{text}"),
                2 => tracing::info!(rule = %rule, "{text}"),
                3 => tracing::debug!(rule = %rule, "{text}"),
                _ => tracing::trace!(rule = %rule, "{text}"),
            }
            Ok(())
        },
    )?;
    Ok(())
}
