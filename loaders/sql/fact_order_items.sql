-- Upsert order lines, same rules as orders: latest change per line, newer version wins, soft
-- deletes keep the last known values, product_sk resolved once to the product version current
-- when the line first arrives.
INSERT INTO dw.fact_order_items AS f (
    order_item_id, order_id, product_id, product_sk, quantity, unit_price,
    is_deleted, version, source_committed_at)
SELECT s.order_item_id, s.order_id, s.product_id, p.product_sk, s.quantity, s.unit_price,
       s.deleted, s.version, to_timestamp(s.source_ts_ms / 1000.0)
FROM (SELECT DISTINCT ON (order_item_id) * FROM stg_order_items
      ORDER BY order_item_id, version DESC) s
LEFT JOIN dw.dim_product p ON p.product_id = s.product_id AND p.is_current
ORDER BY s.order_item_id
ON CONFLICT (order_item_id) DO UPDATE SET
    order_id    = coalesce(excluded.order_id, f.order_id),
    product_id  = coalesce(excluded.product_id, f.product_id),
    product_sk  = CASE WHEN excluded.product_id IS NULL
                         OR excluded.product_id = f.product_id AND f.product_sk IS NOT NULL
                            AND NOT (f.is_deleted AND NOT excluded.is_deleted)  -- not a re-insert
                       THEN f.product_sk ELSE excluded.product_sk END,
    quantity    = coalesce(excluded.quantity, f.quantity),
    unit_price  = coalesce(excluded.unit_price, f.unit_price),
    is_deleted  = excluded.is_deleted,
    version     = excluded.version,
    source_committed_at = excluded.source_committed_at,
    loaded_at   = now()
WHERE excluded.version > f.version;
