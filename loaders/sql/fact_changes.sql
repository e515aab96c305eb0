-- Per fact the batch changes ({fact_stg}): its latest change, and the member version it
-- references afterwards ({sk}, with the LSN it is resolved at, {as_of}). The fact upserts
-- (fact_orders.sql, fact_order_items.sql) read this, after the dimensions are applied.
--
-- The reference is kept unless the change names another member, recreates the fact (an insert:
-- a key reused after a delete or a TRUNCATE the warehouse may not know yet) or brings it back
-- from a delete (dw.keeps_member). A new one is the member's version valid at the LSN where
-- the fact's latest run of changes with that member began (the batch's last insert, member
-- change or change after a delete; else its first change), not the one current on arrival: the
-- topics may deliver the fact before or after the member's changes around it.
CREATE TEMP TABLE {changes} ON COMMIT DROP AS
SELECT c.*,
       CASE WHEN c.kept THEN c.stored_sk
            WHEN m.version_from <= c.anchor THEN m.{sk}  -- the current row, usually
            ELSE {sk_at}(c.{key}, c.anchor) END AS sk,
       CASE WHEN c.kept THEN c.stored_as_of ELSE c.anchor END AS as_of
FROM (SELECT l.*, o.{sk} AS stored_sk, o.{as_of} AS stored_as_of,
             o.{fact_key} IS NOT NULL
             AND dw.keeps_member(o.{key}, o.{sk}, o.is_deleted,
                                 l.{key}, l.deleted, l.recreated) AS kept
      FROM (SELECT DISTINCT ON ({fact_key}) *,
                   max(version) FILTER (WHERE starts) OVER k AS anchor,
                   bool_or(created) OVER k AS recreated
            FROM (SELECT *,
                         created OR coalesce(lag(deleted) OVER w, true)
                         OR lag({key}) OVER w IS DISTINCT FROM {key} AS starts
                  FROM {fact_stg}
                  WINDOW w AS (PARTITION BY {fact_key} ORDER BY version)) x
            WINDOW k AS (PARTITION BY {fact_key})
            ORDER BY {fact_key}, version DESC) l
      -- the stored row by primary key (OFFSET 0: not a hash of the whole fact table)
      LEFT JOIN LATERAL (SELECT * FROM {fact} o WHERE o.{fact_key} = l.{fact_key} OFFSET 0) o
             ON true) c
LEFT JOIN {dim} m ON m.{key} = c.{key} AND m.is_current;
