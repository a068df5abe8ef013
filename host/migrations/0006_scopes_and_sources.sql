-- conform store, schema 6: where each snapshot is complete, and which files it came from.
--
-- AWS Config delivers one snapshot file per account and region (one recorder each), on its
-- own schedule. A snapshot is complete only for the scopes it covers: a resource outside every
-- full scope of a snapshot keeps the version it had, whose range runs on through it. The state
-- of the estate at a snapshot stays "every version whose range holds its id"; what changes is
-- which versions a snapshot may end.

-- The scopes of a snapshot: an account and region, '*' for any. A full scope ends the
-- versions of its resources that the snapshot does not name; a partial one (history files,
-- change notifications) only those it names. `delivered_at` is when the scope's data was
-- taken: deliveries of one scope are applied in that order.
CREATE TABLE snapshot_scopes (
    snapshot_id  INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    account_id   TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('full', 'partial')),
    delivered_at TEXT    NOT NULL,              -- RFC 3339, UTC
    -- For an account's global resources (region 'global', IAM): the region whose recorder
    -- delivered them. Its later deliveries cover them, holding any or not.
    recorded_by  TEXT,
    PRIMARY KEY (snapshot_id, account_id, region)
) WITHOUT ROWID;

-- Every observed snapshot stored before scopes existed covered the whole estate.
INSERT INTO snapshot_scopes (snapshot_id, account_id, region, kind, delivered_at)
SELECT id, '*', '*', kind, taken_at FROM snapshots WHERE role = 'observed';

-- What a source file was, so that ingesting a synced bucket again skips what it already
-- holds: by path, size and modification time without reading the file, else by the hash of
-- its bytes (the same file under another path).
ALTER TABLE snapshot_sources ADD COLUMN content_hash BLOB;
ALTER TABLE snapshot_sources ADD COLUMN bytes INTEGER;
ALTER TABLE snapshot_sources ADD COLUMN modified_at TEXT;
