-- Upsert order lines, same rules as orders: latest change per line, newer version wins, soft
-- deletes keep the last known values; product_sk and product_as_of from fact_changes.sql.
INSERT INTO dw.fact_order_items AS f (
    order_item_id, order_id, product_id, product_sk, product_as_of, quantity, unit_price,
    is_deleted, version, source_committed_at)
SELECT s.order_item_id, s.order_id, s.product_id, s.sk, s.as_of, s.quantity, s.unit_price,
       s.deleted, s.version, to_timestamp(s.source_ts_ms / 1000.0)
FROM changes_order_items s
ORDER BY s.order_item_id
ON CONFLICT (order_item_id) DO UPDATE SET
    order_id    = coalesce(excluded.order_id, f.order_id),
    product_id  = coalesce(excluded.product_id, f.product_id),
    product_sk  = excluded.product_sk,
    product_as_of = excluded.product_as_of,
    quantity    = coalesce(excluded.quantity, f.quantity),
    unit_price  = coalesce(excluded.unit_price, f.unit_price),
    is_deleted  = excluded.is_deleted,
    version     = excluded.version,
    source_committed_at = excluded.source_committed_at,
    loaded_at   = now()
WHERE excluded.version > f.version;
