//! conform: an offline re-creation of the compliance core of AWS Config.
//!
//! Configuration items are ingested from files into a versioned SQLite store ([`store`]), where
//! a resource gets a new version only when its content changes. Rules (WebAssembly plugins),
//! drift and reports build on the store; see ARCHITECTURE.md for the map.
//!
//! This crate is the library; the `conform` binary is a thin layer over it that parses
//! arguments and renders results.

mod audited;
pub mod canonical;
pub mod cases;
pub mod config;
pub mod drift;
pub mod engine;
pub mod escape;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod generate;
pub mod ingest;
pub mod json;
pub mod model;
pub mod report;
pub mod scaffold;
pub mod scan;
pub mod serve;
pub mod store;
pub mod timeline;

pub use ingest::{IngestError, IngestOptions, IngestReport, ingest};
pub use model::{ConfigurationItem, ItemStatus, ResourceKey, SnapshotId};
pub use store::{SnapshotRole, SnapshotSelector, Store, StoreError};
