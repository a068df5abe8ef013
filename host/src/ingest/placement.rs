//! What one item means for its resource, decided from what is known before anything is written.
//!
//! An item may be a change its scope's latest snapshot already reflects, a second item for a
//! resource this snapshot holds (refused, passed over, or replacing the first under
//! `--latest-wins` and in files of changes), or the item that counts. [`decide`] answers that
//! from plain facts, and [`outcome`] what a new version does to the resource; the snapshot
//! builder (`SnapshotBuilder::place`) gathers the facts, checks the item's content and applies
//! the answer to the store. Keeping the decision apart lets every case be tested here, without
//! a store or a file.

use jiff::Timestamp;

use super::ItemAt;
use crate::model::{ItemStatus, VersionId};
use crate::store::{Head, SnapshotCounts};

/// Where a resource was seen in this snapshot, and what that did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sighting {
    /// The file's index in this ingest.
    pub file: usize,
    pub location: ItemAt,
    pub capture_time: Option<Timestamp>,
    pub outcome: Outcome,
}

/// What an item did to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Unchanged,
    Added(VersionId),
    Modified(VersionId),
    Deleted(VersionId),
    /// Invalid, left out with --skip-invalid; the resource keeps its previous state.
    Invalid,
}

impl Outcome {
    /// The version it wrote, if any: what taking it back removes.
    pub fn version(self) -> Option<VersionId> {
        match self {
            Outcome::Added(v) | Outcome::Modified(v) | Outcome::Deleted(v) => Some(v),
            Outcome::Unchanged | Outcome::Invalid => None,
        }
    }

    /// Counts it in `counts` (`taken_back`: uncounts it, when a later capture replaces it).
    pub fn tally(self, counts: &mut SnapshotCounts, taken_back: bool) {
        let count = match self {
            Outcome::Added(_) => &mut counts.added,
            Outcome::Modified(_) => &mut counts.modified,
            Outcome::Deleted(_) => &mut counts.deleted,
            Outcome::Unchanged => &mut counts.unchanged,
            Outcome::Invalid => return,
        };
        if taken_back {
            *count -= 1;
        } else {
            *count += 1;
        }
    }
}

/// What is known of an item when it arrives.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    /// When it was captured (`configurationItemCaptureTime`), if it says.
    pub capture_time: Option<Timestamp>,
    /// It comes from a file of changes (a history file), not from a snapshot of its scope.
    pub from_changes: bool,
    /// When its scope's latest full snapshot was taken, if the store holds one (looked up only
    /// for a change: nothing else can be superseded).
    pub scope_latest_full: Option<Timestamp>,
    /// `--latest-wins`: of two items for one resource, the later capture counts.
    pub latest_wins: bool,
}

/// Where this snapshot saw the resource before, and whether that was in a file of changes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Earlier {
    pub sighting: Sighting,
    pub from_changes: bool,
}

/// What to do with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// A change captured before its scope's latest full snapshot, which already reflects it.
    Superseded,
    /// A second item for a resource this snapshot already holds, where neither may replace the
    /// other: refused, naming where the first is.
    Duplicate(Sighting),
    /// An earlier item of this snapshot counts; this one, captured no later, is passed over.
    PassedOver,
    /// This item counts; if an earlier one counted, what it did is taken back first.
    Counts { replacing: Option<Sighting> },
}

/// Decides what an item means for its resource.
///
/// Within one snapshot a resource appears once. Files of changes are the exception (they list
/// each change), and so is `--latest-wins`: there the later capture counts, and an item that
/// does not say when it was captured never replaces one that does.
pub(super) fn decide(arrival: Arrival, earlier: Option<Earlier>) -> Placement {
    if arrival.from_changes
        && let (Some(capture), Some(full)) = (arrival.capture_time, arrival.scope_latest_full)
        && capture < full
    {
        return Placement::Superseded;
    }
    let Some(earlier) = earlier else {
        return Placement::Counts { replacing: None };
    };
    if !(arrival.latest_wins || earlier.from_changes || arrival.from_changes) {
        return Placement::Duplicate(earlier.sighting);
    }
    let later = match (arrival.capture_time, earlier.sighting.capture_time) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if later {
        Placement::Counts {
            replacing: Some(earlier.sighting),
        }
    } else {
        Placement::PassedOver
    }
}

/// Whether an item whose raw text hashes to `raw_hash` may differ from the resource's latest
/// version: only then is its content checked and its canonical body written (an item byte for
/// byte as stored is unchanged, and was checked when it was stored).
pub(super) fn may_differ(head: Option<Head>, raw_hash: crate::canonical::ContentHash) -> bool {
    head.is_none_or(|h| h.raw_hash != raw_hash)
}

/// What writing `version` with `status` does to a resource whose latest version was `head`.
pub(super) fn outcome(head: Option<Head>, status: ItemStatus, version: VersionId) -> Outcome {
    let was_live = head.is_some_and(|h| !h.status.is_deleted());
    match (was_live, status.is_deleted()) {
        (false, false) => Outcome::Added(version),
        (true, true) => Outcome::Deleted(version),
        _ => Outcome::Modified(version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ContentHash;
    use crate::model::ResourceRowId;

    fn at(hour: i64) -> Option<Timestamp> {
        Some(Timestamp::from_second(1_700_000_000 + hour * 3600).unwrap())
    }

    fn arrival(capture: Option<Timestamp>) -> Arrival {
        Arrival {
            capture_time: capture,
            from_changes: false,
            scope_latest_full: None,
            latest_wins: false,
        }
    }

    fn earlier(capture: Option<Timestamp>, from_changes: bool) -> Option<Earlier> {
        Some(Earlier {
            sighting: Sighting {
                file: 0,
                location: ItemAt {
                    index: 3,
                    offset: None,
                    lines_form: false,
                },
                capture_time: capture,
                outcome: Outcome::Unchanged,
            },
            from_changes,
        })
    }

    #[test]
    fn a_first_item_counts() {
        assert_eq!(
            decide(arrival(at(1)), None),
            Placement::Counts { replacing: None }
        );
        assert_eq!(
            decide(arrival(None), None),
            Placement::Counts { replacing: None }
        );
    }

    #[test]
    fn a_change_before_the_scopes_latest_snapshot_is_superseded_and_only_a_change() {
        let change = Arrival {
            from_changes: true,
            scope_latest_full: at(5),
            ..arrival(at(4))
        };
        assert_eq!(decide(change, None), Placement::Superseded);
        // Captured at or after the snapshot, it counts.
        for hour in [5, 6] {
            let later = Arrival {
                capture_time: at(hour),
                ..change
            };
            assert_eq!(decide(later, None), Placement::Counts { replacing: None });
        }
        // Without a capture time or a snapshot to compare with, it counts.
        for unknown in [
            Arrival {
                capture_time: None,
                ..change
            },
            Arrival {
                scope_latest_full: None,
                ..change
            },
        ] {
            assert_eq!(decide(unknown, None), Placement::Counts { replacing: None });
        }
        // An item of a snapshot file is never superseded, whatever its capture time.
        let snapshot = Arrival {
            from_changes: false,
            ..change
        };
        assert_eq!(
            decide(snapshot, None),
            Placement::Counts { replacing: None }
        );
    }

    #[test]
    fn a_second_item_in_snapshots_is_a_duplicate_unless_latest_wins() {
        let first = earlier(at(1), false);
        let second = decide(arrival(at(2)), first);
        assert_eq!(second, Placement::Duplicate(first.unwrap().sighting));
        let wins = Arrival {
            latest_wins: true,
            ..arrival(at(2))
        };
        assert_eq!(
            decide(wins, first),
            Placement::Counts {
                replacing: Some(first.unwrap().sighting)
            }
        );
    }

    #[test]
    fn where_replacing_is_allowed_the_later_capture_counts() {
        // Allowed under --latest-wins, or when either item comes from a file of changes.
        let allowed = [
            (true, false, false),
            (false, true, false),
            (false, false, true),
        ];
        for (latest_wins, from_changes, earlier_from_changes) in allowed {
            let now = |capture| Arrival {
                latest_wins,
                from_changes,
                ..arrival(capture)
            };
            let before = earlier(at(3), earlier_from_changes);
            let replacing = Placement::Counts {
                replacing: Some(before.unwrap().sighting),
            };
            assert_eq!(decide(now(at(4)), before), replacing);
            assert_eq!(
                decide(now(at(3)), before),
                Placement::PassedOver,
                "same time"
            );
            assert_eq!(decide(now(at(2)), before), Placement::PassedOver, "earlier");
            // An item that does not say when it was captured never replaces one that does,
            // and one that says replaces one that does not.
            assert_eq!(decide(now(None), before), Placement::PassedOver);
            let undated = earlier(None, earlier_from_changes);
            assert_eq!(
                decide(now(at(1)), undated),
                Placement::Counts {
                    replacing: Some(undated.unwrap().sighting)
                }
            );
            assert_eq!(decide(now(None), undated), Placement::PassedOver);
        }
    }

    fn head(status: ItemStatus, raw: u128) -> Option<Head> {
        Some(Head {
            resource: ResourceRowId(1),
            version: VersionId(7),
            status,
            content_hash: ContentHash(raw + 1),
            raw_hash: ContentHash(raw),
        })
    }

    #[test]
    fn only_text_unlike_the_latest_versions_may_differ() {
        assert!(may_differ(None, ContentHash(5)));
        assert!(may_differ(head(ItemStatus::Ok, 4), ContentHash(5)));
        assert!(!may_differ(head(ItemStatus::Ok, 5), ContentHash(5)));
    }

    #[test]
    fn a_new_version_adds_modifies_or_deletes_by_what_was_live() {
        let v = VersionId(9);
        let deleted = ItemStatus::ResourceDeleted;
        assert_eq!(outcome(None, ItemStatus::Ok, v), Outcome::Added(v));
        assert_eq!(
            outcome(head(deleted, 1), ItemStatus::Ok, v),
            Outcome::Added(v)
        );
        assert_eq!(
            outcome(head(ItemStatus::Ok, 1), ItemStatus::Ok, v),
            Outcome::Modified(v)
        );
        assert_eq!(
            outcome(head(ItemStatus::Ok, 1), deleted, v),
            Outcome::Deleted(v)
        );
        // A deletion of what was not live is recorded, as a modification.
        assert_eq!(outcome(None, deleted, v), Outcome::Modified(v));
        assert_eq!(outcome(head(deleted, 1), deleted, v), Outcome::Modified(v));
    }

    #[test]
    fn taking_an_outcome_back_undoes_its_count() {
        let mut counts = SnapshotCounts::default();
        let all = [
            Outcome::Added(VersionId(1)),
            Outcome::Modified(VersionId(2)),
            Outcome::Deleted(VersionId(3)),
            Outcome::Unchanged,
            Outcome::Invalid,
        ];
        for o in all {
            o.tally(&mut counts, false);
        }
        assert_eq!(
            (
                counts.added,
                counts.modified,
                counts.deleted,
                counts.unchanged
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(all.map(Outcome::version).iter().flatten().count(), 3);
        for o in all {
            o.tally(&mut counts, true);
        }
        assert_eq!(counts, SnapshotCounts::default());
    }
}
