-- The daily summaries recomputed from the facts (not used by the loader): the reference the
-- incremental result must equal, checked by tests and by reconciliation.
SELECT date_key, country, sum(orders) AS orders, sum(cancelled_orders) AS cancelled_orders,
       sum(items) AS items, sum(revenue) AS revenue
FROM dw.order_sales_contribution
GROUP BY date_key, country
ORDER BY date_key, country
