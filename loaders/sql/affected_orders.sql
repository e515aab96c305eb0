-- Orders whose contribution to the daily summaries this batch may change, and that
-- contribution as it is now (before anything is applied). Over-inclusion is harmless (stale
-- changes leave a zero delta); missing an order is not, hence every path is listed:
-- the order itself, its lines (new and previous order_id), orders of an inferred customer
-- whose real row arrives now (their country moves from '??' to the real one), orders a new
-- customer version may take over (repoint_orders, repoint_candidates.sql), and orders whose
-- rows or lines a TRUNCATE in this batch removes (stg_truncated_orders).
CREATE TEMP TABLE affected_orders ON COMMIT DROP AS
SELECT order_id FROM stg_orders
UNION
SELECT order_id FROM stg_order_items WHERE order_id IS NOT NULL
UNION
SELECT i.order_id FROM dw.fact_order_items i JOIN stg_order_items s USING (order_item_id)
WHERE i.order_id IS NOT NULL
UNION
SELECT f.order_id
FROM dw.dim_customer c JOIN dw.fact_orders f ON f.customer_sk = c.customer_sk
WHERE c.is_inferred AND c.is_current AND c.customer_id IN (SELECT customer_id FROM stg_customers)
UNION
SELECT fact_key FROM repoint_orders
UNION
SELECT order_id FROM stg_truncated_orders;

ANALYZE affected_orders;

CREATE TEMP TABLE old_contribution ON COMMIT DROP AS
SELECT * FROM dw.order_sales_contribution
WHERE order_id IN (SELECT order_id FROM affected_orders);
