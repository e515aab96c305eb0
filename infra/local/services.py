"""How each service runs as a local process: data dirs, config files, command lines.

Values come from `infra.catalog` (shared with the Pulumi program); this module only decides local
paths and writes files. Everything lives under ETL_HOME. One-time steps (initdb, Kafka storage
format) are guarded by what they leave on disk, so `etl up` can call them every time.

A service's `local` launch (see `infra.services`) is one of the `LocalLaunch` kinds at the end of
this module: PostgreSQL, Kafka, Kafka Connect, or a Python module of this project.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from etl.errors import EtlError
from etl.settings import DbRole, Settings, settings_environment
from infra import catalog
from infra.local.prereqs import java_binary, postgres_bindir, running_as_root

PG_SERVICE_USER = "postgres"  # Debian's account; initdb refuses to run as root


@dataclass(frozen=True)
class LocalProgram:
    """What supervisord needs to run one service."""

    name: str
    command: list[str]
    user: str | None = None
    stop_signal: str = "TERM"
    #: TERM the whole process group on stop (JVM launchers); False when the program stops its
    #: children itself and a group signal would interrupt that (pyspark's driver). SIGKILL after
    #: the stop timeout always goes to the whole group, so nothing is orphaned.
    stop_as_group: bool = True
    environment: dict[str, str] = field(default_factory=dict)


def write_if_changed(path: Path, text: str) -> bool:
    """Write a config file only when its content differs, so unchanged configs keep mtimes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def properties_text(props: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in props.items())


# --------------------------------------------------------------------------- PostgreSQL

PgRole = Literal["source", "warehouse"]


def pg_service_name(role: PgRole) -> str:
    return f"{role}-db"


def pg_data_dir(settings: Settings, role: PgRole) -> Path:
    return settings.data_dir / pg_service_name(role)


def _check_reachable_by(path: Path, user: str) -> None:
    """Every parent of the data dir must be traversable by the postgres user."""
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise EtlError(
                f"ETL_HOME {path} is not reachable by the {user} user ({parent} lacks o+x): "
                "chmod o+x it or set ETL_HOME elsewhere"
            )


def init_postgres_cluster(settings: Settings, role: PgRole) -> bool:
    """initdb the cluster once (as the postgres user when we are root). True if created now."""
    data = pg_data_dir(settings, role)
    if (data / "PG_VERSION").exists():
        return False
    bindir = postgres_bindir()
    data.mkdir(parents=True, exist_ok=True)
    run_as: list[str] = []
    with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as pwfile:
        pwfile.write(settings.password("admin"))
    pw_path = Path(pwfile.name)
    try:
        if running_as_root():
            _check_reachable_by(settings.data_dir, PG_SERVICE_USER)
            shutil.chown(data, PG_SERVICE_USER, PG_SERVICE_USER)
            shutil.chown(pw_path, PG_SERVICE_USER, PG_SERVICE_USER)
            run_as = ["runuser", "-u", PG_SERVICE_USER, "--"]
        cmd = [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            settings.db_user,
            f"--pwfile={pw_path}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            raise EtlError(f"initdb of {pg_service_name(role)} failed: {result.stderr.strip()}")
    finally:
        pw_path.unlink(missing_ok=True)
    hba = (
        "# written by etl: TCP on loopback only, passwords with SCRAM\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host replication all 127.0.0.1/32 scram-sha-256\n"
    )
    (data / "pg_hba.conf").write_text(hba)
    return True


def postgres_program(settings: Settings, role: PgRole) -> LocalProgram:
    gucs = catalog.postgres_server_settings(settings, role)
    gucs |= {
        "listen_addresses": settings.bind_host,
        "port": str(settings.port(f"{role}_db")),
        "unix_socket_directories": "",  # TCP only: no socket dir to own or clash on
    }
    command = [str(postgres_bindir() / "postgres"), "-D", str(pg_data_dir(settings, role))]
    for key, value in gucs.items():
        command += ["-c", f"{key}={value}"]
    return LocalProgram(
        name=pg_service_name(role),
        command=command,
        user=PG_SERVICE_USER if running_as_root() else None,
        stop_signal="INT",  # postgres "fast" shutdown
    )


def remove_stale_postmaster_pid(settings: Settings, role: PgRole) -> str | None:
    """A postmaster.pid whose process is gone blocks a restart on some crashes: clear it."""
    pidfile = pg_data_dir(settings, role) / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError):
        pid = -1
    if pid > 0 and Path(f"/proc/{pid}").exists():
        return None
    pidfile.unlink(missing_ok=True)
    return f"removed stale pid file {pidfile} (pid {pid} is not running)"


# --------------------------------------------------------------------------- JVM services


def log4j2_config(component: str) -> str:
    """JSON-lines console logging (log4j2 JsonTemplateLayout, ECS fields + `component`)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <JsonTemplateLayout eventTemplateUri="classpath:EcsLayout.json">
        <EventTemplateAdditionalField key="component" value="{component}"/>
      </JsonTemplateLayout>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
    <Logger name="org.reflections" level="ERROR"/>
    <Logger name="org.eclipse.jetty" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="STDOUT"/></Root>
  </Loggers>
</Configuration>
"""


def _jvm_command(settings: Settings, component: str, heap: str, main: str, conf: Path) -> list[str]:
    log_conf = settings.conf_dir / f"log4j2-{component}.xml"
    write_if_changed(log_conf, log4j2_config(component))
    return [
        java_binary(),
        "-Xms128m",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_conf}",
        "-cp",
        f"{settings.jars_dir(component)}/*",
        main,
        str(conf),
    ]


def kafka_data_dir(settings: Settings) -> Path:
    return settings.data_dir / "kafka"


def kafka_config_path(settings: Settings) -> Path:
    props = catalog.kafka_broker_properties(settings, log_dirs=str(kafka_data_dir(settings)))
    path = settings.conf_dir / "kafka" / "server.properties"
    write_if_changed(path, properties_text(props))
    return path


def format_kafka_storage(settings: Settings) -> bool:
    """Format KRaft storage on first start (a cluster id kept under ETL_HOME). True if done now."""
    if (kafka_data_dir(settings) / "meta.properties").exists():
        return False
    config = kafka_config_path(settings)
    cluster_id_file = settings.data_dir / "kafka-cluster-id"
    if not cluster_id_file.exists():
        cluster_id_file.parent.mkdir(parents=True, exist_ok=True)
        cluster_id_file.write_text(catalog.kraft_cluster_id(lambda _attempt: uuid.uuid4()))
    cmd = [
        java_binary(),
        "-cp",
        f"{settings.jars_dir('kafka')}/*",
        f"-Dlog4j2.configurationFile={settings.conf_dir / 'log4j2-kafka.xml'}",
        "kafka.tools.StorageTool",
        "format",
        # one argument with '=': an id starting with '-' (written by older versions) still parses
        f"--cluster-id={cluster_id_file.read_text().strip()}",
        "-c",
        str(config),
        "--ignore-formatted",
    ]
    write_if_changed(settings.conf_dir / "log4j2-kafka.xml", log4j2_config("kafka"))
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EtlError(f"formatting Kafka storage failed: {(result.stdout + result.stderr)[-800:]}")
    return True


def _config_digest(*paths: Path) -> dict[str, str]:
    """An env entry that changes with the config files' content, so supervisord sees a changed
    program (and `etl up` restarts it) when only a file behind an unchanged command line changed."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:16]
    return {"ETL_CONFIG_DIGEST": digest}


def kafka_program(settings: Settings) -> LocalProgram:
    conf = kafka_config_path(settings)
    cmd = _jvm_command(settings, "kafka", settings.kafka_heap, "kafka.Kafka", conf)
    log_conf = settings.conf_dir / "log4j2-kafka.xml"
    return LocalProgram(name="kafka", command=cmd, environment=_config_digest(conf, log_conf))


def connect_program(settings: Settings) -> LocalProgram:
    props = catalog.connect_worker_properties(
        settings, plugin_path=str(settings.connect_plugin_path)
    )
    conf = settings.conf_dir / "connect" / "connect-distributed.properties"
    write_if_changed(conf, properties_text(props))
    cmd = _jvm_command(
        settings,
        "connect",
        settings.connect_heap,
        "org.apache.kafka.connect.cli.ConnectDistributed",
        conf,
    )
    log_conf = settings.conf_dir / "log4j2-connect.xml"
    env = {**_config_digest(conf, log_conf), **catalog.connect_worker_environment(settings)}
    return LocalProgram(name="connect", command=cmd, environment=env)


def python_program(
    settings: Settings,
    name: str,
    module: tuple[str, ...],
    *,
    stop_as_group: bool = True,
    db_roles: tuple[DbRole, ...] = (),
) -> LocalProgram:
    """A Python service of this project (`python -m <module>`), with the stack's settings.

    Run with this interpreter. Its environment carries every setting explicitly, so the program
    sees the settings of the `etl up` that wrote the config (not whatever supervisord
    inherited), and a changed setting changes the program definition, which restarts it on the
    next `etl up`. Of the passwords it gets only its `db_roles`' (and does not read ETL_HOME's
    passwords file), by environment: supervisord.conf holding them is owner-only.
    """
    env = {
        **settings_environment(settings, roles=db_roles),
        "ETL_PASSWORDS_FILE": "false",
        "PYTHONUNBUFFERED": "1",
        "SPARK_LOCAL_IP": settings.bind_host,
    }
    command = [sys.executable, "-m", *module]
    return LocalProgram(name=name, command=command, environment=env, stop_as_group=stop_as_group)


# --------------------------------------------------------------------------- launch kinds


class LocalLaunch:
    """How one service runs locally. Hooks with no work to do return None."""

    def initialise(self, settings: Settings) -> str | None:
        """One-time set-up before the first start (guarded by what it leaves on disk)."""
        return None

    def clear_stale_state(self, settings: Settings) -> str | None:
        """Before supervisord starts: remove what a crashed previous run left behind."""
        return None

    def program(
        self,
        settings: Settings,
        name: str,
        module: tuple[str, ...],
        db_roles: tuple[DbRole, ...] = (),
    ) -> LocalProgram:
        raise NotImplementedError


@dataclass(frozen=True)
class PostgresLaunch(LocalLaunch):
    role: PgRole

    def initialise(self, settings: Settings) -> str | None:
        return "initialised cluster" if init_postgres_cluster(settings, self.role) else None

    def clear_stale_state(self, settings: Settings) -> str | None:
        return remove_stale_postmaster_pid(settings, self.role)

    def program(
        self,
        settings: Settings,
        name: str,
        module: tuple[str, ...],
        db_roles: tuple[DbRole, ...] = (),
    ) -> LocalProgram:
        return postgres_program(settings, self.role)


class KafkaLaunch(LocalLaunch):
    def initialise(self, settings: Settings) -> str | None:
        return "formatted KRaft storage" if format_kafka_storage(settings) else None

    def program(
        self,
        settings: Settings,
        name: str,
        module: tuple[str, ...],
        db_roles: tuple[DbRole, ...] = (),
    ) -> LocalProgram:
        return kafka_program(settings)


class ConnectLaunch(LocalLaunch):
    def program(
        self,
        settings: Settings,
        name: str,
        module: tuple[str, ...],
        db_roles: tuple[DbRole, ...] = (),
    ) -> LocalProgram:
        return connect_program(settings)


@dataclass(frozen=True)
class PythonLaunch(LocalLaunch):
    """`python -m <service.module>`. `stop_as_group=False` for a program that stops its own
    children on TERM (the transform lets its micro-batch finish and stops the Spark JVM)."""

    stop_as_group: bool = True

    def program(
        self,
        settings: Settings,
        name: str,
        module: tuple[str, ...],
        db_roles: tuple[DbRole, ...] = (),
    ) -> LocalProgram:
        return python_program(
            settings, name, module, stop_as_group=self.stop_as_group, db_roles=db_roles
        )
