"""Passwords stay secret; bad stack config fails with a sentence, before anything is created."""

from __future__ import annotations

import base64
import itertools
import json
import pickle
import uuid

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from etl.topics import transform_task_slots
from infra.catalog import REPLICATION_PASSWORD_ENV
from infra.docker.base import PINNED_BASE
from infra.pulumi.connector_provider import ConnectorProvider
from infra.pulumi.stack_config import (
    Images,
    StackConfig,
    StackConfigError,
    kafka_cluster_id,
    settings_from,
)
from tests.infra.pulumi_harness import CONTAINER, DYNAMIC, ProgramRun, is_secret, run_program

pytestmark = pytest.mark.infra

PINNED = Images(PINNED_BASE, "0.1.0")


def test_dsn_outputs_are_secret_and_addresses_are_not(dev_run: ProgramRun) -> None:
    secret = {name for name, flag in dev_run.secret_outputs.items() if flag}
    assert secret == {"sourceDsn", "warehouseDsn", "sourceDsnInNetwork", "warehouseDsnInNetwork"}
    password = "generated-db-password"  # what the mock's GeneratedPassword returned
    assert password in dev_run.outputs["sourceDsn"]
    for name in set(dev_run.outputs) - secret:
        assert password not in str(dev_run.outputs[name]), name


def test_inputs_holding_a_password_are_sent_as_secrets(dev_run: ProgramRun) -> None:
    for service, container in dev_run.containers().items():
        plain_env = str(
            container["envs"]["value"] if is_secret(container["envs"]) else container["envs"]
        )
        if "generated-" in plain_env and "-password" in plain_env:
            assert is_secret(container["envs"]), service
    # the connector config holds no password: the worker resolves it from its environment
    [connector] = [r for r in dev_run.mocks.of_type(DYNAMIC) if "connector_name" in r.inputs]
    assert "generated-" not in json.dumps(connector.inputs["config"])
    assert is_secret(dev_run.containers()["connect"]["envs"])
    # source-init, warehouse-init, loader-1, dashboard, both databases, connect
    assert sum(1 for c in dev_run.mocks.of_type(CONTAINER) if is_secret(c.inputs["envs"])) >= 7


def test_configured_passwords_replace_generated_ones() -> None:
    chosen = {
        "dbPassword": "chosen-db",
        "loaderPassword": "chosen-loader",
        "readerPassword": "chosen-reader",
        "replicationPassword": "chosen-repl",
    }
    run = run_program("staging", secrets=chosen)
    generated = [r for r in run.mocks.of_type(DYNAMIC) if "length" in r.inputs]
    assert generated == []
    assert ":chosen-db@" in run.outputs["sourceDsnInNetwork"]
    password_ref = "${env:" + REPLICATION_PASSWORD_ENV + "}"
    assert run.connector_inputs()["config"]["database.password"] == password_ref
    assert run.env("connect")[REPLICATION_PASSWORD_ENV] == "chosen-repl"
    assert run.env("loader-1")["ETL_LOADER_PASSWORD"] == "chosen-loader"
    assert "ETL_DB_PASSWORD" not in run.env("loader-1")
    assert run.env("dashboard")["ETL_READER_PASSWORD"] == "chosen-reader"
    assert run.secret_outputs["sourceDsnInNetwork"] is True


def test_generated_passwords_are_kept_in_state_as_secret_outputs(dev_run: ProgramRun) -> None:
    generated = [r for r in dev_run.mocks.of_type(DYNAMIC) if "length" in r.inputs]
    assert sorted(r.name for r in generated) == [
        "db-password",
        "loader-password",
        "reader-password",
        "replication-password",
    ]
    assert all(r.inputs["length"] >= 24 for r in generated)


def test_the_connector_provider_survives_pulumis_serialisation() -> None:
    """The engine ships the provider to its own process with dill; it must come back whole."""
    restored = dill.loads(base64.b64decode(serialize_provider(ConnectorProvider())))
    assert isinstance(restored, ConnectorProvider)
    assert pickle.DEFAULT_PROTOCOL >= 4


@pytest.mark.parametrize("ref", ["debian", "debian:latest", "library/debian", "x/y:latest"])
def test_an_unpinned_base_image_is_refused(ref: str) -> None:
    with pytest.raises(StackConfigError, match=r"baseImage.*not pinned"):
        Images(ref, "0.1.0")


def test_too_few_spark_cores_for_the_real_time_transform_name_the_keys() -> None:
    settings = settings_from({})  # real-time mode: one task slot per source partition
    with pytest.raises(StackConfigError, match="sparkWorkerCores"):
        StackConfig(settings=settings, images=PINNED, name_prefix="t", spark_worker_cores=1)
    sized = StackConfig(settings=settings, images=PINNED, name_prefix="t", spark_workers=2)
    assert sized.worker_cores * 2 >= transform_task_slots(settings)


def test_replication_factor_needs_enough_brokers() -> None:
    settings = settings_from({"replication_factor": 3, "min_insync_replicas": 2})
    with pytest.raises(StackConfigError, match="needs at least 3 brokers"):
        StackConfig(settings=settings, images=PINNED, name_prefix="t", brokers=2)
    assert StackConfig(settings=settings, images=PINNED, name_prefix="t", brokers=3).brokers == 3


def test_unknown_settings_keys_are_refused() -> None:
    with pytest.raises(StackConfigError, match="replication_factr"):
        settings_from({"replication_factr": 3})


def test_stack_settings_ignore_the_shells_etl_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_PORT_BASE", "20000")
    monkeypatch.setenv("ETL_TOPIC_PREFIX", "from-shell")
    settings = settings_from({"port_base": 16430})
    assert (settings.port("kafka"), settings.topic_prefix) == (16432, "cdc")


def test_kafka_cluster_id_is_stable_and_well_formed() -> None:
    first, again, other = (
        kafka_cluster_id("cdc-dev"),
        kafka_cluster_id("cdc-dev"),
        kafka_cluster_id("cdc-staging"),
    )
    assert first == again != other
    assert len(first) == 22 and len(base64.urlsafe_b64decode(first + "==")) == 16


def test_kraft_cluster_ids_never_start_with_a_dash() -> None:
    """`kafka-storage format -t -xyz` reads the id as an option; one UUID in 64 encodes so."""
    seeds = (f"stack-{n}" for n in itertools.count())
    dashed = next(
        s for s in seeds if _starts_with_dash(uuid.uuid5(uuid.NAMESPACE_URL, f"cdc-etl/{s}"))
    )
    cluster_id = kafka_cluster_id(dashed)
    assert not cluster_id.startswith("-") and cluster_id == kafka_cluster_id(dashed)
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert kafka_cluster_id("cdc-dev") == _encoded_text(
        uuid.uuid5(uuid.NAMESPACE_URL, "cdc-etl/cdc-dev")
    ), "ids of existing stacks stay what they were"


def _encoded_text(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def _starts_with_dash(value: uuid.UUID) -> bool:
    return _encoded_text(value).startswith("-")
