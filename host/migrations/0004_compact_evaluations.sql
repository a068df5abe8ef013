-- conform store, schema 4: evaluations as compact rows.
--
-- A scan stores one row per (rule, resource): at 100k items and a dozen rules, over 100k rows
-- per scan. Rows that spelled out rule, account, region, type, id, compliance and annotation
-- (about 150 bytes each) made storing a scan cost more than evaluating it. A row now names the
-- rule by its number in the scan, the resource by its row in `resources`, the compliance by a
-- code, and the annotation by its number in the scan's list of distinct annotations (most
-- annotations repeat: "the volume is not encrypted").
--
-- The view `evaluations` shows rows as before, for readers and for anyone with `sqlite3`.

-- Each rule's number within its scan. A rule evaluated but not recorded (which no conform
-- release wrote, but a hand-made store might hold) is recorded first, so no evaluation is lost.
INSERT INTO scan_rules (scan_id, rule_id, rule_version, module_hash, source, severity, parameters)
SELECT DISTINCT e.scan_id, e.rule_id, '', '', '', '', 'null' FROM evaluations e
WHERE NOT EXISTS (SELECT 1 FROM scan_rules r WHERE r.scan_id = e.scan_id AND r.rule_id = e.rule_id);
ALTER TABLE scan_rules ADD COLUMN number INTEGER;
UPDATE scan_rules SET number = (
    SELECT count(*) FROM scan_rules earlier
    WHERE earlier.scan_id = scan_rules.scan_id AND earlier.rule_id < scan_rules.rule_id
);
CREATE UNIQUE INDEX scan_rules_by_number ON scan_rules (scan_id, number);

-- The distinct annotations of a scan.
CREATE TABLE scan_annotations (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    number  INTEGER NOT NULL,
    text    TEXT    NOT NULL,
    PRIMARY KEY (scan_id, number)
) WITHOUT ROWID;

CREATE TABLE scan_evaluations (
    scan_id    INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    rule       INTEGER NOT NULL,            -- scan_rules.number
    resource   INTEGER,                     -- resources.id; NULL for what is not a stored
                                            --   resource (an estate rule's AWS::::Account)
    compliance INTEGER NOT NULL CHECK (compliance BETWEEN 1 AND 4),
                                            -- 1 COMPLIANT, 2 NON_COMPLIANT, 3 NOT_APPLICABLE,
                                            --   4 ERROR
    annotation INTEGER NOT NULL,            -- scan_annotations.number
    -- Who was evaluated, only when `resource` is NULL.
    account_id    TEXT,
    region        TEXT,
    resource_type TEXT,
    resource_id   TEXT
);

-- Carry over what earlier scans stored, in the same order.
INSERT INTO scan_annotations (scan_id, number, text)
SELECT scan_id, row_number() OVER (PARTITION BY scan_id ORDER BY annotation) - 1, annotation
FROM (SELECT DISTINCT scan_id, annotation FROM evaluations);
CREATE INDEX temp_annotations_by_text ON scan_annotations (scan_id, text);

INSERT INTO scan_evaluations
SELECT e.scan_id, r.number, res.id,
       CASE e.compliance WHEN 'COMPLIANT' THEN 1 WHEN 'NON_COMPLIANT' THEN 2
                         WHEN 'NOT_APPLICABLE' THEN 3 ELSE 4 END,
       a.number,
       CASE WHEN res.id IS NULL THEN e.account_id END,
       CASE WHEN res.id IS NULL THEN e.region END,
       CASE WHEN res.id IS NULL THEN e.resource_type END,
       CASE WHEN res.id IS NULL THEN e.resource_id END
FROM evaluations e
JOIN scan_rules r ON r.scan_id = e.scan_id AND r.rule_id = e.rule_id
JOIN scan_annotations a ON a.scan_id = e.scan_id AND a.text = e.annotation
LEFT JOIN resources res ON res.resource_id = e.resource_id AND res.resource_type = e.resource_type
                       AND res.account_id = e.account_id AND res.region = e.region
ORDER BY e.rowid;

DROP INDEX temp_annotations_by_text;
DROP TABLE evaluations;
UPDATE scans SET
    first_evaluation = (SELECT min(rowid) FROM scan_evaluations e WHERE e.scan_id = scans.id),
    last_evaluation  = (SELECT max(rowid) FROM scan_evaluations e WHERE e.scan_id = scans.id);

CREATE VIEW evaluations AS
SELECT e.rowid AS row, e.scan_id, e.resource,
       r.rule_id,
       coalesce(res.account_id, e.account_id)       AS account_id,
       coalesce(res.region, e.region)               AS region,
       coalesce(res.resource_type, e.resource_type) AS resource_type,
       coalesce(res.resource_id, e.resource_id)     AS resource_id,
       CASE e.compliance WHEN 1 THEN 'COMPLIANT' WHEN 2 THEN 'NON_COMPLIANT'
                         WHEN 3 THEN 'NOT_APPLICABLE' ELSE 'ERROR' END AS compliance,
       a.text AS annotation
FROM scan_evaluations e
JOIN scan_rules r ON r.scan_id = e.scan_id AND r.number = e.rule
JOIN scan_annotations a ON a.scan_id = e.scan_id AND a.number = e.annotation
LEFT JOIN resources res ON res.id = e.resource;
