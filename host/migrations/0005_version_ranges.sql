-- conform store, schema 5: where each snapshot's versions lie, instead of two indexes.
--
-- Ingest writes a new version for every new resource, and keeping two indexes up to date was a
-- tenth of the cost of writing one:
-- - `versions_by_first_snapshot`. A snapshot writes its versions in one transaction, holding
--   the write lock, with ids it hands out in order: the versions that begin at a snapshot are
--   the ones in its id range. Readers walk that range of the table (filtering on
--   first_snapshot still, so the range only ever narrows the search).
-- - `resources_by_arn`. It served one look-up, `conform show ARN`, which now tries the resource
--   whose id ends the ARN (most ARNs end with the id) through the identity index, and reads
--   the table otherwise.

ALTER TABLE snapshots ADD COLUMN first_version INTEGER;
ALTER TABLE snapshots ADD COLUMN last_version INTEGER;
-- Recorded while the index still answers it.
UPDATE snapshots SET
    first_version = (SELECT min(id) FROM versions v WHERE v.first_snapshot = snapshots.id),
    last_version  = (SELECT max(id) FROM versions v WHERE v.first_snapshot = snapshots.id);
DROP INDEX versions_by_first_snapshot;
DROP INDEX resources_by_arn;
