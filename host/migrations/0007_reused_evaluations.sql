-- conform store, schema 7: evaluations computed once and reused by later scans.
--
-- A resource rule's verdict depends only on the rule's code, its parameters and the version of
-- the resource it reads: rules see nothing else (no clock, no file, no network). So a verdict
-- is stored once per (rule instance, version), and every scan that runs the same instance over
-- a state holding that version reuses it. An incremental scan stores only what it evaluated;
-- storage grows with change, as it does for versions.
--
-- What is not reused stays in `scan_evaluations`, per scan: ERROR (a timeout or a budget may
-- not recur), estate rules' evaluations, and every evaluation of a full scan (`--full`, and
-- every scan stored before this schema).

-- A rule as it ran: its module's hash and its parameters (canonical JSON).
CREATE TABLE rule_instances (
    id          INTEGER PRIMARY KEY,
    module_hash TEXT NOT NULL,
    parameters  TEXT NOT NULL,
    UNIQUE (module_hash, parameters)
);

-- Annotations of reused verdicts, each distinct text once.
CREATE TABLE annotations (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);

CREATE TABLE verdicts (
    instance   INTEGER NOT NULL REFERENCES rule_instances(id),
    version    INTEGER NOT NULL REFERENCES versions(id),
    -- 0 the version is outside the rule's scope (no evaluation), 1 COMPLIANT,
    -- 2 NON_COMPLIANT, 3 NOT_APPLICABLE. ERROR is never a verdict.
    compliance INTEGER NOT NULL CHECK (compliance BETWEEN 0 AND 3),
    annotation INTEGER REFERENCES annotations(id),
    PRIMARY KEY (instance, version)
) WITHOUT ROWID;

-- Which instance each rule of a scan was; NULL for scans stored before this schema.
ALTER TABLE scan_rules ADD COLUMN instance INTEGER REFERENCES rule_instances(id);

-- 'full': every evaluation of the scan is in `scan_evaluations`. 'incremental': those are
-- its ERRORs and estate evaluations; its other evaluations are the verdicts of its rules'
-- instances on the versions of its snapshot.
ALTER TABLE scans ADD COLUMN mode TEXT NOT NULL DEFAULT 'full'
    CHECK (mode IN ('full', 'incremental'));
-- How many evaluations the scan ran, and how many it took from earlier scans.
ALTER TABLE scans ADD COLUMN evaluated INTEGER;
ALTER TABLE scans ADD COLUMN reused INTEGER;
