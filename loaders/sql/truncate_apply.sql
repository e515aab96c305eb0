-- A TRUNCATE of {target}'s source table at LSN {version}: every live row older than it is
-- soft-deleted, as a delete of each row would (the rows changed after it stay). Inferred
-- dimension members are left alone: they stand for facts, which their own tables' truncate
-- removes, and their real row settles them (older than the truncate: applied, then deleted
-- again by truncate_late.sql; newer: a new row).
UPDATE {target} t
SET is_deleted = true, version = {version}, source_committed_at = to_timestamp({ts_ms} / 1000.0),
    loaded_at = now()
WHERE NOT t.is_deleted AND t.version < {version}{live}
