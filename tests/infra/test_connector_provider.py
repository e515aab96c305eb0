"""The connector's dynamic provider against the REAL Kafka Connect worker of the test stack.

The connector is registered under its own name, slot and topic prefix, so the stack's own
connector is untouched; its replication slot is dropped afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from etl.connector import ConnectClient, normalized
from etl.settings import Settings
from infra import catalog
from infra.pulumi.connector_provider import ConnectorProvider

pytestmark = pytest.mark.integration


@pytest.fixture
def provider_settings(stack: Settings) -> Iterator[Settings]:
    """The stack's settings (same servers, credentials, publication), another connector."""
    settings = Settings(
        **{
            **stack.model_dump(),
            "connector_name": "pulumi-provider-test",
            "slot_name": "pulumi_provider_test",
            "topic_prefix": "pulumitest",
        }
    )
    yield settings
    ConnectClient(settings.connect_url).delete(settings.connector_name)
    drop_slot(settings)


def drop_slot(settings: Settings, timeout_s: float = 60) -> None:
    """Drop the test connector's slot once its walsender has let go of it."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(settings.source_dsn(), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                (settings.slot_name,),
            ).fetchone()
            if row is None:
                return
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (settings.slot_name,))
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"slot {settings.slot_name} still active after delete")
            time.sleep(0.5)


def test_create_diff_update_delete_against_real_connect(provider_settings: Settings) -> None:
    settings = provider_settings
    client = ConnectClient(settings.connect_url)
    name = settings.connector_name
    config = catalog.debezium_connector_config(settings)
    props = {
        "connect_url": settings.connect_url,
        "connector_name": name,
        "config": config,
        "timeout_s": 120.0,
    }
    provider = ConnectorProvider()

    created = provider.create(props)
    assert created.id == name
    assert normalized(client.config(name) or {}, name) == config
    assert client.status(name)["connector"]["state"] == "RUNNING"

    assert provider.diff(name, created.outs, dict(props)).changes is False

    changed = {**props, "config": {**config, "heartbeat.interval.ms": "3000"}}
    diff = provider.diff(name, created.outs, changed)
    assert diff.changes is True and not diff.replaces
    provider.update(name, created.outs, changed)
    assert (client.config(name) or {})["heartbeat.interval.ms"] == "3000"

    renamed = {**changed, "connector_name": "pulumi-provider-test-2"}
    assert provider.diff(name, changed, renamed).replaces == ["connector_name"]

    read = provider.read(name, changed)
    assert read.id == name and read.outs["config"]["heartbeat.interval.ms"] == "3000"

    provider.delete(name, changed)
    assert client.config(name) is None
    assert provider.read(name, changed).id is None
