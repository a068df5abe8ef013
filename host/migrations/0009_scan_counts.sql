-- conform store, schema 9: what an incremental scan needs to start from an earlier one.
--
-- A rescan after a little churn should cost what changed, not what is stored. It starts from
-- an earlier incremental scan of the same rules (its base): the base's counts, less what the
-- changed resources counted there, plus what they count now. So each scan keeps its counts per
-- rule, and every other answer comes from the state's differences.

-- Each rule's evaluations by compliance, as the scan counted them (NULL for scans stored
-- before this schema: they are counted from their rows).
ALTER TABLE scan_rules ADD COLUMN compliant INTEGER;
ALTER TABLE scan_rules ADD COLUMN non_compliant INTEGER;
ALTER TABLE scan_rules ADD COLUMN not_applicable INTEGER;
ALTER TABLE scan_rules ADD COLUMN error INTEGER;

-- The scan that stored a verdict (NULL: stored before this schema). A scan's evaluations are
-- the verdicts stored by it or before it: when a later scan evaluates again what an earlier
-- one found an ERROR on, the earlier scan still reads its ERROR, and only it.
ALTER TABLE verdicts ADD COLUMN scan INTEGER;

-- An estate rule reruns for an account whose in-scope resources changed: it reads that
-- account's resources of the rule's types, through this index, not the whole state.
CREATE INDEX resources_by_type ON resources (resource_type, account_id);
