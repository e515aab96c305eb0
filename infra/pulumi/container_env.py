"""Catalog values -> the environment variables each image reads. Pure functions, no Pulumi.

The catalog (`infra.catalog`) decides every property once; these functions only translate the
property names into each image's env convention, so a container gets exactly the values the local
runner writes into its config files. Conventions, checked against the images' own scripts:

- the `jvm` image (Kafka, Connect; infra/docker/jvm/jvm-service): the whole properties file in
  `SERVICE_PROPERTIES`, written exactly as the local runner writes it (no name mangling, so
  every property, `_` and `=` included, can be expressed), `JAVA_HEAP`, `KAFKA_CLUSTER_ID`.
- the `postgres` image (infra/docker/postgres/pg-entrypoint): server GUCs as `-c name=value`
  arguments; the superuser and database from `POSTGRES_*` on the first start.
- the project image: `ETL_*` settings (pydantic-settings) plus the `etl env` connection variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from etl.settings import Settings, settings_environment
from infra.local.services import properties_text
from infra.pulumi.entrypoints import IMAGE_LIB_DIR, IMAGE_STATE_DIR

PgRole = Literal["source", "warehouse"]

#: Settings fields the project image gets from its own environment instead of the stack.
_CONTAINER_LOCAL_FIELDS = frozenset({"home", "lib_dir_override", "bind_host", "instance"})


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


# --------------------------------------------------------------------------- Kafka, Connect


def jvm_service_env(
    props: Mapping[str, str], heap: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The `jvm` image's environment: the properties the local runner writes, and the heap."""
    return {
        "SERVICE_PROPERTIES": properties_text(dict(props)),
        "JAVA_HEAP": heap,
        **(extra or {}),
    }


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
        "POSTGRES_PASSWORD": settings.password("admin"),
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
