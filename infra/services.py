"""The pipeline's services, one object each (testcontainers-style): the one place a service is
declared.

A `Service` holds everything both ways to run need: its name, what it depends on, its port, how
it runs as a local process (`infra.local.services`), its `python -m` entry point (the same module
locally and in the image; `infra.pulumi.entrypoints` derives the container commands from it),
its readiness probe, its progress file, and the set-up steps around its start. The local runner,
`etl status`, the dashboard and the Pulumi program iterate over `SERVICES`; nothing else lists
services by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from etl.health import (
    Probe,
    probe_connect,
    probe_connector,
    probe_dashboard,
    probe_kafka,
    probe_postgres,
    probe_progress,
)
from etl.progress import LoaderProgress, ProgressFile, TransformProgress
from etl.settings import DbRole, Settings
from infra.local import bootstrap
from infra.local.services import (
    ConnectLaunch,
    KafkaLaunch,
    LocalLaunch,
    PostgresLaunch,
    PythonLaunch,
)

#: A set-up step around a service's start: `(settings, say)`, `say(message)` reports a change.
Step = Callable[[Settings, Callable[[str], None]], None]


@dataclass(frozen=True)
class Service:
    """One component of the pipeline. Start order is `SERVICES` order; stop order the reverse."""

    name: str
    probe: Callable[[Settings], Probe]
    depends_on: tuple[str, ...] = ()
    #: the `Settings.port(...)` name it listens on, if any
    port_name: str | None = None
    #: how it runs as a local process; None: it runs inside `host` (the connector in Connect)
    local: LocalLaunch | None = None
    host: str | None = None
    #: `python -m` arguments of a service written in this project (locally and in the image)
    module: tuple[str, ...] = ()
    #: the progress file whose freshness is its health (streaming services)
    progress: type[ProgressFile] | None = None
    #: runs before its probe is awaited (the connector exists only once registered)
    setup: Step | None = None
    #: runs once its probe passes (databases, schema, topics)
    after_ready: Step | None = None
    #: In Docker: submitted to the Spark master with spark-submit (locally: its own `local[N]`)
    spark_job: bool = False
    #: several instances share its work (loaders in one consumer group); Docker runs N of them
    scales_out: bool = False
    #: database roles whose passwords it gets, by environment (`etl.settings.DB_ROLES`); a
    #: project service gets no other password
    db_roles: tuple[DbRole, ...] = ()

    def port(self, settings: Settings) -> int | None:
        return settings.port(self.port_name) if self.port_name else None

    @property
    def process(self) -> bool:
        """Whether it is an OS process of its own (supervised locally, a container in Docker)."""
        return self.local is not None

    @property
    def log_name(self) -> str:
        """Whose log tells about it: its own, or its host process's."""
        return self.host or self.name


def _progress_probe(progress: type[ProgressFile]) -> Callable[[Settings], Probe]:
    return lambda settings: probe_progress(settings, progress)


SERVICES: tuple[Service, ...] = (
    Service(
        "source-db",
        lambda s: probe_postgres(s.monitoring_dsn("source")),
        port_name="source_db",
        local=PostgresLaunch("source"),
        setup=bootstrap.adopt_source_password,
        after_ready=bootstrap.prepare_source_database,
    ),
    Service(
        "warehouse-db",
        lambda s: probe_postgres(s.monitoring_dsn("warehouse")),
        port_name="warehouse_db",
        local=PostgresLaunch("warehouse"),
        setup=bootstrap.adopt_warehouse_password,
        after_ready=bootstrap.prepare_warehouse_database,
    ),
    Service(
        "kafka",
        probe_kafka,
        port_name="kafka",
        local=KafkaLaunch(),
        after_ready=bootstrap.create_pipeline_topics,
    ),
    Service(
        "connect",
        probe_connect,
        depends_on=("kafka", "source-db"),
        port_name="connect",
        local=ConnectLaunch(),
    ),
    Service(
        "connector",
        probe_connector,
        depends_on=("connect",),
        host="connect",
        setup=bootstrap.register_connector,
    ),
    Service(
        "transform",
        _progress_probe(TransformProgress),
        depends_on=("kafka",),
        # it lets its micro-batch finish and stops the Spark JVM itself on TERM
        local=PythonLaunch(stop_as_group=False),
        module=("jobs.transform",),
        progress=TransformProgress,
        spark_job=True,
    ),
    Service(
        "loader",
        _progress_probe(LoaderProgress),
        depends_on=("kafka", "warehouse-db"),
        local=PythonLaunch(),
        module=("loaders",),
        progress=LoaderProgress,
        scales_out=True,
        # writes `dw`; its quality gate reads with the read-only role
        db_roles=("loader", "reader"),
    ),
    Service(
        "dashboard",
        probe_dashboard,
        port_name="dashboard",
        local=PythonLaunch(),
        module=("app", "dashboard"),
        db_roles=("reader",),
    ),
)

BY_NAME: dict[str, Service] = {s.name: s for s in SERVICES}


def service(name: str) -> Service:
    """The service of that name; an unknown name is a KeyError naming the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown component {name!r}: one of {', '.join(BY_NAME)}") from None


def with_dependencies(names: list[str] | None) -> list[Service]:
    """The named services and everything they depend on, in start order (None: all)."""
    if not names:
        return list(SERVICES)
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        spec = service(pending.pop())
        if spec.name not in wanted:
            wanted.add(spec.name)
            pending.extend(spec.depends_on)
    return [spec for spec in SERVICES if spec.name in wanted]


def project_services() -> list[Service]:
    """Services written in this project (a `python -m` entry point), in start order."""
    return [s for s in SERVICES if s.module]


def processes() -> list[Service]:
    """Services that are processes of their own, in start order."""
    return [s for s in SERVICES if s.process]
