"""Versioned SQL migrations: `sql/<db>/V<NNN>__<name>.sql`, applied in order and recorded.

Each file runs in its own transaction together with its row in `etl_schema_migrations`, under an
advisory lock, so re-running applies nothing twice and two concurrent runners cannot race. A file
that changed after it was applied is an error (its checksum no longer matches), not a silent skip.
Hand-written rather than Alembic/yoyo: the whole contract is these ~60 lines of plain SQL files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from etl.errors import EtlError

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"
_FILENAME = re.compile(r"^V(\d{3,})__([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_230_611  # arbitrary, constant: pg_advisory_xact_lock key for migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path) -> list[Migration]:
    """Migrations in a folder, ordered by version; bad names and duplicate versions are errors."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise EtlError(f"migration file name {path.name!r} is not V<NNN>__<name>.sql")
        version = int(match.group(1))
        if version in found:
            raise EtlError(f"two migrations share version {version}: {path.name}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def apply_migrations(dsn: str, directory: Path) -> list[Migration]:
    """Apply the pending migrations of `directory`; return the ones applied now."""
    migrations = discover(directory)
    applied_now: list[Migration] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS etl_schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in migrations:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                row = conn.execute(
                    "SELECT checksum FROM etl_schema_migrations WHERE version = %s",
                    (migration.version,),
                ).fetchone()
                if row is not None:
                    if row[0] != migration.checksum:
                        raise EtlError(
                            f"migration {migration.path.name} changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO etl_schema_migrations (version, name, checksum)"
                    " VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration)
    return applied_now
