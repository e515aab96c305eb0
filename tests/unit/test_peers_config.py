"""The peers' configuration (infra/peers.py): what the JDBC sink and its twin source need."""

import pytest

from etl.settings import Settings
from etl.tables import CAPTURED
from infra.catalog import debezium_connector_config
from infra.peers import (
    jdbc_sink_connector_config,
    jdbc_source_connector_config,
    jdbc_topics,
    logical_subscription,
    logical_subscription_conninfo,
    peer_table_ddl,
)

pytestmark = pytest.mark.unit


def test_sink_upserts_by_record_key_and_applies_deletes():
    cfg = jdbc_sink_connector_config(Settings(port_base=20000, db_password="pw"))
    assert cfg["insert.mode"] == "upsert"
    assert cfg["delete.enabled"] == "true"
    assert cfg["primary.key.mode"] == "record_key"  # delete.enabled requires it
    assert cfg["collection.name.format"] == "${source.table}"
    assert cfg["connection.url"] == "jdbc:postgresql://127.0.0.1:20001/peer_jdbc"
    assert cfg["value.converter.schemas.enable"] == "true"


def test_twin_source_differs_from_the_pipelines_only_where_the_sink_needs_it():
    s = Settings()
    main, twin = debezium_connector_config(s), jdbc_source_connector_config(s)
    changed = {k for k in main if main[k] != twin[k]}
    assert changed == {
        "topic.prefix",
        "slot.name",
        "key.converter.schemas.enable",
        "value.converter.schemas.enable",
        "decimal.handling.mode",
    }
    assert twin["publication.name"] == main["publication.name"]  # one filter, two slots
    assert twin["slot.name"] != main["slot.name"]
    assert set(jdbc_topics(s)).isdisjoint(s.cdc_topics())


def test_every_peer_name_moves_with_the_stacks_names():
    a, b = Settings(), Settings(slot_name="other", connector_name="x", topic_prefix="t")
    assert logical_subscription(a) != logical_subscription(b)
    assert (
        jdbc_source_connector_config(a)["slot.name"] != jdbc_source_connector_config(b)["slot.name"]
    )
    assert jdbc_topics(a) != jdbc_topics(b)


def test_subscription_conninfo_quotes_the_password():
    s = Settings(db_password="it's")
    assert "password='it\\'s'" in logical_subscription_conninfo(s)


@pytest.mark.parametrize("table", CAPTURED, ids=lambda t: t.name)
def test_peer_tables_have_the_source_columns_and_key(table):
    ddl = peer_table_ddl(table)
    assert f"CREATE TABLE IF NOT EXISTS public.{table.name} " in ddl
    for column in table.columns:
        assert f"{column.name} {column.sql_type} NOT NULL" in ddl
    assert ddl.endswith(f"PRIMARY KEY ({table.key}))")
