"""`SparkCluster`: a Spark standalone master and N workers, run from the project's own image.

Why the project image and not `apache/spark`: PySpark refuses to run Python code on executors
whose Python or Spark version differs from the driver's. The project image holds the very
pyspark (4.2.0, with its Spark jars and `spark-class`) and Python 3.11 the transform job is
submitted with, so driver and executors can never drift apart, and one image is built, not two.

Workers and the transform driver share one named volume at ETL_HOME: the streaming checkpoint
(offsets by the driver, state-store files by the executors) must be one filesystem for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra.pulumi.container_env import env_list
from infra.pulumi.containers import (
    ContainerSpec,
    HealthCheck,
    ImageArgs,
    service_container,
)
from infra.pulumi.entrypoints import (
    IMAGE_STATE_DIR,
    SPARK_MASTER_UI_PORT,
    SPARK_WORKER_UI_PORT,
    http_probe,
    spark_master_command,
    spark_master_url,
    spark_worker_command,
)

MASTER_HOST = "spark-master"


def spark_env() -> dict[str, str]:
    return {
        "SPARK_WORKER_DIR": f"{IMAGE_STATE_DIR}/spark-work",
        "SPARK_NO_DAEMONIZE": "1",
        "PYSPARK_PYTHON": "python",
    }


@dataclass(frozen=True)
class SparkClusterArgs(ImageArgs):
    workers: int = 1
    worker_cores: int = 1
    worker_memory: str = "1g"


class SparkCluster(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SparkClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cdc-etl:index:SparkCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.master_url = spark_master_url(MASTER_HOST)
        self.state_volume = docker.Volume(
            f"{name}-state", name=args.deployment.container_name("etl-state"), opts=child
        )
        envs = env_list(spark_env())
        self.master = service_container(
            f"{name}-master",
            ContainerSpec(
                service=MASTER_HOST,
                image=args.image,
                command=spark_master_command(MASTER_HOST),
                envs=envs,
                healthcheck=HealthCheck(
                    http_probe(f"http://{MASTER_HOST}:{SPARK_MASTER_UI_PORT}/")
                ),
            ),
            args.deployment,
            child,
        )
        worker_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.master])
        self.workers: list[docker.Container] = []
        for n in range(1, args.workers + 1):
            host = f"spark-worker-{n}"
            self.workers.append(
                service_container(
                    f"{name}-worker-{n}",
                    ContainerSpec(
                        service=host,
                        image=args.image,
                        command=spark_worker_command(
                            host, self.master_url, args.worker_cores, args.worker_memory
                        ),
                        envs=envs,
                        healthcheck=HealthCheck(
                            http_probe(f"http://{host}:{SPARK_WORKER_UI_PORT}/")
                        ),
                        volumes=[(self.state_volume.name, IMAGE_STATE_DIR)],
                    ),
                    args.deployment,
                    worker_opts,
                )
            )
        self.register_outputs({"masterUrl": self.master_url})
