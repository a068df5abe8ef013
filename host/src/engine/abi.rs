//! The host side of ABI v1: the `conform` imports a rule may call (see `rules-sdk/ABI.md`, §4).
//!
//! Every import reads its arguments from guest memory with bounds checks; a range outside memory
//! is a trap (the evaluation becomes ERROR), never a host failure.

use std::sync::Arc;

use wasmtime::{Caller, Linker, Memory, StoreLimits};

use super::budget::{LOG_LINE_CHARS, LOG_LINES_PER_EVALUATION, RuleBudget};
use super::document::{Cursor, Found, ItemDocument, JsonText, with_pointer_cached};
use super::{ACCOUNT_TYPE, Compliance};

/// Longest annotation AWS Config accepts, in characters.
pub const MAX_ANNOTATION_CHARS: usize = 256;
/// Longest resource type and id an estate rule may emit, in bytes (AWS Config's
/// PutEvaluations takes types of 256 characters and ids of 768).
pub const MAX_EMITTED_TYPE_BYTES: usize = 256;
pub const MAX_EMITTED_ID_BYTES: usize = 768;

/// What an instance's store holds between and during calls.
#[derive(Debug)]
pub struct HostState {
    pub rule_id: Arc<str>,
    /// Document 0: the current item.
    pub item: Option<Arc<ItemDocument>>,
    /// Document 1: the rule's parameters.
    pub params: Arc<JsonText>,
    /// What the guest reported during the current evaluation: at most one result for a
    /// resource rule, one evaluation per resource for an estate rule, so what the host keeps
    /// is bounded by the items, not by the calls.
    reported: Vec<Reported>,
    /// `result` calls of a resource rule in the current evaluation.
    results: usize,
    /// The first broken report, which makes the evaluation ERROR; reports after it are not kept.
    broken: Option<String>,
    pub memory: Option<Memory>,
    pub limits: StoreLimits,
    /// For estate rules: the account evaluated and its in-scope items.
    estate: Option<Estate>,
    /// Log lines written in the current evaluation.
    log_lines: u32,
    /// What the rule has spent in this scan (its log lines).
    budget: Arc<RuleBudget>,
    /// Where the last lookups in the item and in the parameters went.
    item_cursor: Cursor,
    cursor_item: Option<Arc<ItemDocument>>,
    params_cursor: Cursor,
    /// A WASI rule's context (`runtime::wasi`); `None` for ABI v1 alone.
    pub wasi: Option<super::runtime::wasi::Guest>,
}

/// What an estate rule walks: one account's in-scope items of a snapshot, with an index by
/// identity so that `emit` finds what it names in one look-up, and what has been emitted.
#[derive(Debug, Clone)]
pub struct Estate {
    pub account: String,
    pub items: Arc<Vec<Arc<ItemDocument>>>,
    /// `TYPE` NUL `ID` of each item, to its index.
    index: foldhash::HashMap<Box<[u8]>, usize>,
    /// Per item, and last for the account: whether it has been evaluated.
    emitted: Vec<bool>,
}

impl Estate {
    pub fn new(account: &str, items: Arc<Vec<Arc<ItemDocument>>>) -> Estate {
        let mut index = foldhash::HashMap::default();
        index.reserve(items.len());
        for (i, item) in items.iter().enumerate() {
            index.insert(identity(item.resource_type(), item.resource_id()), i);
        }
        Estate {
            account: account.to_string(),
            emitted: vec![false; items.len() + 1],
            items,
            index,
        }
    }

    /// What an emitted (type, id) names, or why it names nothing the rule may evaluate.
    fn target(&self, kind: &str, id: &str) -> Result<Target, String> {
        if kind == ACCOUNT_TYPE {
            return if id == self.account {
                Ok(Target::Account)
            } else {
                Err(format!(
                    "emitted an evaluation of account {}, but it is evaluating account {}",
                    excerpt(id),
                    self.account
                ))
            };
        }
        match self.index.get(&identity(kind, id)) {
            Some(&i) => Ok(Target::Item(i)),
            None => Err(format!(
                "emitted an evaluation of {}/{}, which is not an in-scope resource of account {}",
                excerpt(kind),
                excerpt(id),
                self.account
            )),
        }
    }

    /// Marks `target` evaluated; `false` if it already was.
    fn first_of(&mut self, target: Target) -> bool {
        let slot = match target {
            Target::Item(i) => i,
            Target::Account | Target::Current => self.items.len(),
        };
        !std::mem::replace(&mut self.emitted[slot], true)
    }
}

fn identity(kind: &str, id: &str) -> Box<[u8]> {
    let mut key = Vec::with_capacity(kind.len() + 1 + id.len());
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key.into_boxed_slice()
}

/// At most 80 characters of untrusted text for a message, control characters escaped.
pub(crate) fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("{}{more}", crate::escape::terminal(&cut))
}

/// What an evaluation is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The current item of a resource rule.
    Current,
    /// An estate rule's item, by index.
    Item(usize),
    /// An estate rule's account.
    Account,
}

/// One evaluation as the guest reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub compliance: Compliance,
    pub annotation: String,
    pub target: Target,
}

impl HostState {
    pub fn new(
        rule_id: Arc<str>,
        params: Arc<JsonText>,
        limits: StoreLimits,
        budget: Arc<RuleBudget>,
    ) -> HostState {
        HostState {
            rule_id,
            item: None,
            params,
            reported: Vec::new(),
            results: 0,
            broken: None,
            memory: None,
            limits,
            estate: None,
            log_lines: 0,
            budget,
            item_cursor: Cursor::default(),
            cursor_item: None,
            params_cursor: Cursor::default(),
            wasi: None,
        }
    }

    /// Sets up one evaluation: of `item` (a resource rule) or of `estate`.
    pub(super) fn begin(&mut self, item: Option<Arc<ItemDocument>>, estate: Option<Estate>) {
        if let Some(guest) = &self.wasi {
            match (&item, &estate) {
                (Some(item), _) => guest.begin(
                    &self.rule_id,
                    &format!("{}\0{}", item.resource_type(), item.resource_id()),
                    &[item],
                ),
                (None, Some(estate)) => {
                    let items: Vec<&ItemDocument> = estate.items.iter().map(|i| &**i).collect();
                    guest.begin(&self.rule_id, &estate.account, &items);
                }
                (None, None) => guest.begin(&self.rule_id, "", &[]),
            }
        }
        self.item = item;
        self.estate = estate;
        self.reported.clear();
        self.results = 0;
        self.broken = None;
        self.log_lines = 0;
    }

    /// Ends the evaluation: what it reported, and the first broken report. A resource rule
    /// that called `result` more than once is broken.
    pub(super) fn end(&mut self) -> (Vec<Reported>, Option<String>) {
        self.flush_output();
        self.item = None;
        self.estate = None;
        if self.results > 1 {
            self.broken
                .get_or_insert(format!("reported {} results for one item", self.results));
        }
        (std::mem::take(&mut self.reported), self.broken.take())
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

/// Takes a report of the current evaluation: checks the compliance code and the annotation,
/// and, for an estate rule, that `target` is one not evaluated yet. The first broken report
/// makes the evaluation ERROR, and nothing reported after it is kept.
fn report(
    caller: &mut Caller<'_, HostState>,
    compliance: i32,
    annotation: (i32, i32),
    target: Result<Target, String>,
) -> Result<(), Trap> {
    if caller.data().broken.is_some() {
        return Ok(());
    }
    // 256 characters are at most 1,024 bytes: a longer annotation is refused unread.
    let max_bytes = MAX_ANNOTATION_CHARS * 4;
    let text = if annotation.1 as u32 as usize > max_bytes {
        // Still a trap if the range lies outside memory.
        check_range(caller, annotation.0, annotation.1)?;
        None
    } else {
        Some(read_bytes(caller, annotation.0, annotation.1)?)
    };
    let state = caller.data_mut();
    let problem = match (
        Compliance::from_code(compliance),
        text.map(String::from_utf8),
    ) {
        (None, _) => Some(format!(
            "reported compliance code {compliance}, which is not 1, 2 or 3"
        )),
        (_, None) => Some(format!(
            "reported an annotation of {} bytes; the limit is {MAX_ANNOTATION_CHARS} characters",
            annotation.1 as u32
        )),
        (_, Some(Err(_))) => Some("reported an annotation that is not UTF-8".to_string()),
        (Some(_), Some(Ok(text))) if text.chars().count() > MAX_ANNOTATION_CHARS => Some(format!(
            "reported an annotation of {} characters; the limit is {MAX_ANNOTATION_CHARS}",
            text.chars().count()
        )),
        (Some(compliance), Some(Ok(annotation))) => match target {
            Err(problem) => Some(problem),
            Ok(target) => state.take(target, compliance, annotation),
        },
    };
    if let Some(problem) = problem {
        state.broken.get_or_insert(problem);
    }
    Ok(())
}

impl HostState {
    /// Takes a report whose text has crossed already (a component's strings): the same checks
    /// as [`report`] past the guest's memory. The first broken report makes the evaluation
    /// ERROR.
    pub(super) fn accept(
        &mut self,
        compliance: Compliance,
        annotation: String,
        target: Result<Target, String>,
    ) {
        if self.broken.is_some() {
            return;
        }
        let chars = annotation.chars().count();
        let problem = if chars > MAX_ANNOTATION_CHARS {
            Some(format!(
                "reported an annotation of {chars} characters; the limit is {MAX_ANNOTATION_CHARS}"
            ))
        } else {
            match target {
                Err(problem) => Some(problem),
                Ok(target) => self.take(target, compliance, annotation),
            }
        };
        if let Some(problem) = problem {
            self.broken.get_or_insert(problem);
        }
    }

    /// What an emitted (type, id) names, or why it cannot be evaluated: too long, or not one of
    /// the estate's.
    pub(super) fn emitted(&self, kind: &str, id: &str) -> Result<Target, String> {
        for (what, text, max) in [
            ("type", kind, MAX_EMITTED_TYPE_BYTES),
            ("id", id, MAX_EMITTED_ID_BYTES),
        ] {
            if text.len() > max {
                return Err(format!(
                    "emitted a resource {what} of {} bytes; the limit is {max}",
                    text.len()
                ));
            }
        }
        match &self.estate {
            Some(estate) => estate.target(kind, id),
            None => Err("called emit, which only estate rules may call".to_string()),
        }
    }

    /// Looks `pointer` up in document `doc` (0 the item, 1 the parameters) for a component's
    /// reads; `None` when the document or pointer is bad.
    pub(super) fn read<R>(
        &mut self,
        doc: i32,
        pointer: &str,
        f: impl FnOnce(Option<Found<'_>>) -> R,
    ) -> Option<R> {
        self.lookup(doc, pointer, f)
    }

    /// A whole document as compact JSON.
    pub(super) fn raw_text(&self, doc: i32) -> Option<&[u8]> {
        self.raw(doc)
    }

    /// A line of the rule's log, within its budgets.
    pub(super) fn log_line(&mut self, level: i32, text: &str) {
        if self.log_allowed() {
            let shown = text.len().min(LOG_LINE_CHARS * 4);
            self.log(level, &text.as_bytes()[..shown], text.len());
        }
    }

    /// The account an estate rule evaluates, and how many in-scope resources it has.
    pub(super) fn estate_of(&self) -> Option<(&str, usize)> {
        self.estate
            .as_ref()
            .map(|e| (e.account.as_str(), e.items.len()))
    }

    /// Makes estate resource `index` the current item; `false` when out of range.
    pub(super) fn select(&mut self, index: usize) -> bool {
        let chosen = self
            .estate
            .as_ref()
            .and_then(|e| e.items.get(index))
            .cloned();
        match chosen {
            Some(item) => {
                self.item = Some(item);
                true
            }
            None => false,
        }
    }

    /// Keeps one evaluation of `target`, or says why it cannot be kept.
    fn take(
        &mut self,
        target: Target,
        compliance: Compliance,
        annotation: String,
    ) -> Option<String> {
        match (&mut self.estate, target) {
            (None, Target::Current) => {
                // Only the first result is kept; `end` makes more than one an error.
                self.results += 1;
                if self.results > 1 {
                    return None;
                }
            }
            (None, _) => return Some("called emit, which only estate rules may call".into()),
            (Some(estate), target) => {
                // `result` in an estate rule evaluates the account.
                let target = if target == Target::Current {
                    Target::Account
                } else {
                    target
                };
                if !estate.first_of(target) {
                    let what = match target {
                        Target::Item(i) => format!(
                            "{}/{}",
                            excerpt(estate.items[i].resource_type()),
                            excerpt(estate.items[i].resource_id())
                        ),
                        _ => format!("account {}", estate.account),
                    };
                    return Some(format!(
                        "emitted a second evaluation of {what}; a rule evaluates each resource once"
                    ));
                }
            }
        }
        self.reported.push(Reported {
            compliance,
            annotation,
            target,
        });
        None
    }

    /// Takes one line from the evaluation's and the rule's log budgets; `false` (and the line
    /// counted as dropped) once either is spent.
    fn log_allowed(&mut self) -> bool {
        self.log_lines += 1;
        if self.log_lines > LOG_LINES_PER_EVALUATION {
            self.budget
                .log_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        self.budget.take_log_line()
    }

    /// Moves what a WASI rule wrote to stdout (info) and stderr (warn) to its log, a line at a
    /// time and within the same budgets as ABI v1's `log`. A last line without its newline is
    /// written too: the evaluation is over.
    pub(super) fn flush_output(&mut self) {
        let Some(guest) = &self.wasi else {
            return;
        };
        let streams = [
            (2, guest.sandbox.stdout.drain()),
            (1, guest.sandbox.stderr.drain()),
        ];
        for (level, output) in streams {
            for line in output.bytes.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() || !self.log_allowed() {
                    continue;
                }
                let shown = line.len().min(LOG_LINE_CHARS * 4);
                self.log(level, &line[..shown], line.len());
            }
            if output.dropped > 0 && self.log_allowed() {
                let note = format!(
                    "…({} bytes of output past the {} KiB an evaluation may write were dropped)",
                    output.dropped,
                    super::runtime::wasi::sandbox::OUTPUT_BYTES >> 10
                );
                self.log(1, note.as_bytes(), note.len());
            }
        }
    }

    /// Writes one line of the rule's log: control characters escaped, cut to
    /// `LOG_LINE_CHARS`. A rule's log never shows above warn, so `-q` silences it.
    fn log(&mut self, level: i32, text: &[u8], full_len: usize) {
        // Escaped first, then cut, so the line shown is at most `LOG_LINE_CHARS` however many
        // characters needed escaping.
        let text = String::from_utf8_lossy(text);
        let escaped = crate::escape::terminal(&text);
        let mut line: String = escaped.chars().take(LOG_LINE_CHARS).collect();
        if line.len() < escaped.len() || text.len() < full_len {
            line.push_str(" …(cut)");
        }
        let rule = &self.rule_id;
        match level {
            0 | 1 => tracing::warn!(rule = %rule, "{line}"),
            2 => tracing::info!(rule = %rule, "{line}"),
            3 => tracing::debug!(rule = %rule, "{line}"),
            _ => tracing::trace!(rule = %rule, "{line}"),
        }
    }
}

/// Traps unless `ptr..ptr+len` lies in guest memory.
fn check_range(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Result<(), Trap> {
    let size = memory(caller)?.data_size(caller);
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    if start.saturating_add(len) <= size {
        Ok(())
    } else {
        Err(wasmtime::Error::msg(format!(
            "range {start}+{len} is outside the rule's memory"
        )))
    }
}

/// Reads an emitted type or id, refusing one longer than `max` bytes without copying it.
fn read_name(
    caller: &Caller<'_, HostState>,
    what: &str,
    ptr: i32,
    len: i32,
    max: usize,
) -> Result<Result<String, String>, Trap> {
    if len as u32 as usize > max {
        check_range(caller, ptr, len)?;
        return Ok(Err(format!(
            "emitted a resource {what} of {} bytes; the limit is {max}",
            len as u32
        )));
    }
    Ok(read_str(caller, ptr, len)?
        .map_err(|()| format!("emitted a resource {what} that is not UTF-8")))
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
            report(&mut caller, compliance, (ptr, len), Ok(Target::Current))
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
            if caller.data().broken.is_some() {
                return Ok(());
            }
            let kind = read_name(&caller, "type", tp, tl, MAX_EMITTED_TYPE_BYTES)?;
            let id = read_name(&caller, "id", ip, il, MAX_EMITTED_ID_BYTES)?;
            let target = kind.and_then(|kind| {
                let id = id?;
                match &caller.data().estate {
                    Some(estate) => estate.target(&kind, &id),
                    None => Err("called emit, which only estate rules may call".to_string()),
                }
            });
            report(&mut caller, compliance, (ap, al), target)
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
        |mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
            // Only as much as one line shows is read (four bytes a character at most).
            let full = len as u32 as usize;
            check_range(&caller, ptr, len)?;
            if !caller.data_mut().log_allowed() {
                return Ok(());
            }
            let shown = full.min(LOG_LINE_CHARS * 4) as i32;
            let text = read_bytes(&caller, ptr, shown)?;
            caller.data_mut().log(level, &text, full);
            Ok(())
        },
    )?;
    Ok(())
}
