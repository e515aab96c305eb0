-- Changes of {target}'s source table older than a TRUNCATE the warehouse knows (this batch's or
-- an earlier one's) are applied as deletes: the truncate removed their row from the source. They
-- arrive after it when they were on another partition than the truncate record, or replayed.
UPDATE {stg}
SET deleted = true
WHERE NOT deleted
  AND version < (SELECT max(version) FROM dw.etl_truncations WHERE entity = {entity_name})
