-- The warehouse's share of the role model (etl.settings.DB_ROLES), granted to NOLOGIN group
-- roles; `etl up` (and the Pulumi program's warehouse task) creates the login roles named in
-- settings, with their passwords, and makes them members:
--   dw_writer (the loader):  read and write the tables of `dw`, nothing else, create nothing;
--   dw_reader (dashboard, reconcile, quality reads): read `dw`, nothing else.
-- The admin role (db_user) owns every object and applies the migrations.
-- Numbered V010 to stay clear of migrations other branches add meanwhile: the runner orders by
-- number and applies any it has not recorded, and the default privileges below cover tables
-- that later migrations create.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dw_writer') THEN
        CREATE ROLE dw_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dw_reader') THEN
        CREATE ROLE dw_reader NOLOGIN;
    END IF;
END
$$;

-- PostgreSQL 15+ already denies it; explicit, so no server version lets a role create there.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON etl_schema_migrations FROM PUBLIC;

GRANT USAGE ON SCHEMA dw TO dw_writer, dw_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dw TO dw_writer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA dw TO dw_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA dw TO dw_reader;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA dw TO dw_reader;

-- Tables and sequences later migrations create (as the admin role) get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA dw
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dw_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA dw GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO dw_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA dw GRANT SELECT ON TABLES TO dw_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA dw GRANT SELECT ON SEQUENCES TO dw_reader;
