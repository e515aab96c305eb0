"""The SparkSession of the transform: local driver on loopback, Kafka jars from `lib/spark`.

Jars come from the project's Maven POM (profile `spark`), resolved once into `ETL_LIB_DIR/spark`
by `etl jars` / `etl up` (or baked into the image), and are passed as `spark.jars` paths:
`spark.jars.packages` would need the network at every start. The job only reads that folder; it
never runs Maven itself. The same builder serves the job and the unit tests (without jars).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession

from etl.errors import PrerequisiteMissing
from etl.settings import Settings

#: Two cores: the machine is shared with Kafka, Connect and PostgreSQL. Three partitions per
#: CDC topic keep both busy; more threads would only contend.
DEFAULT_MASTER = "local[2]"


def spark_jars(settings: Settings) -> list[Path]:
    """The spark-sql-kafka jars and their dependencies; a missing folder names the fix."""
    folder = settings.jars_dir("spark")
    jars = sorted(folder.glob("*.jar"))
    if not jars:
        raise PrerequisiteMissing(
            f"spark-sql-kafka jars not found in {folder}: run `etl jars` (or set ETL_LIB_DIR)"
        )
    return jars


def submitted_by_spark_submit() -> bool:
    """True when this Python driver was started by spark-submit, whose JVM is already up and
    hands its gateway to Python (PythonRunner sets PYSPARK_GATEWAY_PORT)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_spark_session(
    settings: Settings,
    *,
    app_name: str = "etl-transform",
    jars: Sequence[Path] = (),
    master: str = DEFAULT_MASTER,
) -> SparkSession:
    """A SparkSession bound to `settings.bind_host`, UI off, UTC session time zone."""
    builder = SparkSession.builder.appName(app_name)
    if not submitted_by_spark_submit():
        # The local default: a driver of our own on loopback. Under spark-submit, the master and
        # the driver's addresses are spark-submit's (`--master spark://...`, `--conf`): setting
        # them here would override them and keep the job off the cluster's workers.
        os.environ["SPARK_LOCAL_IP"] = settings.bind_host
        builder = (
            builder.master(master)
            .config("spark.driver.memory", settings.spark_driver_memory)
            .config("spark.driver.host", settings.bind_host)
            .config("spark.driver.bindAddress", settings.bind_host)
        )
    builder = (
        builder
        # No UI: one less listening port (4040 is a well-known one), and nothing reads it.
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        # The transform is stateless: no state store, so nothing to tune there.
        .config("spark.sql.streaming.noDataProgressEventInterval", "5000")
        # Every batch posts its plan's description for a UI nobody runs; the "simple" one is
        # the cheapest to render for this plan of several thousand expressions.
        .config("spark.sql.ui.explainMode", "simple")
    )
    if jars:
        builder = builder.config("spark.jars", ",".join(str(j) for j in jars))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
