"""What `pulumi up` would create, per stack file: resources, container hygiene, exposure."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from infra.docker.base import PINNED_BASE
from tests.infra.pulumi_harness import (
    CONTAINER,
    DYNAMIC,
    IMAGE,
    NETWORK,
    REPO,
    VOLUME,
    ProgramRun,
    run_program,
)

pytestmark = pytest.mark.infra

ONE_SHOT = {"source-init", "warehouse-init", "topics-init"}
PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w][\w.-]*$")


def stateful(service: str) -> bool:
    """Services whose data must survive a container replacement."""
    return service in {"source-db", "warehouse-db", "transform"} or service.startswith(
        ("kafka-", "spark-worker-")
    )


@pytest.fixture(params=["dev", "staging"])
def any_run(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(f"{request.param}_run")


def test_dev_stack_creates_exactly_the_expected_resources(dev_run: ProgramRun) -> None:
    registered = Counter(r.typ for r in dev_run.mocks.resources)
    assert registered == {
        NETWORK: 1,
        IMAGE: 3,
        VOLUME: 4,
        CONTAINER: 12,
        DYNAMIC: 5,  # four generated passwords (one per database role) and the connector
        "cdc-etl:index:PostgresServer": 2,
        "cdc-etl:index:KafkaCluster": 1,
        "cdc-etl:index:DebeziumConnect": 1,
        "cdc-etl:index:SparkCluster": 1,
        "cdc-etl:index:PipelineApp": 1,
    }
    assert set(dev_run.containers()) == {
        "source-db",
        "warehouse-db",
        "kafka-1",
        "connect",
        "spark-master",
        "spark-worker-1",
        "source-init",
        "warehouse-init",
        "topics-init",
        "transform",
        "loader-1",
        "dashboard",
    }
    assert sorted(v.inputs["name"] for v in dev_run.mocks.of_type(VOLUME)) == [
        "cdc-dev-etl-state",
        "cdc-dev-kafka-1-data",
        "cdc-dev-source-db-data",
        "cdc-dev-warehouse-db-data",
    ]


def test_staging_scales_brokers_workers_and_loaders(staging_run: ProgramRun) -> None:
    services = set(staging_run.containers())
    assert {s for s in services if s.startswith("kafka-")} == {"kafka-1", "kafka-2", "kafka-3"}
    assert {s for s in services if s.startswith("spark-worker-")} == {
        "spark-worker-1",
        "spark-worker-2",
    }
    assert {s for s in services if s.startswith("loader-")} == {"loader-1", "loader-2"}
    # each replica reports (and is health-checked) under its own name
    assert [staging_run.env(f"loader-{n}")["ETL_INSTANCE"] for n in (1, 2)] == [
        "loader-1",
        "loader-2",
    ]
    assert "ETL_INSTANCE" not in staging_run.env("transform")
    for node in (1, 2, 3):
        props = staging_run.properties(f"kafka-{node}")
        assert props["node.id"] == str(node)
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["controller.quorum.voters"].count("@") == 3
    assert len({staging_run.env(f"kafka-{n}")["KAFKA_CLUSTER_ID"] for n in (1, 2, 3)}) == 1
    assert staging_run.properties("connect")["config.storage.replication.factor"] == "3"
    config = staging_run.connector_inputs()["config"]
    assert config["topic.creation.default.replication.factor"] == "3"
    topics_env = staging_run.env("topics-init")
    assert (topics_env["ETL_REPLICATION_FACTOR"], topics_env["ETL_MIN_INSYNC_REPLICAS"]) == (
        "3",
        "2",
    )
    assert staging_run.outputs["kafkaBootstrapServers"].count(",") == 2


def test_every_image_is_pinned(any_run: ProgramRun) -> None:
    built = any_run.mocks.of_type(IMAGE)
    assert sorted(i.inputs["imageName"].split(":")[0] for i in built) == [
        "cdc-etl-app",
        "cdc-etl-jvm",
        "cdc-etl-postgres",
    ]
    for image in built:
        assert PINNED.match(image.inputs["imageName"])
        # every image from the one pinned Debian base, by digest
        assert image.inputs["build"]["args"]["BASE_IMAGE"] == PINNED_BASE
    for service, container in any_run.containers().items():
        # An image ID (content-addressed), never a moving tag.
        assert container["image"].startswith("sha256:"), service


def test_every_container_has_a_health_check_and_a_restart_policy(any_run: ProgramRun) -> None:
    for service, container in any_run.containers().items():
        health = container["healthcheck"]
        if service in ONE_SHOT:
            assert health["tests"] == ["NONE"], service
            assert (container["restart"], container["attach"], container["mustRun"]) == (
                "no",
                True,
                False,
            ), service
            continue
        assert health["tests"][0] == "CMD" and len(health["tests"]) > 1, service
        assert health["retries"] > 0 and health["interval"], service
        assert container["restart"] == "unless-stopped", service
        assert container["wait"] is True, service


def test_stateful_containers_keep_data_on_named_volumes(any_run: ProgramRun) -> None:
    volume_names = {v.inputs["name"] for v in any_run.mocks.of_type(VOLUME)}
    for service, container in any_run.containers().items():
        mounted = {v["volumeName"] for v in container.get("volumes", [])}
        if stateful(service):
            assert mounted, f"{service} has no volume"
        assert mounted <= volume_names, service


def test_all_containers_share_one_network(any_run: ProgramRun) -> None:
    [network] = any_run.mocks.of_type(NETWORK)
    for service, container in any_run.containers().items():
        [attached] = container["networksAdvanced"]
        assert attached["name"] == network.inputs["name"]
        assert attached["aliases"] == [service]


def published(run: ProgramRun) -> dict[str, list[dict]]:
    return {s: c["ports"] for s, c in run.containers().items() if c.get("ports")}


def test_only_dashboard_connect_and_configured_databases_publish_on_loopback(
    dev_run: ProgramRun, staging_run: ProgramRun
) -> None:
    # dev sets publishDatabases and publishKafka: true, staging does not.
    assert set(published(dev_run)) == {
        "dashboard",
        "connect",
        "source-db",
        "warehouse-db",
        "kafka-1",
    }
    assert dev_run.outputs["kafkaBootstrapServersFromHost"] == "127.0.0.1:16441"
    assert "kafkaBootstrapServersFromHost" not in staging_run.outputs
    assert set(published(staging_run)) == {"dashboard", "connect"}
    for run in (dev_run, staging_run):
        for service, ports in published(run).items():
            assert all(p["ip"] == "127.0.0.1" for p in ports), service
    assert dev_run.outputs["dashboardUrl"].startswith("http://127.0.0.1:")


def test_a_wider_bind_happens_only_when_configured() -> None:
    run = run_program("staging", overrides={"hostIp": "0.0.0.0"})
    ips = {p["ip"] for ports in published(run).values() for p in ports}
    assert ips == {"0.0.0.0"}
    assert run.outputs["connectUrl"].startswith("http://127.0.0.1:")


def test_app_containers_run_the_services_entry_points(dev_run: ProgramRun) -> None:
    """Commands come from `infra.services`: the file spark-submit runs exists in the repository
    (the image's /app), the others are `python -m <module>`, health checks are the services'
    own probes."""
    from infra.pulumi.entrypoints import APP_DIR
    from infra.services import service

    containers = dev_run.containers()
    submit = containers["transform"]["command"][-1]
    script = submit.split()[-1]
    assert submit.startswith("exec spark-submit --master spark://spark-master:")
    assert script.startswith(APP_DIR + "/")
    assert (REPO / script.removeprefix(APP_DIR + "/")).is_file(), script
    assert containers["loader-1"]["command"] == ["python", "-m", *service("loader").module]
    assert containers["dashboard"]["command"] == ["python", "-m", *service("dashboard").module]
    for name, spec in (
        ("transform", "transform"),
        ("loader-1", "loader"),
        ("dashboard", "dashboard"),
    ):
        assert containers[name]["healthcheck"]["tests"][-2:] == ["service", spec]
