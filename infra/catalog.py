"""Service configuration shared by both ways to run (local processes and the Pulumi containers).

Each function turns the one `Settings` object into the configuration a service gets. The local
runner writes these values into config files and command lines; the Pulumi program puts the very
same values into container env and commands. Host names and ports of peers are parameters because
they differ (127.0.0.1:15432 locally, `source-db:5432` on a Docker network); everything else is
decided here once.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Callable
from typing import Literal

from etl.settings import Settings
from etl.tables import CAPTURED, HEARTBEAT_TABLE, SOURCE_SCHEMA, UNAVAILABLE_VALUE_PLACEHOLDER
from etl.topics import IDLE_FETCH_MAX_WAIT_MS

# --------------------------------------------------------------------------- PostgreSQL


def postgres_server_settings(settings: Settings, role: Literal["source", "warehouse"]) -> dict:
    """GUCs for a cluster. The source needs `wal_level=logical` and room for Debezium's slot."""
    common = {
        "max_connections": "100",
        "shared_buffers": "128MB",
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "log_min_messages": "warning",
        "log_connections": "off",
    }
    if role == "source":
        return {
            **common,
            "wal_level": "logical",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            # A slot must never fill the disk: cap what an inactive slot may hold back.
            "max_slot_wal_keep_size": "4GB",
            "wal_sender_timeout": "60s",
        }
    return {**common, "wal_level": "replica", "synchronous_commit": "on"}


# --------------------------------------------------------------------------- Kafka


def kraft_cluster_id(make_uuid: Callable[[int], uuid.UUID]) -> str:
    """A KRaft cluster id: 16 bytes as url-safe base64 without padding (22 characters).

    About one UUID in 64 encodes to text starting with '-', which `kafka-storage format -t`
    reads as an option ("expected one argument"); Kafka's own `random-uuid` never hands such an
    id out, and neither does this: `make_uuid(attempt)` is asked again until one does not.
    """
    for attempt in itertools.count():
        text = base64.urlsafe_b64encode(make_uuid(attempt).bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
    raise AssertionError("unreachable")


def kafka_broker_properties(
    settings: Settings,
    *,
    node_id: int = 1,
    host: str | None = None,
    port: int | None = None,
    controller_port: int | None = None,
    quorum_voters: str | None = None,
    log_dirs: str = "/var/lib/kafka/data",
    host_listener: tuple[str, int] | None = None,
) -> dict[str, str]:
    """KRaft broker+controller properties (combined mode, one process per node).

    `host_listener` (address, port): a second client listener, `HOST`, for clients outside a
    container network (the Docker deployment's published port): bound on every interface of
    the container, advertised as `address:port`, which is what the host dials.
    """
    host = host or settings.bind_host
    port = port or settings.port("kafka")
    controller_port = controller_port or settings.port("kafka_controller")
    voters = quorum_voters or f"{node_id}@{host}:{controller_port}"
    listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}"
    advertised = f"PLAINTEXT://{host}:{port}"
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if host_listener:
        address, host_port = host_listener
        listeners += f",HOST://0.0.0.0:{host_port}"
        advertised += f",HOST://{address}:{host_port}"
        protocols += ",HOST:PLAINTEXT"
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": listeners,
        "advertised.listeners": advertised,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        "log.dirs": log_dirs,
        "num.partitions": str(settings.topic_partitions),
        "default.replication.factor": str(settings.replication_factor),
        "min.insync.replicas": str(settings.min_insync_replicas),
        "offsets.topic.replication.factor": str(settings.replication_factor),
        "transaction.state.log.replication.factor": str(settings.replication_factor),
        "transaction.state.log.min.isr": str(settings.min_insync_replicas),
        "share.coordinator.state.topic.replication.factor": str(settings.replication_factor),
        "share.coordinator.state.topic.min.isr": str(settings.min_insync_replicas),
        # Topics are created on purpose (Connect for CDC topics, `etl up` for the others).
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
    }


# --------------------------------------------------------------------------- Kafka Connect

#: The Connect worker's environment variable holding Debezium's database password. The connector
#: config names it (`${env:...}`, Kafka's EnvVarConfigProvider resolves it inside the worker), so
#: the password is in no connector config: not in Connect's config topic, not in what its REST
#: API echoes back, not in the logs that print a config. Same in both deployments (the local
#: runner puts it in the worker's environment, the Pulumi program in the container's).
REPLICATION_PASSWORD_ENV = "ETL_REPLICATION_PASSWORD"


def connect_worker_environment(settings: Settings) -> dict[str, str]:
    """What the Connect worker's process needs in its environment (not its command line)."""
    password = settings.replication_password
    return {REPLICATION_PASSWORD_ENV: password.get_secret_value()} if password else {}


def connect_worker_properties(
    settings: Settings,
    *,
    bootstrap: str | None = None,
    rest_host: str | None = None,
    rest_port: int | None = None,
    plugin_path: str = "/kafka/connect",
) -> dict[str, str]:
    """Distributed-mode worker properties; JSON converters without embedded schemas."""
    rest_host = rest_host or settings.bind_host
    rest_port = rest_port or settings.port("connect")
    rf = str(settings.replication_factor)
    return {
        "bootstrap.servers": bootstrap or settings.kafka_bootstrap,
        "group.id": f"{settings.connector_name}-connect",
        **settings.connect_internal_topics(),
        "config.storage.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        # Commit source offsets every second: a restart replays at most ~1 s of changes.
        "offset.flush.interval.ms": "1000",
        # The worker's consumers of its config, offset and status topics (worker-level client
        # settings reach them; measured: the worker's idle requests halved): few idle fetches,
        # no latency lost (etl/topics.py).
        "fetch.max.wait.ms": str(IDLE_FETCH_MAX_WAIT_MS),
        "listeners": f"http://{rest_host}:{rest_port}",
        "rest.advertised.host.name": rest_host,
        "rest.advertised.port": str(rest_port),
        "plugin.path": plugin_path,
        # Debezium and Kafka ship ServiceLoader manifests (KIP-898): skip the slow reflective
        # scan of every jar, which dominated the worker's start-up.
        "plugin.discovery": "service_load",
        "topic.creation.enable": "true",
        # `${env:NAME}` in a connector config: only the replication password may be read (the
        # allowlist keeps a REST caller from reading the worker's other variables).
        "config.providers": "env",
        "config.providers.env.class": (
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
        ),
        "config.providers.env.param.allowlist.pattern": f"^{REPLICATION_PASSWORD_ENV}$",
    }


# --------------------------------------------------------------------------- Debezium


def debezium_connector_config(
    settings: Settings, *, db_host: str | None = None, db_port: int | None = None
) -> dict[str, str]:
    """The Debezium PostgreSQL connector config, as PUT to `/connectors/<name>/config`.

    pgoutput with a named slot and a publication we create ourselves (the replication role may
    not create one); heartbeats with an action query so an idle capture set does not pin WAL;
    decimals as strings (exact, no schema needed to decode); tombstones after deletes so
    compacted topics forget deleted keys. TRUNCATE is captured (`skipped.operations=none`;
    Debezium's default skips it): an event with op `t`, no row, on the table's topic, which the
    loader applies as the deletion of every row as of its LSN (docs/corner-cases.md). Unchanged
    TOASTed values arrive as the placeholder named here; the loader keeps the stored value.
    """
    tables = ",".join(t.qualified_name for t in CAPTURED)
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": db_host or settings.bind_host,
        "database.port": str(db_port or settings.port("source_db")),
        "database.user": settings.replication_user,
        "database.password": f"${{env:{REPLICATION_PASSWORD_ENV}}}",
        "database.dbname": settings.source_db_name,
        "topic.prefix": settings.topic_prefix,
        "slot.name": settings.slot_name,
        "publication.name": settings.publication_name,
        "publication.autocreate.mode": "disabled",
        "table.include.list": tables,
        "snapshot.mode": settings.snapshot_mode,
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive_time_microseconds",
        "tombstones.on.delete": "true",
        "skipped.operations": "none",
        "unavailable.value.placeholder": UNAVAILABLE_VALUE_PLACEHOLDER,
        "heartbeat.interval.ms": str(settings.heartbeat_interval_ms),
        # How long the task waits for new changes between polls (Debezium's default: 500 ms,
        # half a second of latency for a lone change).
        "poll.interval.ms": str(settings.debezium_poll_interval_ms),
        "heartbeat.action.query": (
            f"INSERT INTO {SOURCE_SCHEMA}.{HEARTBEAT_TABLE} (id, beat_at) VALUES (1, now()) "
            "ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at"
        ),
        "topic.creation.default.partitions": str(settings.topic_partitions),
        "topic.creation.default.replication.factor": str(settings.replication_factor),
        "topic.creation.default.cleanup.policy": "delete",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "provide.transaction.metadata": "false",
        "errors.log.enable": "true",
    }
