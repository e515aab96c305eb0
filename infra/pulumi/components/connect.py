"""`DebeziumConnect`: a Kafka Connect worker with the Debezium PostgreSQL connector plugin, and
the connector itself as a Pulumi resource (see `infra.pulumi.connector_provider`).

Worker properties come from `infra.catalog.connect_worker_properties`, the connector config from
`infra.catalog.debezium_connector_config`: the local runner's functions with network host names.

Connect's REST port is published on the deployment's host address (loopback by default) although
only the dashboard and databases otherwise are: the connector resource is created, diffed and
deleted by the Pulumi engine on the host, through this API. Nothing else listens outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from etl.settings import Settings
from infra import catalog
from infra.pulumi.connector_provider import DebeziumConnector, DebeziumConnectorArgs
from infra.pulumi.container_env import env_list, jvm_service_env
from infra.pulumi.containers import (
    ContainerSpec,
    HealthCheck,
    ServiceArgs,
    service_container,
)
from infra.pulumi.entrypoints import IMAGE_PLUGIN_PATH, JVM_HEALTH
from infra.pulumi.stack_config import with_passwords


@dataclass(frozen=True)
class DebeziumConnectArgs(ServiceArgs):
    bootstrap_servers: str
    #: network name of the source database the connector reads
    source_db_host: str
    #: the replication role's password, a secret: in the worker's environment only (the
    #: connector config names it, `infra.catalog.REPLICATION_PASSWORD_ENV`)
    replication_password: pulumi.Input[str]
    service: str = "connect"
    #: resources the connector must wait for (the source init task: role + publication)
    connector_depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    #: the brokers, healthy before the worker starts (it stores its state in Kafka topics)
    kafka: Sequence[pulumi.Resource] = field(default_factory=tuple)


def worker_properties(settings: Settings, bootstrap: str, host: str) -> dict[str, str]:
    return catalog.connect_worker_properties(
        settings,
        bootstrap=bootstrap,
        rest_host=host,
        rest_port=settings.port("connect"),
        plugin_path=IMAGE_PLUGIN_PATH,
    )


class DebeziumConnect(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: DebeziumConnectArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cdc-etl:index:DebeziumConnect", name, None, opts)
        settings = args.settings
        port = settings.port("connect")
        props = worker_properties(settings, args.bootstrap_servers, args.service)
        self.container = service_container(
            name,
            ContainerSpec(
                service=args.service,
                image=args.image,
                envs=pulumi.Output.secret(args.replication_password).apply(
                    lambda pw: env_list(
                        jvm_service_env(
                            props,
                            settings.connect_heap,
                            catalog.connect_worker_environment(
                                with_passwords(settings, replication_password=pw)
                            ),
                        )
                    )
                ),
                command=["connect"],
                healthcheck=HealthCheck(JVM_HEALTH, start_period="30s"),
                published_ports=[port],
            ),
            args.deployment,
            pulumi.ResourceOptions(parent=self, depends_on=list(args.kafka)),
        )
        self.url = args.deployment.host_url(port)
        self.network_url = f"http://{args.service}:{port}"
        # no secret in it: the password is resolved by the worker from its environment
        config = catalog.debezium_connector_config(
            settings, db_host=args.source_db_host, db_port=settings.port("source_db")
        )
        self.connector = DebeziumConnector(
            f"{name}-connector",
            DebeziumConnectorArgs(
                connect_url=self.url,
                name=settings.connector_name,
                config=config,
            ),
            pulumi.ResourceOptions(
                parent=self, depends_on=[self.container, *args.connector_depends_on]
            ),
        )
        self.register_outputs({"url": self.url, "connector": self.connector.connector_name})
