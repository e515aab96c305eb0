-- Facts the batch's new versions of their dimension members may take over: a fact placed at or
-- after the LSN of a member's change ({as_of}) that reached the warehouse before the change did
-- (another topic, drained faster) references an older version. Listed before anything is applied
-- (the summaries snapshot these orders' old contribution); repoint_facts.sql resolves them again.
CREATE TEMP TABLE {repoint} ON COMMIT DROP AS
SELECT f.fact_key
FROM (SELECT {key}, min(version) AS version FROM {stg} WHERE NOT deleted GROUP BY {key}) n
JOIN {dim} d ON d.{key} = n.{key}
-- OFFSET 0 keeps this a range scan of the ({sk}, {as_of}) index per member version: as a join
-- the planner hashes the whole fact table (measured: most of the statement's time)
CROSS JOIN LATERAL (SELECT f.{fact_key} AS fact_key FROM {fact} f
                    WHERE f.{sk} = d.{sk} AND f.{as_of} >= n.version OFFSET 0) f;

ANALYZE {repoint};  -- usually empty: then the re-pointing joins nothing, by index
