"""Unit tests see only the settings they construct: never a real ETL_HOME's passwords file."""

import pytest


@pytest.fixture(autouse=True)
def _no_home_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_PASSWORDS_FILE", "false")
