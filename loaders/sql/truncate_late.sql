-- Changes of {target}'s source table older than a TRUNCATE the warehouse already knows (this
-- batch's or an earlier one's) arrive after it when they were on another partition than the
-- truncate record, or replayed. They are applied like any other change first: the row existed
-- from its LSN until the truncate, and a fact placed in between references that version. Then
-- the row is deleted as of the first truncate after it, as that truncate would have deleted it
-- had the change arrived in order. Only the batch's own late keys are looked up (by index).
UPDATE {target} t
SET is_deleted = true, loaded_at = now(),
    (version, source_committed_at) = (
        SELECT tr.version, tr.source_committed_at FROM dw.etl_truncations tr
        WHERE tr.entity = {entity_name} AND tr.version > t.version
        ORDER BY tr.version LIMIT 1)
FROM (SELECT DISTINCT s.{key} FROM {stg} s
      WHERE s.version < (SELECT max(version) FROM dw.etl_truncations
                         WHERE entity = {entity_name})) late
WHERE t.{key} = late.{key} AND NOT t.is_deleted{live}
  AND t.version < (SELECT max(version) FROM dw.etl_truncations WHERE entity = {entity_name})
