"""`etl status`: one typed entry per service, from supervisord's view and the service's probe.

Probes run even without our supervisord, so the same status describes services running
elsewhere (the Docker deployment). A process our supervisord says is not running is reported
as such even when a probe passes: something else answers on its port, or a stale progress file.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from etl.dead_letters import DeadLetterSummary, dead_letter_summary
from etl.quality_results import QualityRun, last_run
from etl.replication_slot import SlotLag, slot_lag
from etl.settings import Settings
from infra.local.supervisor import Supervisor, program_log_path
from infra.services import SERVICES, Service


class ComponentStatus(BaseModel):
    """One service. `extra="allow"`: the probe's own details (connector tasks and their
    traces, streaming progress) are passed through under the probe's names."""

    model_config = ConfigDict(extra="allow")

    name: str
    port: int | None
    state: str  # healthy, unhealthy, stopped, or supervisord's state (starting, backoff, ...)
    detail: str
    pid: int | None = None
    process_state: str | None = None  # None: not a process of its own (the connector)
    restarts: int | None = None
    uptime_s: int | None = None
    log: str | None = None


class StackStatus(BaseModel):
    """`healthy` is about the services; `quality` (the newest quality run, None: none or the
    warehouse is down) and `dead_letters` (changes the loader did not load, None: the warehouse
    is down) and `replication_slot` (Debezium's slot: WAL held, lag, a warning when it is not
    read or falls behind; None: the source is down or has no slot yet) are reported beside it,
    so a failed expectation, a dead-lettered change or a growing slot is flagged, not hidden,
    without turning a running pipeline "unhealthy"."""

    healthy: bool
    components: list[ComponentStatus]
    quality: QualityRun | None = None
    dead_letters: DeadLetterSummary | None = None
    replication_slot: SlotLag | None = None


def newest_quality_run(settings: Settings) -> QualityRun | None:
    try:
        return last_run(settings.warehouse_dsn(role="reader"))
    except Exception:  # warehouse down or not migrated: its own component says so
        return None


def loader_dead_letters(settings: Settings) -> DeadLetterSummary | None:
    try:
        return dead_letter_summary(settings.warehouse_dsn())
    except Exception:  # warehouse down or not migrated: its own component says so
        return None


def replication_slot_lag(settings: Settings) -> SlotLag | None:
    try:
        return slot_lag(
            settings.source_dsn(role="reader"), settings.slot_name, settings.slot_lag_warn_bytes
        )
    except Exception:  # source down or not migrated: its own component says so
        return None


def component_status(
    settings: Settings, sup: Supervisor, running: bool, spec: Service
) -> ComponentStatus:
    probe = spec.probe(settings)
    fields: dict[str, Any] = {}
    if spec.process:
        info = sup.info(spec.name) if running else None
        process_state = info["statename"].lower() if info else "stopped"
        fields = {
            "pid": (info["pid"] or None) if info else None,
            "process_state": process_state,
            "restarts": sup.restarts(spec.name) if running else 0,
            "uptime_s": (info["now"] - info["start"]) if info and info["pid"] else None,
            "log": str(program_log_path(settings, spec.name)),
        }
    else:
        host = sup.info(spec.log_name) if running else None
        fields = {"pid": (host["pid"] or None) if host else None}
        process_state = "running" if host and host["pid"] else "stopped"
    alive = process_state in ("running", "starting")
    if running and not alive:
        state = process_state
    elif probe.healthy:
        state = "healthy"
    else:
        state = "unhealthy" if alive else process_state
    return ComponentStatus(
        name=spec.name,
        port=spec.port(settings),
        state=state,
        detail=probe.detail,
        **fields,
        **probe.extra,
    )


def status(settings: Settings) -> StackStatus:
    """Every service's status, in start order; healthy only when every one is."""
    sup = Supervisor(settings)
    running = sup.is_running()
    components = [component_status(settings, sup, running, spec) for spec in SERVICES]
    return StackStatus(
        healthy=all(c.state == "healthy" for c in components),
        components=components,
        quality=newest_quality_run(settings),
        dead_letters=loader_dead_letters(settings),
        replication_slot=replication_slot_lag(settings),
    )
