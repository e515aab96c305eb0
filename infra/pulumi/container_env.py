"""Catalog values -> the environment variables each image reads. Pure functions, no Pulumi.

The catalog (`infra.catalog`) decides every property once; these functions only translate the
property names into each image's env convention, so a container gets exactly the values the local
runner writes into its config files. Conventions, checked against the images' own scripts:

- `apache/kafka`: `KAFKA_<NAME>` where `.` -> `_`, `_` -> `__`, `-` -> `___` (its `utility` tool's
  ConvertKey), `CLUSTER_ID` for the KRaft storage format. Its parser splits `K=V` on every `=`
  and silently drops values containing one, so such values are refused here.
- `quay.io/debezium/connect`: `CONNECT_<NAME>` with `.` -> `_` (no way to spell `_`); and a few
  properties the entrypoint re-exports from short names (`BOOTSTRAP_SERVERS`, `GROUP_ID`, ...),
  overwriting any `CONNECT_*` value given for them, so those must go by their short name.
- `postgres`: server GUCs as `-c name=value` arguments; the superuser from `POSTGRES_*`.
- the project image: `ETL_*` settings (pydantic-settings) plus the `etl env` connection variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

from etl.settings import Settings, settings_environment
from infra.pulumi.entrypoints import IMAGE_LIB_DIR, IMAGE_STATE_DIR

PgRole = Literal["source", "warehouse"]

#: Worker properties the Debezium Connect entrypoint sets from these short variables.
CONNECT_SHORT_ENV: dict[str, str] = {
    "bootstrap.servers": "BOOTSTRAP_SERVERS",
    "group.id": "GROUP_ID",
    "config.storage.topic": "CONFIG_STORAGE_TOPIC",
    "offset.storage.topic": "OFFSET_STORAGE_TOPIC",
    "status.storage.topic": "STATUS_STORAGE_TOPIC",
    "key.converter": "KEY_CONVERTER",
    "value.converter": "VALUE_CONVERTER",
    "offset.flush.interval.ms": "OFFSET_FLUSH_INTERVAL_MS",
    "rest.advertised.host.name": "ADVERTISED_HOST_NAME",
    "rest.advertised.port": "ADVERTISED_PORT",
}

#: Settings fields the project image gets from its own environment instead of the stack.
_CONTAINER_LOCAL_FIELDS = frozenset({"home", "lib_dir_override", "bind_host"})


def env_list(env: Mapping[str, str]) -> list[str]:
    """pulumi-docker takes `envs` as `K=V` strings; sorted so the order never causes a diff."""
    return [f"{key}={value}" for key, value in sorted(env.items())]


# --------------------------------------------------------------------------- hosts


@dataclass(frozen=True)
class NetworkHosts:
    """DNS names of the servers on the Docker network (container network aliases)."""

    source_db: str = "source-db"
    warehouse_db: str = "warehouse-db"
    connect: str = "connect"
    spark_master: str = "spark-master"
    kafka_brokers: tuple[str, ...] = ("kafka-1",)

    def kafka_bootstrap(self, settings: Settings) -> str:
        return ",".join(f"{host}:{settings.port('kafka')}" for host in self.kafka_brokers)

    def connect_url(self, settings: Settings) -> str:
        return f"http://{self.connect}:{settings.port('connect')}"


def broker_host(node_id: int) -> str:
    return f"kafka-{node_id}"


def quorum_voters(settings: Settings, brokers: int) -> str:
    """`controller.quorum.voters` of a combined-mode cluster of `brokers` nodes, ids from 1."""
    port = settings.port("kafka_controller")
    return ",".join(f"{n}@{broker_host(n)}:{port}" for n in range(1, brokers + 1))


# --------------------------------------------------------------------------- Kafka


def kafka_env_name(prop: str) -> str:
    """`log.dirs` -> `KAFKA_LOG_DIRS`; the inverse of the apache/kafka image's ConvertKey."""
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def kafka_broker_env(props: Mapping[str, str], cluster_id: str, heap: str) -> dict[str, str]:
    for key, value in props.items():
        if "=" in value:
            raise ValueError(f"broker property {key}={value!r}: the image drops values with '='")
    env = {kafka_env_name(key): value for key, value in props.items()}
    env["CLUSTER_ID"] = cluster_id
    env["KAFKA_HEAP_OPTS"] = f"-Xms128m -Xmx{heap}"
    return env


# --------------------------------------------------------------------------- Kafka Connect


def connect_worker_env(props: Mapping[str, str], heap: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in props.items():
        if key in CONNECT_SHORT_ENV:
            env[CONNECT_SHORT_ENV[key]] = value
        elif "_" in key:
            raise ValueError(f"worker property {key!r} has '_': CONNECT_* env cannot express it")
        else:
            env["CONNECT_" + key.replace(".", "_").upper()] = value
    # The entrypoint also always exports rest.port/rest.host.name (defaults 8083/hostname);
    # keep them equal to the listener so nothing contradicts `listeners`.
    listener = urlparse(props["listeners"].split(",")[0])
    env["REST_PORT"] = str(listener.port)
    env["REST_HOST_NAME"] = listener.hostname or ""
    env["HEAP_OPTS"] = f"-Xms128m -Xmx{heap}"
    return env


# --------------------------------------------------------------------------- PostgreSQL


def postgres_command(gucs: Mapping[str, str]) -> list[str]:
    command = ["postgres"]
    for key, value in gucs.items():
        command += ["-c", f"{key}={value}"]
    return command


def postgres_env(settings: Settings, role: PgRole) -> dict[str, str]:
    """The official image creates this superuser and database on an empty volume."""
    dbname = settings.source_db_name if role == "source" else settings.warehouse_db_name
    return {
        "POSTGRES_USER": settings.db_user,
        "POSTGRES_PASSWORD": settings.db_password.get_secret_value(),
        "POSTGRES_DB": dbname,
        "PGPORT": str(settings.port(f"{role}_db")),
    }


# --------------------------------------------------------------------------- project image


def settings_env(settings: Settings) -> dict[str, str]:
    """Every `Settings` field as its `ETL_*` variable, so `Settings()` in the container equals
    the program's settings (topic names, group ids, batch sizes, passwords, ports)."""
    return {
        "ETL_HOME": IMAGE_STATE_DIR,
        "ETL_LIB_DIR": IMAGE_LIB_DIR,
        **settings_environment(settings, skip=_CONTAINER_LOCAL_FIELDS),
    }


def connection_env_in_network(settings: Settings, hosts: NetworkHosts) -> dict[str, str]:
    """The `etl env` connection variables, with the servers' Docker network names."""
    return {
        # read by Settings: every peer by its network name, whatever ETL_BIND_HOST is
        "ETL_SOURCE_DB_HOST": hosts.source_db,
        "ETL_WAREHOUSE_DB_HOST": hosts.warehouse_db,
        "ETL_CONNECT_HOST": hosts.connect,
        "ETL_KAFKA_BOOTSTRAP_SERVERS": hosts.kafka_bootstrap(settings),
        # the `etl env` names, for scripts inside the container
        "ETL_SOURCE_DSN": settings.source_dsn(host=hosts.source_db),
        "ETL_WAREHOUSE_DSN": settings.warehouse_dsn(host=hosts.warehouse_db),
        "ETL_KAFKA_BOOTSTRAP": hosts.kafka_bootstrap(settings),
        "ETL_CONNECT_URL": hosts.connect_url(settings),
        "ETL_DLQ_TOPIC": settings.dlq_topic,
    }


def app_env(
    settings: Settings,
    hosts: NetworkHosts,
    *,
    bind_host: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of a project-image container.

    `bind_host` becomes `ETL_BIND_HOST`: the one server a single-purpose container talks to
    (its `Settings` DSN/bootstrap then point there), or `0.0.0.0` for a container that listens.
    """
    return {
        **settings_env(settings),
        **connection_env_in_network(settings, hosts),
        "ETL_BIND_HOST": bind_host,
        **(extra or {}),
    }
