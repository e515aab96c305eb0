"""`PipelineApp`: everything that runs from the project's own image besides Spark itself.

- `source-init`, `topics-init`: one-shot tasks (see `infra.pulumi.init_tasks` for why migrations
  run this way); `pulumi up` waits for them and fails if one fails;
- `transform`: the Spark driver, `spark-submit` to the standalone master (client mode);
- `loader-1..N`: warehouse loaders in one consumer group, so partitions spread across them;
- `dashboard`: the only app port published, on the deployment's host address.

Every container's `ETL_*` environment is `Settings` itself (`container_env.settings_env`), so
topic names, group ids and batch sizes are the ones the local runner uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra.pulumi.container_env import NetworkHosts, app_env, env_list
from infra.pulumi.containers import (
    NO_HEALTHCHECK,
    ContainerSpec,
    HealthCheck,
    ServiceArgs,
    service_container,
)
from infra.pulumi.entrypoints import (
    DASHBOARD_COMMAND,
    DEPENDENCIES_PROBE,
    IMAGE_STATE_DIR,
    LOADER_COMMAND,
    SPARK_DRIVER_UI_PORT,
    http_probe,
    source_init_command,
    topics_init_command,
    transform_job_command,
)
from infra.pulumi.stack_config import with_passwords

TRANSFORM_HOST = "transform"


@dataclass(frozen=True)
class PipelineAppArgs(ServiceArgs):
    hosts: NetworkHosts
    db_password: pulumi.Input[str]
    replication_password: pulumi.Input[str]
    spark_master_url: str
    #: the volume shared with the Spark workers (streaming checkpoints)
    state_volume_name: pulumi.Input[str]
    loaders: int = 1
    #: servers that must be healthy first (databases, brokers)
    databases: Sequence[pulumi.Resource] = field(default_factory=tuple)
    kafka: Sequence[pulumi.Resource] = field(default_factory=tuple)
    spark: Sequence[pulumi.Resource] = field(default_factory=tuple)


class PipelineApp(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: PipelineAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cdc-etl:index:PipelineApp", name, None, opts)
        self._args = args
        self._prefix = name
        settings, hosts = args.settings, args.hosts
        self.source_init = self._container(
            "source-init",
            source_init_command(),
            hosts.source_db,
            NO_HEALTHCHECK,
            one_shot=True,
            depends_on=args.databases,
        )
        self.topics_init = self._container(
            "topics-init",
            topics_init_command(),
            hosts.kafka_brokers[0],
            NO_HEALTHCHECK,
            one_shot=True,
            depends_on=args.kafka,
        )
        self.transform = self._container(
            TRANSFORM_HOST,
            transform_job_command(
                args.spark_master_url, TRANSFORM_HOST, settings.spark_driver_memory
            ),
            hosts.kafka_brokers[0],
            http_probe(f"http://127.0.0.1:{SPARK_DRIVER_UI_PORT}/"),
            volumes=[(args.state_volume_name, IMAGE_STATE_DIR)],
            depends_on=[self.topics_init, *args.spark],
        )
        self.loaders = [
            self._container(
                f"loader-{n}",
                list(LOADER_COMMAND),
                hosts.warehouse_db,
                DEPENDENCIES_PROBE,
                depends_on=[self.topics_init, *args.databases],
            )
            for n in range(1, args.loaders + 1)
        ]
        port = settings.port("dashboard")
        self.dashboard = self._container(
            "dashboard",
            list(DASHBOARD_COMMAND),
            "0.0.0.0",
            http_probe(f"http://127.0.0.1:{port}/healthz"),
            published_ports=[port],
            depends_on=[self.source_init, self.topics_init],
        )
        self.dashboard_url = args.deployment.host_url(port)
        self.register_outputs({"dashboardUrl": self.dashboard_url})

    def _container(
        self,
        service: str,
        command: list[str],
        bind_host: str,
        probe: tuple[str, ...],
        *,
        one_shot: bool = False,
        volumes: Sequence[tuple[pulumi.Input[str], str]] = (),
        published_ports: Sequence[int] = (),
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> docker.Container:
        args = self._args
        envs = pulumi.Output.all(
            pulumi.Output.secret(args.db_password), pulumi.Output.secret(args.replication_password)
        ).apply(
            lambda pws: env_list(
                app_env(
                    with_passwords(args.settings, db_password=pws[0], replication_password=pws[1]),
                    args.hosts,
                    bind_host=bind_host,
                )
            )
        )
        return service_container(
            f"{self._prefix}-{service}",
            ContainerSpec(
                service=service,
                image=args.image,
                command=command,
                envs=envs,
                healthcheck=HealthCheck(probe),
                volumes=volumes,
                published_ports=published_ports,
                one_shot=one_shot,
            ),
            args.deployment,
            pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
