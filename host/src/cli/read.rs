//! The read side: `snapshots`, `show`, `history`, `stats`.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use conform::store::{SnapshotSelector, Store};

use super::exit;
use super::render::{Output, bytes, count, t};

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A resource id, TYPE/ID (AWS::EC2::Volume/vol-1) or ARN.
    pub resource: String,
    /// The snapshot to read it from: an id or "latest".
    #[arg(long, default_value = "latest")]
    pub at: SnapshotSelector,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A resource id, TYPE/ID (AWS::EC2::Volume/vol-1) or ARN.
    pub resource: String,
}

/// Opens a store that must already exist: reading never creates one.
/// Opens an existing store to write it (ingest, scan, baselines), migrating its schema.
pub fn open_existing(db: &Path) -> anyhow::Result<Store> {
    Ok(Store::open(existing(db)?)?)
}

/// Opens an existing store only to read it: works on a store this process may not write.
pub fn open_to_read(db: &Path) -> anyhow::Result<Store> {
    Ok(Store::open_read_only(existing(db)?)?)
}

/// `db`, if there is a store there (opening would create one).
fn existing(db: &Path) -> anyhow::Result<&Path> {
    if !db.exists() {
        anyhow::bail!(
            "no store at {} (run `conform ingest` first, or pass --db)",
            db.display()
        );
    }
    Ok(db)
}

pub fn snapshots(db: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let store = open_to_read(db)?;
    let list = store.snapshots()?;
    out.emit(&list, |w| {
        if list.is_empty() {
            return writeln!(w, "no snapshots");
        }
        writeln!(
            w,
            "{:>4}  {:<24}  {:<7}  {:>7}  {:>6}  {:>6}  {:>6}  {:>7}  {:<28}  label",
            "id", "taken at", "kind", "items", "added", "modif", "del", "live", "scopes"
        )?;
        for s in &list {
            let c = &s.counts;
            writeln!(
                w,
                "{:>4}  {:<24}  {:<7}  {:>7}  {:>6}  {:>6}  {:>6}  {:>7}  {:<28}  {}",
                s.id.0,
                s.taken_at,
                match s.role {
                    conform::store::SnapshotRole::Desired => "desired",
                    conform::store::SnapshotRole::Observed => s.kind.as_str(),
                },
                c.items,
                c.added,
                c.modified,
                c.deleted,
                c.live,
                super::render::scopes(&s.scopes),
                t(&s.label)
            )?;
        }
        Ok(())
    })?;
    Ok(exit::OK)
}

pub fn show(db: &Path, args: ShowArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let store = open_to_read(db)?;
    let snapshot = store.snapshot(args.at)?;
    let resource = store.resolve_resource(&args.resource)?;
    let Some(item) = store.item_at(&resource, snapshot.id)? else {
        anyhow::bail!(
            "{} did not exist yet in snapshot {}",
            resource.key,
            snapshot.id
        );
    };
    out.emit(&item, |w| {
        // JSON escapes C0 controls; DEL, C1 and bidirectional overrides need escaping too.
        let text = serde_json::to_string_pretty(&item)?;
        writeln!(w, "{}", conform::escape::terminal_lines(&text))
    })?;
    Ok(exit::OK)
}

pub fn history(db: &Path, args: HistoryArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let store = open_to_read(db)?;
    let resource = store.resolve_resource(&args.resource)?;
    let versions = store.history(resource.row)?;
    let value = serde_json::json!({ "resource": resource, "versions": versions });
    out.emit(&value, |w| {
        writeln!(w, "{}", resource.key)?;
        if let Some(arn) = &resource.arn {
            writeln!(w, "  {}", t(arn))?;
        }
        for v in &versions {
            let seen = match (v.seen_in.first(), v.seen_in.last()) {
                (Some(a), Some(b)) if a == b => format!("snapshot {a}"),
                (Some(a), Some(b)) => format!("snapshots {a}–{b} ({})", v.seen_in.len()),
                _ => "no snapshot".to_string(),
            };
            writeln!(
                w,
                "  v{:<3} {:<26} captured {:<26} {}  {}{}",
                v.number,
                v.status.as_str(),
                v.capture_time.as_deref().unwrap_or("-"),
                &v.content_hash.to_string()[..12],
                seen,
                if v.until_snapshot.is_none() {
                    " (current)"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    })?;
    Ok(exit::OK)
}

pub fn stats(db: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let store = open_to_read(db)?;
    let stats = store.stats()?;
    out.emit(&stats, |w| {
        writeln!(w, "store {} (schema {})", stats.path, stats.schema_version)?;
        writeln!(w, "  {}", count(stats.snapshots, "snapshot"))?;
        writeln!(
            w,
            "  {} ({} live)",
            count(stats.resources, "resource"),
            stats.live_resources
        )?;
        writeln!(
            w,
            "  {} ({} of content)",
            count(stats.versions, "version"),
            bytes(stats.body_bytes)
        )?;
        writeln!(w, "  database size {}", bytes(stats.database_bytes))?;
        for (kind, n) in &stats.resources_by_type {
            writeln!(w, "    {n:>7}  {kind}")?;
        }
        Ok(())
    })?;
    Ok(exit::OK)
}
