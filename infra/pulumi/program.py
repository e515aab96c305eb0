"""Wire the components into one deployment: `deploy(config)` returns the stack outputs.

Kept out of `__main__.py` so tests (and other programs) can call it once per stack config.
Order of creation follows dependencies only: images and the network, databases and brokers in
parallel, then the one-shot tasks, Spark, the app containers, and last the connector (it needs
the source database's replication role and publication, made by `source-init`).

Every image is the project's own, built from its staged context (`infra.docker.contexts`) on one
pinned Debian base; containers run the built image's id, so a rebuild replaces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_docker as docker

from infra.pulumi.components import (
    DebeziumConnect,
    DebeziumConnectArgs,
    KafkaCluster,
    KafkaClusterArgs,
    PipelineApp,
    PipelineAppArgs,
    PostgresServer,
    PostgresServerArgs,
    SparkCluster,
    SparkClusterArgs,
)
from infra.pulumi.container_env import NetworkHosts
from infra.pulumi.containers import Deployment
from infra.pulumi.passwords import stack_passwords
from infra.pulumi.stack_config import StackConfig, with_passwords


def build_image(cfg: StackConfig, image: str, context: Path) -> pulumi.Output[str]:
    """One of the project's images (infra/docker/<image>), built from its staged context on the
    stack's base image and never pushed; returns what containers run: the built image's id
    (a local image's repo digest), so a rebuild replaces the containers."""
    built = docker.Image(
        f"{image}-image",
        image_name=cfg.images.name(image),
        build=docker.DockerBuildArgs(
            context=str(context),
            dockerfile=str(context / "Dockerfile"),
            args={"BASE_IMAGE": cfg.images.base},
        ),
        skip_push=True,
    )
    return built.repo_digest


def deploy(cfg: StackConfig, contexts: Mapping[str, Path]) -> dict[str, pulumi.Input[object]]:
    """`contexts`: image name -> build context (`infra.docker.contexts.stage` or `.plan`)."""
    settings = cfg.settings
    network = docker.Network("network", name=f"{cfg.name_prefix}-net", driver="bridge")
    deployment = Deployment(cfg.name_prefix, network.name, cfg.host_ip)
    postgres_image = build_image(cfg, "postgres", contexts["postgres"])
    jvm_image = build_image(cfg, "jvm", contexts["jvm"])
    app_image = build_image(cfg, "app", contexts["app"])

    passwords = stack_passwords()
    db_password = passwords["db_password"]

    databases = {
        role: PostgresServer(
            f"{role}-db",
            PostgresServerArgs(
                role=role,
                settings=settings,
                image=postgres_image,
                deployment=deployment,
                password=db_password,
                publish=cfg.publish_databases,
            ),
        )
        for role in ("source", "warehouse")
    }
    kafka = KafkaCluster(
        "kafka",
        KafkaClusterArgs(
            settings=settings,
            image=jvm_image,
            deployment=deployment,
            cluster_id=cfg.kafka_cluster_id,
            brokers=cfg.brokers,
            publish=cfg.publish_kafka,
        ),
    )
    hosts = NetworkHosts(kafka_brokers=kafka.hosts)
    spark = SparkCluster(
        "spark",
        SparkClusterArgs(
            image=app_image,
            deployment=deployment,
            workers=cfg.spark_workers,
            worker_cores=cfg.worker_cores,
            worker_memory=cfg.spark_worker_memory,
        ),
    )
    pipeline = PipelineApp(
        "app",
        PipelineAppArgs(
            settings=settings,
            image=app_image,
            deployment=deployment,
            hosts=hosts,
            passwords=passwords,
            spark_master_url=spark.master_url,
            state_volume_name=spark.state_volume.name,
            loaders=cfg.loaders,
            databases=[db.container for db in databases.values()],
            kafka=kafka.containers,
            spark=[spark.master, *spark.workers],
        ),
    )
    connect = DebeziumConnect(
        "connect",
        DebeziumConnectArgs(
            settings=settings,
            image=jvm_image,
            deployment=deployment,
            bootstrap_servers=kafka.bootstrap_servers,
            source_db_host=hosts.source_db,
            replication_password=passwords["replication_password"],
            connector_depends_on=[pipeline.source_init, *kafka.containers],
            kafka=kafka.containers,
        ),
    )

    return stack_outputs(cfg, hosts, db_password, network, kafka, connect, pipeline)


def stack_outputs(
    cfg: StackConfig,
    hosts: NetworkHosts,
    db_password: pulumi.Output[str],
    network: docker.Network,
    kafka: KafkaCluster,
    connect: DebeziumConnect,
    pipeline: PipelineApp,
) -> dict[str, pulumi.Input[object]]:
    """DSNs are secret outputs (they hold the password); the rest are plain addresses."""
    settings = cfg.settings

    def dsns(password: str) -> dict[str, str]:
        s = with_passwords(settings, db_password=password)
        out = {
            "sourceDsnInNetwork": s.source_dsn(host=hosts.source_db),
            "warehouseDsnInNetwork": s.warehouse_dsn(host=hosts.warehouse_db),
        }
        if cfg.publish_databases:
            out |= {
                "sourceDsn": s.source_dsn(host=cfg.host_ip),
                "warehouseDsn": s.warehouse_dsn(host=cfg.host_ip),
            }
        return out

    # Output.secret's stub wants Output[Never]; the value is an Output[str] (a secret already).
    all_dsns = pulumi.Output.secret(db_password).apply(dsns)  # type: ignore[arg-type]
    names = ["sourceDsnInNetwork", "warehouseDsnInNetwork"]
    if cfg.publish_databases:
        names += ["sourceDsn", "warehouseDsn"]
    return {
        **{name: pulumi.Output.secret(all_dsns[name]) for name in names},
        "kafkaBootstrapServers": kafka.bootstrap_servers,
        **(
            {"kafkaBootstrapServersFromHost": kafka.host_bootstrap_servers}
            if cfg.publish_kafka
            else {}
        ),
        "connectUrl": connect.url,
        "connectUrlInNetwork": connect.network_url,
        "connectorName": connect.connector.connector_name,
        "dashboardUrl": pipeline.dashboard_url,
        "networkName": network.name,
    }
