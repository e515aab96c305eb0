-- The warehouse's current state of each source table, under the source's column names: what
-- reconciliation compares with the source (and what a reader who wants "the table as it is
-- now" queries). Inferred dimension members are included on purpose: they claim a key exists,
-- and until the real row arrives their NULL attributes show up as a mismatch.

CREATE VIEW dw.current_customers AS
SELECT customer_id, email, full_name, country, created_at, updated_at
FROM dw.dim_customer
WHERE is_current AND NOT is_deleted;

CREATE VIEW dw.current_products AS
SELECT product_id, sku, name, category, unit_price, currency, created_at, updated_at
FROM dw.dim_product
WHERE is_current AND NOT is_deleted;

CREATE VIEW dw.current_orders AS
SELECT order_id, customer_id, status, currency, total_amount, ordered_at, updated_at
FROM dw.fact_orders
WHERE NOT is_deleted;

CREATE VIEW dw.current_order_items AS
SELECT order_item_id, order_id, product_id, quantity, unit_price
FROM dw.fact_order_items
WHERE NOT is_deleted;
