-- Facts may arrive before their dimension member (separate topics, separate partitions).
-- Such a member gets an inferred placeholder row (version 0, attributes NULL) so the fact can
-- reference a surrogate key right away; the member's first real change fills it in place.
-- It is valid from LSN 0, or from the deletion of the member's previous row (below).
--
-- A member whose current row is deleted, named by a live fact newer than the deletion, exists
-- again in the source (the fact's foreign key says so: a key reused, TRUNCATE ... RESTART
-- IDENTITY) but its new row has not arrived: the deleted row is closed so the fact references a
-- placeholder of the new member, not the old one (whose country would count its sales).
UPDATE {dim} d
SET is_current = false, valid_to = x.first_seen
FROM (SELECT s.{key}, max(s.version) AS version,
             min(to_timestamp(s.source_ts_ms / 1000.0)) AS first_seen
      FROM {fact_stg} s
      WHERE s.{key} IS NOT NULL AND NOT s.deleted
      GROUP BY s.{key}) x
WHERE d.{key} = x.{key} AND d.is_current AND d.is_deleted AND x.version > d.version;

INSERT INTO {dim} ({key}, valid_from, is_inferred, version, version_from)
SELECT s.{key}, min(to_timestamp(s.source_ts_ms / 1000.0)), true, 0,
       coalesce((SELECT max(d.version) FROM {dim} d WHERE d.{key} = s.{key}), 0)
FROM {fact_stg} s
WHERE s.{key} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {dim} d WHERE d.{key} = s.{key} AND d.is_current)
GROUP BY s.{key}
ORDER BY s.{key};
