"""The loader's SQL templates (loaders/sql/*.sql) and how an entity's identifiers fill them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql

from loaders.entities import Entity

SQL_DIR = Path(__file__).resolve().parent / "sql"


@cache
def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text()


def qualified(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def entity_sql(name: str, entity: Entity, **extra: sql.Composable) -> sql.Composed:
    """An SQL template from loaders/sql/ with the entity's identifiers filled in."""
    cols = [sql.Identifier(c) for c in entity.column_names]
    return sql.SQL(sql_file(name)).format(
        key=sql.Identifier(entity.key),
        stg=sql.Identifier(entity.staging_table),
        target=qualified(entity.target),
        dim=qualified(entity.target),
        cols=sql.SQL(", ").join(cols),
        f_cols=sql.SQL(", ").join(sql.SQL("f.{}").format(c) for c in cols),
        fresh=sql.Identifier(f"fresh_{entity.name}"),
        fresh_deletes=sql.Identifier(f"fresh_deletes_{entity.name}"),
        **extra,
    )
