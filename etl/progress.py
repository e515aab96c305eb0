"""The progress files of the streaming services: one typed model each, one atomic writer.

The transform job and the loader each write their latest progress to `ETL_HOME/run/<file>`
after every batch and while idle; `etl status`, the dashboard and the lag probes read them. A
file's freshness is the service's health (see `etl.health.probe_progress`). Both sides use the
models below, so a reader never has to guess a file's shape.

Writes are atomic (a temporary file in the same folder, then `os.replace`): a reader sees the
previous file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from etl.settings import Settings, interval_seconds

P = TypeVar("P", bound="ProgressFile")


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ProgressFile(BaseModel):
    """A progress file's model: `FILE_NAME` under `ETL_HOME/run`, JSON by field alias."""

    FILE_NAME: ClassVar[str]

    @classmethod
    def path(cls, settings: Settings) -> Path:
        """This process's file: `FILE_NAME`, or `<name>.<instance>.json` for a named replica
        (`settings.instance`), so replicas sharing one run folder never overwrite each other."""
        if settings.instance:
            return settings.run_dir / f"{Path(cls.FILE_NAME).stem}.{settings.instance}.json"
        return settings.run_dir / cls.FILE_NAME

    @classmethod
    def paths(cls, settings: Settings) -> list[Path]:
        """Every file of this kind in the run folder (the unnamed one and every replica's);
        just this process's own path when `settings.instance` names it, or when none exists."""
        if settings.instance:
            return [cls.path(settings)]
        found = sorted(settings.run_dir.glob(f"{Path(cls.FILE_NAME).stem}*.json"))
        return found or [cls.path(settings)]

    def write(self, settings: Settings) -> Path:
        path = self.path(settings)
        write_atomically(path, self.model_dump_json(by_alias=True, indent=1))
        return path

    @classmethod
    def max_age_s(cls, settings: Settings) -> float:
        """How old the file may get before its writer counts as unhealthy."""
        return 60.0

    @classmethod
    def read(cls: type[P], settings: Settings) -> P | None:
        """The file's content, or None when it is missing or not (yet) of this shape."""
        return cls.read_path(cls.path(settings))

    @classmethod
    def read_path(cls: type[P], path: Path) -> P | None:
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None

    def summary(self) -> dict[str, Any]:
        """The figures worth a glance in `etl status` (None values left out)."""
        raise NotImplementedError


# --------------------------------------------------------------------------- transform


class TransformProgress(ProgressFile):
    """One Spark `StreamingQueryProgress`, under Spark's own (camelCase) names, plus:

    - `batchDurationMs`: the whole micro-batch (`durationMs.triggerExecution`);
    - `endOffsets`: `{topic: {partition: next offset to read}}` over all sources;
    - `backlog`: messages on the CDC topics not yet read (latest minus end offsets);
    - `written`: `{"curated": n, "dlq": n}` of that batch (absent when idle);
    - `queryId`, `runId`, `sources` (Spark's per-source progress, offsets as objects);
    - `status`: set only on the record a starting job writes before its first progress event,
      once every task of its first batch runs (records flow from then on; in real-time mode the
      event itself comes only when the batch ends, a checkpoint interval later). Its
      `endOffsets` and `backlog` are the previous record's of the same query, if any.
    """

    FILE_NAME: ClassVar[str] = "transform-progress.json"
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    timestamp: str | None = None
    batch_id: int | None = None
    num_input_rows: int | None = None
    input_rows_per_second: float | None = None
    processed_rows_per_second: float | None = None
    duration_ms: dict[str, int] = Field(default_factory=dict)
    run_id: str | None = None
    query_id: str | None = None
    batch_duration_ms: int | None = None
    end_offsets: dict[str, dict[int, int]] = Field(default_factory=dict)
    backlog: int = 0
    sources: list[dict[str, Any]] = Field(default_factory=list)
    written: dict[str, int] | None = None
    status: str | None = None

    @classmethod
    def max_age_s(cls, settings: Settings) -> float:
        """A real-time job reports once per checkpoint interval: two of them (60 s at least)."""
        if settings.transform_mode == "realtime":
            return max(60.0, 2 * interval_seconds(settings.transform_checkpoint_interval))
        return 60.0

    @field_validator("run_id", "query_id", "timestamp", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        """pyspark hands ids over as `uuid.UUID`; the file holds their text."""
        return None if value is None else str(value)

    def summary(self) -> dict[str, Any]:
        values = {
            "batchId": self.batch_id,
            "numInputRows": self.num_input_rows,
            "inputRowsPerSecond": self.input_rows_per_second,
            "processedRowsPerSecond": self.processed_rows_per_second,
            "durationMs": self.duration_ms.get("triggerExecution"),
            "backlog": self.backlog,
            "endOffsets": self.end_offsets or None,
            "status": self.status,
        }
        return {k: v for k, v in values.items() if v is not None}


# --------------------------------------------------------------------------- loader


class LoaderBatch(BaseModel):
    """What one applied batch did (also the loader's `batch applied` log line)."""

    batch_id: int
    rows_in: int
    applied: int
    stale: int
    rejected: int  # malformed records (dead-lettered too)
    duration_ms: float
    dead_lettered: int = 0  # sent to the DLQ: malformed or refused by the warehouse
    truncations: int = 0  # TRUNCATE records applied
    per_entity: dict[str, dict[str, int]] = Field(default_factory=dict)


class LoaderTotals(BaseModel):
    batches: int = 0
    rows_in: int = 0
    applied: int = 0
    stale: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    truncations: int = 0


class LoaderLag(BaseModel):
    """Messages not yet loaded on the partitions a loader owns (None where unknown)."""

    total: int | None = None
    partitions: dict[str, int | None] = Field(default_factory=dict)


class LoaderProgress(ProgressFile):
    """The loader's latest batch, its totals since start, its lag and its partitions."""

    FILE_NAME: ClassVar[str] = "loader-progress.json"

    ts: str
    loader_id: str
    pid: int
    batch: LoaderBatch | None = None  # None until the first batch
    totals: LoaderTotals = Field(default_factory=LoaderTotals)
    lag: LoaderLag = Field(default_factory=LoaderLag)
    assigned: list[str] = Field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        values = {**self.totals.model_dump(), "lag": self.lag.total}
        return {k: v for k, v in values.items() if v is not None}
