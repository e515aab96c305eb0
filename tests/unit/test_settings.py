import pytest
from pydantic import SecretStr, ValidationError

from etl.errors import EtlError
from etl.settings import (
    CAPTURED_TABLES,
    PORT_OFFSETS,
    Settings,
    connection_env,
    interval_seconds,
    load_settings,
    maintenance_dsn,
    postgres_dsn,
)

pytestmark = pytest.mark.unit


def test_every_port_derives_from_the_base_and_avoids_well_known_ports():
    s = Settings(port_base=20000)
    for name, offset in PORT_OFFSETS.items():
        assert getattr(s, name) == 20000 + offset
    defaults = Settings()
    assert {5432, 9092, 8083}.isdisjoint(getattr(defaults, n) for n in PORT_OFFSETS)


def test_explicit_port_overrides_only_that_port():
    s = Settings(port_base=20000, kafka_port=30000)
    assert s.kafka_bootstrap == "127.0.0.1:30000"
    assert s.source_db_port == 20000


def test_clashing_ports_are_rejected():
    with pytest.raises(ValidationError, match="must differ"):
        Settings(port_base=20000, kafka_port=20000)


def test_environment_prefix_is_read(monkeypatch):
    monkeypatch.setenv("ETL_PORT_BASE", "21000")
    monkeypatch.setenv("ETL_TOPIC_PREFIX", "shopcdc")
    s = Settings()
    assert s.connect_url == "http://127.0.0.1:21004"
    assert s.cdc_topic("orders") == "shopcdc.public.orders"


def test_bad_value_names_the_key(monkeypatch):
    monkeypatch.setenv("ETL_PORT_BASE", "eighty")
    with pytest.raises(EtlError, match=r"ETL_PORT_BASE \(got 'eighty'\)"):
        load_settings()


def test_dsn_quotes_the_password():
    dsn = postgres_dsn("etl", SecretStr("p@ss:w/rd"), "127.0.0.1", 5, "shop")
    assert dsn == "postgresql://etl:p%40ss%3Aw%2Frd@127.0.0.1:5/shop"
    assert maintenance_dsn(dsn).endswith("127.0.0.1:5/postgres")


def test_connection_env_names_are_stable():
    env = connection_env(Settings(port_base=20000))
    for key in [
        "ETL_SOURCE_DSN",
        "ETL_WAREHOUSE_DSN",
        "ETL_KAFKA_BOOTSTRAP",
        "ETL_CONNECT_URL",
        "ETL_CDC_TOPIC_ORDERS",
        "ETL_DLQ_TOPIC",
    ]:
        assert key in env
    assert env["ETL_CDC_TOPIC_ORDERS"] == "cdc.public.orders"
    # no password printed: the DSN names the home's libpq password file
    passfile = Settings().home / "secrets" / "pgpass"
    assert env["ETL_SOURCE_DSN"] == f"postgresql://etl@127.0.0.1:20000/shop?passfile={passfile}"
    assert {f"ETL_CDC_TOPIC_{t.upper()}" for t in CAPTURED_TABLES} <= env.keys()


def test_pipeline_topics_are_cdc_curated_and_dlq():
    s = Settings()
    assert s.pipeline_topics() == [
        *(f"cdc.public.{t}" for t in CAPTURED_TABLES),
        *(f"curated.{t}" for t in CAPTURED_TABLES),
        "etl.dlq",
    ]


def test_min_insync_cannot_exceed_replication_factor():
    with pytest.raises(ValidationError, match="MIN_INSYNC"):
        Settings(replication_factor=1, min_insync_replicas=2)


def test_peer_hosts_for_a_container_network():
    s = Settings(
        source_db_host="source-db",
        warehouse_db_host="warehouse-db",
        connect_host="connect",
        kafka_bootstrap_servers="kafka-1:9092,kafka-2:9092",
        source_db_port=5432,
        warehouse_db_port=5432,
        db_password="etl",
    )
    assert s.source_dsn() == "postgresql://etl:etl@source-db:5432/shop"
    assert s.warehouse_dsn() == "postgresql://etl:etl@warehouse-db:5432/warehouse"
    assert s.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert s.connect_url.startswith("http://connect:")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30 seconds", 30), ("500 milliseconds", 0.5), ("1 minute 30 seconds", 90), ("2 Hours", 7200)],
)
def test_spark_intervals_are_read_in_seconds(text, seconds):
    assert interval_seconds(text) == seconds


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ETL_TRANSFORM_CHECKPOINT_INTERVAL", "30s"),
        ("ETL_TRANSFORM_CHECKPOINT_INTERVAL", "2 seconds"),  # below real-time mode's 5 s
        ("ETL_TRANSFORM_TRIGGER", "fast"),
        ("ETL_TRANSFORM_TRIGGER", "0 milliseconds"),
    ],
)
def test_a_bad_transform_interval_names_its_key(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(EtlError, match=variable) as raised:
        load_settings()
    assert repr(value) in str(raised.value)
