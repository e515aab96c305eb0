"""CLI argument and configuration errors: one clear line, non-zero exit, no traceback."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def run_etl(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        timeout=120,
        check=False,
    )


def test_negative_order_count_is_rejected():
    result = run_etl("seed", "--orders", "0")
    assert result.returncode == 2
    assert "--orders" in result.stderr


def test_non_numeric_option_is_rejected():
    result = run_etl("seed", "--orders", "many")
    assert result.returncode == 2
    assert "Invalid value for '--orders'" in result.stderr


def test_unknown_command_is_rejected():
    result = run_etl("launch")
    assert result.returncode == 2
    assert "launch" in result.stderr


def test_bad_config_value_names_the_key():
    result = run_etl("env", ETL_PORT_BASE="eighty")
    assert result.returncode == 1
    assert "ETL_PORT_BASE" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_postgres_binaries_name_themselves(tmp_path):
    result = run_etl(
        "up", ETL_HOME=str(tmp_path), ETL_PG_BINDIR=str(tmp_path), ETL_PORT_BASE="41000"
    )
    assert result.returncode == 1
    assert "ETL_PG_BINDIR" in result.stderr and "postgres" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_java_names_itself(tmp_path):
    result = run_etl("up", ETL_HOME=str(tmp_path), JAVA_HOME=str(tmp_path), ETL_PORT_BASE="41000")
    assert result.returncode == 1
    assert "Java not found" in result.stderr


def test_env_prints_shell_assignments():
    result = run_etl("env", ETL_PORT_BASE="22000")
    assert result.returncode == 0
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["ETL_KAFKA_BOOTSTRAP"] == "127.0.0.1:22002"
    assert lines["ETL_CDC_TOPIC_ORDERS"] == "cdc.public.orders"


def test_bench_idle_without_a_local_stack_says_to_start_one(tmp_path):
    result = run_etl("bench", "idle", "--seconds", "1", ETL_HOME=str(tmp_path))
    assert result.returncode == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "run `etl up` first" in lines[0] and str(tmp_path) in lines[0]
