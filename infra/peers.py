"""Configuration of the load tests' peers: what the same changes cost through other tools.

Two peers copy the captured tables 1:1 into their own database on the warehouse server, so a
load run can time this pipeline against them on the same machine (issue 12):

- `logical`: PostgreSQL's own logical replication (publication on the source, subscription on
  the warehouse server), the floor for moving a change from one PostgreSQL to another;
- `jdbc`: what a Debezium user would run instead of this pipeline, the Debezium JDBC sink
  connector on the same Kafka Connect worker, upserting rows and applying deletes.

The JDBC sink needs schemas in the records: it resolves the table from the envelope's
`source.table` and types the columns from the Connect schema. The pipeline's CDC topics are
schemaless JSON (`connect_worker_properties`), and on them the sink drops every record with
"isn't a Debezium record ... No resolvable table name" (seen with 3.5.0.Final). So the peer gets
a twin of the Debezium source connector that differs only where the sink needs it: JSON with
schemas, exact decimals, its own slot and topic prefix. It shares the pipeline's publication (a
publication is only a table filter; each slot decodes the WAL on its own). Switching the
pipeline's own topics to schemas would let the sink read them directly, but would change what
the transform parses (`payload` around the envelope) and put the schema in every message
(about 6x the bytes per change, measured).

Pure functions of `Settings`, like `infra.catalog`: names, connector configs and DDL. Setting a
peer up against a running stack is `app.peers`.
"""

from __future__ import annotations

from typing import Literal

from etl.settings import Settings
from etl.tables import CAPTURED, SOURCE_SCHEMA, CapturedTable
from infra.catalog import debezium_connector_config

Peer = Literal["logical", "jdbc"]
PEERS: tuple[Peer, ...] = ("logical", "jdbc")

_JSON = "org.apache.kafka.connect.json.JsonConverter"


def peer_database(peer: Peer) -> str:
    """The peer's own database on the warehouse server."""
    return f"peer_{peer}"


# --------------------------------------------------------------------------- logical replication


def logical_publication(settings: Settings) -> str:
    return f"{settings.publication_name}_peer"


def logical_subscription(settings: Settings) -> str:
    """Also the name of its replication slot on the source (PostgreSQL's default)."""
    return f"{settings.slot_name}_peer_logical"


def logical_subscription_conninfo(
    settings: Settings, *, db_host: str | None = None, db_port: int | None = None
) -> str:
    """How the warehouse server reaches the source (a libpq key/value string)."""
    host = db_host or settings.source_db_host or settings.bind_host
    port = db_port or settings.port("source_db")
    password = settings.password("admin").replace("\\", "\\\\").replace("'", "\\'")
    return (
        f"host={host} port={port} dbname={settings.source_db_name} "
        f"user={settings.db_user} password='{password}'"
    )


# --------------------------------------------------------------------------- Debezium JDBC sink


def jdbc_source_connector_name(settings: Settings) -> str:
    return f"{settings.connector_name}-peer"


def jdbc_sink_connector_name(settings: Settings) -> str:
    return f"{settings.connector_name}-peer-jdbc-sink"


def jdbc_topic_prefix(settings: Settings) -> str:
    return f"{settings.topic_prefix}_peer"


def jdbc_slot(settings: Settings) -> str:
    return f"{settings.slot_name}_peer_jdbc"


def jdbc_topics(settings: Settings) -> list[str]:
    """The twin connector's topics the sink reads, one per captured table."""
    return [f"{jdbc_topic_prefix(settings)}.{t.qualified_name}" for t in CAPTURED]


def jdbc_heartbeat_topic(settings: Settings) -> str:
    return f"__debezium-heartbeat.{jdbc_topic_prefix(settings)}"


def jdbc_source_connector_config(
    settings: Settings, *, db_host: str | None = None, db_port: int | None = None
) -> dict[str, str]:
    """The pipeline's Debezium connector with what the JDBC sink needs (see module docstring)."""
    return {
        **debezium_connector_config(settings, db_host=db_host, db_port=db_port),
        "topic.prefix": jdbc_topic_prefix(settings),
        "slot.name": jdbc_slot(settings),
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
        # Connect Decimal: the sink binds a number to numeric columns (a string would not bind).
        "decimal.handling.mode": "precise",
    }


def jdbc_sink_connector_config(
    settings: Settings, *, db_host: str | None = None, db_port: int | None = None
) -> dict[str, str]:
    """Debezium JDBC sink: upsert by the record key, deletes applied, one table per source table.

    Tables are created by `peer_table_ddl` beforehand (types exactly the source's, so sums
    compare); `schema.evolution=basic` still adds a column the source gains later.
    """
    host = db_host or settings.warehouse_db_host or settings.bind_host
    port = db_port or settings.port("warehouse_db")
    return {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": ",".join(jdbc_topics(settings)),
        "connection.url": f"jdbc:postgresql://{host}:{port}/{peer_database('jdbc')}",
        "connection.username": settings.db_user,
        "connection.password": settings.password("admin"),
        "insert.mode": "upsert",
        "delete.enabled": "true",  # also applies tombstones; needs primary.key.mode=record_key
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "collection.name.format": "${source.table}",
        "use.time.zone": "UTC",
        "key.converter": _JSON,
        "value.converter": _JSON,
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
        "errors.log.enable": "true",
    }


# --------------------------------------------------------------------------- tables


def peer_table_ddl(table: CapturedTable) -> str:
    """A 1:1 copy target: the source's columns and types and its primary key.

    Built from `etl.tables` (which a test holds equal to `sql/source`'s catalog) rather than by
    replaying the source migrations: a copy needs no defaults, checks or foreign keys, and the
    JDBC sink applies each topic on its own, so a child row may arrive before its parent.
    """
    columns = ", ".join(f"{c.name} {c.sql_type} NOT NULL" for c in table.columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {SOURCE_SCHEMA}.{table.name} "
        f"({columns}, PRIMARY KEY ({table.key}))"
    )
