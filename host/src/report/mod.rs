//! Reports for machines and reviewers: SARIF for code scanning, JUnit XML for CI test views,
//! markdown for pull-request comments. Each takes a finished result (a gate report) and only
//! formats it.

pub mod junit;
pub mod markdown;
pub mod sarif;

pub use markdown::gate_markdown;
pub use sarif::write_sarif;
