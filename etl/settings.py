"""The one settings object every component's configuration is derived from.

Values come from `ETL_*` environment variables (pydantic-settings). Ports default to offsets
from one base port (`ETL_PORT_BASE`) so a second stack (the test suite's) moves every port by
changing one number, and defaults stay off the well-known 5432/9092/8083. Anything derived (DSNs,
topic names, bootstrap addresses) is a named function or property here, never written twice.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from etl.rules import ORDER_STATUSES
from etl.tables import CAPTURED_TABLES

#: Folder under ETL_LIB_DIR of each JVM component's jars (Maven profile -> folder). Connect's
#: plugin.path is `plugins/`, whose sub-folders are one plugin each (own class loader).
JAR_DIRS: dict[str, str] = {
    "kafka": "kafka",
    "connect": "connect",
    "debezium": "plugins/debezium-connector-postgres",
    # The load tests' JDBC sink peer: a second plugin on the same worker (issue 12).
    "debezium-jdbc": "plugins/debezium-connector-jdbc",
    "spark": "spark",
    "webjars": "webjars",  # Data Docs' CSS/JS (infra/jvm/webjars.xml), not a JVM component
}

#: Offsets from ETL_PORT_BASE, one per listening service.
PORT_OFFSETS: dict[str, int] = {
    "source_db_port": 0,
    "warehouse_db_port": 1,
    "kafka_port": 2,
    "kafka_controller_port": 3,
    "connect_port": 4,
    "dashboard_port": 5,
}


#: Database roles: name -> (user field, password field). Both deployments create the same ones:
#: admin owns the schemas and runs migrations (and is the shop application's role on the source);
#: loader may write the warehouse's `dw` schema only; reader may only read (warehouse `dw`, the
#: source's shop tables); replication is Debezium's (REPLICATION, reads the published tables).
DbRole = Literal["admin", "loader", "reader", "replication"]
DB_ROLES: dict[DbRole, tuple[str, str]] = {
    "admin": ("db_user", "db_password"),
    "loader": ("loader_user", "loader_password"),
    "reader": ("reader_user", "reader_password"),
    "replication": ("replication_user", "replication_password"),
}
PASSWORD_FIELDS: tuple[str, ...] = tuple(field for _, field in DB_ROLES.values())
#: Where `etl up` keeps the generated passwords, under ETL_HOME (see `etl.secrets`).
PASSWORDS_FILE = Path("secrets") / "passwords.json"


class HomePasswordsSource(PydanticBaseSettingsSource):
    """The passwords `etl up` generated for this ETL_HOME, below init arguments and `ETL_*`
    variables in priority, so an explicit `ETL_DB_PASSWORD` still wins. ETL_HOME is taken the
    way the `home` field is (init argument, else environment, else `.etl`)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._init = init_settings
        self._env = env_settings

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the file once

    def __call__(self) -> dict[str, Any]:
        init, env = self._init(), self._env()
        enabled = init.get("passwords_file", env.get("passwords_file", True))
        if str(enabled).lower() in ("0", "false", "no", "off"):
            return {}
        home = init.get("home") or env.get("home") or ".etl"
        path = Path(home).expanduser() / PASSWORDS_FILE
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {path}: {type(exc).__name__}") from None
        return {k: v for k, v in stored.items() if k in PASSWORD_FIELDS and isinstance(v, str)}


#: Spark's real-time mode refuses a shorter batch (`realTimeMode.minBatchDuration`).
MIN_CHECKPOINT_INTERVAL_S = 5.0
_INTERVAL_UNITS_S = {"millisecond": 0.001, "second": 1.0, "minute": 60.0, "hour": 3600.0}
_INTERVAL_PART = r"\s*(\d+(?:\.\d+)?)\s+(millisecond|second|minute|hour)s?\s*"
_INTERVAL = re.compile(f"(?:{_INTERVAL_PART})+", re.I)


def interval_seconds(text: str) -> float:
    """Seconds of a Spark trigger interval such as "30 seconds" or "1 minute 30 seconds".

    Checked here so a typo is a configuration error naming its key at `etl up`, not a Spark
    stack trace when the query starts; only the units a trigger interval needs are accepted.
    """
    parts = re.findall(_INTERVAL_PART, text, re.I) if _INTERVAL.fullmatch(text) else []
    total = sum(float(amount) * _INTERVAL_UNITS_S[unit.lower()] for amount, unit in parts)
    if total <= 0:
        raise ValueError(
            f"must be a positive interval like '30 seconds', '500 milliseconds' or "
            f"'1 minute 30 seconds', got {text!r}"
        )
    return total


class Settings(BaseSettings):
    """Everything a deployment can change. Read with `Settings()`; env prefix `ETL_`."""

    model_config = SettingsConfigDict(
        env_prefix="ETL_", extra="ignore", frozen=True, populate_by_name=True
    )

    home: Path = Field(default=Path(".etl"), description="All local state: data, logs, jars.")
    instance: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="This replica's name when a service runs several (the Docker deployment's "
        "loader-2): its progress file and health are its own.",
    )
    lib_dir_override: Path | None = Field(
        default=None, alias="ETL_LIB_DIR", description="Share one jar cache between stacks."
    )
    bind_host: str = Field(default="127.0.0.1", description="Every local service binds here.")
    port_base: int = Field(default=15430, ge=1024, le=65000)
    # Where peers are reached; default: bind_host. Docker sets the containers' network names.
    source_db_host: str | None = None
    warehouse_db_host: str | None = None
    connect_host: str | None = None
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Comma-separated brokers; default bind_host:kafka_port."
    )
    source_db_port: int | None = None
    warehouse_db_port: int | None = None
    kafka_port: int | None = None
    kafka_controller_port: int | None = None
    connect_port: int | None = None
    dashboard_port: int | None = None

    # Database roles (see `DB_ROLES`). Passwords have no default: locally `etl up` generates
    # them once per ETL_HOME into `<home>/secrets/passwords.json` (read below, after the
    # environment); the Pulumi program generates its own per stack.
    db_user: str = Field(default="etl", description="Owner/admin: migrations, role set-up, seed.")
    db_password: SecretStr | None = None
    loader_user: str = Field(default="etl_loader", description="Writes the `dw` schema only.")
    loader_password: SecretStr | None = None
    reader_user: str = Field(
        default="etl_reader", description="Read-only: dashboard, reconcile, quality reads."
    )
    reader_password: SecretStr | None = None
    source_db_name: str = "shop"
    warehouse_db_name: str = "warehouse"
    replication_user: str = "debezium"
    replication_password: SecretStr | None = None
    passwords_file: bool = Field(
        default=True,
        description="Read ETL_HOME's generated passwords; off in the stack's own processes, "
        "which get their roles' passwords only, by environment.",
    )

    topic_prefix: str = Field(default="cdc", pattern=r"^[A-Za-z0-9_.-]+$")
    curated_topic_prefix: str = Field(default="curated", pattern=r"^[A-Za-z0-9_.-]+$")
    dlq_topic_name: str = Field(default="etl.dlq", pattern=r"^[A-Za-z0-9_.-]+$")
    topic_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    min_insync_replicas: int = Field(default=1, ge=1)

    connector_name: str = "shop-source"
    slot_name: str = Field(default="etl_slot", pattern=r"^[a-z0-9_]+$")
    publication_name: str = Field(default="etl_publication", pattern=r"^[a-z0-9_]+$")
    heartbeat_interval_ms: int = Field(default=2_000, ge=0)
    debezium_poll_interval_ms: int = Field(
        default=100,
        ge=1,
        description="How often Debezium's reader and task threads look for changes when idle: "
        "50 ms takes ~0.08 s off the median latency and costs 1.3% of a core at idle.",
    )
    snapshot_mode: Literal["initial", "no_data", "always", "when_needed"] = "initial"
    slot_lag_warn_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="`etl status` warns when the slot's consumer is this far behind (bytes).",
    )

    transform_mode: Literal["realtime", "microbatch"] = Field(
        default="realtime",
        description="Spark real-time mode (records processed as they arrive) or micro-batches.",
    )
    transform_checkpoint_interval: str = Field(
        default="30 seconds",
        description=(
            "Real-time mode: how often offsets are checkpointed and progress reported (Spark's"
            " minimum: 5 s). Records wait during the ~1 s between two intervals, so a short one"
            " costs tail latency."
        ),
    )
    transform_trigger: str = Field(
        default="500 milliseconds", description="Micro-batch mode: the trigger interval."
    )
    transform_max_offsets_per_trigger: int | None = Field(
        default=None, ge=1, description="Micro-batch mode only (real-time mode refuses it)."
    )
    spark_driver_memory: str = "1g"
    loader_batch_size: int = Field(default=5000, ge=1)
    loader_max_wait_ms: int = Field(default=500, ge=1)
    loader_group_id: str = "etl-warehouse-loader"

    quality_gate_every_batches: int = Field(
        default=100,
        ge=0,
        description="The loader runs the warehouse suites every N applied batches (0: off).",
    )
    quality_gate_pause: bool = Field(
        default=False,
        description="Pause loading while the gate's last run failed a critical expectation.",
    )
    quality_freshness_max_lag_s: float = Field(
        default=300.0, gt=0, description="Newest source write minus newest applied commit, max."
    )
    quality_dlq_max_messages: int = Field(default=1000, ge=0, description="DLQ size bound.")
    quality_dlq_max_share: float = Field(
        default=0.01, ge=0, le=1, description="Bound of DLQ messages / CDC messages per table."
    )

    #: The order statuses the `status_allowed` rule accepts, in the transform and in the
    #: warehouse's quality suites alike: when the shop adds a status, add it here (comma-separated
    #: in `ETL_ORDER_STATUSES`), restart the transform, then `etl dlq replay` the orders it
    #: dead-lettered meanwhile.
    order_statuses: Annotated[tuple[str, ...], NoDecode] = Field(
        default=ORDER_STATUSES, min_length=1
    )

    kafka_heap: str = "512m"
    connect_heap: str = "768m"
    startup_timeout_s: float = Field(default=120.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init arguments, then `ETL_*` variables, then this ETL_HOME's generated passwords."""
        home_secrets = HomePasswordsSource(settings_cls, init_settings, env_settings)
        return init_settings, env_settings, dotenv_settings, file_secret_settings, home_secrets

    @field_validator("order_statuses", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(","))
        if isinstance(value, (tuple, list)) and not all(
            isinstance(v, str) and v and v.isprintable() and "," not in v for v in value
        ):
            raise ValueError("must be comma-separated non-empty names")
        return value

    @field_validator("transform_checkpoint_interval", "transform_trigger")
    @classmethod
    def _spark_interval(cls, value: str) -> str:
        interval_seconds(value)  # raises with the accepted form
        return value

    @field_validator("home", "lib_dir_override")
    @classmethod
    def _absolute_path(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @model_validator(mode="after")
    def _derive_ports(self) -> Settings:
        # frozen model: fill unset ports through object.__setattr__ once, at construction.
        for name, offset in PORT_OFFSETS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, self.port_base + offset)
        hosts = {
            "source_db_port": self.source_db_host,
            "warehouse_db_port": self.warehouse_db_host,
            "connect_port": self.connect_host,
        }
        endpoints = [
            (hosts.get(name) or self.bind_host, getattr(self, name)) for name in PORT_OFFSETS
        ]
        if len(set(endpoints)) != len(endpoints):
            ports = [port for _, port in endpoints]
            raise ValueError(f"ETL_*_PORT values on one host must differ, got {ports}")
        if self.transform_mode == "realtime" and self.transform_max_offsets_per_trigger:
            raise ValueError(
                "ETL_TRANSFORM_MAX_OFFSETS_PER_TRIGGER works in micro-batch mode only: "
                "set ETL_TRANSFORM_MODE=microbatch or unset it"
            )
        if interval_seconds(self.transform_checkpoint_interval) < MIN_CHECKPOINT_INTERVAL_S:
            raise ValueError(
                "ETL_TRANSFORM_CHECKPOINT_INTERVAL must be at least "
                f"{MIN_CHECKPOINT_INTERVAL_S:g} seconds (Spark's real-time mode minimum), got "
                f"{self.transform_checkpoint_interval!r}"
            )
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("ETL_MIN_INSYNC_REPLICAS must not exceed ETL_REPLICATION_FACTOR")
        return self

    # ---- ports, typed for callers (the validator guarantees they are set) ----
    def port(self, name: str) -> int:
        value = getattr(self, f"{name}_port")
        assert isinstance(value, int)
        return value

    # ---- directories under ETL_HOME ----
    @property
    def lib_dir(self) -> Path:
        return self.lib_dir_override or self.home / "lib"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def checkpoints_dir(self) -> Path:
        return self.home / "checkpoints"

    @property
    def quality_dir(self) -> Path:
        """Data Docs and GX's scratch files (`etl quality`); never in git."""
        return self.home / "quality"

    @property
    def benchmarks_dir(self) -> Path:
        """`make bench`'s saved pytest-benchmark runs (`etl bench compare-runs` reads them)."""
        return self.home / "benchmarks"

    @property
    def data_docs_dir(self) -> Path:
        return self.quality_dir / "data_docs"

    def jars_dir(self, component: str) -> Path:
        """Where a JVM component's jars are (`etl jars` puts them there; see JAR_DIRS)."""
        return self.lib_dir / JAR_DIRS[component]

    @property
    def connect_plugin_path(self) -> Path:
        """Connect's plugin.path: the folder holding one sub-folder per plugin (own loader)."""
        return self.jars_dir("debezium").parent

    @property
    def secrets_dir(self) -> Path:
        """Generated passwords and the libpq password file (owner-only; see `etl.secrets`)."""
        return self.home / "secrets"

    # ---- database roles ----
    def credentials(self, role: DbRole) -> tuple[str, SecretStr | None]:
        """(user, password) of a database role; the password None when this process lacks it."""
        user, password = DB_ROLES[role]
        return getattr(self, user), getattr(self, password)

    def password(self, role: DbRole) -> str:
        """A role's password, for a process that must have it (`etl up`, a set-up task)."""
        user, password = self.credentials(role)
        if password is None:
            from etl.errors import EtlError

            variable = f"ETL_{DB_ROLES[role][1].upper()}"
            raise EtlError(
                f"no password for database role {user} ({role}): `etl up` generates them per "
                f"ETL_HOME ({self.home / PASSWORDS_FILE}), or set {variable}"
            )
        return password.get_secret_value()

    def passwords(self) -> list[str]:
        """Every password this process knows (to keep out of output: `etl.secrets.redact`)."""
        values = (getattr(self, field) for _, field in DB_ROLES.values())
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

    # ---- connection strings ----
    def source_dsn(
        self, *, host: str | None = None, port: int | None = None, role: DbRole = "admin"
    ) -> str:
        """The shop database; `role="reader"` for reads only (reconcile, quality)."""
        return self._dsn("source", host, port, role)

    def warehouse_dsn(
        self, *, host: str | None = None, port: int | None = None, role: DbRole = "admin"
    ) -> str:
        """The warehouse; `role="loader"` writes `dw`, `role="reader"` only reads."""
        return self._dsn("warehouse", host, port, role)

    def monitoring_dsn(self, db: Literal["source", "warehouse"]) -> str:
        """A server's `postgres` database for health probes: as the admin where this process
        has its password (`etl up`, the CLI), else as the reader (the dashboard's only role)."""
        role: DbRole = "admin" if self.db_password is not None else "reader"
        return maintenance_dsn(self._dsn(db, None, None, role))

    def _dsn(self, db: str, host: str | None, port: int | None, role: DbRole) -> str:
        default_host = getattr(self, f"{db}_db_host") or self.bind_host
        dbname = getattr(self, f"{db}_db_name")
        port = port or self.port(f"{db}_db")
        user, password = self.credentials(role)
        return postgres_dsn(user, password, host or default_host, port, dbname)

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"{self.bind_host}:{self.port('kafka')}"

    def kafka_client_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka settings of a Kafka client of this stack (consumer, producer or admin).

        The one place a client's connection is described (like quixstreams'
        `ConnectionConfig.as_librdkafka_dict()`); callers add only what their role needs,
        e.g. `settings.kafka_client_config(**{"group.id": "etl-lag-probe"})`. A security
        protocol or SASL settings, once the stack has them, go here and reach every client.
        """
        return {"bootstrap.servers": self.kafka_bootstrap, **overrides}

    def spark_kafka_options(self) -> dict[str, str]:
        """The same connection as options of Spark's Kafka source and sink (`kafka.` prefix)."""
        return {"kafka.bootstrap.servers": self.kafka_bootstrap}

    @property
    def connect_url(self) -> str:
        return f"http://{self.connect_host or self.bind_host}:{self.port('connect')}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.bind_host}:{self.port('dashboard')}"

    # ---- topics ----
    def cdc_topic(self, table: str) -> str:
        """The Debezium topic of a source table: `<prefix>.public.<table>`."""
        return f"{self.topic_prefix}.public.{table}"

    def curated_topic(self, table: str) -> str:
        """The transform job's output topic of one entity (source table)."""
        return f"{self.curated_topic_prefix}.{table}"

    @property
    def dlq_topic(self) -> str:
        return self.dlq_topic_name

    @property
    def heartbeat_topic(self) -> str:
        return f"__debezium-heartbeat.{self.topic_prefix}"

    def connect_internal_topics(self) -> dict[str, str]:
        """Kafka Connect's config/offset/status storage topics."""
        return {
            "config.storage.topic": f"_connect-{self.connector_name}-configs",
            "offset.storage.topic": f"_connect-{self.connector_name}-offsets",
            "status.storage.topic": f"_connect-{self.connector_name}-status",
        }

    def cdc_topics(self) -> list[str]:
        """Every captured table's CDC topic, in dependency order."""
        return [self.cdc_topic(t) for t in CAPTURED_TABLES]

    def curated_topics(self) -> list[str]:
        return [self.curated_topic(t) for t in CAPTURED_TABLES]

    def pipeline_topics(self) -> list[str]:
        """Topics `etl up` creates up front, so consumers can subscribe before the first change.

        Connect would create a CDC topic only on its first record; the Spark job and tests must
        be able to read them from the start.
        """
        return [*self.cdc_topics(), *self.curated_topics(), self.dlq_topic]


def postgres_dsn(user: str, password: SecretStr | None, host: str, port: int, dbname: str) -> str:
    """A libpq URI; the password is URL-quoted. Without a password (this process was not given
    that role's), libpq answers "no password supplied" or finds it in a password file."""
    from urllib.parse import quote

    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password.get_secret_value(), safe="")
    return f"postgresql://{userinfo}@{host}:{port}/{dbname}"


def settings_environment(
    settings: Settings,
    *,
    skip: frozenset[str] = frozenset(),
    roles: tuple[DbRole, ...] | None = None,
) -> dict[str, str]:
    """Every set field as its `ETL_*` variable: a child process (a supervised program, a
    container) that runs `Settings()` on this environment gets equal settings.

    `roles`: the database roles whose passwords the child gets (None: all); a service gets only
    its own (`infra.services.Service.db_roles`), passed by environment, never on a command line.
    """
    if roles is not None:
        skip = skip | {field for role, (_, field) in DB_ROLES.items() if role not in roles}
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if name in skip or value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, tuple):
            value = ",".join(map(str, value))
        key = "ETL_LIB_DIR" if name == "lib_dir_override" else f"ETL_{name.upper()}"
        env[key] = str(value)
    return env


def maintenance_dsn(dsn: str) -> str:
    """The same server's `postgres` database: there before ours is created, for probes/admin."""
    return dsn.rsplit("/", 1)[0] + "/postgres"


def passfile_dsn(dsn: str, passfile: Path) -> str:
    """`dsn` without its password, naming a libpq password file instead (`passfile=`)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0] if len(netloc) == 2 else ""
    host = netloc[-1]
    query = f"passfile={quote(str(passfile), safe='/')}"
    return urlunsplit(
        parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host, query=query)
    )


def connection_env(settings: Settings) -> dict[str, str]:
    """The stable `ETL_*` connection variables `etl env` prints for shells and load tests.

    No password: the DSNs name this ETL_HOME's libpq password file (`passfile=`, owner-only,
    written by `etl up`), which psql, psycopg and every libpq client read themselves.
    """
    passfile = settings.secrets_dir / "pgpass"
    env = {
        "ETL_HOME": str(settings.home),
        "ETL_SOURCE_DSN": passfile_dsn(settings.source_dsn(), passfile),
        "ETL_WAREHOUSE_DSN": passfile_dsn(settings.warehouse_dsn(), passfile),
        "ETL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ETL_CONNECT_URL": settings.connect_url,
        "ETL_DASHBOARD_URL": settings.dashboard_url,
        "ETL_DLQ_TOPIC": settings.dlq_topic,
    }
    for table in CAPTURED_TABLES:
        env[f"ETL_CDC_TOPIC_{table.upper()}"] = settings.cdc_topic(table)
    for table in CAPTURED_TABLES:
        env[f"ETL_CURATED_TOPIC_{table.upper()}"] = settings.curated_topic(table)
    return env


def load_settings() -> Settings:
    """Settings from the environment, with the pydantic error turned into one line per bad key."""
    from pydantic import ValidationError

    from etl.errors import EtlError

    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = "ETL_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "ETL_*"
            value = os.environ.get(key, "")
            shown = f" (got {value!r})" if value else ""
            problems.append(f"{key}{shown}: {err['msg']}")
        raise EtlError("bad configuration: " + "; ".join(problems)) from None
