-- conform store, schema 8: the outbox of `conform serve`, and each scanned rule's scope.
--
-- Every notification is written here in the same transaction as the scan it reports (or the
-- ingest, for drift), so a crash cannot lose one: either the scan and its messages are stored,
-- or neither is and the next start scans again. Each sink then delivers the messages in id
-- order and records how far it got; a message may leave twice after a crash (at least once),
-- always with the same `message_id`, so receivers can drop duplicates.

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    -- Stable across redeliveries: receivers deduplicate by it.
    message_id TEXT NOT NULL UNIQUE,
    -- 'ComplianceChangeNotification' or 'DriftChangeNotification'.
    kind       TEXT NOT NULL,
    scan_id    INTEGER REFERENCES scans(id),
    snapshot_id INTEGER REFERENCES snapshots(id),
    -- The message exactly as every sink sends it (JSON), so a redelivery is byte for byte the
    -- same and carries the same signature.
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- How far each sink has delivered: every message with `id <= delivered` has left it. A sink
-- seen for the first time starts at the end of the outbox (it is not sent the past).
CREATE TABLE outbox_sinks (
    name       TEXT PRIMARY KEY,
    delivered  INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

-- The scans whose compliance changes were queued: the next one is compared with the latest of
-- these, so a scan run by hand in between loses no change.
CREATE TABLE notified_scans (
    scan_id INTEGER PRIMARY KEY REFERENCES scans(id)
);

-- The resource types each rule of a scan is scoped to (a JSON array; empty: every type). A
-- page of evaluations filtered by type skips the rules that cannot have any.
ALTER TABLE scan_rules ADD COLUMN resource_types TEXT;
