"""`KafkaCluster`: N combined broker+controller nodes in KRaft mode, the project's `jvm` image.

Each node's properties come from `infra.catalog.kafka_broker_properties` (the local runner's
function) with the node's network name, so replication factor, `min.insync.replicas`, partitions
and retention are the local stack's. Every node listens on the `Settings` ports inside the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from etl.settings import Settings
from infra import catalog
from infra.pulumi.container_env import broker_host, env_list, jvm_service_env, quorum_voters
from infra.pulumi.containers import (
    ContainerSpec,
    HealthCheck,
    ServiceArgs,
    service_container,
)
from infra.pulumi.entrypoints import JVM_HEALTH

#: Owned by the image's `etl` user, so a fresh named volume mounted here is writable.
KAFKA_LOG_DIR = "/var/lib/kafka/data"


@dataclass(frozen=True)
class KafkaClusterArgs(ServiceArgs):
    cluster_id: str
    brokers: int = 1
    #: publish each broker's `HOST` listener on the deployment's host address
    publish: bool = False


def broker_host_port(settings: Settings, node_id: int) -> int:
    """The host port of broker `node_id`'s published listener: port_base + 10 + node id, clear
    of the services' own offsets (PORT_OFFSETS), one per broker."""
    return settings.port_base + 10 + node_id


def broker_properties(
    settings: Settings, node_id: int, brokers: int, host_address: str | None = None
) -> dict[str, str]:
    """The catalog's broker properties for one node of a `brokers`-node cluster; with
    `host_address`, plus a listener the host reaches at host_address:broker_host_port."""
    return catalog.kafka_broker_properties(
        settings,
        node_id=node_id,
        host=broker_host(node_id),
        port=settings.port("kafka"),
        controller_port=settings.port("kafka_controller"),
        quorum_voters=quorum_voters(settings, brokers),
        log_dirs=KAFKA_LOG_DIR,
        host_listener=(host_address, broker_host_port(settings, node_id)) if host_address else None,
    )


class KafkaCluster(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KafkaClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cdc-etl:index:KafkaCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        port = settings.port("kafka")
        self.hosts = tuple(broker_host(n) for n in range(1, args.brokers + 1))
        self.bootstrap_servers = ",".join(f"{host}:{port}" for host in self.hosts)
        self.containers: list[docker.Container] = []
        self.volumes: list[docker.Volume] = []
        for node_id, host in enumerate(self.hosts, start=1):
            volume = docker.Volume(
                f"{name}-{node_id}-data",
                name=args.deployment.container_name(f"{host}-data"),
                opts=child,
            )
            host_address = args.deployment.host_address if args.publish else None
            props = broker_properties(settings, node_id, args.brokers, host_address)
            env = jvm_service_env(props, settings.kafka_heap, {"KAFKA_CLUSTER_ID": args.cluster_id})
            self.containers.append(
                service_container(
                    f"{name}-{node_id}",
                    ContainerSpec(
                        service=host,
                        image=args.image,
                        envs=env_list(env),
                        command=["kafka"],
                        healthcheck=HealthCheck(
                            JVM_HEALTH, interval="15s", timeout="10s", start_period="30s"
                        ),
                        volumes=[(volume.name, KAFKA_LOG_DIR)],
                        published_ports=[broker_host_port(settings, node_id)]
                        if args.publish
                        else [],
                    ),
                    args.deployment,
                    child,
                )
            )
            self.volumes.append(volume)
        #: how the host reaches the brokers ("" unless published)
        self.host_bootstrap_servers = (
            ",".join(
                f"{args.deployment.host_address}:{broker_host_port(settings, n)}"
                for n in range(1, args.brokers + 1)
            )
            if args.publish
            else ""
        )
        self.register_outputs({"bootstrapServers": self.bootstrap_servers})
