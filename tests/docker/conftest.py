"""Pulumi mocks installed before any program module is imported (as in tests/infra)."""

import pulumi

from tests.infra.pulumi_harness import RecordingMocks

pulumi.runtime.set_mocks(RecordingMocks(), project="cdc-etl", stack="dev", preview=False)
