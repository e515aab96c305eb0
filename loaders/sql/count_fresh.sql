-- Change records of one entity in this batch that are newer than what the warehouse holds:
-- distinct (key, version) with a version above the key's stored maximum. Run before applying;
-- everything else in the batch is a stale replay or a duplicate and will change nothing.
SELECT count(*)
FROM (SELECT DISTINCT {key}, version FROM {stg}) s
WHERE s.version > coalesce((SELECT max(t.version) FROM {target} t WHERE t.{key} = s.{key}), -1)
