"""Pulumi mocks for the infra tests: installed here, before any program module is imported.

Pulumi's engine is the one thing not run for real (no CLI can be installed here); Docker resources
are answered by `RecordingMocks`, which returns the computed outputs the real provider would
(`imageId`, `repoDigest`, `exitCode`, a generated password) so dependent values are not None.
"""

import pulumi
import pytest

from tests.infra.pulumi_harness import ProgramRun, RecordingMocks, run_program

pulumi.runtime.set_mocks(RecordingMocks(), project="cdc-etl", stack="dev", preview=False)


@pytest.fixture(scope="session")
def dev_run() -> ProgramRun:
    """The dev stack (Pulumi.dev.yaml) run once under mocks; passwords generated."""
    return run_program("dev")


@pytest.fixture(scope="session")
def staging_run() -> ProgramRun:
    return run_program("staging")
