-- After the dimensions and facts of the batch are applied: each candidate of
-- repoint_candidates.sql references the version of its member valid at its {as_of}.
UPDATE {fact} f
SET {sk} = {sk_at}(f.{key}, f.{as_of})
FROM {repoint} c
WHERE f.{fact_key} = c.fact_key AND f.{sk} IS DISTINCT FROM {sk_at}(f.{key}, f.{as_of});
