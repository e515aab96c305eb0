-- Bring the daily summaries up to date by the delta of the orders this batch touched:
-- refresh their item_quantity from their live lines, then add (new - old contribution).
UPDATE dw.fact_orders f
SET item_quantity = q.quantity
FROM (SELECT a.order_id, coalesce(sum(i.quantity), 0) AS quantity
      FROM affected_orders a
      LEFT JOIN dw.fact_order_items i ON i.order_id = a.order_id AND NOT i.is_deleted
      GROUP BY a.order_id) q
WHERE f.order_id = q.order_id AND f.item_quantity <> q.quantity;

CREATE TEMP TABLE sales_delta ON COMMIT DROP AS
SELECT date_key, country, sum(orders) AS orders, sum(cancelled_orders) AS cancelled_orders,
       sum(items) AS items, sum(revenue) AS revenue
FROM (SELECT date_key, country, orders, cancelled_orders, items, revenue
      FROM dw.order_sales_contribution
      WHERE order_id IN (SELECT order_id FROM affected_orders)
      UNION ALL
      SELECT date_key, country, -orders, -cancelled_orders, -items, -revenue
      FROM old_contribution) c
GROUP BY date_key, country
HAVING sum(orders) <> 0 OR sum(cancelled_orders) <> 0 OR sum(items) <> 0 OR sum(revenue) <> 0;

INSERT INTO dw.agg_daily_sales_by_country AS a
    (date_key, country, orders, cancelled_orders, items, revenue)
SELECT date_key, country, orders, cancelled_orders, items, revenue
FROM sales_delta ORDER BY date_key, country
ON CONFLICT (date_key, country) DO UPDATE SET
    orders = a.orders + excluded.orders,
    cancelled_orders = a.cancelled_orders + excluded.cancelled_orders,
    items = a.items + excluded.items,
    revenue = a.revenue + excluded.revenue,
    updated_at = now();

INSERT INTO dw.agg_daily_sales AS a (date_key, orders, cancelled_orders, items, revenue)
SELECT date_key, sum(orders), sum(cancelled_orders), sum(items), sum(revenue)
FROM sales_delta GROUP BY date_key ORDER BY date_key
ON CONFLICT (date_key) DO UPDATE SET
    orders = a.orders + excluded.orders,
    cancelled_orders = a.cancelled_orders + excluded.cancelled_orders,
    items = a.items + excluded.items,
    revenue = a.revenue + excluded.revenue,
    updated_at = now();

-- a summary row no order contributes to any more is removed (as a recompute would have it)
DELETE FROM dw.agg_daily_sales_by_country a USING sales_delta d
WHERE a.date_key = d.date_key AND a.country = d.country AND a.orders = 0;
DELETE FROM dw.agg_daily_sales a USING sales_delta d
WHERE a.date_key = d.date_key AND a.orders = 0;
