-- After the dimensions and facts of the batch are applied: each candidate of
-- repoint_candidates.sql references the version of its member valid at its {as_of}.
UPDATE {fact} f
SET {sk} = r.sk
FROM (SELECT f.{fact_key} AS fact_key, {sk_at}(f.{key}, f.{as_of}) AS sk
      FROM {repoint} c JOIN {fact} f ON f.{fact_key} = c.fact_key) r
WHERE f.{fact_key} = r.fact_key AND f.{sk} IS DISTINCT FROM r.sk;
