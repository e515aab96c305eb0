"""`PipelineApp`: everything that runs from the project's own image besides Spark itself.

- `source-init`, `warehouse-init`, `topics-init`: one-shot tasks (see `infra.pulumi.init_tasks`
  for why migrations run this way); `pulumi up` waits for them and fails if one fails;
- one container per project service of `infra.services` (transform, loader, dashboard), its
  command derived from the service's entry point: a Spark job is `spark-submit`ted to the
  standalone master (client mode, the driver in its container); a service that scales out runs
  `loaders` times (`loader-1..N`, one consumer group); a service with a port publishes it on the
  deployment's host address. Each container's health check is the service's own probe.

The services share one named volume at ETL_HOME (`etl-state`, also the Spark workers'): the
transform's and loaders' progress files land in `ETL_HOME/run` as they do locally, so the
dashboard, `etl status` and each container's health check read them unchanged. A volume rather
than Kafka or the warehouse: the progress files are already the contract every reader uses, and
the deployment is one Docker host (one network) by design. Each loader replica is named
(`ETL_INSTANCE=loader-2`) and writes its own file, so its health check is its own and the
dashboard's loader is healthy only while every replica reports.

Every container's `ETL_*` environment is `Settings` itself (`container_env.settings_env`), so
topic names, group ids and batch sizes are the ones the local runner uses. Of the database
passwords a container gets only its roles' (`Service.db_roles`, as locally): the loader its
own (writes `dw` only) and the reader's, the dashboard the reader's, the transform none; the
set-up tasks the admin's and those of the roles they create.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from etl.settings import DB_ROLES, DbRole
from etl.source_db import SOURCE_ROLE_GROUPS
from etl.warehouse_db import WAREHOUSE_ROLE_GROUPS
from infra.pulumi.container_env import NetworkHosts, app_env, env_list
from infra.pulumi.containers import (
    NO_HEALTHCHECK,
    ContainerSpec,
    HealthCheck,
    ServiceArgs,
    service_container,
)
from infra.pulumi.entrypoints import (
    IMAGE_STATE_DIR,
    module_command,
    service_probe,
    source_init_command,
    spark_submit_command,
    topics_init_command,
    warehouse_init_command,
)
from infra.pulumi.stack_config import with_passwords
from infra.services import Service, project_services


@dataclass(frozen=True)
class PipelineAppArgs(ServiceArgs):
    hosts: NetworkHosts
    #: every role's password by `Settings` field name (`passwords.stack_passwords`), secrets
    passwords: Mapping[str, pulumi.Input[str]]
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
            db_roles=("admin", *SOURCE_ROLE_GROUPS),
        )
        self.warehouse_init = self._container(
            "warehouse-init",
            warehouse_init_command(),
            hosts.warehouse_db,
            NO_HEALTHCHECK,
            one_shot=True,
            depends_on=args.databases,
            db_roles=("admin", *WAREHOUSE_ROLE_GROUPS),
        )
        self.topics_init = self._container(
            "topics-init",
            topics_init_command(),
            hosts.kafka_brokers[0],
            NO_HEALTHCHECK,
            one_shot=True,
            depends_on=args.kafka,
        )
        #: service name -> its containers (N for a service that scales out)
        self.services: dict[str, list[docker.Container]] = {
            spec.name: self._service_containers(spec) for spec in project_services()
        }
        self.dashboard_url = args.deployment.host_url(settings.port("dashboard"))
        self.register_outputs({"dashboardUrl": self.dashboard_url})

    def _service_containers(self, spec: Service) -> list[docker.Container]:
        args = self._args
        setup = [
            self.source_init,
            self.warehouse_init,
            self.topics_init,
            *args.databases,
            *args.kafka,
        ]
        replicas = args.loaders if spec.scales_out else 1
        containers = []
        for n in range(1, replicas + 1):
            host = f"{spec.name}-{n}" if spec.scales_out else spec.name
            command = (
                spark_submit_command(
                    spec, args.spark_master_url, host, args.settings.spark_driver_memory
                )
                if spec.spark_job
                else module_command(spec)
            )
            port = spec.port(args.settings)
            containers.append(
                self._container(
                    host,
                    command,
                    # a listener binds every interface of its container; others name themselves
                    "0.0.0.0" if port else host,
                    service_probe(spec),
                    # ETL_HOME on the one state volume: a Spark job's checkpoints (one
                    # filesystem for the driver and the executors) and every service's progress
                    # file, which the dashboard reads (see module docstring)
                    volumes=[(args.state_volume_name, IMAGE_STATE_DIR)],
                    published_ports=[port] if port else [],
                    depends_on=[*setup, *args.spark] if spec.spark_job else setup,
                    # A Spark job reports progress only once the executors run and the query has
                    # started: about 90 s measured here, so give it room before it counts.
                    slow_start=spec.spark_job,
                    # a replica's progress file (and so its health) is its own
                    instance=host if spec.scales_out else None,
                    db_roles=spec.db_roles,
                )
            )
        return containers

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
        slow_start: bool = False,
        instance: str | None = None,
        db_roles: tuple[DbRole, ...] = (),
    ) -> docker.Container:
        args = self._args
        fields = [DB_ROLES[role][1] for role in db_roles]
        # each password a secret, so the env list is one wherever it holds a password
        secrets = (pulumi.Output.secret(args.passwords[f]) for f in fields)
        envs = pulumi.Output.all(*secrets).apply(
            lambda pws: env_list(
                app_env(
                    with_passwords(args.settings, **dict(zip(fields, pws, strict=True))),
                    args.hosts,
                    bind_host=bind_host,
                    extra={"ETL_INSTANCE": instance} if instance else None,
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
                healthcheck=HealthCheck(probe, start_period="240s" if slow_start else "20s"),
                volumes=volumes,
                published_ports=published_ports,
                one_shot=one_shot,
                wait_timeout_s=420 if slow_start else 180,
            ),
            args.deployment,
            pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
