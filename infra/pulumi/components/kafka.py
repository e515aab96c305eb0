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


def broker_properties(settings: Settings, node_id: int, brokers: int) -> dict[str, str]:
    """The catalog's broker properties for one node of a `brokers`-node cluster."""
    return catalog.kafka_broker_properties(
        settings,
        node_id=node_id,
        host=broker_host(node_id),
        port=settings.port("kafka"),
        controller_port=settings.port("kafka_controller"),
        quorum_voters=quorum_voters(settings, brokers),
        log_dirs=KAFKA_LOG_DIR,
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
            props = broker_properties(settings, node_id, args.brokers)
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
                    ),
                    args.deployment,
                    child,
                )
            )
            self.volumes.append(volume)
        self.register_outputs({"bootstrapServers": self.bootstrap_servers})
