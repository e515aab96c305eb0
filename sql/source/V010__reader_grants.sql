-- The source's share of the role model (etl.settings.DB_ROLES): the read-only role of
-- reconciliation and the quality checks reads the shop's tables through the NOLOGIN group
-- `shop_reader`; `etl up` creates the login role and makes it a member. Debezium's rights stay
-- with `cdc_reader` (V001). Numbered V010: see sql/warehouse/V010__role_grants.sql.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_reader') THEN
        CREATE ROLE shop_reader NOLOGIN;
    END IF;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON etl_schema_migrations FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO shop_reader;
GRANT SELECT ON customers, products, orders, order_items TO shop_reader;
