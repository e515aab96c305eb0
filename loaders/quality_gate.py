"""The loader's quality gate: every N applied batches, the warehouse suites run beside loading.

The suites run as a separate process (`python -m quality --trigger gate ...`, started by module
name: the loader does not import GX or `quality`, the layers keep them apart), so a run costs
the loader no latency: starting it is a fork, and its outcome is picked up with a non-blocking
poll between batches. At most one run at a time; a batch count reached while one runs waits for
the next batch after it ends. The run records its result in `dw.quality_results` itself, where
`etl status` and the dashboard flag a failure.

Loading goes on whatever the outcome (nothing is held back or lost). With
`ETL_QUALITY_GATE_PAUSE=true`, a failed run pauses consumption (the partitions stay assigned,
so no rebalance), the gate re-runs every `RECHECK_S` seconds, and loading resumes from exactly
where it stopped once a run passes. Data Docs are not built by the gate (`etl quality` does).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer

from etl.settings import Settings, settings_environment

log = logging.getLogger("loaders.quality_gate")
#: While paused by a failed run: how often the gate runs again.
RECHECK_S = 30.0
_REPO = Path(__file__).resolve().parent.parent


class QualityGate:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.every = settings.quality_gate_every_batches
        self.batches = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.failing = False
        self.paused = False
        self.last_start = 0.0

    def command(self) -> list[str]:
        # the warehouse-only suites: freshness and the DLQ need the source and Kafka
        return [
            sys.executable,
            "-m",
            "quality",
            "--warehouse-only",
            "--trigger",
            "gate",
            "--no-docs",
        ]

    def batch_applied(self) -> None:
        """Count a batch; start a run when N have been applied and none is running."""
        if self.every == 0:
            return
        self.batches += 1
        self.poll()
        if self.batches >= self.every and self.proc is None:
            self.start()

    def start(self) -> None:
        self.batches = 0
        self.last_start = time.monotonic()
        env = {**os.environ, **settings_environment(self.settings)}
        self.proc = subprocess.Popen(
            self.command(),
            cwd=_REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        log.info("quality gate started", extra={"pid": self.proc.pid})

    def poll(self) -> None:
        """Pick up the outcome of a finished run (never waits)."""
        if self.proc is None or self.proc.poll() is None:
            return
        code, stderr = self.proc.returncode, (self.proc.stderr.read() if self.proc.stderr else b"")
        self.proc = None
        if code == 0:
            self.failing = False
            log.info("quality gate passed")
        elif code == 1:
            self.failing = True
            log.warning("quality gate failed: see `etl status` or dw.quality_results")
        else:  # the run itself broke: report it, judge nothing
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            log.warning("quality gate could not run", extra={"exit": code, "error": tail[0]})

    def holds(self, consumer: Consumer) -> bool:
        """Whether loading waits now (pause configured and the last run failed); pauses and
        resumes the consumer's partitions accordingly."""
        self.poll()
        hold = self.settings.quality_gate_pause and self.failing
        if hold and self.proc is None and time.monotonic() - self.last_start > RECHECK_S:
            self.start()
        if hold != self.paused:
            assignment = consumer.assignment()
            if hold:
                consumer.pause(assignment)
                log.warning("loading paused by the quality gate (ETL_QUALITY_GATE_PAUSE)")
            else:
                consumer.resume(assignment)
                log.info("loading resumed: the quality gate passed")
            self.paused = hold
        return hold

    def close(self) -> None:
        """On loader stop: end a run still going (it only reads; its result is not needed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
