-- Facts may arrive before their dimension member (separate topics, separate partitions).
-- Such a member gets an inferred placeholder row (version 0, attributes NULL) so the fact can
-- reference a surrogate key right away; the member's first real change fills it in place.
INSERT INTO {dim} ({key}, valid_from, is_inferred, version)
SELECT s.{key}, min(to_timestamp(s.source_ts_ms / 1000.0)), true, 0
FROM {fact_stg} s
WHERE s.{key} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {dim} d WHERE d.{key} = s.{key} AND d.is_current)
GROUP BY s.{key}
ORDER BY s.{key};
