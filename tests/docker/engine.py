"""A Docker Engine for the `docker` tests: the running one, or Debian's `dockerd` started here.

`make test` on a fresh machine must pass on its own, so when no engine answers and this runs as
root with `dockerd` installed (infra/local/prereqs.sh installs docker.io), it starts one, logging
to `<log_dir>/dockerd.log`, and stops it again when the tests are done (its images and build
cache stay in /var/lib/docker); otherwise the failure names what to install or start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from etl.errors import PrerequisiteMissing


def _ping() -> docker.DockerClient | None:
    try:
        client = docker.from_env(timeout=3600)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    return client


@contextmanager
def docker_engine(log_dir: Path, timeout_s: float = 60) -> Iterator[docker.DockerClient]:
    """A client of a Docker Engine that answers; starts `dockerd` if needed and possible, and
    stops the one it started on leaving (a running engine it found is left as it was)."""
    client = _ping()
    if client is not None:
        yield client
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise PrerequisiteMissing("no Docker Engine answers: apt-get install docker.io")
    if os.geteuid() != 0:
        raise PrerequisiteMissing("no Docker Engine answers: start one (sudo dockerd)")
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "dockerd.log").open("ab") as log:
        started = subprocess.Popen([dockerd], stdout=log, stderr=log, start_new_session=True)
    try:
        yield _wait_for_engine(log_dir, timeout_s)
    finally:
        started.terminate()  # dockerd stops its containers and containerd on SIGTERM
        try:
            started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait()


def _wait_for_engine(log_dir: Path, timeout_s: float) -> docker.DockerClient:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        client = _ping()
        if client is not None:
            return client
        time.sleep(1)
    raise PrerequisiteMissing(f"dockerd did not answer within {timeout_s:.0f} s: see {log_dir}")
