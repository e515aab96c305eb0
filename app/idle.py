"""`etl bench idle`: the CPU and memory the local stack costs while nothing changes.

Per service of the stack `etl up` runs (supervisord's programs, each with every process below
it: the Spark JVM under the transform's Python driver, PostgreSQL's backends under the
postmaster): CPU over a window as a percentage of one core, and resident memory at its end.
psutil reads the kernel's per-process accounting; a process started during the window counts
from its start, one that ended during it is missed (the figures say how many processes).

Whether the stack really idled is reported, not assumed: the rows the captured tables changed
during the window (PostgreSQL's table statistics count every insert, update and delete; the
stack's own heartbeat table is left out). JVMs JIT-compile for their first minutes, so each
service's uptime is reported too: figures of a stack up for under 15 minutes include it.

Where a service's CPU goes, with `--threads N`: its N busiest threads, grouped by name (a JVM
names its threads: `C2 CompilerThread0`, `data-plane-kafka-network-thread-...`; Linux keeps the
first 15 characters), each as a percentage of one core over the same window. psutil gives each
thread's CPU times but not its name, which is read from `/proc/<pid>/task/<tid>/comm`.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg
from pydantic import BaseModel

from etl.errors import EtlError
from etl.settings import Settings
from etl.tables import CAPTURED_TABLES, SOURCE_SCHEMA
from infra.local.supervisor import Supervisor

#: Below this uptime a JVM service is still JIT-compiling its hot paths (measured: the Spark
#: driver's compiler threads take 7-16% of a core for its first ~15 minutes).
WARM_UP_S = 15 * 60


class ThreadUsage(BaseModel):
    name: str  # the threads' shared name, numbering stripped
    cpu_pct_of_core: float
    threads: int


class ServiceUsage(BaseModel):
    name: str
    cpu_pct_of_core: float
    rss_mib: float
    processes: int
    uptime_s: float
    threads: list[ThreadUsage] = []  # the busiest, with `--threads N`


class IdleUsage(BaseModel):
    seconds: float
    services: list[ServiceUsage]
    cpu_pct_of_core: float
    rss_mib: float
    source_row_changes: int  # rows the captured tables changed during the window: 0 when idle
    warmed_up: bool  # every service up for at least WARM_UP_S


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds so far (user + system) of each process still there, by pid."""
    used = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        used[process.pid] = times.user + times.system
    return used


#: Threads are grouped by name without the numbering JVMs and pools add (`GC Thread#1`,
#: `worker-1-2`).
_NUMBERING = re.compile(r"[-#_ ]*[0-9]+(?:[-#_ ]+[0-9]+)*$")


def thread_group(name: str) -> str:
    """`C2 CompilerThread1` -> `C2 CompilerThread`; names a JVM gives each pool's threads."""
    return _NUMBERING.sub("", name) or "?"


def _thread_cpu_seconds(processes: list[psutil.Process]) -> dict[int, tuple[str, float]]:
    """(group name, CPU seconds so far) of every thread of `processes`, by thread id."""
    used = {}
    for process in processes:
        try:
            threads = process.threads()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for thread in threads:
            comm = Path(f"/proc/{process.pid}/task/{thread.id}/comm")
            try:
                name = comm.read_text(errors="replace").strip()
            except OSError:  # the thread ended meanwhile
                continue
            used[thread.id] = (thread_group(name), thread.user_time + thread.system_time)
    return used


def busiest_threads(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    elapsed: float,
    count: int,
) -> list[ThreadUsage]:
    """The `count` thread groups that used the most CPU between two snapshots."""
    cpu: dict[str, float] = {}
    members: Counter[str] = Counter()
    for tid, (name, seconds) in after.items():
        cpu[name] = cpu.get(name, 0.0) + seconds - before.get(tid, (name, 0.0))[1]
        members[name] += 1
    busiest = sorted(cpu.items(), key=lambda item: -item[1])[:count]
    return [
        ThreadUsage(
            name=name, cpu_pct_of_core=round(100 * used / elapsed, 2), threads=members[name]
        )
        for name, used in busiest
    ]


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def source_row_changes(settings: Settings) -> int:
    """Rows inserted, updated and deleted in the captured tables so far (statistics)."""
    sql = (
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
        " WHERE schemaname = %s AND relname = ANY(%s)"
    )
    with psycopg.connect(settings.source_dsn(role="reader")) as conn:
        row = conn.execute(sql, (SOURCE_SCHEMA, list(CAPTURED_TABLES))).fetchone()
    assert row is not None
    return int(row[0])


def running_programs(settings: Settings) -> dict[str, dict[str, Any]]:
    """supervisord's RUNNING programs of this ETL_HOME: name -> its process info."""
    supervisor = Supervisor(settings)
    if not supervisor.is_running():
        raise EtlError(
            f"no local stack runs for ETL_HOME {settings.home}: `etl bench idle` measures the "
            "processes `etl up` started; run `etl up` first"
        )
    infos = supervisor.rpc.supervisor.getAllProcessInfo()
    return {i["name"]: i for i in infos if i["statename"] == "RUNNING" and i["pid"]}


def measure_idle(
    settings: Settings,
    seconds: float,
    progress: Callable[[float], None] | None = None,
    threads: int = 0,
) -> IdleUsage:
    """CPU per service over `seconds`, RSS at the end, and with `threads` each service's busiest
    threads; see the module docstring."""
    programs = running_programs(settings)
    before = {name: _cpu_seconds(_tree(info["pid"])) for name, info in programs.items()}
    threads_before = {
        name: _thread_cpu_seconds(_tree(info["pid"])) if threads else {}
        for name, info in programs.items()
    }
    changes_before = source_row_changes(settings)
    started = time.monotonic()
    while (left := seconds - (time.monotonic() - started)) > 0:
        time.sleep(min(1.0, left))
        if progress:
            progress(min(seconds, time.monotonic() - started))
    elapsed = time.monotonic() - started
    changes = source_row_changes(settings) - changes_before
    now = time.time()
    services = []
    for name, info in programs.items():
        tree = _tree(info["pid"])
        used = sum(cpu - before[name].get(pid, 0.0) for pid, cpu in _cpu_seconds(tree).items())
        services.append(
            ServiceUsage(
                name=name,
                cpu_pct_of_core=round(100 * used / elapsed, 2),
                rss_mib=round(sum(_rss(p) for p in tree) / 2**20, 1),
                processes=len(tree),
                uptime_s=round(now - info["start"], 1),
                threads=busiest_threads(
                    threads_before[name], _thread_cpu_seconds(tree), elapsed, threads
                )
                if threads
                else [],
            )
        )
    services.sort(key=lambda s: -s.cpu_pct_of_core)
    return IdleUsage(
        seconds=round(elapsed, 2),
        services=services,
        cpu_pct_of_core=round(sum(s.cpu_pct_of_core for s in services), 2),
        rss_mib=round(sum(s.rss_mib for s in services), 1),
        source_row_changes=changes,
        warmed_up=all(s.uptime_s >= WARM_UP_S for s in services),
    )
