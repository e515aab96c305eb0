"""The local stack: `up` (idempotent, dependency order, health-gated) and `down`.

Each service (`infra.services`) starts only after the ones before it answer their real health
probes; its set-up steps (create database + migrations, topics, connector) run around its start.
A component that does not come up within ETL_STARTUP_TIMEOUT_S fails `up` with its name and its
log's tail. `etl status` lives in `infra.local.status`.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from functools import partial

from pydantic import BaseModel

from etl.errors import ComponentFailed, EtlError
from etl.health import Probe
from etl.secrets import ensure_local_passwords, passwords_path
from etl.settings import Settings
from infra.local import services
from infra.local.jars import COMPONENTS, resolve_jars
from infra.local.prereqs import java_binary, postgres_bindir
from infra.local.supervisor import Supervisor, program_log_path, socket_path, tail, write_config
from infra.services import Service, processes, with_dependencies

Report = Callable[[str, str], None]  # (component, message)


class UpResult(BaseModel):
    """What `etl up` did: seconds in all, and per component until it was healthy."""

    seconds: float
    components: dict[str, float]


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


def check_ports_free(settings: Settings, sup: Supervisor, specs: list[Service]) -> None:
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


def wait_healthy(settings: Settings, sup: Supervisor | None, spec: Service) -> Probe:
    """Probe until healthy; fail fast if supervisord gave up on the process or a task failed."""
    deadline = time.monotonic() + settings.startup_timeout_s
    probe = Probe(False, "not probed yet")
    while time.monotonic() < deadline:
        probe = spec.probe(settings)
        if probe.healthy:
            return probe
        if sup is not None:
            info = sup.info(spec.name)
            if info and info["statename"] == "FATAL":
                raise ComponentFailed(
                    spec.name,
                    "exited repeatedly; supervisord gave up",
                    tail(program_log_path(settings, spec.name)),
                )
        if probe.extra.get("trace"):  # Connect reports the connector FAILED: no use waiting
            break
        time.sleep(0.5)
    trace = probe.extra.get("trace") or next(
        (t["trace"] for t in probe.extra.get("tasks", []) if "trace" in t), ""
    )
    raise ComponentFailed(
        spec.name,
        f"not healthy after {settings.startup_timeout_s:.0f} s: {probe.detail}",
        trace or tail(program_log_path(settings, spec.log_name)),
    )


def prepare(settings: Settings, report: Report = _noop) -> list[services.LocalProgram]:
    """Prerequisites, jars, data dirs, one-time init: everything before a process starts."""
    postgres_bindir()
    java_binary()
    for component in COMPONENTS:  # kafka, connect, debezium(-jdbc), spark, webjars
        resolve_jars(settings, component)
    for directory in (settings.data_dir, settings.logs_dir, settings.run_dir, settings.conf_dir):
        directory.mkdir(parents=True, exist_ok=True)
    programs = []
    for spec in processes():
        assert spec.local is not None
        if notice := spec.local.initialise(settings):
            report(spec.name, notice)
        programs.append(spec.local.program(settings, spec.name, spec.module, spec.db_roles))
    return programs


def _forget_stale_progress(settings: Settings, sup: Supervisor, spec: Service) -> None:
    """A progress file left by a previous run must not pass the probe of a process that is
    only starting: remove it unless the process is already running."""
    if spec.progress is None:
        return
    info = sup.info(spec.name)
    if not info or info["statename"] not in ("RUNNING", "STARTING"):
        spec.progress.path(settings).unlink(missing_ok=True)


def up(settings: Settings, report: Report = _noop, only: list[str] | None = None) -> UpResult:
    """Start (or confirm) the stack, or just `only` these components and their dependencies.

    Idempotent: a healthy stack is left as it is. The first run in an ETL_HOME generates its
    database passwords (`etl.secrets`).
    """
    started = time.monotonic()
    try:
        specs = with_dependencies(only)
    except KeyError as exc:
        raise EtlError(exc.args[0]) from None
    settings, generated = ensure_local_passwords(settings)
    if generated:
        report("etl", f"generated database passwords in {passwords_path(settings)} (mode 0600)")
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
        for spec in processes():
            assert spec.local is not None
            if notice := spec.local.clear_stale_state(settings):
                report(spec.name, notice)
        sup.start_daemon()
        report("supervisord", f"started (socket {socket_path(settings)})")
    timings: dict[str, float] = {}
    for spec in specs:
        t0 = time.monotonic()

        say = partial(report, spec.name)
        if spec.process:
            _forget_stale_progress(settings, sup, spec)
            sup.start(spec.name)
        if spec.setup is not None:
            spec.setup(settings, say)
        wait_healthy(settings, sup, spec)
        if spec.after_ready is not None:
            spec.after_ready(settings, say)
        timings[spec.name] = round(time.monotonic() - t0, 2)
        report(spec.name, f"[UP] healthy ({timings[spec.name]:.1f} s)")
    return UpResult(seconds=round(time.monotonic() - started, 2), components=timings)


def down(settings: Settings, purge: bool = False, report: Report = _noop) -> None:
    """Stop every process in reverse order and supervisord itself; `purge` also deletes data."""
    sup = Supervisor(settings)
    if sup.is_running():
        for spec in reversed(processes()):
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
            settings.secrets_dir,  # protect nothing once the data is gone: a new start, new ones
        ):
            shutil.rmtree(directory, ignore_errors=True)
        report(
            "etl",
            f"purged data, checkpoints, logs, config, passwords under {settings.home} (kept lib/)",
        )
