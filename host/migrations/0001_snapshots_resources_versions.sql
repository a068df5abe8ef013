-- conform store, schema 1. Migrations are only ever added, never edited: the schema version
-- lives in the database (PRAGMA user_version) and each file moves it one step.

-- A snapshot is the state of an estate at one time. Ids increase with taken_at, so a later id
-- is a later state and versions can be kept as id ranges.
CREATE TABLE snapshots (
    id            INTEGER PRIMARY KEY,
    taken_at      TEXT    NOT NULL,             -- RFC 3339, UTC
    ingested_at   TEXT    NOT NULL,             -- RFC 3339, UTC
    label         TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('full', 'partial')),
    items         INTEGER NOT NULL,             -- configuration items read
    added         INTEGER NOT NULL,             -- resources new (or back) in this snapshot
    modified      INTEGER NOT NULL,             -- resources whose content changed
    unchanged     INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,             -- deleted by status or absent from a full snapshot
    skipped       INTEGER NOT NULL,             -- invalid items left out with --skip-invalid
    live          INTEGER NOT NULL              -- resources present (not deleted) after it
);

-- The files a snapshot was read from.
CREATE TABLE snapshot_sources (
    snapshot_id   INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    form          TEXT    NOT NULL,
    items         INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, path)
) WITHOUT ROWID;

-- One row per resource ever seen; identity is (account, region, type, id).
CREATE TABLE resources (
    id            INTEGER PRIMARY KEY,
    account_id    TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    arn           TEXT,
    resource_name TEXT,
    head_version  INTEGER,                      -- its latest version (possibly a deletion),
    head_status   TEXT,                         --   with a copy of that version's status and
    head_content_hash BLOB,                     --   hashes: ingest loads every head, and must
    head_raw_hash BLOB,                         --   not read version bodies to do it
    UNIQUE (resource_id, resource_type, account_id, region)
);

CREATE INDEX resources_by_arn ON resources (arn) WHERE arn IS NOT NULL;

-- A version is one distinct content of a resource, current from snapshot `first_snapshot`
-- up to (not including) `until_snapshot`, or still current when that is NULL. A snapshot's
-- full state is every version whose range holds its id: storage grows with change, not with
-- the number of snapshots.
CREATE TABLE versions (
    id             INTEGER PRIMARY KEY,
    resource       INTEGER NOT NULL REFERENCES resources(id),
    first_snapshot INTEGER NOT NULL REFERENCES snapshots(id),
    until_snapshot INTEGER REFERENCES snapshots(id),
    status         TEXT    NOT NULL,            -- configurationItemStatus
    content_hash   BLOB    NOT NULL,            -- 128-bit hash of status + canonical body
    raw_hash       BLOB    NOT NULL,            -- hash of the raw text it was read from
    capture_time   TEXT,                        -- capture metadata of the first capture of
    state_id       TEXT,                        --   this content; later captures of the same
    md5_hash       TEXT,                        --   content do not make new versions
    item_version   TEXT,
    body           BLOB    NOT NULL             -- canonical JSON of the content fields
);
CREATE INDEX versions_by_resource ON versions (resource, first_snapshot);
