"""Security of the local stack, on the genuine stack: database roles, passwords, listeners.

- each database role can do what its component needs and nothing else (a privilege that fails
  is asserted to fail with PostgreSQL's "permission denied", not merely to fail);
- the passwords `etl up` generated for the test stack's ETL_HOME appear in no log file, in no
  output of `etl status`/`etl env`, in no error message and in no process's command line;
- every socket the stack's processes listen on is bound to loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import errors, sql

from etl.secrets import LEGACY_PASSWORDS, passwords_path, pgpass_path
from etl.settings import PASSWORD_FIELDS, Settings
from etl.tables import CAPTURED_TABLES
from etl.warehouse_db import DATA_TABLES
from infra.local.supervisor import pid_path
from tests.fixtures.stack import REPO, etl_cli

pytestmark = pytest.mark.integration

#: Every dw table: the static date dimension, the loader's tables, the quality results.
WAREHOUSE_TABLES = ("dim_date", *DATA_TABLES, "quality_results")


def refused(conn: psycopg.Connection, statement: str) -> bool:
    """Whether PostgreSQL refuses `statement` for lack of privilege (rolled back either way)."""
    try:
        with conn.transaction():
            conn.execute(statement)
            raise _Allowed
    except errors.InsufficientPrivilege:
        return True
    except _Allowed:
        return False


class _Allowed(Exception):
    pass


# --------------------------------------------------------------------------- roles


@pytest.fixture
def warehouse_as(stack: Settings) -> Iterator:
    opened: list[psycopg.Connection] = []

    def connect(role: str) -> psycopg.Connection:
        opened.append(psycopg.connect(stack.warehouse_dsn(role=role), autocommit=True))  # type: ignore[arg-type]
        return opened[-1]

    yield connect
    for conn in opened:
        conn.close()


def test_loader_role_writes_the_dw_schema_and_nothing_else(stack: Settings, warehouse_as) -> None:
    conn = warehouse_as("loader")
    for table in WAREHOUSE_TABLES:
        conn.execute(f"SELECT count(*) FROM dw.{table}")
    assert not refused(conn, "DELETE FROM dw.etl_load_audit")  # writing dw is its job
    assert not refused(
        conn, "SELECT nextval(pg_get_serial_sequence('dw.etl_load_audit', 'batch_id'))"
    )
    assert refused(conn, "CREATE TABLE public.loader_was_here (id int)")
    assert refused(conn, "CREATE TABLE dw.loader_was_here (id int)")
    assert refused(conn, "DROP TABLE dw.fact_orders")
    assert refused(conn, "ALTER TABLE dw.fact_orders ADD COLUMN x int")
    assert refused(conn, "DELETE FROM etl_schema_migrations")
    assert refused(conn, "CREATE SCHEMA loader_schema")
    row = conn.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False, False, False)
    # the loader has no role on the source at all
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(stack.source_dsn(role="loader"), connect_timeout=5).close()


def test_reader_role_reads_and_cannot_write_anything(stack: Settings, warehouse_as) -> None:
    conn = warehouse_as("reader")
    for table in WAREHOUSE_TABLES:
        conn.execute(f"SELECT count(*) FROM dw.{table}")
        assert refused(conn, f"DELETE FROM dw.{table}"), table
        column = _plain_column(conn, table)
        assert refused(conn, f"UPDATE dw.{table} SET {column} = {column}"), table
        assert refused(conn, f"TRUNCATE dw.{table}"), table
    assert refused(conn, "INSERT INTO dw.etl_offsets (topic, partition) VALUES ('t', 0)")
    assert refused(conn, "CREATE TABLE public.reader_was_here (id int)")
    assert refused(conn, "CREATE TABLE dw.reader_was_here (id int)")
    assert refused(conn, "SELECT nextval(pg_get_serial_sequence('dw.etl_load_audit', 'batch_id'))")
    with psycopg.connect(stack.source_dsn(role="reader"), autocommit=True) as src:
        for table in CAPTURED_TABLES:
            src.execute(f"SELECT count(*) FROM {table}")
            assert refused(src, f"DELETE FROM {table}"), table
        assert refused(src, "CREATE TABLE reader_was_here (id int)")
        assert refused(src, "SELECT * FROM etl_schema_migrations")


def _plain_column(conn: psycopg.Connection, table: str) -> str:
    """A column an UPDATE may set (not an identity or generated one)."""
    row = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'dw' AND table_name = %s"
        " AND is_identity = 'NO' AND is_generated = 'NEVER' ORDER BY ordinal_position LIMIT 1",
        (table,),
    ).fetchone()
    assert row is not None, table
    return str(row[0])


def test_debezium_role_replicates_and_reads_only_published_tables(stack: Settings) -> None:
    with psycopg.connect(stack.source_dsn(), autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS unpublished_notes (id int, secret text)")
        published = {
            r[0]
            for r in admin.execute(
                "SELECT tablename FROM pg_publication_tables WHERE pubname = %s",
                (stack.publication_name,),
            )
        }
    assert "unpublished_notes" not in published
    try:
        with psycopg.connect(stack.source_dsn(role="replication"), autocommit=True) as conn:
            for table in published:
                conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            assert refused(conn, "SELECT * FROM unpublished_notes")
            assert refused(conn, "SELECT * FROM etl_schema_migrations")
            assert refused(conn, "DELETE FROM customers")
            assert refused(conn, "CREATE TABLE debezium_was_here (id int)")
            row = conn.execute(
                "SELECT rolsuper, rolreplication, rolcreaterole, rolcreatedb"
                " FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert row == (False, True, False, False)
    finally:
        with psycopg.connect(stack.source_dsn(), autocommit=True) as admin:
            admin.execute("DROP TABLE unpublished_notes")


# --------------------------------------------------------------------------- passwords


def test_passwords_file_is_private_and_not_the_old_defaults(stack: Settings) -> None:
    path = passwords_path(stack)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pgpass_path(stack).stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert set(stored) == set(PASSWORD_FIELDS)
    assert len(set(stored.values())) == len(stored)
    assert not set(stored.values()) & set(LEGACY_PASSWORDS.values())
    # the admin role takes the generated password and not the old default any more
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        old = stack.source_dsn().replace(stored["db_password"], LEGACY_PASSWORDS["db_password"])
        psycopg.connect(old, connect_timeout=5).close()


def stack_passwords(settings: Settings) -> list[str]:
    values = json.loads(passwords_path(settings).read_text()).values()
    assert all(len(v) >= 16 for v in values)  # long enough that a match is no coincidence
    return list(values)


def leaked(text: str, passwords: list[str]) -> list[str]:
    return [p[:4] + "..." for p in passwords if p in text]


def stack_pids(settings: Settings) -> list[int]:
    """supervisord and every process below it (PostgreSQL backends, JVMs, Spark's driver)."""
    root = int(pid_path(settings).read_text().strip())
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    pids, pending = [], [root]
    while pending:
        pid = pending.pop()
        pids.append(pid)
        pending.extend(children.get(pid, []))
    return pids


def test_no_password_in_logs_status_env_connector_or_command_lines(pipeline: Settings) -> None:
    passwords = stack_passwords(pipeline)
    logs = sorted(p for p in pipeline.logs_dir.rglob("*") if p.is_file())
    assert len(logs) >= 8  # every service's log and supervisord's
    for log in logs:
        assert not leaked(log.read_text(errors="replace"), passwords), log
    for args in (("status", "--json"), ("status",), ("env",), ("env", "--json")):
        result = etl_cli(*args, check=False)
        assert result.stdout.strip(), args
        assert not leaked(result.stdout + result.stderr, passwords), args
    # `etl env`'s DSNs work without a password in them: libpq reads the passfile they name
    dsn = json.loads(etl_cli("env", "--json").stdout)["ETL_WAREHOUSE_DSN"]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (pipeline.db_user,)
    # Connect echoes the connector config back: a reference to its environment, no password
    config = httpx.get(f"{pipeline.connect_url}/connectors/{pipeline.connector_name}").text
    assert not leaked(config, passwords) and "${env:" in config
    pids = stack_pids(pipeline)
    assert len(pids) >= 8
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # a PostgreSQL backend that ended meanwhile
        assert not leaked(cmdline, passwords), cmdline.replace("\0", " ")[:200]


def test_project_processes_get_only_their_roles_passwords(pipeline: Settings) -> None:
    """/proc/<pid>/environ of the loader holds the loader's and reader's passwords only, the
    dashboard's the reader's, the transform's none."""
    stored = json.loads(passwords_path(pipeline).read_text())
    wanted = {
        "loader": {"loader_password", "reader_password"},
        "dashboard": {"reader_password"},
        "transform": set(),
    }
    status = json.loads(etl_cli("status", "--json", check=False).stdout)
    pids = {c["name"]: c["pid"] for c in status["components"]}
    for name, fields in wanted.items():
        environ = Path(f"/proc/{pids[name]}/environ").read_bytes().decode(errors="replace")
        present = {f for f, value in stored.items() if value in environ}
        assert present == fields, name


def test_a_refused_password_is_one_line_without_any_password(stack: Settings) -> None:
    passwords = stack_passwords(stack)
    wrong = "wrong-password-" + os.urandom(6).hex()
    env = {**os.environ, "ETL_READER_PASSWORD": wrong}
    result = etl_cli("reconcile", "--wait", "1", check=False, env=env)
    assert result.returncode == 1
    assert "password authentication failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not leaked(result.stdout + result.stderr, [*passwords, wrong])
    # a service does the same: the loader's start-up error in its log
    env = {**os.environ, "ETL_LOADER_PASSWORD": wrong, "ETL_PASSWORDS_FILE": "false"}
    loader = subprocess.run(
        [sys.executable, "-m", "loaders"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert loader.returncode == 1
    assert "password authentication failed" in loader.stderr
    assert not leaked(loader.stdout + loader.stderr, [*passwords, wrong])


# --------------------------------------------------------------------------- listeners


def listening_sockets() -> dict[int, str]:
    """Socket inode -> "address:port" of every listening TCP socket (IPv4 and IPv6)."""
    found = {}
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].split(":")
            found[int(fields[9])] = f"{_address(address, family)}:{int(port, 16)}"
    return found


def _address(hex_address: str, family: int) -> str:
    import ipaddress

    raw = bytes.fromhex(hex_address)
    # /proc prints each 32-bit word in host (little-endian) byte order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words) if family == 4 else ipaddress.IPv6Address(words)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def test_every_listening_socket_of_the_stack_is_on_loopback(pipeline: Settings) -> None:
    sockets = listening_sockets()
    seen: dict[int, list[str]] = {}
    for pid in stack_pids(pipeline):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in sockets:
                    seen.setdefault(pid, []).append(sockets[inode])
    listening = [addr for addrs in seen.values() for addr in addrs]
    # every service port is among them (PostgreSQL x2, Kafka + controller, Connect, dashboard)
    for name in ("source_db", "warehouse_db", "kafka", "kafka_controller", "connect", "dashboard"):
        assert f"127.0.0.1:{pipeline.port(name)}" in listening, name
    outside = {pid: a for pid, addrs in seen.items() for a in addrs if not a.startswith("127.")}
    assert not outside, outside


# --------------------------------------------------------------------------- an older ETL_HOME


@pytest.fixture
def old_home(stack: Settings) -> Iterator[dict[str, str]]:
    """A separate ETL_HOME (its own ports) whose warehouse was made with the old fixed passwords,
    as a version before generated passwords left it."""
    home = Path(tempfile.mkdtemp(prefix="etl-old-home-", dir="/tmp"))
    home.chmod(0o755)
    base = int(os.environ.get("ETL_TEST_PORT_BASE", "25430")) + 10
    env = {**os.environ, "ETL_HOME": str(home), "ETL_PORT_BASE": str(base)}
    old = {**env, "ETL_DB_PASSWORD": LEGACY_PASSWORDS["db_password"]}
    try:
        etl_cli("up", "warehouse-db", env=old)
        etl_cli("down", env=old)
        shutil.rmtree(home / "secrets")  # the old version kept none
        yield env
    finally:
        etl_cli("down", "--purge", check=False, env=env)
        shutil.rmtree(home, ignore_errors=True)


def test_an_old_home_with_the_default_password_is_moved_to_generated_ones(
    old_home: dict[str, str],
) -> None:
    result = etl_cli("up", "warehouse-db", env=old_home)
    assert "moved from the old default password" in result.stderr
    settings = Settings(home=Path(old_home["ETL_HOME"]), port_base=int(old_home["ETL_PORT_BASE"]))
    assert settings.password("admin") != LEGACY_PASSWORDS["db_password"]
    for role in ("admin", "loader", "reader"):
        with psycopg.connect(settings.warehouse_dsn(role=role)) as conn:  # type: ignore[arg-type]
            conn.execute("SELECT 1")
    again = etl_cli("up", "warehouse-db", env=old_home)
    assert "moved" not in again.stderr and "changed" not in again.stderr
