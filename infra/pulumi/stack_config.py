"""Stack configuration -> one `Settings` object plus the deployment's shape.

Every value a container gets is derived from the `Settings` built here by the same functions the
local runner uses (`etl.settings`, `infra.catalog`). Stack config can set any `Settings` field by
its name under the `settings` key (`replication_factor: 3`), so a knob added to `Settings` is
available to `pulumi up` with no code here. The shell's `ETL_*` variables are deliberately NOT
read: a user who exported `ETL_PORT_BASE` for a local stack must not silently reshape a Docker
deployment, so the stack files are the whole truth.
"""

from __future__ import annotations

import importlib.metadata
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from etl.settings import PASSWORD_FIELDS, Settings
from etl.topics import transform_task_slots
from infra.catalog import kraft_cluster_id
from infra.docker.base import PINNED_BASE

#: Outside ETL_PORT_BASE's default (15430), so a local `etl up` stack and a `pulumi up` stack
#: can run side by side on one machine.
DEFAULT_PORT_BASE = 16430
#: The project's version (pyproject.toml): what the images are tagged unless `imageTag` says.
DEFAULT_IMAGE_TAG = importlib.metadata.version("cdc-etl")


class StackConfigError(ValueError):
    """A stack config value that cannot work; the message says which key and what to do."""


@dataclass(frozen=True)
class Images:
    """The images are the project's own (infra/docker/), built from one pinned Debian `base`,
    all tagged `tag`; no third-party image runs."""

    base: str
    tag: str

    def __post_init__(self) -> None:
        require_pinned("baseImage", self.base)
        if not self.tag or self.tag == "latest":
            raise StackConfigError("imageTag must be a version, not empty or `latest`")

    def name(self, image: str) -> str:
        """`cdc-etl-<image>:<tag>`, e.g. `cdc-etl-jvm:0.1.0`."""
        return f"cdc-etl-{image}:{self.tag}"


@dataclass(frozen=True)
class StackConfig:
    """What one stack deploys: the shared settings plus scale, images and exposure."""

    settings: Settings
    images: Images
    name_prefix: str
    brokers: int = 1
    spark_workers: int = 1
    #: task slots per worker; None: enough for the transform (`etl.topics.transform_task_slots`)
    spark_worker_cores: int | None = None
    spark_worker_memory: str = "1g"
    loaders: int = 1
    #: Host address published ports bind to. Loopback unless the operator decides otherwise.
    host_ip: str = "127.0.0.1"
    publish_databases: bool = False
    #: publish each broker's host listener (port_base + 10 + node id), for tools on the host
    publish_kafka: bool = False
    kafka_cluster_id: str = ""

    def __post_init__(self) -> None:
        for key, value in (
            ("brokers", self.brokers),
            ("sparkWorkers", self.spark_workers),
            ("loaders", self.loaders),
        ):
            if value < 1:
                raise StackConfigError(f"{key} must be at least 1, got {value}")
        slots = transform_task_slots(self.settings)
        if self.worker_cores * self.spark_workers < slots:
            raise StackConfigError(
                f"sparkWorkers={self.spark_workers} x sparkWorkerCores={self.worker_cores} gives "
                f"the transform fewer than the {slots} task slots it needs "
                f"(settings.transform_mode={self.settings.transform_mode}, one per source "
                "partition in real-time mode): raise sparkWorkerCores or leave it unset"
            )
        rf = self.settings.replication_factor
        if rf > self.brokers:
            raise StackConfigError(
                f"settings.replication_factor={rf} needs at least {rf} brokers, "
                f"but brokers={self.brokers}: raise `brokers` or lower the factor"
            )

    @property
    def worker_cores(self) -> int:
        """Cores (task slots) each Spark worker offers: the config value, or an even share of
        the transform's slots. Slots, not CPUs: real-time tasks mostly wait on Kafka."""
        if self.spark_worker_cores is not None:
            return self.spark_worker_cores
        return -(-transform_task_slots(self.settings) // self.spark_workers)


def require_pinned(key: str, ref: str) -> str:
    """An image reference must name a tag or digest, and not the moving `latest`."""
    name = ref.rsplit("/", 1)[-1]
    if "@sha256:" in ref:
        return ref
    if ":" not in name or name.endswith(":latest"):
        raise StackConfigError(f"{key}={ref!r} is not pinned: give an explicit version tag")
    return ref


def settings_from(overrides: dict[str, Any]) -> Settings:
    """`Settings` from code defaults plus `overrides` only, ignoring `ETL_*` in the environment.

    Passing every field explicitly gives init arguments priority over pydantic-settings' env
    source, which is how the environment is kept out.
    """
    values = {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }
    unknown = set(overrides) - set(values)
    if unknown:
        raise StackConfigError(f"unknown keys under `settings`: {sorted(unknown)}")
    return Settings(**{**values, **overrides})


def with_passwords(settings: Settings, **passwords: str | None) -> Settings:
    """The same settings with the deployment's real passwords (known only inside an apply),
    given by `Settings` field name (`db_password=...`, `loader_password=...`)."""
    unknown = set(passwords) - set(PASSWORD_FIELDS)
    if unknown:
        raise ValueError(f"not password fields: {sorted(unknown)}")
    values = settings.model_dump()
    values |= {k: SecretStr(v) for k, v in passwords.items() if v is not None}
    return Settings(**values)


def kafka_cluster_id(seed: str) -> str:
    """A KRaft cluster id (22-char url-safe base64 UUID), stable per stack.

    Stable so every `pulumi up` formats and finds the same cluster on the brokers' volumes.
    """
    return kraft_cluster_id(
        lambda attempt: uuid.uuid5(
            uuid.NAMESPACE_URL, f"cdc-etl/{seed}" + (f"/{attempt}" if attempt else "")
        )
    )


def load_stack_config() -> StackConfig:
    """Read the current stack's config (Pulumi.<stack>.yaml)."""
    import pulumi

    config = pulumi.Config()
    stack = pulumi.get_stack()
    overrides: dict[str, Any] = {
        "port_base": DEFAULT_PORT_BASE,
        **(config.get_object("settings") or {}),
    }
    images = Images(
        base=config.get("baseImage") or PINNED_BASE,
        tag=config.get("imageTag") or DEFAULT_IMAGE_TAG,
    )
    prefix = config.get("namePrefix") or f"cdc-{stack}"
    return StackConfig(
        settings=settings_from(overrides),
        images=images,
        name_prefix=prefix,
        brokers=config.get_int("brokers") or 1,
        spark_workers=config.get_int("sparkWorkers") or 1,
        spark_worker_cores=config.get_int("sparkWorkerCores"),
        spark_worker_memory=config.get("sparkWorkerMemory") or "1g",
        loaders=config.get_int("loaders") or 1,
        host_ip=config.get("hostIp") or "127.0.0.1",
        publish_databases=config.get_bool("publishDatabases") or False,
        publish_kafka=config.get_bool("publishKafka") or False,
        kafka_cluster_id=config.get("kafkaClusterId") or kafka_cluster_id(f"{prefix}"),
    )
