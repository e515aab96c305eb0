-- An update's unchanged TOASTed column {col} (named in the change's `unchanged`, its staged
-- value NULL): PostgreSQL did not send it because it did not change, so it takes the value of
-- the key's latest earlier version: staged in this batch (a version that did carry the column)
-- or held by the warehouse ({target}{current}). Never the placeholder, never NULL over a value.
-- NULL only when no earlier version is known anywhere (the insert was dead-lettered, say).
UPDATE {stg} s
SET {col} = (
    SELECT prior.v
    FROM (SELECT p.{col} AS v, p.version
          FROM {stg} p
          WHERE p.{key} = s.{key} AND p.version < s.version AND NOT p.deleted
            AND NOT coalesce({column} = ANY(p.unchanged), false)
          UNION ALL
          SELECT t.{col}, t.version
          FROM {target} t
          WHERE t.{key} = s.{key} AND t.version < s.version{current}) prior
    ORDER BY prior.version DESC
    LIMIT 1)
WHERE {column} = ANY(s.unchanged)
