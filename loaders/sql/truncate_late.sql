-- Changes of {target}'s source table older than a TRUNCATE the warehouse already knows (this
-- batch's or an earlier one's) arrive after it when they were on another partition than the
-- truncate record, or replayed. They are applied like any other change first: the row existed
-- from its LSN until the truncate, and a fact placed in between references that version. Then
-- the row is deleted as of the first truncate after it, as that truncate would have deleted it
-- had the change arrived in order. Only the batch's own late keys are looked up (by index).
-- With no truncate known, `known.latest` is NULL and nothing matches.
WITH known AS (
    SELECT max(version) AS latest FROM dw.etl_truncations WHERE entity = {entity_name}
)
UPDATE {target} t
SET is_deleted = true, loaded_at = now(),
    (version, source_committed_at) = (
        SELECT tr.version, tr.source_committed_at FROM dw.etl_truncations tr
        WHERE tr.entity = {entity_name} AND tr.version > t.version
        ORDER BY tr.version LIMIT 1)
FROM known,
     (SELECT DISTINCT s.{key} FROM {stg} s, known k WHERE s.version < k.latest) late
-- The version check is needed as well as the late key: a row already newer than the latest
-- truncate has none after it, and the SET's subquery would write NULLs.
WHERE t.{key} = late.{key} AND NOT t.is_deleted{live}
  AND t.version < known.latest
