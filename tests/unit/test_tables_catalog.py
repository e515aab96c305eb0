"""The one declaration of the captured tables (`etl/tables.py`) against the real source schema.

The source migrations are applied to a throwaway PostgreSQL (tests/fixtures/postgres.py) and
its own catalog is read back: every column's name, position, type (as `format_type()` prints
it) and nullability, the primary key, and the replica identity. A column added to, dropped from
or retyped in `sql/source/` without the declaration (or the other way round) fails here. Then
each consumer of the declaration is checked to derive from it rather than restate it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from etl.records import PRIMARY_KEYS
from etl.settings import Settings
from etl.tables import CAPTURED, CAPTURED_TABLES, HEARTBEAT_TABLE, SOURCE_SCHEMA
from infra.catalog import debezium_connector_config

pytestmark = pytest.mark.unit

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_PRIMARY_KEY = """
SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum))
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = %s::regclass AND i.indisprimary
"""
_IDENTITY = {"d": "default", "f": "full", "n": "nothing", "i": "index"}


@pytest.fixture(scope="module")
def catalog(source_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        yield conn


def test_every_declared_table_matches_the_migrated_source_catalog(
    catalog: psycopg.Connection,
) -> None:
    for table in CAPTURED:
        relation = table.qualified_name
        columns = catalog.execute(_COLUMNS, (relation,)).fetchall()
        assert [(name, sql_type) for name, sql_type, _ in columns] == [
            (c.name, c.sql_type) for c in table.columns
        ], relation
        assert all(not_null for _, _, not_null in columns), f"{relation}: a nullable column"
        (key,) = catalog.execute(_PRIMARY_KEY, (relation,)).fetchone() or (None,)
        assert tuple(key or ()) == table.key_columns, relation
        (identity,) = catalog.execute(
            "SELECT relreplident FROM pg_class WHERE oid = %s::regclass", (relation,)
        ).fetchone() or (None,)
        assert _IDENTITY[identity] == table.replica_identity, relation


def test_the_declaration_covers_every_table_debezium_may_read(
    catalog: psycopg.Connection,
) -> None:
    """Every table `cdc_reader` may SELECT is declared (or is the heartbeat table): a new
    captured table in the SQL without a declaration fails here."""
    granted = {
        name
        for (name,) in catalog.execute(
            "SELECT table_name FROM information_schema.role_table_grants"
            " WHERE grantee = 'cdc_reader' AND privilege_type = 'SELECT'"
            " AND table_schema = %s",
            (SOURCE_SCHEMA,),
        )
    }
    assert granted == {*CAPTURED_TABLES, HEARTBEAT_TABLE}


def test_consumers_derive_from_the_declaration() -> None:
    from jobs.transform.schemas import FULL_ROW_DELETES, TABLE_COLUMNS
    from loaders.entities import ENTITIES

    names = [t.name for t in CAPTURED]
    assert list(CAPTURED_TABLES) == names == list(TABLE_COLUMNS) == list(ENTITIES)
    assert Settings().cdc_topics() == [f"cdc.{SOURCE_SCHEMA}.{n}" for n in names]
    include = debezium_connector_config(Settings())["table.include.list"]
    assert include.split(",") == [t.qualified_name for t in CAPTURED]
    for table in CAPTURED:
        assert PRIMARY_KEYS[table.name] == table.key_columns
        assert [c.name for c in TABLE_COLUMNS[table.name]] == list(table.column_names)
        entity = ENTITIES[table.name]
        assert (entity.key, *entity.column_names) == table.column_names
        assert dict(entity.columns) == {c.name: c.sql_type for c in table.business_columns}
    assert {t.name for t in CAPTURED if t.replica_identity == "full"} == FULL_ROW_DELETES
