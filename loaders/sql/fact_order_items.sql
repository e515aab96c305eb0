-- Upsert order lines, same rules as orders: latest change per line, newer version wins, soft
-- deletes keep the last known values, product_sk resolved to the product version valid at the
-- line's first change in the batch with that product (product_as_of), re-pointed when a product
-- version that arrives later covers it (repoint_facts.sql).
INSERT INTO dw.fact_order_items AS f (
    order_item_id, order_id, product_id, product_sk, product_as_of, quantity, unit_price,
    is_deleted, version, source_committed_at)
SELECT s.order_item_id, s.order_id, s.product_id,
       CASE WHEN m.version_from <= s.as_of THEN m.product_sk  -- the current row, usually
            ELSE dw.product_sk_at(s.product_id, s.as_of) END,
       s.as_of, s.quantity, s.unit_price, s.deleted, s.version,
       to_timestamp(s.source_ts_ms / 1000.0)
FROM (SELECT DISTINCT ON (order_item_id) *,
             min(version) OVER (PARTITION BY order_item_id, product_id) AS as_of
      FROM stg_order_items ORDER BY order_item_id, version DESC) s
LEFT JOIN dw.dim_product m ON m.product_id = s.product_id AND m.is_current
ORDER BY s.order_item_id
ON CONFLICT (order_item_id) DO UPDATE SET
    order_id    = coalesce(excluded.order_id, f.order_id),
    product_id  = coalesce(excluded.product_id, f.product_id),
    (product_sk, product_as_of) = (
        SELECT CASE WHEN kept THEN f.product_sk ELSE excluded.product_sk END,
               CASE WHEN kept THEN f.product_as_of ELSE excluded.product_as_of END
        FROM dw.keeps_member(f.product_id, f.product_sk, f.is_deleted,
                             excluded.product_id, excluded.is_deleted) kept),
    quantity    = coalesce(excluded.quantity, f.quantity),
    unit_price  = coalesce(excluded.unit_price, f.unit_price),
    is_deleted  = excluded.is_deleted,
    version     = excluded.version,
    source_committed_at = excluded.source_committed_at,
    loaded_at   = now()
WHERE excluded.version > f.version;
