"""`pulumi up` for real: the dev stack on a local Docker engine, then `pulumi destroy`.

Needs the Pulumi CLI and a running Docker engine; where either is missing the test says which and
is skipped (the mock-based tests cover the program itself). State goes to a throwaway file backend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from etl.connector import ConnectClient
from tests.infra.pulumi_harness import REPO

pytestmark = pytest.mark.infra


def missing_prerequisites() -> list[str]:
    missing = []
    if shutil.which("pulumi") is None:
        missing.append("Pulumi CLI not on PATH (https://www.pulumi.com/docs/install/)")
    docker = shutil.which("docker")
    if docker is None:
        missing.append("docker CLI not on PATH")
    elif subprocess.run([docker, "info"], capture_output=True, check=False).returncode != 0:
        missing.append("no Docker engine answers `docker info`")
    return missing


def pulumi(args: list[str], env: dict[str, str], timeout: float = 1800) -> str:
    result = subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_pulumi_up_and_destroy_the_dev_stack(tmp_path: Path) -> None:
    missing = missing_prerequisites()
    if missing:
        reason = "; ".join(missing)
        print(f"skipping the real `pulumi up`: {reason}")
        pytest.skip(reason)
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{tmp_path}",
        "PULUMI_CONFIG_PASSPHRASE": "test-only",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    pulumi(["stack", "select", "--create", "dev"], env)
    try:
        pulumi(["up", "--yes", "--skip-preview", "--stack", "dev"], env)
        outputs = json.loads(pulumi(["stack", "output", "--json", "--show-secrets"], env))
        status = ConnectClient(outputs["connectUrl"]).status(outputs["connectorName"])
        assert status is not None and status["connector"]["state"] == "RUNNING"
        assert httpx.get(outputs["dashboardUrl"], timeout=10).status_code < 500
        # A second `up` with nothing changed changes nothing (the connector diff included).
        preview = pulumi(["preview", "--stack", "dev", "--diff", "--expect-no-changes"], env)
        assert "error" not in preview.lower()
    finally:
        pulumi(["destroy", "--yes", "--stack", "dev"], env)
        pulumi(["stack", "rm", "--yes", "--force", "dev"], env)
