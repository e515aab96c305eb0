-- A fact references the dimension version that was valid at the source LSN it was placed at,
-- whatever order the topics deliver facts and dimension changes in (docs/corner-cases.md,
-- "A fact and its dimension's change, in either order").
--
-- version_from: the LSN from which a dimension row is valid (the change that created it; 0 for an
-- inferred placeholder of a member never seen). `version` cannot say it: a soft delete moves it.
-- customer_as_of / product_as_of: the LSN a fact's member is resolved at (its first change the
-- warehouse saw, or the change that gave it another member id).

ALTER TABLE dw.dim_customer ADD COLUMN version_from bigint;
ALTER TABLE dw.dim_product ADD COLUMN version_from bigint;

-- Rows loaded before this migration: a deleted row's creation LSN is lost; the previous
-- version's LSN + 1 (or 0) is the closest bound still known.
UPDATE dw.dim_customer d
SET version_from = CASE
    WHEN d.is_inferred THEN 0
    WHEN NOT d.is_deleted THEN d.version
    ELSE coalesce((SELECT max(p.version) + 1 FROM dw.dim_customer p
                   WHERE p.customer_id = d.customer_id AND p.valid_from < d.valid_from), 0)
END;
UPDATE dw.dim_product d
SET version_from = CASE
    WHEN d.is_inferred THEN 0
    WHEN NOT d.is_deleted THEN d.version
    ELSE coalesce((SELECT max(p.version) + 1 FROM dw.dim_product p
                   WHERE p.product_id = d.product_id AND p.valid_from < d.valid_from), 0)
END;

ALTER TABLE dw.dim_customer ALTER COLUMN version_from SET NOT NULL;
ALTER TABLE dw.dim_product ALTER COLUMN version_from SET NOT NULL;
CREATE INDEX dim_customer_as_of_idx ON dw.dim_customer (customer_id, version_from);
CREATE INDEX dim_product_as_of_idx ON dw.dim_product (product_id, version_from);

ALTER TABLE dw.fact_orders ADD COLUMN customer_as_of bigint;
UPDATE dw.fact_orders SET customer_as_of = version;
ALTER TABLE dw.fact_orders ALTER COLUMN customer_as_of SET NOT NULL;

ALTER TABLE dw.fact_order_items ADD COLUMN product_as_of bigint;
UPDATE dw.fact_order_items SET product_as_of = version;
ALTER TABLE dw.fact_order_items ALTER COLUMN product_as_of SET NOT NULL;

-- A member's new version looks for the member's facts placed at or after it: a range of these.
DROP INDEX dw.fact_orders_customer_sk_idx;
CREATE INDEX fact_orders_customer_as_of_idx ON dw.fact_orders (customer_sk, customer_as_of);
DROP INDEX dw.fact_order_items_product_sk_idx;
CREATE INDEX fact_order_items_product_as_of_idx
    ON dw.fact_order_items (product_sk, product_as_of);

-- The member's row valid at LSN `as_of`: the newest that starts at or before it; a fact older
-- than every known row (a snapshot's reads share one LSN) takes the oldest row after it.
CREATE FUNCTION dw.customer_sk_at(member bigint, as_of bigint) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT d.customer_sk FROM dw.dim_customer d
            WHERE d.customer_id = member
            ORDER BY d.version_from <= as_of DESC, abs(d.version_from - as_of)
            LIMIT 1);

CREATE FUNCTION dw.product_sk_at(member bigint, as_of bigint) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT d.product_sk FROM dw.dim_product d
            WHERE d.product_id = member
            ORDER BY d.version_from <= as_of DESC, abs(d.version_from - as_of)
            LIMIT 1);

-- Whether a fact's change keeps the member reference it has: yes, unless the change names
-- another member, recreates the fact (an insert: its key reused) or brings it back from a delete.
CREATE FUNCTION dw.keeps_member(stored_member bigint, stored_sk bigint, stored_deleted boolean,
                                new_member bigint, new_deleted boolean, recreated boolean)
    RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce(NOT recreated
                    AND (new_member IS NULL
                         OR new_member = stored_member AND stored_sk IS NOT NULL
                            AND NOT (stored_deleted AND NOT new_deleted)), false);
