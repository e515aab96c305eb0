"""Run the suites as GX checkpoints, build the offline Data Docs, record the run.

The GX context is ephemeral (nothing of GX's own is stored between runs): the suites live in
code, each run's results go to `dw.quality_results`, and each run's Data Docs replace the last
one's (built in a fresh folder beside it, then swapped in, so a reader never sees half a site).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import psycopg
from great_expectations.core.run_identifier import RunIdentifier

from etl.errors import EtlError
from etl.quality_results import FailedExpectation, QualityRun, SuiteResult, Trigger, record_run
from etl.settings import Settings
from quality.offline import make_offline
from quality.suites import SUITE_NAMES, SUITES, Suite

SITE = "local"


def _sqlalchemy_url(settings: Settings) -> str:
    """The warehouse as SQLAlchemy wants it: psycopg 3, named explicitly; read-only role."""
    return settings.warehouse_dsn(role="reader").replace(
        "postgresql://", "postgresql+psycopg://", 1
    )


def _context(site_dir: Path) -> Any:
    """An ephemeral context (no progress bars) whose only Data Docs site is `site_dir`."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    for name, site in list(context.list_data_docs_sites().items()):
        context.delete_data_docs_site(name)
        # the default site is a temporary folder GX made for us and would leave behind
        default_dir = site.get("store_backend", {}).get("base_directory")
        if default_dir and Path(default_dir).parent == Path(tempfile.gettempdir()):
            shutil.rmtree(default_dir, ignore_errors=True)
    context.add_data_docs_site(
        SITE,
        {  # type: ignore[typeddict-unknown-key]
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def _observed(result: dict[str, Any]) -> str | None:
    for key in ("observed_value", "unexpected_count"):
        if result.get(key) is not None:
            return f"{key.replace('_', ' ')}: {result[key]}"
    return None


def _error(info: dict[str, Any]) -> str | None:
    """The first exception message of a result's `exception_info` (flat, or per metric)."""
    if info.get("raised_exception") and info.get("exception_message"):
        return str(info["exception_message"]).strip().splitlines()[0]
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"]).strip().splitlines()[0]
    return None


def _suite_result(name: str, validation: Any) -> SuiteResult:
    failed: list[FailedExpectation] = []
    for r in validation.results:
        if r.success:
            continue
        config = r.expectation_config
        error = _error(r.exception_info or {})
        failed.append(
            FailedExpectation(
                expectation=config.type,
                column=config.kwargs.get("column"),
                description=config.description,
                severity=str(getattr(config.severity, "value", config.severity)),
                observed=f"error: {error}" if error else _observed(r.result or {}),
            )
        )
    return SuiteResult(
        suite=name,
        expectations=len(validation.results),
        failed=len(failed),
        critical_failed=sum(f.severity == "critical" for f in failed),
        success=not failed,
        failed_expectations=failed,
    )


def _validate(context: Any, suite: Suite, settings: Settings, run_id: RunIdentifier) -> SuiteResult:
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=suite.name, expectations=suite.expectations(settings))
    )
    parameters: dict[str, Any] = {}
    if suite.query is not None:
        source = context.data_sources.get("warehouse")
        asset = source.add_query_asset(name=suite.name, query=suite.query)
        batch = asset.add_batch_definition_whole_table("all rows")
    else:
        assert suite.frame is not None
        parameters = {"dataframe": suite.frame(settings)}
        asset = context.data_sources.get("measured").add_dataframe_asset(name=suite.name)
        batch = asset.add_batch_definition_whole_dataframe("all rows")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], result_format="SUMMARY")
    )
    result = checkpoint.run(batch_parameters=parameters, run_id=run_id)
    (validation,) = result.run_results.values()
    return _suite_result(suite.name, validation)


def _validate_or_error(
    context: Any, suite: Suite, settings: Settings, run_id: RunIdentifier
) -> SuiteResult:
    """A suite that cannot run (warehouse or Kafka down) is a failed suite, not a crash."""
    try:
        return _validate(context, suite, settings, run_id)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SuiteResult(
            suite=suite.name,
            expectations=0,
            failed=0,
            critical_failed=0,
            success=False,
            error=first,
        )


def _build_docs(context: Any, building: Path, settings: Settings) -> tuple[str, float]:
    """Build the site in `building`, make it offline, swap it in; (index.html, seconds)."""
    clock = time.monotonic()
    context.build_data_docs(site_names=[SITE])
    make_offline(building, settings.jars_dir("webjars"))
    _swap_in(building, settings.data_docs_dir)
    return str(settings.data_docs_dir / "index.html"), round(time.monotonic() - clock, 3)


def _swap_in(built: Path, target: Path) -> None:
    """Replace the previous report with `built` (a rename each; the old one is removed)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    built.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def run_quality(
    settings: Settings,
    suites: list[str] | None = None,
    *,
    trigger: Trigger = "cli",
    build_docs: bool = True,
    record: bool = True,
) -> QualityRun:
    """Validate the named suites (all when None); build Data Docs; record the run."""
    names = suites or list(SUITE_NAMES)
    unknown = sorted(set(names) - set(SUITE_NAMES))
    if unknown:
        raise EtlError(f"unknown suite {', '.join(unknown)}: one of {', '.join(SUITE_NAMES)}")
    started, clock = datetime.now(UTC), time.monotonic()
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    gx_run = RunIdentifier(run_name=run_id, run_time=started)
    settings.quality_dir.mkdir(parents=True, exist_ok=True)
    building = settings.quality_dir / f".data_docs.{uuid.uuid4().hex[:8]}"
    context = _context(building)
    context.data_sources.add_postgres(name="warehouse", connection_string=_sqlalchemy_url(settings))
    context.data_sources.add_pandas(name="measured")
    selected = [s for s in SUITES if s.name in names]
    results = [_validate_or_error(context, suite, settings, gx_run) for suite in selected]
    docs, docs_seconds, docs_error = None, None, None
    if build_docs:
        try:
            docs, docs_seconds = _build_docs(context, building, settings)
        except EtlError as exc:  # e.g. no WebJars: the run is still recorded, then reported
            docs_error = exc
    shutil.rmtree(building, ignore_errors=True)
    run = QualityRun(
        run_id=run_id,
        trigger=trigger,
        started_at=started,
        seconds=round(time.monotonic() - clock, 3),
        suites=results,
        data_docs=docs,
        docs_seconds=docs_seconds,
    )
    if record:
        try:
            record_run(settings.warehouse_dsn(role="loader"), run)  # writes `dw` only
        except psycopg.Error as exc:
            raise EtlError(f"could not record the quality run in the warehouse: {exc}") from exc
    if docs_error is not None:
        raise docs_error
    return run
