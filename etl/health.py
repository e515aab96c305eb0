"""Real health probes: each asks the component to do its job once (a query, metadata, REST).

Generic over settings; which service is answered by which probe is the service catalog's
business (`infra.services`). A probe never raises for an unreachable component: it returns an
unhealthy `Probe` with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from confluent_kafka.admin import AdminClient

from etl.connector import ConnectClient
from etl.progress import ProgressFile
from etl.settings import Settings


@dataclass
class Probe:
    healthy: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def probe_postgres(dsn: str, timeout_s: float = 2.0) -> Probe:
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        return Probe(True, f"PostgreSQL {version[0] if version else '?'}")
    except psycopg.Error as exc:
        return Probe(False, str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))


def probe_kafka(settings: Settings, timeout_s: float = 2.0) -> Probe:
    admin = AdminClient(
        settings.kafka_client_config(**{"socket.connection.setup.timeout.ms": 2000, "log_level": 0})
    )
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception as exc:  # KafkaException: not reachable yet
        return Probe(False, str(exc))
    if not metadata.brokers:
        return Probe(False, "no brokers in metadata")
    return Probe(True, f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)")


def probe_connect(settings: Settings, timeout_s: float = 2.0) -> Probe:
    url = settings.connect_url
    try:
        root = httpx.get(url + "/", timeout=timeout_s)
        plugins = httpx.get(url + "/connector-plugins", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Probe(False, str(exc) or type(exc).__name__)
    if root.status_code != 200 or plugins.status_code != 200:
        return Probe(False, f"HTTP {root.status_code}/{plugins.status_code}")
    classes = {p.get("class", "") for p in plugins.json()}
    if "io.debezium.connector.postgresql.PostgresConnector" not in classes:
        return Probe(False, "Debezium PostgresConnector not on the plugin path")
    return Probe(True, f"Kafka Connect {root.json().get('version', '?')}")


def probe_connector(settings: Settings, timeout_s: float = 2.0) -> Probe:
    try:
        status = ConnectClient(settings.connect_url, timeout_s).status(settings.connector_name)
    except httpx.HTTPError as exc:
        return Probe(False, str(exc) or type(exc).__name__, {"connector_state": None, "tasks": []})
    if status is None:
        return Probe(False, "connector not registered", {"connector_state": None, "tasks": []})
    tasks = [
        {"id": t["id"], "state": t["state"], **({"trace": t["trace"]} if "trace" in t else {})}
        for t in status.get("tasks", [])
    ]
    state = status["connector"]["state"]
    healthy = state == "RUNNING" and bool(tasks) and all(t["state"] == "RUNNING" for t in tasks)
    extra: dict[str, Any] = {"connector_state": state, "tasks": tasks}
    if "trace" in status["connector"]:
        extra["trace"] = status["connector"]["trace"]
    detail = f"connector {state}, tasks " + ",".join(t["state"] for t in tasks) if tasks else state
    return Probe(healthy, detail, extra)


def probe_progress(settings: Settings, progress: type[ProgressFile]) -> Probe:
    """A streaming service is healthy while it keeps reporting progress (idle ones too), its
    file no older than the model allows (`ProgressFile.max_age_s`).

    With several replicas writing to one run folder (the Docker deployment's loaders), the
    service is healthy only while every replica reports; a replica probes only its own file.
    """
    paths = progress.paths(settings)
    max_age_s = progress.max_age_s(settings)
    if len(paths) == 1:
        return probe_progress_file(paths[0], progress, max_age_s)
    probes = {path.name: probe_progress_file(path, progress, max_age_s) for path in paths}
    return Probe(
        all(p.healthy for p in probes.values()),
        "; ".join(f"{name}: {p.detail}" for name, p in probes.items()),
        {"replicas": {name: {"healthy": p.healthy, **p.extra} for name, p in probes.items()}},
    )


def probe_progress_file(path: Path, progress: type[ProgressFile], max_age_s: float) -> Probe:
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return Probe(False, f"no progress reported yet ({path.name})")
    report = progress.read_path(path)
    if report is None:
        return Probe(False, f"unreadable progress file {path.name}")
    summary = report.summary()
    if age > max_age_s:
        return Probe(False, f"last progress {age:.0f} s ago", {"progress": summary})
    detail = ", ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, dict))
    return Probe(
        True, detail or "reporting", {"progress": summary, "progress_age_s": round(age, 1)}
    )


def probe_dashboard(settings: Settings, timeout_s: float = 3.0) -> Probe:
    try:
        response = httpx.get(settings.dashboard_url + "/healthz", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Probe(False, str(exc) or type(exc).__name__)
    if response.status_code == 200:
        return Probe(True, f"serving {settings.dashboard_url}")
    return Probe(False, f"HTTP {response.status_code}")
