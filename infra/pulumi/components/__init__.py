"""One `pulumi.ComponentResource` per service; reusable in another Pulumi program."""

from infra.pulumi.components.connect import DebeziumConnect, DebeziumConnectArgs
from infra.pulumi.components.kafka import KafkaCluster, KafkaClusterArgs
from infra.pulumi.components.pipeline_app import PipelineApp, PipelineAppArgs
from infra.pulumi.components.postgres import PostgresServer, PostgresServerArgs
from infra.pulumi.components.spark import SparkCluster, SparkClusterArgs

__all__ = [
    "DebeziumConnect",
    "DebeziumConnectArgs",
    "KafkaCluster",
    "KafkaClusterArgs",
    "PipelineApp",
    "PipelineAppArgs",
    "PostgresServer",
    "PostgresServerArgs",
    "SparkCluster",
    "SparkClusterArgs",
]
