"""The commands the project image runs, one named function or constant each.

A service's command is derived from its `python -m` entry point in `infra.services` (the one
the local runner starts too), so the two ways to run cannot name different programs.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from etl.settings import JAR_DIRS
from infra.services import Service

#: In-image paths, fixed by infra/docker/<image>/Dockerfile (jars laid out as `ETL_LIB_DIR`).
APP_DIR = "/app"
VENV_BIN = "/opt/venv/bin"
IMAGE_LIB_DIR = "/opt/etl/lib"
IMAGE_STATE_DIR = "/var/lib/etl"
SPARK_JARS_DIR = f"{IMAGE_LIB_DIR}/{JAR_DIRS['spark']}"
#: Connect's plugin.path in the `jvm` image: one folder per plugin, as locally.
IMAGE_PLUGIN_PATH = str(PurePosixPath(IMAGE_LIB_DIR, JAR_DIRS["debezium"]).parent)
#: The `jvm` image's health check (a broker accepts connections; Connect's REST API answers).
JVM_HEALTH = ("/usr/local/bin/jvm-service", "health")

#: Spark standalone ports. Internal to the Docker network, never published; the local runner
#: uses `local[*]` and has no master, so these are not part of the shared catalog.
SPARK_MASTER_PORT = 7077
SPARK_MASTER_UI_PORT = 8080
SPARK_WORKER_UI_PORT = 8081


def module_command(service: Service) -> list[str]:
    """`python -m <module> [args]`: how the image runs a Python service of this project."""
    if not service.module:
        raise ValueError(f"{service.name} has no Python entry point")
    return ["python", "-m", *service.module]


def module_script(service: Service) -> str:
    """The file spark-submit runs for a service's `python -m` package: its `__main__.py`.

    spark-submit takes a file, not `-m`; the package's `__main__.py` imports absolutely, so it
    runs the same code with the image's APP_DIR on the Python path.
    """
    package, *args = service.module
    if args:
        raise ValueError(f"{service.name}: spark-submit cannot pass arguments to `-m {package}`")
    return f"{APP_DIR}/{package.replace('.', '/')}/__main__.py"


def source_init_command() -> list[str]:
    """One-shot: migrate the source database, create the replication role and publication."""
    return ["python", "-m", "infra.pulumi.init_tasks", "source"]


def warehouse_init_command() -> list[str]:
    """The warehouse's migrations and login roles (the loader's role may not migrate)."""
    return ["python", "-m", "infra.pulumi.init_tasks", "warehouse"]


def topics_init_command() -> list[str]:
    """One-shot: create the pipeline's own topics (DLQ, curated) like `etl up` does."""
    return ["python", "-m", "infra.pulumi.init_tasks", "topics"]


def spark_master_url(host: str) -> str:
    return f"spark://{host}:{SPARK_MASTER_PORT}"


def spark_master_command(host: str) -> list[str]:
    return [
        "spark-class",
        "org.apache.spark.deploy.master.Master",
        "--host",
        host,
        "--port",
        str(SPARK_MASTER_PORT),
        "--webui-port",
        str(SPARK_MASTER_UI_PORT),
    ]


def spark_worker_command(host: str, master_url: str, cores: int, memory: str) -> list[str]:
    return [
        "spark-class",
        "org.apache.spark.deploy.worker.Worker",
        master_url,
        "--host",
        host,
        "--webui-port",
        str(SPARK_WORKER_UI_PORT),
        "--cores",
        str(cores),
        "--memory",
        memory,
    ]


def spark_submit_command(
    service: Service, master_url: str, driver_host: str, driver_memory: str
) -> list[str]:
    """spark-submit in client mode: the driver runs in this container, executors on the workers.

    The spark-sql-kafka jars baked into the image are shipped to the executors with `--jars`.
    """
    submit = (
        f"exec spark-submit --master {master_url} --deploy-mode client"
        f" --driver-memory {driver_memory}"
        f" --conf spark.driver.host={driver_host} --conf spark.driver.bindAddress=0.0.0.0"
        f' --jars "$(ls {SPARK_JARS_DIR}/*.jar | paste -sd, -)"'
        f" {module_script(service)}"
    )
    return ["sh", "-c", submit]


def http_probe(url: str) -> tuple[str, ...]:
    """Health check of a project-image container that serves HTTP (infra.pulumi.healthcheck)."""
    return ("python", "-m", "infra.pulumi.healthcheck", "http", url)


def service_probe(service: Service) -> tuple[str, ...]:
    """Health check of a project service's container: the service's own readiness probe (the
    one `etl up` and `etl status` use), run inside the container by infra.pulumi.healthcheck."""
    return ("python", "-m", "infra.pulumi.healthcheck", "service", service.name)
