//! End-to-end tests: they drive the real `conform` binary over real files and a real SQLite
//! store, as a user or a CI job would.

mod buckets;
mod cases;
mod components;
mod drift;
mod gate;
mod hostile_inputs;
mod hostile_reports;
mod hostile_rules;
mod incremental;
mod ingest_errors;
mod ingest_forms;
mod inventories;
mod output_shapes;
mod read_only;
mod read_side;
mod rules;
mod scaffolds;
mod sdks;
mod serve;
mod support;
mod timeline;
mod versioning;
mod wasi;
