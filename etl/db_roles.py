"""Login roles of the role model (`etl.settings.DB_ROLES`), made idempotently on every start.

Migrations grant each right to a NOLOGIN group role (`cdc_reader`, `shop_reader`, `dw_writer`,
`dw_reader`); here the login role named in settings gets its attributes, its password and its
group. Re-running changes nothing: attributes are set to what they already are, and the password
is set only when the role cannot log in with the one in settings (a fresh role, a password that
changed), so an unchanged `etl up` neither rewrites pg_authid nor says anything.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from etl.settings import DbRole, Settings


def can_log_in(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


def ensure_login_role(
    conn: psycopg.Connection,
    settings: Settings,
    role: DbRole,
    group: str,
    login_dsn: Callable[[], str],
) -> str | None:
    """Make `role`'s login role a member of `group` with its settings password; `conn` is an
    admin connection. Returns what changed ("created ...", "set the password of ...") or None."""
    user, _ = settings.credentials(role)
    password = settings.password(role)
    name = sql.Identifier(user)
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
        + ("REPLICATION" if role == "replication" else "NOREPLICATION")
    )
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
    change = None
    if exists:
        conn.execute(sql.SQL("ALTER ROLE {} WITH {}").format(name, attributes))
        if not can_log_in(login_dsn()):
            change = f"set the password of role {user}"
    else:
        change = f"created role {user}"
    if change:
        # The SCRAM verifier, made here by libpq: the password itself is never in SQL text,
        # which the server would log with a failing statement.
        verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256")
        verb = sql.SQL("ALTER" if exists else "CREATE")
        conn.execute(
            sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
                verb, name, attributes, sql.Literal(verifier.decode())
            )
        )
    member = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (user, group)).fetchone()
    if not (member and member[0]):
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), name))
    return change
