//! Every `unsafe` block of the host, in one place to audit.
//!
//! The workspace denies `unsafe_code`; this module alone allows it. Each submodule wraps one
//! operation the safe language cannot express behind a safe function whose contract its doc
//! comment states, and each `unsafe` block says why it holds (`// SAFETY:`). Each was kept
//! because a benchmark showed what it buys (the figures are in `host/benches/README.md`):
//!
//! - [`sse2`]: the SIMD steps of the JSON scanner (`crate::json`), sixteen and sixty-four
//!   bytes at a time. Intrinsics on values only; no memory is touched.
//! - [`mmap`]: maps an input file read-only, so a plain file is parsed in place instead of
//!   being copied into a buffer first.
//! - [`sqlite`]: a prepared statement that binds the caller's bytes in place
//!   (`SQLITE_STATIC`) for one execution, where rusqlite would copy every value.
//!
//! Nothing else in the host may use `unsafe`; adding to this list needs a benchmark and a
//! `SAFETY` argument as these have.
#![allow(unsafe_code)]

pub(crate) mod mmap;
pub(crate) mod sqlite;
#[cfg(target_arch = "x86_64")]
pub(crate) mod sse2;
