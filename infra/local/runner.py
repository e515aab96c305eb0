"""The local stack: `up` (idempotent, dependency order, health-gated), `down`, `status`.

Each catalog service starts only after the ones before it answer their real health probes; its
post-start step (create database + migrations, topics, connector) runs right after. A component
that does not come up within ETL_STARTUP_TIMEOUT_S fails `up` with its name and its log's tail.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from etl.connector import ConnectClient
from etl.errors import ComponentFailed, EtlError
from etl.health import Probe, probe_service
from etl.settings import Settings, maintenance_dsn
from etl.source_db import prepare_source
from etl.topics import ensure_topics
from infra import catalog
from infra.catalog import debezium_connector_config
from infra.local import services
from infra.local.jars import COMPONENT_DIRS, resolve_jars
from infra.local.prereqs import java_binary, postgres_bindir
from infra.local.supervisor import Supervisor, program_log_path, tail, write_config
from loaders.schema import prepare_warehouse

Report = Callable[[str, str], None]  # (component, message)


def _noop(component: str, message: str) -> None:
    pass


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports_free(settings: Settings, sup: Supervisor, specs: list[catalog.ServiceSpec]) -> None:
    """A port held by something that is not our own running program is a one-line error."""
    for spec in specs:
        port = spec.port(settings)
        if port is None or not spec.process:
            continue
        info = sup.info(spec.name) if sup.is_running() else None
        if info and info["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
            continue
        if port_in_use(settings.bind_host, port):
            raise EtlError(
                f"port {port} ({spec.name}) on {settings.bind_host} is in use by another process: "
                "stop it or move all ports with ETL_PORT_BASE"
            )


def create_database(admin_dsn: str, dbname: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return True


def wait_healthy(settings: Settings, sup: Supervisor | None, name: str) -> Probe:
    """Probe until healthy; fail fast if supervisord gave up on the process."""
    deadline = time.monotonic() + settings.startup_timeout_s
    probe = Probe(False, "not probed yet")
    while time.monotonic() < deadline:
        probe = probe_service(settings, name)
        if probe.healthy:
            return probe
        if sup is not None:
            info = sup.info(name)
            if info and info["statename"] == "FATAL":
                raise ComponentFailed(
                    name,
                    "exited repeatedly; supervisord gave up",
                    tail(program_log_path(settings, name)),
                )
        if name == "connector" and probe.extra.get("trace"):
            break
        time.sleep(0.5)
    log_name = "connect" if name == "connector" else name
    trace = probe.extra.get("trace") or next(
        (t["trace"] for t in probe.extra.get("tasks", []) if "trace" in t), ""
    )
    raise ComponentFailed(
        name,
        f"not healthy after {settings.startup_timeout_s:.0f} s: {probe.detail}",
        trace or tail(program_log_path(settings, log_name)),
    )


def _after_start(settings: Settings, name: str, report: Report) -> None:
    """What must exist once a component answers: databases, schema, topics, the connector."""
    if name in ("source-db", "warehouse-db"):
        dsn, dbname, migrate = (
            (settings.source_dsn(), settings.source_db_name, prepare_source)
            if name == "source-db"
            else (settings.warehouse_dsn(), settings.warehouse_db_name, prepare_warehouse)
        )
        if create_database(maintenance_dsn(dsn), dbname):
            report(name, f"created database {dbname}")
        applied = migrate(settings)
        report(
            name, f"migrations applied: {', '.join(applied)}" if applied else "schema up to date"
        )
    elif name == "kafka":
        created = ensure_topics(settings, settings.pipeline_topics())
        if created:
            report(name, f"created topics: {', '.join(created)}")
    elif name == "connector":
        result = ConnectClient(settings.connect_url).ensure_connector(
            settings.connector_name, debezium_connector_config(settings)
        )
        report(name, f"connector {settings.connector_name} {result}")


def prepare(settings: Settings, report: Report = _noop) -> list[services.LocalProgram]:
    """Prerequisites, jars, data dirs, one-time init: everything before a process starts."""
    postgres_bindir()
    java_binary()
    for component in COMPONENT_DIRS:  # kafka, connect, debezium, spark
        resolve_jars(settings, component)
    for directory in (settings.data_dir, settings.logs_dir, settings.run_dir, settings.conf_dir):
        directory.mkdir(parents=True, exist_ok=True)
    for role in ("source", "warehouse"):
        if services.init_postgres_cluster(settings, role):
            report(services.pg_service_name(role), "initialised cluster")
    if services.format_kafka_storage(settings):
        report("kafka", "formatted KRaft storage")
    return services.local_programs(settings)


def _forget_stale_progress(settings: Settings, sup: Supervisor, name: str) -> None:
    """A progress file left by a previous run must not pass the probe of a process that is
    only starting: remove it unless the process is already running."""
    if name not in catalog.PROGRESS_FILES:
        return
    info = sup.info(name)
    if not info or info["statename"] not in ("RUNNING", "STARTING"):
        (settings.run_dir / catalog.PROGRESS_FILES[name]).unlink(missing_ok=True)


def up(settings: Settings, report: Report = _noop, only: list[str] | None = None) -> dict[str, Any]:
    """Start (or confirm) the stack, or just `only` these components and their dependencies.

    Idempotent: a healthy stack is left as it is.
    """
    started = time.monotonic()
    try:
        specs = catalog.with_dependencies(only)
    except KeyError as exc:
        names = ", ".join(s.name for s in catalog.SERVICES)
        raise EtlError(f"unknown component {exc.args[0]!r}: one of {names}") from None
    sup = Supervisor(settings)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    if notice := sup.stale_pidfile_notice():
        report("supervisord", notice)
    check_ports_free(settings, sup, specs)
    programs = prepare(settings, report)
    write_config(settings, programs)
    if sup.is_running():
        if changed := sup.apply_config():
            report("supervisord", f"config changed for: {', '.join(changed)}")
    else:
        for role in ("source", "warehouse"):
            if notice := services.remove_stale_postmaster_pid(settings, role):
                report(services.pg_service_name(role), notice)
        sup.start_daemon()
        report("supervisord", f"started (socket {settings.run_dir / 'supervisor.sock'})")
    timings: dict[str, float] = {}
    for spec in specs:
        t0 = time.monotonic()
        if spec.process:
            _forget_stale_progress(settings, sup, spec.name)
            sup.start(spec.name)
        if spec.name != "connector":
            wait_healthy(settings, sup, spec.name)
            _after_start(settings, spec.name, report)
        else:
            _after_start(settings, spec.name, report)
            wait_healthy(settings, sup, spec.name)
        timings[spec.name] = round(time.monotonic() - t0, 2)
        report(spec.name, f"[UP] healthy ({timings[spec.name]:.1f} s)")
    return {"seconds": round(time.monotonic() - started, 2), "components": timings}


def down(settings: Settings, purge: bool = False, report: Report = _noop) -> None:
    """Stop every process in reverse order and supervisord itself; `purge` also deletes data."""
    sup = Supervisor(settings)
    if sup.is_running():
        for spec in reversed(catalog.SERVICES):
            if spec.process:
                sup.stop(spec.name)
                report(spec.name, "stopped")
        sup.shutdown()
        report("supervisord", "stopped")
    else:
        report("supervisord", "not running")
    if purge:
        for directory in (
            settings.data_dir,
            settings.logs_dir,
            settings.run_dir,
            settings.conf_dir,
            settings.checkpoints_dir,  # they name offsets of the Kafka data deleted here
        ):
            shutil.rmtree(directory, ignore_errors=True)
        report("etl", f"purged data, checkpoints, logs, config under {settings.home} (kept lib/)")


def status(settings: Settings) -> dict[str, Any]:
    """`{"healthy": bool, "components": [...]}`: one entry per catalog service."""
    sup = Supervisor(settings)
    running = sup.is_running()
    components: list[dict[str, Any]] = []
    for spec in catalog.SERVICES:
        entry: dict[str, Any] = {"name": spec.name, "port": spec.port(settings)}
        info = sup.info(spec.name) if running and spec.process else None
        # Probe even without our supervisord: the services may run elsewhere (Docker).
        probe = probe_service(settings, spec.name)
        if spec.process:
            process_state = info["statename"].lower() if info else "stopped"
            entry |= {
                "pid": (info["pid"] or None) if info else None,
                "process_state": process_state,
                "restarts": sup.restarts(spec.name) if running else 0,
                "uptime_s": (info["now"] - info["start"]) if info and info["pid"] else None,
                "log": str(program_log_path(settings, spec.name)),
            }
        else:
            connect = sup.info("connect") if running else None
            entry |= {"pid": (connect["pid"] or None) if connect else None}
            process_state = "running" if connect and connect["pid"] else "stopped"
        alive = process_state in ("running", "starting")
        if running and not alive:
            # our supervisord says the process is not running: a passing probe answers for
            # something else (another instance on the port, a stale progress file)
            entry["state"] = process_state
        elif probe.healthy:
            entry["state"] = "healthy"
        else:
            entry["state"] = "unhealthy" if alive else process_state
        entry["detail"] = probe.detail
        entry |= probe.extra
        components.append(entry)
    return {"healthy": all(c["state"] == "healthy" for c in components), "components": components}
