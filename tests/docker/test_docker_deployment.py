"""The Docker deployment for real: the dev stack's Pulumi inputs applied through the Docker Engine.

No Pulumi CLI can be installed here, so `tests.infra.docker_apply.ApplyingMocks` stands in for
the engine and the docker provider (see its docstring): the program runs unchanged, and every
image, network, volume, container and the connector it declares is created for real, in
dependency order. Then, against the running containers: every health check passes, orders
seeded through the published source port reach the warehouse (`etl reconcile` over the
published ports matches), a loader killed is restarted by its restart policy and the pipeline
goes on, and the live broker and connector configs are the catalog's. Teardown removes
containers, the network and the volumes (images stay: they are the build cache).

Images are built from the pinned Debian base when it can be pulled, else from a base made with
`debootstrap` (`infra.docker.base.ensure_base`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from docker import DockerClient

from etl.settings import PASSWORD_FIELDS, Settings, settings_environment
from infra import catalog
from infra.docker.base import ensure_base
from infra.pulumi.components.kafka import broker_properties
from infra.pulumi.passwords import password_names
from infra.pulumi.stack_config import with_passwords
from tests.docker.engine import docker_engine
from tests.fixtures.stack import etl_cli
from tests.infra.docker_apply import ApplyingMocks
from tests.infra.pulumi_harness import (
    REPO,
    ProgramRun,
    parse_properties,
    run_program,
    stack_file,
    stack_settings,
)

pytestmark = pytest.mark.docker

#: CI applies the dev stack; `ETL_DOCKER_TEST_STACK=staging` applies staging's shape by hand (its
#: databases and brokers published too, so the host can seed and reconcile).
STACK = os.environ.get("ETL_DOCKER_TEST_STACK", "dev")
PREFIX = f"cdc-ci-{STACK}"
PUBLISH = {"publishDatabases": True, "publishKafka": True}
#: Non-default topic names and partitions: they must reach the connector, the brokers, the
#: transform and the loaders alike (one `Settings`), or nothing would reconcile.
SETTINGS = {
    "topic_prefix": "dockercdc",
    "curated_topic_prefix": "dockercurated",
    "topic_partitions": 2,
}
PASSWORDS = {
    "dbPassword": "docker-test-db",
    "loaderPassword": "docker-test-loader",
    "readerPassword": "docker-test-reader",
    "replicationPassword": "docker-test-repl",
}
ORDERS = 300


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerClient]:
    with docker_engine(REPO / ".etl" / "logs") as client:
        yield client


@pytest.fixture(scope="module")
def deployed(engine: DockerClient) -> Iterator[tuple[ProgramRun, ApplyingMocks, dict[str, float]]]:
    figures: dict[str, float] = {}
    started = time.monotonic()
    base = ensure_base(engine)
    figures["base_s"] = time.monotonic() - started
    mocks = ApplyingMocks()
    started = time.monotonic()
    try:
        run = run_program(
            STACK,
            overrides={
                "baseImage": base,
                "namePrefix": PREFIX,
                "settings": {**stack_file(STACK)["cdc-etl:settings"], **SETTINGS},
                **PUBLISH,
            },
            secrets=PASSWORDS,
            mocks=mocks,
            stage_images=True,
        )
        figures["apply_s"] = time.monotonic() - started
        yield run, mocks, figures
    finally:
        errors = mocks.destroy()
        left = engine.containers.list(all=True, filters={"label": f"io.cdc-etl.stack={PREFIX}"})
        volumes = [v.name for v in engine.volumes.list() if v.name.startswith(f"{PREFIX}-")]
        print(f"teardown: {len(mocks.created)} objects removed, errors={errors}")
        assert not errors and not left and not volumes, (errors, left, volumes)


def deployed_settings() -> Settings:
    """The settings the deployment runs with (the stack file, SETTINGS, the passwords)."""
    return with_passwords(
        stack_settings(STACK, **SETTINGS),
        **{field: PASSWORDS[password_names(field)[0]] for field in PASSWORD_FIELDS},
    )


def host_env(run: ProgramRun) -> dict[str, str]:
    """`etl` on the host against the published ports, with the deployment's settings."""
    home = REPO / ".etl" / "docker-test-home"
    home.mkdir(parents=True, exist_ok=True)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ETL_")}
    return {
        **inherited,
        **settings_environment(deployed_settings(), skip=frozenset({"home", "lib_dir_override"})),
        "ETL_KAFKA_BOOTSTRAP_SERVERS": run.outputs["kafkaBootstrapServersFromHost"],
        "ETL_HOME": str(home),
    }


def dashboard_status(url: str, timeout_s: float) -> dict:
    """The dashboard's /api/status once it says healthy (the last answer if it never does)."""
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/api/status", timeout=30)
        body = response.json()
        if response.status_code == 200 and body.get("healthy"):
            break
        time.sleep(2)
    return body


def reconcile_until_match(env: dict[str, str], timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    result: dict = {}
    while time.monotonic() < deadline:
        done = etl_cli("reconcile", "--wait", "30", "--json", check=False, env=env)
        result = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
        if done.returncode == 0 and result.get("match"):
            return result
        time.sleep(5)
    raise AssertionError(f"source and warehouse never matched: {json.dumps(result)[:2000]}")


def test_the_dev_stack_runs_heals_and_matches(deployed, engine: DockerClient) -> None:  # type: ignore[no-untyped-def]
    run, mocks, figures = deployed
    images = {
        tag: engine.images.get(tag).attrs["Size"] / 2**20
        for tag in (r.inputs["imageName"] for r in run.mocks.of_type("docker:index/image:Image"))
    }
    print(
        "figures: "
        + json.dumps(
            {
                **{k: round(v, 1) for k, v in figures.items()},
                "image_build_s": {
                    n: round(s, 1) for n, s in mocks.seconds.items() if n.endswith("-image")
                },
                "image_size_mib": {k: round(v) for k, v in images.items()},
            }
        )
    )

    # Every service container is running and healthy; the one-shot tasks exited 0.
    containers = engine.containers.list(all=True, filters={"label": f"io.cdc-etl.stack={PREFIX}"})
    by_service = {c.labels["io.cdc-etl.service"]: c for c in containers}
    assert set(by_service) == set(run.containers())
    for service, container in by_service.items():
        state = container.attrs["State"]
        if service in ("source-init", "warehouse-init", "topics-init"):
            assert (state["Status"], state["ExitCode"]) == ("exited", 0), service
        else:
            assert state["Health"]["Status"] == "healthy", (service, state["Health"])

    # The transform runs on the Spark workers, not in a local master of its driver.
    worker_logs = "".join(
        c.logs().decode(errors="replace")
        for s, c in by_service.items()
        if s.startswith("spark-worker-")
    )
    assert "Asked to launch executor" in worker_logs, worker_logs[-2000:]

    # The dashboard container sees every service healthy, the transform's and loaders' progress
    # included (their files on the shared state volume).
    dashboard = dashboard_status(run.outputs["dashboardUrl"], timeout_s=120)
    states = {c["name"]: c["state"] for c in dashboard["components"]}
    assert dashboard["healthy"], states
    assert states["transform"] == states["loader"] == "healthy", states

    env = host_env(run)
    etl_cli("seed", "--orders", str(ORDERS), "--json", env=env)
    first = reconcile_until_match(env, timeout_s=420)
    assert first["match"] and first["tables"], first

    # A loader dies (its process killed, as a crash would): the restart policy brings it back,
    # and changes made meanwhile still arrive.
    loader = by_service["loader-1"]
    restarts = loader.attrs["RestartCount"]
    os.kill(loader.attrs["State"]["Pid"], signal.SIGKILL)
    etl_cli("seed", "--orders", "50", "--seed", "7", "--json", env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        loader.reload()
        if loader.attrs["RestartCount"] > restarts and loader.attrs["State"].get("Running"):
            break
        time.sleep(1)
    assert loader.attrs["RestartCount"] > restarts, loader.attrs["State"]
    mocks.wait_healthy(loader.id, 180)
    second = reconcile_until_match(env, timeout_s=300)
    assert second["match"]


def test_running_configs_are_the_catalogs(deployed, engine: DockerClient) -> None:  # type: ignore[no-untyped-def]
    """Single source, on containers that ran: the broker's live properties file and the live
    connector config are what `infra.catalog` computes for these settings."""
    run, _mocks, _figures = deployed
    settings = deployed_settings()
    brokers = sorted(s for s in run.containers() if s.startswith("kafka-"))
    for node_id, service in enumerate(brokers, start=1):
        [broker] = engine.containers.list(
            filters={"label": [f"io.cdc-etl.stack={PREFIX}", f"io.cdc-etl.service={service}"]}
        )
        live = broker.exec_run(["cat", "/tmp/service.properties"]).output.decode()
        expected = broker_properties(settings, node_id, len(brokers), "127.0.0.1")
        assert parse_properties(live) == expected

    from etl.connector import ConnectClient

    connect = ConnectClient(run.outputs["connectUrl"])
    config = connect.config(settings.connector_name)
    assert config is not None
    want = catalog.debezium_connector_config(settings, db_host="source-db")
    assert {k: config[k] for k in want} == want
