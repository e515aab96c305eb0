-- Fact rows whose surrogate key names no dimension row (what the dropped foreign keys of
-- V004 would have refused): the loader never writes one, this finds one if it ever did.
SELECT 'fact_orders.customer_sk' AS reference, count(*) AS dangling
FROM dw.fact_orders f
WHERE f.customer_sk IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM dw.dim_customer c WHERE c.customer_sk = f.customer_sk)
UNION ALL
SELECT 'fact_orders.date_key', count(*)
FROM dw.fact_orders f
WHERE f.date_key IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM dw.dim_date d WHERE d.date_key = f.date_key)
UNION ALL
SELECT 'fact_order_items.product_sk', count(*)
FROM dw.fact_order_items i
WHERE i.product_sk IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM dw.dim_product p WHERE p.product_sk = i.product_sk)
