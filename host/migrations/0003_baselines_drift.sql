-- conform store, schema 3: baselines, desired states, and what drift and reports need.

-- A desired state (how an estate should be, e.g. a file kept in git) is stored as a snapshot of
-- role 'desired'. Its versions have an empty range (first_snapshot = until_snapshot = its id),
-- so no observed snapshot ever includes them; it is read with `first_snapshot = id`. Observed
-- snapshots keep their meaning: 'latest', ordering and history concern them only.
ALTER TABLE snapshots ADD COLUMN role TEXT NOT NULL DEFAULT 'observed'
    CHECK (role IN ('observed', 'desired'));

-- A named baseline: the snapshot (observed or desired) others are compared against.
CREATE TABLE baselines (
    name        TEXT    PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    set_at      TEXT    NOT NULL                -- RFC 3339, UTC
) WITHOUT ROWID;

-- The versions that begin or end at a snapshot. Between two snapshots A < B, a resource's
-- state differs only if one of its versions begins or ends in (A, B]: drift reads those rows
-- and never the unchanged rest of the estate.
CREATE INDEX versions_by_first_snapshot ON versions (first_snapshot);
CREATE INDEX versions_by_until_snapshot ON versions (until_snapshot) WHERE until_snapshot IS NOT NULL;

-- What a scan's rules say about themselves, so reports (SARIF rule metadata, markdown) need
-- not load the rules again.
ALTER TABLE scan_rules ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE scan_rules ADD COLUMN description TEXT NOT NULL DEFAULT '';

-- Where each scan's evaluations lie. A scan writes them in one transaction, holding the write
-- lock, so their rowids are contiguous: reading a scan is a walk over that range, in table
-- order, and needs no index (whose upkeep was most of the cost of storing an evaluation).
ALTER TABLE scans ADD COLUMN first_evaluation INTEGER;
ALTER TABLE scans ADD COLUMN last_evaluation INTEGER;
UPDATE scans SET
    first_evaluation = (SELECT min(rowid) FROM evaluations e WHERE e.scan_id = scans.id),
    last_evaluation  = (SELECT max(rowid) FROM evaluations e WHERE e.scan_id = scans.id);
DROP INDEX evaluations_by_scan;
