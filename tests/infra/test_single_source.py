"""One source of truth: what the containers get equals what the local runner uses.

Each comparison rebuilds the expected values from `infra.catalog` / `infra.local.services` for the
same settings, and decodes the container env the way the image itself does (the `jvm` image
writes `SERVICE_PROPERTIES` as its properties file), so a wrong value fails here, not in a
container at night.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.settings import DB_ROLES, PASSWORD_FIELDS, DbRole, Settings, connection_env
from etl.tables import CAPTURED_TABLES
from infra import catalog
from infra.local import services as local
from infra.pulumi.passwords import password_names
from tests.infra.pulumi_harness import (
    ProgramRun,
    parse_properties,
    run_program,
    stack_settings,
)

pytestmark = pytest.mark.infra

#: Broker/worker properties that name the host or path a process runs on; everything else must
#: be byte-for-byte the local runner's.
KAFKA_PLACEMENT = {
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",  # a published stack adds its host listener
    "controller.quorum.voters",
    "log.dirs",
}
CONNECT_PLACEMENT = {"bootstrap.servers", "listeners", "rest.advertised.host.name", "plugin.path"}
PASSWORDS = {
    "dbPassword": "db-pass-from-config",
    "loaderPassword": "loader-pass-from-config",
    "readerPassword": "reader-pass-from-config",
    "replicationPassword": "repl-pass-from-config",
}


def read_properties(path: Path) -> dict[str, str]:
    return parse_properties(path.read_text())


def local_settings(stack: str, tmp_path: Path) -> Settings:
    return stack_settings(stack, home=tmp_path)


@pytest.fixture(scope="module")
def configured_run() -> ProgramRun:
    return run_program("dev", secrets=PASSWORDS)


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_broker_env_decodes_to_the_catalog_and_local_properties(
    stack: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run: ProgramRun = request.getfixturevalue(f"{stack}_run")
    settings = stack_settings(stack)
    brokers = sorted(s for s in run.containers() if s.startswith("kafka-"))
    voters = ",".join(
        f"{n}@kafka-{n}:{settings.port('kafka_controller')}" for n in range(1, len(brokers) + 1)
    )
    local_props = read_properties(local.kafka_config_path(local_settings(stack, tmp_path)))
    for node_id, service in enumerate(brokers, start=1):
        seen = run.properties(service)
        assert seen == catalog.kafka_broker_properties(
            settings,
            node_id=node_id,
            host=service,
            port=settings.port("kafka"),
            controller_port=settings.port("kafka_controller"),
            quorum_voters=voters,
            log_dirs="/var/lib/kafka/data",
            # dev publishes each broker's host listener on loopback, port_base + 10 + node id
            host_listener=("127.0.0.1", settings.port_base + 10 + node_id)
            if stack == "dev"
            else None,
        )
        assert set(seen) == set(local_props)
        differing = {k for k in seen if seen[k] != local_props[k]}
        assert differing <= KAFKA_PLACEMENT | {"node.id"}, differing


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_connect_env_decodes_to_the_local_worker_properties(
    stack: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run: ProgramRun = request.getfixturevalue(f"{stack}_run")
    seen = run.properties("connect")
    local.connect_program(local_settings(stack, tmp_path))
    local_props = read_properties(tmp_path / "conf" / "connect" / "connect-distributed.properties")
    assert set(seen) == set(local_props)
    differing = {k for k in local_props if seen[k] != local_props[k]}
    assert differing <= CONNECT_PLACEMENT, differing
    assert seen["bootstrap.servers"] == run.outputs["kafkaBootstrapServers"]
    assert seen["listeners"] == f"http://connect:{run.outputs['connectUrl'].rsplit(':', 1)[1]}"


def test_connector_config_is_the_catalogs_with_the_network_host(configured_run: ProgramRun) -> None:
    settings = stack_settings("dev", replication_password=PASSWORDS["replicationPassword"])
    inputs = configured_run.connector_inputs()
    assert inputs["connector_name"] == settings.connector_name
    assert inputs["config"] == catalog.debezium_connector_config(settings, db_host="source-db")
    local_config = catalog.debezium_connector_config(settings)  # what `etl up` PUTs
    differing = {k for k in local_config if local_config[k] != inputs["config"][k]}
    assert differing == {"database.hostname"}


def container_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`Settings()` as the project image computes it from its environment."""
    import os

    for key in [k for k in os.environ if k.startswith("ETL_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


#: the database roles whose passwords each project-image container gets (`Service.db_roles`)
CONTAINER_ROLES: dict[str, tuple[DbRole, ...]] = {
    "source-init": ("admin", "replication", "reader"),
    "warehouse-init": ("admin", "loader", "reader"),
    "topics-init": (),
    "transform": (),
    "loader-1": ("loader", "reader"),
    "dashboard": ("reader",),
}


def test_app_containers_see_the_same_settings_and_topic_names(
    configured_run: ProgramRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    # where the container sits: its state dir and the network names of its peers
    local_only = {
        "home",
        "instance",  # loader-1's replica name
        "lib_dir_override",
        "bind_host",
        "source_db_host",
        "warehouse_db_host",
        "connect_host",
        "kafka_bootstrap_servers",
    }
    for service, roles in CONTAINER_ROLES.items():
        # the stack's settings with this container's passwords only
        expected = stack_settings(
            "dev", **{DB_ROLES[r][1]: PASSWORDS[password_names(DB_ROLES[r][1])[0]] for r in roles}
        )
        env = configured_run.env(service)
        seen = container_settings(env, monkeypatch)
        dump, want = seen.model_dump(), expected.model_dump()
        for field in set(want) - local_only:
            assert str(dump[field]) == str(want[field]) or (
                dump[field].get_secret_value() == want[field].get_secret_value()
            ), (service, field)
        assert sorted(f for f in PASSWORD_FIELDS if dump[f] is not None) == sorted(
            DB_ROLES[r][1] for r in roles
        ), service
        assert [seen.cdc_topic(t) for t in CAPTURED_TABLES] == [
            expected.cdc_topic(t) for t in CAPTURED_TABLES
        ]
        assert seen.pipeline_topics() == expected.pipeline_topics()
        assert seen.connect_internal_topics() == expected.connect_internal_topics()
        # the `etl env` variable names, with values for the Docker network
        assert set(env) >= {"ETL_SOURCE_DSN", "ETL_WAREHOUSE_DSN", "ETL_KAFKA_BOOTSTRAP"}
        assert {k for k in env if k in connection_env(expected)} >= {
            "ETL_SOURCE_DSN",
            "ETL_WAREHOUSE_DSN",
            "ETL_KAFKA_BOOTSTRAP",
            "ETL_CONNECT_URL",
        }
        assert env["ETL_WAREHOUSE_DSN"] == expected.warehouse_dsn(host="warehouse-db")
        # Settings() inside the container reaches every peer by its network name
        assert seen.source_dsn() == expected.source_dsn(host="source-db")
        assert seen.warehouse_dsn() == expected.warehouse_dsn(host="warehouse-db")
        assert seen.kafka_bootstrap == env["ETL_KAFKA_BOOTSTRAP"]
        assert seen.connect_url == env["ETL_CONNECT_URL"]


def test_one_shot_tasks_reach_their_server_through_settings(
    configured_run: ProgramRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init_tasks call `prepare_source(settings)` / `ensure_topics(settings, ...)` unchanged."""
    source = container_settings(configured_run.env("source-init"), monkeypatch)
    assert source.source_dsn() == configured_run.outputs["sourceDsnInNetwork"]
    topics = container_settings(configured_run.env("topics-init"), monkeypatch)
    assert topics.kafka_bootstrap in configured_run.outputs["kafkaBootstrapServers"].split(",")
    transform = container_settings(configured_run.env("transform"), monkeypatch)
    assert transform.kafka_bootstrap in configured_run.outputs["kafkaBootstrapServers"].split(",")


def test_postgres_gucs_are_the_catalogs(dev_run: ProgramRun) -> None:
    settings = stack_settings("dev")
    for role in ("source", "warehouse"):
        command = dev_run.containers()[f"{role}-db"]["command"]
        gucs = dict(arg.split("=", 1) for arg in command[2::2])
        assert command[0] == "postgres" and set(command[1::2]) == {"-c"}
        assert gucs == catalog.postgres_server_settings(settings, role)
        assert dev_run.env(f"{role}-db")["PGPORT"] == str(settings.port(f"{role}_db"))


def test_stack_outputs_use_the_settings_ports(dev_run: ProgramRun) -> None:
    settings = stack_settings("dev")
    assert dev_run.outputs["kafkaBootstrapServers"] == f"kafka-1:{settings.port('kafka')}"
    assert dev_run.outputs["connectUrl"] == f"http://127.0.0.1:{settings.port('connect')}"
    assert dev_run.outputs["dashboardUrl"] == f"http://127.0.0.1:{settings.port('dashboard')}"
    assert json.dumps(dev_run.outputs)  # plain, serialisable values
