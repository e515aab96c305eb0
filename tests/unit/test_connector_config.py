import pytest

from etl.connector import normalized
from etl.settings import Settings
from etl.tables import publication_tables
from etl.topics import IDLE_FETCH_MAX_WAIT_MS
from infra.catalog import (
    connect_worker_properties,
    debezium_connector_config,
    kafka_broker_properties,
)

pytestmark = pytest.mark.unit


def test_connector_uses_pgoutput_named_slot_and_our_publication():
    s = Settings(slot_name="my_slot", publication_name="my_pub", port_base=20000)
    cfg = debezium_connector_config(s)
    assert cfg["plugin.name"] == "pgoutput"
    assert cfg["slot.name"] == "my_slot"
    assert cfg["publication.name"] == "my_pub"
    assert cfg["publication.autocreate.mode"] == "disabled"
    assert cfg["database.port"] == "20000"
    assert cfg["database.user"] == s.replication_user


def test_connector_streams_what_downstream_expects():
    cfg = debezium_connector_config(Settings())
    assert cfg["snapshot.mode"] == "initial"
    assert cfg["decimal.handling.mode"] == "string"
    assert cfg["tombstones.on.delete"] == "true"
    assert int(cfg["heartbeat.interval.ms"]) > 0
    assert "debezium_heartbeat" in cfg["heartbeat.action.query"]
    assert cfg["table.include.list"] == (
        "public.customers,public.products,public.orders,public.order_items"
    )
    # the heartbeat table is published (so it advances the slot) but not captured to a topic
    assert "debezium_heartbeat" in publication_tables()
    assert "heartbeat" not in cfg["table.include.list"]


def test_container_hosts_replace_loopback():
    cfg = debezium_connector_config(Settings(), db_host="source-db", db_port=5432)
    assert (cfg["database.hostname"], cfg["database.port"]) == ("source-db", "5432")


def test_connect_echo_with_name_compares_equal():
    cfg = debezium_connector_config(Settings())
    echoed = {**cfg, "name": "shop-source"}
    assert normalized(echoed, "shop-source") == normalized(cfg, "shop-source")
    changed = {**echoed, "snapshot.mode": "no_data"}
    assert normalized(changed, "shop-source") != normalized(cfg, "shop-source")


def test_broker_properties_follow_replication_settings():
    props = kafka_broker_properties(Settings(replication_factor=3, min_insync_replicas=2))
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:")


def test_connect_worker_binds_loopback_and_uses_schemaless_json():
    props = connect_worker_properties(Settings(port_base=20000))
    assert props["listeners"] == "http://127.0.0.1:20004"
    assert props["value.converter.schemas.enable"] == "false"
    assert props["bootstrap.servers"] == "127.0.0.1:20002"


def test_connect_holds_idle_fetches_and_the_loader_does_not():
    """Connect's internal-topic consumers wait as the transform's sources do; the loader, whose
    partitions move on every rebalance, keeps librdkafka's default (loaders/service.py)."""
    from loaders.service import consumer_config

    props = connect_worker_properties(Settings())
    assert props["fetch.max.wait.ms"] == str(IDLE_FETCH_MAX_WAIT_MS)
    assert "fetch.wait.max.ms" not in consumer_config(Settings(), "loader-1")


def test_debezium_poll_interval_is_a_setting():
    cfg = debezium_connector_config(Settings(debezium_poll_interval_ms=50))
    assert cfg["poll.interval.ms"] == "50"
