-- The warehouse star schema (schema `dw`), loaded by `python -m loaders`.
--
-- Every row the loader writes remembers `version`, the source LSN of the change it holds
-- (etl/records.py): a change is applied only if its version is greater, so replays and
-- duplicates change nothing. Business columns keep the source's types, so values (and the
-- reconciliation hashes over them) compare exactly.

CREATE SCHEMA IF NOT EXISTS dw;

-- Surrogate date key yyyymmdd of a timestamp's UTC calendar day (the one day convention).
CREATE FUNCTION dw.date_key(ts timestamptz) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_char(ts AT TIME ZONE 'UTC', 'YYYYMMDD')::integer;

-- ------------------------------------------------------------------ dimensions

CREATE TABLE dw.dim_date (
    date_key     integer  PRIMARY KEY,
    full_date    date     NOT NULL UNIQUE,
    year         smallint NOT NULL,
    quarter      smallint NOT NULL,
    month        smallint NOT NULL,
    day          smallint NOT NULL,
    iso_week     smallint NOT NULL,
    iso_dow      smallint NOT NULL,  -- 1 = Monday
    is_weekend   boolean  NOT NULL
);

-- Days outside the pre-filled range are added by the loader on demand (same expression).
CREATE FUNCTION dw.ensure_dates(days date[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dw.dim_date
    SELECT dw.date_key(d::timestamp AT TIME ZONE 'UTC'), d,
           extract(year FROM d), extract(quarter FROM d), extract(month FROM d),
           extract(day FROM d), extract(week FROM d), extract(isodow FROM d),
           extract(isodow FROM d) >= 6
    FROM unnest(days) AS d
    WHERE d IS NOT NULL
    ON CONFLICT DO NOTHING
$$;

SELECT dw.ensure_dates(array_agg(d::date))
FROM generate_series(date '2000-01-01', date '2060-12-31', interval '1 day') AS d;

-- SCD type 2: one row per version of a member; exactly one current row per business key.
-- Inferred members (is_inferred): placeholders created when a fact names a member that has not
-- reached the warehouse yet; version 0, attributes NULL, overwritten in place by the member's
-- first real change so the facts already pointing at the surrogate key see real attributes.
-- A source delete marks the current row is_deleted (history stays).
CREATE TABLE dw.dim_customer (
    customer_sk          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id          bigint      NOT NULL,
    email                text,
    full_name            text,
    country              text,
    created_at           timestamptz,
    updated_at           timestamptz,
    valid_from           timestamptz NOT NULL,
    valid_to             timestamptz NOT NULL DEFAULT 'infinity',
    is_current           boolean     NOT NULL DEFAULT true,
    is_inferred          boolean     NOT NULL DEFAULT false,
    is_deleted           boolean     NOT NULL DEFAULT false,
    version              bigint      NOT NULL,
    source_committed_at  timestamptz,
    loaded_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dim_customer_current_uq ON dw.dim_customer (customer_id) WHERE is_current;
CREATE INDEX dim_customer_history_idx ON dw.dim_customer (customer_id, valid_from);

CREATE TABLE dw.dim_product (
    product_sk           bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id           bigint        NOT NULL,
    sku                  text,
    name                 text,
    category             text,
    unit_price           numeric(12,2),
    currency             text,
    created_at           timestamptz,
    updated_at           timestamptz,
    valid_from           timestamptz   NOT NULL,
    valid_to             timestamptz   NOT NULL DEFAULT 'infinity',
    is_current           boolean       NOT NULL DEFAULT true,
    is_inferred          boolean       NOT NULL DEFAULT false,
    is_deleted           boolean       NOT NULL DEFAULT false,
    version              bigint        NOT NULL,
    source_committed_at  timestamptz,
    loaded_at            timestamptz   NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dim_product_current_uq ON dw.dim_product (product_id) WHERE is_current;
CREATE INDEX dim_product_history_idx ON dw.dim_product (product_id, valid_from);

-- ------------------------------------------------------------------ facts

-- One row per order, current state. customer_sk is the customer version current when the
-- order first reached the warehouse (kept on later changes: an order does not move country
-- when its customer does). item_quantity = sum of the order's live lines' quantity, maintained
-- by the loader so the daily aggregates are a function of this row alone.
CREATE TABLE dw.fact_orders (
    order_id             bigint        PRIMARY KEY,
    customer_id          bigint,
    customer_sk          bigint        REFERENCES dw.dim_customer (customer_sk),
    date_key             integer       REFERENCES dw.dim_date (date_key),
    status               text,
    currency             text,
    total_amount         numeric(14,2),
    ordered_at           timestamptz,
    updated_at           timestamptz,
    item_quantity        integer       NOT NULL DEFAULT 0,
    is_deleted           boolean       NOT NULL DEFAULT false,
    version              bigint        NOT NULL,
    source_committed_at  timestamptz   NOT NULL,
    loaded_at            timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX fact_orders_customer_sk_idx ON dw.fact_orders (customer_sk);
CREATE INDEX fact_orders_date_key_idx ON dw.fact_orders (date_key);

-- One row per order line. order_id is a degenerate dimension (no FK: lines may arrive before
-- their order, the topics are separate); date and customer come through fact_orders.
CREATE TABLE dw.fact_order_items (
    order_item_id        bigint        PRIMARY KEY,
    order_id             bigint,
    product_id           bigint,
    product_sk           bigint        REFERENCES dw.dim_product (product_sk),
    quantity             integer,
    unit_price           numeric(12,2),
    line_amount          numeric(14,2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    is_deleted           boolean       NOT NULL DEFAULT false,
    version              bigint        NOT NULL,
    source_committed_at  timestamptz   NOT NULL,
    loaded_at            timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX fact_order_items_order_idx ON dw.fact_order_items (order_id) INCLUDE (quantity)
    WHERE NOT is_deleted;
CREATE INDEX fact_order_items_product_sk_idx ON dw.fact_order_items (product_sk);

-- What one order adds to the daily summaries (no row: adds nothing). The loader applies
-- new-minus-old of this view for the orders a batch touches; a full recompute is a GROUP BY
-- over it, which is how tests and reconciliation check the incremental result.
-- Revenue = total_amount of live, not cancelled orders (the source's own figure, on the order
-- record itself, so it does not depend on when the lines arrive); items = their quantities.
CREATE VIEW dw.order_sales_contribution AS
SELECT f.order_id,
       f.date_key,
       coalesce(c.country, '??')                                         AS country,
       1                                                                 AS orders,
       (f.status = 'cancelled')::integer                                 AS cancelled_orders,
       CASE WHEN f.status = 'cancelled' THEN 0 ELSE f.item_quantity END  AS items,
       CASE WHEN f.status = 'cancelled' THEN 0 ELSE f.total_amount END   AS revenue
FROM dw.fact_orders f
LEFT JOIN dw.dim_customer c ON c.customer_sk = f.customer_sk
WHERE NOT f.is_deleted AND f.date_key IS NOT NULL;

-- ------------------------------------------------------------------ daily summaries

CREATE TABLE dw.agg_daily_sales (
    date_key          integer       PRIMARY KEY REFERENCES dw.dim_date (date_key),
    orders            bigint        NOT NULL,
    cancelled_orders  bigint        NOT NULL,
    items             bigint        NOT NULL,
    revenue           numeric(18,2) NOT NULL,
    avg_order_value   numeric(14,2) GENERATED ALWAYS AS (
        CASE WHEN orders > cancelled_orders
             THEN round(revenue / (orders - cancelled_orders), 2) END) STORED,
    updated_at        timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE dw.agg_daily_sales_by_country (
    date_key          integer       NOT NULL REFERENCES dw.dim_date (date_key),
    country           text          NOT NULL,  -- '??': customer not in the warehouse yet
    orders            bigint        NOT NULL,
    cancelled_orders  bigint        NOT NULL,
    items             bigint        NOT NULL,
    revenue           numeric(18,2) NOT NULL,
    avg_order_value   numeric(14,2) GENERATED ALWAYS AS (
        CASE WHEN orders > cancelled_orders
             THEN round(revenue / (orders - cancelled_orders), 2) END) STORED,
    updated_at        timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (date_key, country)
);

-- ------------------------------------------------------------------ loader bookkeeping

-- Next offset to consume per curated partition, written in the same transaction as the data
-- it covers: the warehouse, not Kafka, says what has been loaded.
CREATE TABLE dw.etl_offsets (
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    batch_id     bigint,
    loader_id    text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

CREATE TABLE dw.etl_load_audit (
    batch_id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loader_id                text        NOT NULL,
    started_at               timestamptz NOT NULL,
    committed_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms              numeric(12,1) NOT NULL,
    rows_in                  integer     NOT NULL,  -- change records consumed in this batch
    applied                  integer     NOT NULL,  -- distinct (key, version) newer than stored
    skipped_stale            integer     NOT NULL,  -- older/equal versions and duplicates
    rejected                 integer     NOT NULL,  -- unparseable records (logged, not loaded)
    per_entity               jsonb       NOT NULL,  -- {entity: {rows_in, applied}}
    offsets                  jsonb       NOT NULL,  -- [{topic, partition, from, to}]
    max_source_committed_at  timestamptz
);
