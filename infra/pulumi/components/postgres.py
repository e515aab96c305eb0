"""`PostgresServer`: the source or the warehouse database, the project's `postgres` image
(Debian's PostgreSQL 15, infra/docker/postgres)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import catalog
from infra.pulumi.container_env import PgRole, env_list, postgres_command, postgres_env
from infra.pulumi.containers import (
    ContainerSpec,
    HealthCheck,
    ServiceArgs,
    service_container,
)
from infra.pulumi.stack_config import with_passwords

#: PGDATA of the `postgres` image; the named volume mounts here.
PGDATA = "/var/lib/postgresql/data"


@dataclass(frozen=True)
class PostgresServerArgs(ServiceArgs):
    role: PgRole
    #: the superuser password (`settings.db_user`), a secret
    password: pulumi.Input[str]
    #: publish the port on the deployment's host address (loopback by default)
    publish: bool = False


class PostgresServer(pulumi.ComponentResource):
    """One PostgreSQL server with its data on a named volume, GUCs from `infra.catalog`."""

    def __init__(
        self, name: str, args: PostgresServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cdc-etl:index:PostgresServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        self.service = f"{args.role}-db"
        self.port = settings.port(f"{args.role}_db")
        self.volume = docker.Volume(
            f"{name}-data", name=args.deployment.container_name(f"{self.service}-data"), opts=child
        )
        envs = pulumi.Output.secret(args.password).apply(
            lambda pw: env_list(postgres_env(with_passwords(settings, db_password=pw), args.role))
        )
        dbname = settings.source_db_name if args.role == "source" else settings.warehouse_db_name
        ready = (
            "pg_isready",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            settings.db_user,
            "-d",
            dbname,
        )
        self.container = service_container(
            name,
            ContainerSpec(
                service=self.service,
                image=args.image,
                command=postgres_command(catalog.postgres_server_settings(settings, args.role)),
                envs=envs,
                healthcheck=HealthCheck(ready, interval="5s"),
                volumes=[(self.volume.name, PGDATA)],
                published_ports=[self.port] if args.publish else [],
            ),
            args.deployment,
            child,
        )
        self.register_outputs({"container": self.container.name, "volume": self.volume.name})
