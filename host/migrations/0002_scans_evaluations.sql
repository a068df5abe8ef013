-- conform store, schema 2: rule scans and their evaluations.

-- One run of a set of rules over one snapshot.
CREATE TABLE scans (
    id          INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    started_at  TEXT    NOT NULL,             -- RFC 3339, UTC
    finished_at TEXT    NOT NULL
);

-- The rules of a scan: which exact code (module hash) and parameters produced its evaluations.
CREATE TABLE scan_rules (
    scan_id      INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    rule_id      TEXT    NOT NULL,
    rule_version TEXT    NOT NULL,
    module_hash  TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    parameters   TEXT    NOT NULL,              -- JSON, defaults filled in
    PRIMARY KEY (scan_id, rule_id)
) WITHOUT ROWID;

-- One evaluation of one rule for one resource. Resources are named by identity rather than by
-- row, since estate rules evaluate `AWS::::Account`, which is not a stored resource.
CREATE TABLE evaluations (
    scan_id       INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    rule_id       TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    compliance    TEXT    NOT NULL CHECK (compliance IN ('COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE', 'ERROR')),
    annotation    TEXT    NOT NULL
);
CREATE INDEX evaluations_by_scan ON evaluations (scan_id, rule_id, compliance);
