//! Deliveries: which files an ingest reads, in which order, as which snapshots.
//!
//! AWS Config writes each recorder's (one account and region) data into S3 under
//! `AWSLogs/ACCOUNT/Config/REGION/YYYY/M/D/ConfigSnapshot|ConfigHistory/` with names that say
//! the account, region, kind and time:
//! `ACCOUNT_Config_REGION_ConfigSnapshot_20261102T060000Z_UUID.json.gz`, and
//! `ACCOUNT_Config_REGION_ConfigHistory_TYPE_START_END_N.json.gz`. The plan is made from names,
//! sizes and hashes alone, before any file is parsed:
//! - a file stored before (same path, size and modification time, or else the same bytes) is
//!   skipped, so re-running on a synced bucket reads only what is new;
//! - named deliveries are applied in time order, grouped into one snapshot per delivery period
//!   (or per file, hour or day), each a full snapshot of the scopes it delivered;
//! - a snapshot delivery older than what its scope already holds is refused, naming both times.
//!
//! Files without such a name (a native inventory, a notification, a renamed file) are read
//! together as one more snapshot, after the named ones, as `conform ingest FILE` always did.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use super::{Location, Problem};
use crate::canonical::ContentHash;
use crate::model::{Scope, SnapshotId};
use crate::store::{ScopeInfo, SnapshotKind, SourceInfo};

/// How named deliveries are grouped into snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Grouping {
    /// One snapshot per delivery period: the frequency the recorders deliver at (1, 3, 6, 12
    /// or 24 hours), found from the gaps between each scope's deliveries; 24 hours when a
    /// scope delivered only once.
    #[default]
    Period,
    /// One snapshot per file.
    File,
    Hour,
    Day,
}

/// What a delivery's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    pub account_id: String,
    pub region: String,
    pub kind: SnapshotKind,
    /// When the data was taken: a snapshot's time, or the end of a history file's window.
    pub time: Timestamp,
}

impl DeliveryKey {
    /// The delivery's scope. Global resources (IAM, `awsRegion: global`) are recorded by one
    /// region's recorder of each account: they belong to the deliveries that hold them.
    pub fn scope(&self) -> Scope {
        Scope::of(&self.account_id, &self.region)
    }

    /// Whether an item of this account and region may be in the delivery.
    pub fn admits(&self, account_id: &str, region: &str) -> bool {
        account_id == self.account_id && (region == self.region || region == GLOBAL)
    }

    /// Reads an AWS Config object name; `None` for any other file name.
    pub fn from_name(name: &str) -> Option<DeliveryKey> {
        let (account_id, rest) = name.split_once("_Config_")?;
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (region, rest) = rest.split_once('_')?;
        let (kind, rest) = if let Some(rest) = rest.strip_prefix("ConfigSnapshot_") {
            (SnapshotKind::Full, rest)
        } else if let Some(rest) = rest.strip_prefix("ConfigHistory_") {
            (SnapshotKind::Partial, rest)
        } else {
            return None;
        };
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
        // Times are `YYYYMMDDTHHMMSSZ` tokens: a snapshot's first, a history window's last.
        let mut times = rest.split(['_', '.']).filter_map(parse_compact_time);
        let time = match kind {
            SnapshotKind::Full => times.next()?,
            SnapshotKind::Partial => times.next_back()?,
        };
        Some(DeliveryKey {
            account_id: account_id.to_string(),
            region: region.to_string(),
            kind,
            time,
        })
    }
}

/// The region AWS Config gives resources that belong to no region.
pub const GLOBAL: &str = "global";

fn parse_compact_time(token: &str) -> Option<Timestamp> {
    let b = token.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &token[0..4],
        &token[4..6],
        &token[6..8],
        &token[9..11],
        &token[11..13],
        &token[13..15]
    );
    text.parse().ok()
}

/// A file of the input, with what identifies it without parsing it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: PathBuf,
    pub key: Option<DeliveryKey>,
    pub hash: ContentHash,
    pub bytes: u64,
    pub modified_at: Option<String>,
}

impl Delivery {
    /// The source row it is stored as, once read.
    pub fn source(&self, form: String, items: u64) -> SourceInfo {
        SourceInfo {
            path: self.path.display().to_string(),
            form,
            items,
            content_hash: Some(self.hash),
            bytes: Some(self.bytes),
            modified_at: self.modified_at.clone(),
        }
    }
}

/// Deliveries read into one snapshot.
#[derive(Debug, Clone)]
pub struct Group {
    pub deliveries: Vec<Delivery>,
    /// Named deliveries: the snapshot is full for the scopes of its snapshot files. `false`
    /// for the files without AWS names, whose scopes come from their items.
    pub named: bool,
    /// The start of the group's period, for its label.
    pub period: Option<(Timestamp, SignedDuration)>,
}

impl Group {
    /// The scopes it delivers, and what each is: full when the group holds a snapshot file of
    /// it, partial when only history. Only for named groups.
    pub fn scopes(&self) -> Vec<(Scope, SnapshotKind, Timestamp)> {
        let mut scopes: Vec<(Scope, SnapshotKind, Timestamp)> = Vec::new();
        for key in self.deliveries.iter().filter_map(|d| d.key.as_ref()) {
            let scope = key.scope();
            match scopes.iter_mut().find(|(s, ..)| *s == scope) {
                Some((_, kind, time)) => {
                    if key.kind == SnapshotKind::Full {
                        *kind = SnapshotKind::Full;
                    }
                    *time = (*time).max(key.time);
                }
                None => scopes.push((scope, key.kind, key.time)),
            }
        }
        scopes.sort_by(|a, b| a.0.cmp(&b.0));
        scopes
    }

    /// When it was taken: the latest of its deliveries' times (named groups).
    pub fn time(&self) -> Option<Timestamp> {
        self.deliveries
            .iter()
            .filter_map(|d| d.key.as_ref().map(|k| k.time))
            .max()
    }

    /// A label people can read in `conform snapshots`.
    pub fn label(&self) -> String {
        let snapshots = self
            .deliveries
            .iter()
            .filter(|d| d.key.as_ref().is_some_and(|k| k.kind == SnapshotKind::Full))
            .count();
        let history = self.deliveries.len() - snapshots;
        let mut what = Vec::new();
        if snapshots > 0 {
            what.push(plural(
                snapshots,
                "snapshot delivery",
                "snapshot deliveries",
            ));
        }
        if history > 0 {
            what.push(plural(history, "history file", "history files"));
        }
        let when = match self.period {
            Some((start, length)) if length >= SignedDuration::from_hours(24) => {
                start.strftime("%Y-%m-%d").to_string()
            }
            Some((start, _)) => start.strftime("%Y-%m-%dT%H:%MZ").to_string(),
            None => self.time().map(|t| t.to_string()).unwrap_or_default(),
        };
        format!("{when}: {}", what.join(", "))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What an ingest will read.
#[derive(Debug, Default)]
pub struct Plan {
    pub groups: Vec<Group>,
    /// Files the store (or an earlier file of this input) already holds: path, and the
    /// snapshot that holds it (`None`: the same bytes appear earlier in this input).
    pub already_stored: Vec<(String, Option<SnapshotId>)>,
    /// Snapshot deliveries older than what their scope holds.
    pub refused: Vec<Problem>,
}

/// What the store knows already: its sources, and each scope's latest time.
#[derive(Debug, Default)]
pub struct Known {
    by_path: HashMap<String, (u64, Option<String>, ContentHash, SnapshotId)>,
    /// Each stored hash, with what the stored file's name said.
    by_hash: HashMap<ContentHash, Vec<(Option<DeliveryKey>, SnapshotId)>>,
    pub clock: ScopeClock,
}

impl Known {
    pub fn new(
        sources: Vec<(SnapshotId, SourceInfo)>,
        scopes: Vec<(ScopeInfo, SnapshotId)>,
    ) -> Known {
        let mut known = Known::default();
        for (snapshot, source) in sources {
            let Some(hash) = source.content_hash else {
                continue;
            };
            let name = Path::new(&source.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            known
                .by_hash
                .entry(hash)
                .or_default()
                .push((DeliveryKey::from_name(&name), snapshot));
            known.by_path.insert(
                source.path,
                (
                    source.bytes.unwrap_or(u64::MAX),
                    source.modified_at,
                    hash,
                    snapshot,
                ),
            );
        }
        for (scope, snapshot) in scopes {
            if let Ok(time) = scope.delivered_at.parse::<Timestamp>() {
                known
                    .clock
                    .record(scope.scope(), scope.kind, time, snapshot);
            }
            if let Some(region) = scope.recorded_by {
                known.clock.record_global(&scope.account_id, &region);
            }
        }
        known
    }
}

/// The latest time each scope's data was taken, full or partial, and the snapshot holding it.
#[derive(Debug, Default, Clone)]
pub struct ScopeClock {
    latest: HashMap<Scope, (Timestamp, SnapshotId)>,
    latest_full: HashMap<Scope, Timestamp>,
    /// Per account, the regions whose deliveries have recorded its global resources.
    global_recorders: HashMap<String, Vec<String>>,
}

impl ScopeClock {
    pub fn record(&mut self, scope: Scope, kind: SnapshotKind, time: Timestamp, at: SnapshotId) {
        let latest = self.latest.entry(scope.clone()).or_insert((time, at));
        if time >= latest.0 {
            *latest = (time, at);
        }
        if kind == SnapshotKind::Full {
            let full = self.latest_full.entry(scope).or_insert(time);
            *full = (*full).max(time);
        }
    }

    /// Notes that `region`'s deliveries record `account`'s global resources.
    pub fn record_global(&mut self, account: &str, region: &str) {
        let regions = self
            .global_recorders
            .entry(account.to_string())
            .or_default();
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_string());
        }
    }

    /// Whether `region`'s deliveries record `account`'s global resources.
    pub fn records_global(&self, account: &str, region: &str) -> bool {
        self.global_recorders
            .get(account)
            .is_some_and(|regions| regions.iter().any(|r| r == region))
    }

    /// Records each named delivery of a group: a snapshot file's time as its scope's latest
    /// full snapshot, a history file's only as its latest data (the changes it holds are not a
    /// snapshot of the scope).
    pub fn record_group(&mut self, group: &Group, at: SnapshotId) {
        for key in group.deliveries.iter().filter_map(|d| d.key.as_ref()) {
            self.record(key.scope(), key.kind, key.time, at);
        }
    }

    /// The latest data held for any scope overlapping `scope`, and where.
    pub fn latest(&self, scope: &Scope) -> Option<(Timestamp, SnapshotId, Scope)> {
        self.latest
            .iter()
            .filter(|(s, _)| s.overlaps(scope))
            .map(|(s, (t, id))| (*t, *id, s.clone()))
            .max_by_key(|(t, id, _)| (*t, *id))
    }

    /// When the latest full snapshot covering this account and region was taken: a change
    /// captured before it is already reflected in it.
    pub fn latest_full(&self, account_id: &str, region: &str) -> Option<Timestamp> {
        self.latest_full
            .iter()
            .filter(|(s, _)| s.covers(account_id, region))
            .map(|(_, t)| *t)
            .max()
    }
}

/// Identifies the files (by name, size and hash, never by parsing them), leaves out what the
/// store holds, orders the rest and groups them into snapshots.
/// With `names` false, AWS names are not read: every file goes into one snapshot (a desired
/// state is one file, or several read as one).
pub fn plan(
    files: Vec<PathBuf>,
    known: &Known,
    grouping: Grouping,
    names: bool,
) -> Result<Plan, (PathBuf, std::io::Error)> {
    let mut plan = Plan::default();
    // The same bytes are the same file, unless AWS names say two different deliveries (of
    // another scope or time): a copy under another path or name is known, a day that
    // delivered what the day before did is not.
    let same =
        |a: &Option<DeliveryKey>, b: &Option<DeliveryKey>| a.is_none() || b.is_none() || a == b;
    let mut seen: HashMap<ContentHash, Vec<Option<DeliveryKey>>> = HashMap::new();
    let mut named = Vec::new();
    let mut unnamed = Vec::new();
    for path in files {
        let meta = std::fs::metadata(&path).map_err(|e| (path.clone(), e))?;
        let bytes = meta.len();
        let modified_at = meta
            .modified()
            .ok()
            .and_then(|t| Timestamp::try_from(t).ok())
            .map(|t| t.to_string());
        let display = path.display().to_string();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let key = DeliveryKey::from_name(&name).filter(|_| names);
        // Same path, size and time: the file the store read, unread again.
        let hash = match known.by_path.get(&display) {
            Some((size, time, hash, snapshot))
                if *size == bytes && modified_at.is_some() && *time == modified_at =>
            {
                seen.entry(*hash).or_default().push(key.clone());
                plan.already_stored.push((display, Some(*snapshot)));
                continue;
            }
            _ => super::source::hash_file(&path).map_err(|e| (path.clone(), e))?,
        };
        let earlier = seen.entry(hash).or_default();
        if earlier.iter().any(|k| same(k, &key)) {
            plan.already_stored.push((display, None));
            continue;
        }
        earlier.push(key.clone());
        if let Some((_, snapshot)) = known
            .by_hash
            .get(&hash)
            .and_then(|stored| stored.iter().find(|(k, _)| same(k, &key)))
        {
            plan.already_stored.push((display, Some(*snapshot)));
            continue;
        }
        let delivery = Delivery {
            path,
            key,
            hash,
            bytes,
            modified_at,
        };
        if delivery.key.is_some() {
            named.push(delivery);
        } else {
            unnamed.push(delivery);
        }
    }
    // Time order; at one time, snapshots before history, then by path: a plan is the same
    // whatever order the directory walk found the files in.
    named.sort_by(|a, b| {
        let (ka, kb) = (a.key.as_ref().unwrap(), b.key.as_ref().unwrap());
        (ka.time, ka.kind == SnapshotKind::Partial, &a.path).cmp(&(
            kb.time,
            kb.kind == SnapshotKind::Partial,
            &b.path,
        ))
    });
    // A snapshot delivery must not be older than what its scope holds: applied after newer
    // data it would turn the scope back in time.
    named.retain(|d| {
        let key = d.key.as_ref().unwrap();
        if key.kind != SnapshotKind::Full {
            return true;
        }
        match known.clock.latest(&key.scope()) {
            Some((held, snapshot, scope)) if held > key.time => {
                plan.refused.push(Problem {
                    file: d.path.display().to_string(),
                    location: Location::File,
                    pointer: String::new(),
                    message: format!(
                        "this delivery of {} was taken at {}, before what the store already holds \
                         for {scope}: data taken at {held} (snapshot {snapshot}); deliveries of a \
                         scope are applied in time order",
                        key.scope(),
                        key.time,
                    ),
                });
                false
            }
            _ => true,
        }
    });
    plan.groups = group(named, grouping);
    if !unnamed.is_empty() {
        plan.groups.push(Group {
            deliveries: unnamed,
            named: false,
            period: None,
        });
    }
    Ok(plan)
}

/// The delivery frequencies AWS Config offers.
const FREQUENCIES_HOURS: [i64; 5] = [1, 3, 6, 12, 24];

/// The period deliveries arrive at: the median over scopes of the shortest gap between a
/// scope's consecutive snapshot deliveries, as the largest AWS frequency not above it (with a
/// tenth's slack for late deliveries). 24 hours when no scope delivered twice.
fn delivery_period(named: &[Delivery]) -> SignedDuration {
    let mut times: HashMap<Scope, Vec<Timestamp>> = HashMap::new();
    for key in named.iter().filter_map(|d| d.key.as_ref()) {
        if key.kind == SnapshotKind::Full {
            times.entry(key.scope()).or_default().push(key.time);
        }
    }
    let mut gaps: Vec<i64> = times
        .values()
        .filter_map(|t| {
            t.windows(2)
                .map(|w| (w[1] - w[0]).get_seconds())
                .filter(|g| *g > 0)
                .min()
        })
        .collect();
    if gaps.is_empty() {
        return SignedDuration::from_hours(24);
    }
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2] as f64 * 1.1;
    let hours = FREQUENCIES_HOURS
        .iter()
        .rev()
        .find(|h| (**h * 3600) as f64 <= median)
        .copied()
        .unwrap_or(1);
    SignedDuration::from_hours(hours)
}

/// Groups named deliveries (in time order) into snapshots: one per period, but never two
/// snapshot files of one scope in one snapshot (a scope delivering twice in a period makes a
/// second snapshot of the period). A history file joins the snapshot holding its scope's
/// latest snapshot file up to its time.
fn group(named: Vec<Delivery>, grouping: Grouping) -> Vec<Group> {
    let period = match grouping {
        Grouping::File => {
            return named
                .into_iter()
                .map(|d| Group {
                    deliveries: vec![d],
                    named: true,
                    period: None,
                })
                .collect();
        }
        Grouping::Hour => SignedDuration::from_hours(1),
        Grouping::Day => SignedDuration::from_hours(24),
        Grouping::Period => delivery_period(&named),
    };
    let seconds = period.as_secs();
    let mut groups: Vec<Group> = Vec::new();
    // (period number, round within it) → index in `groups`.
    let mut index: HashMap<(i64, usize), usize> = HashMap::new();
    // Per period, how many snapshot files each scope delivered so far.
    let mut rounds: HashMap<(i64, Scope), usize> = HashMap::new();
    for delivery in named {
        let key = delivery.key.as_ref().unwrap();
        let bucket = key.time.as_second().div_euclid(seconds);
        let count = rounds.entry((bucket, key.scope())).or_insert(0);
        let round = match key.kind {
            SnapshotKind::Full => {
                *count += 1;
                *count - 1
            }
            SnapshotKind::Partial => count.saturating_sub(1),
        };
        let at = *index.entry((bucket, round)).or_insert_with(|| {
            let start = Timestamp::from_second(bucket * seconds).unwrap_or(key.time);
            groups.push(Group {
                deliveries: Vec::new(),
                named: true,
                period: Some((start, period)),
            });
            groups.len() - 1
        });
        groups[at].deliveries.push(delivery);
    }
    // Periods in time order, and rounds in order within one.
    groups.sort_by_key(|g| g.period.map(|p| p.0));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_aws_deliveries_say_scope_kind_and_time() {
        let key = DeliveryKey::from_name(
            "111122223333_Config_eu-west-1_ConfigSnapshot_20261109T060000Z_bdbae037-1ac3.json.gz",
        )
        .unwrap();
        assert_eq!(key.account_id, "111122223333");
        assert_eq!(key.region, "eu-west-1");
        assert_eq!(key.kind, SnapshotKind::Full);
        assert_eq!(key.time.to_string(), "2026-11-09T06:00:00Z");
        let key = DeliveryKey::from_name(
            "111122223333_Config_us-east-1_ConfigHistory_AWS::EC2::Volume_20261109T000000Z_20261109T060000Z_1.json.gz",
        )
        .unwrap();
        assert_eq!(key.kind, SnapshotKind::Partial);
        assert_eq!(
            key.time.to_string(),
            "2026-11-09T06:00:00Z",
            "the window's end"
        );
        for other in [
            "inventory.json",
            "1111_Config_eu-west-1_ConfigSnapshot_20261109T060000Z_x.json",
            "111122223333_Config_eu-west-1_ConfigWhatever_20261109T060000Z_x.json",
            "111122223333_Config_eu-west-1_ConfigSnapshot_2026-11-09_x.json",
        ] {
            assert_eq!(DeliveryKey::from_name(other), None, "{other}");
        }
    }

    fn delivery(account: &str, region: &str, kind: SnapshotKind, time: &str) -> Delivery {
        Delivery {
            path: PathBuf::from(format!("{account}-{region}-{time}")),
            key: Some(DeliveryKey {
                account_id: account.into(),
                region: region.into(),
                kind,
                time: time.parse().unwrap(),
            }),
            hash: ContentHash(xxhash_rust::xxh3::xxh3_128(time.as_bytes())),
            bytes: 1,
            modified_at: None,
        }
    }

    #[test]
    fn daily_deliveries_of_many_scopes_make_one_snapshot_a_day() {
        let mut named = Vec::new();
        for day in 1..=3 {
            for (account, hour) in [("111122223333", 5), ("444455556666", 7)] {
                for region in ["us-east-1", "eu-west-1"] {
                    let time = format!("2026-11-0{day}T0{hour}:00:00Z");
                    named.push(delivery(account, region, SnapshotKind::Full, &time));
                }
            }
        }
        // Account B misses day 2; a history file lands on day 3.
        named.retain(|d| {
            !d.path
                .to_string_lossy()
                .starts_with("444455556666-us-east-1-2026-11-02")
        });
        named.push(delivery(
            "111122223333",
            "us-east-1",
            SnapshotKind::Partial,
            "2026-11-03T12:00:00Z",
        ));
        named.sort_by_key(|d| d.key.as_ref().unwrap().time);
        assert_eq!(delivery_period(&named), SignedDuration::from_hours(24));
        let groups = group(named, Grouping::Period);
        assert_eq!(groups.len(), 3);
        assert_eq!(
            groups
                .iter()
                .map(|g| g.deliveries.len())
                .collect::<Vec<_>>(),
            [4, 3, 5]
        );
        assert_eq!(
            groups[2].label(),
            "2026-11-03: 4 snapshot deliveries, 1 history file"
        );
        assert_eq!(groups[1].scopes().len(), 3);
    }

    #[test]
    fn a_scope_delivering_twice_in_a_period_makes_a_second_snapshot() {
        let named = vec![
            delivery(
                "111122223333",
                "us-east-1",
                SnapshotKind::Full,
                "2026-11-01T05:00:00Z",
            ),
            delivery(
                "111122223333",
                "us-east-1",
                SnapshotKind::Full,
                "2026-11-01T09:00:00Z",
            ),
            delivery(
                "444455556666",
                "us-east-1",
                SnapshotKind::Full,
                "2026-11-01T10:00:00Z",
            ),
        ];
        let groups = group(named, Grouping::Day);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].deliveries.len(),
            2,
            "the first round of both scopes"
        );
        assert_eq!(groups[1].deliveries.len(), 1);
    }

    #[test]
    fn six_hourly_deliveries_are_grouped_by_six_hours() {
        let named: Vec<Delivery> = (0..8)
            .map(|i| {
                let time = format!("2026-11-01T{:02}:10:00Z", (i * 6) % 24);
                let mut d = delivery("111122223333", "us-east-1", SnapshotKind::Full, &time);
                let t: Timestamp = time.parse().unwrap();
                d.key.as_mut().unwrap().time = t + SignedDuration::from_hours(24 * (i / 4) as i64);
                d
            })
            .collect();
        assert_eq!(delivery_period(&named), SignedDuration::from_hours(6));
        assert_eq!(group(named, Grouping::Period).len(), 8);
    }
}
