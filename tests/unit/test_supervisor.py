import os
from pathlib import Path

import pytest

from etl.errors import EtlError
from etl.settings import Settings
from infra.local.services import LocalProgram
from infra.local.supervisor import Supervisor, pid_path, render_config, spawn_count

pytestmark = pytest.mark.unit


def test_config_restarts_rotates_and_waits_for_etl_up(tmp_path):
    s = Settings(home=tmp_path)
    text = render_config(
        s,
        [
            LocalProgram("kafka", ["java", "-cp", "/lib dir/*", "kafka.Kafka"]),
            LocalProgram("source-db", ["postgres"], user="postgres"),
        ],
    )
    assert "[program:kafka]" in text and "[program:source-db]" in text
    assert "autorestart=true" in text and "autostart=false" in text
    assert "stdout_logfile_maxbytes=20MB" in text and "stdout_logfile_backups=5" in text
    assert "command=java -cp '/lib dir/*' kafka.Kafka" in text
    assert "user=postgres" in text
    assert f"file={tmp_path}/run/supervisor.sock" in text


def test_percent_signs_are_escaped_for_supervisord(tmp_path):
    text = render_config(Settings(home=tmp_path), [LocalProgram("pg", ["postgres", "-c", "x=%m"])])
    assert "x=%%m" in text


def test_restarts_count_crash_respawns_since_the_last_intentional_start(tmp_path):
    log = tmp_path / "supervisord.log"
    log.write_text(
        "\n".join(
            [
                "2026 INFO supervisord started with pid 1",
                "2026 INFO spawned: 'kafka' with pid 10",
                "2026 INFO exited: kafka (terminated by SIGKILL; not expected)",
                "2026 INFO spawned: 'kafka' with pid 11",
                "2026 INFO spawned: 'connect' with pid 12",
            ]
        )
    )
    assert spawn_count(log, "kafka") == 2
    assert spawn_count(log, "connect") == 1
    log.write_text(
        log.read_text() + "\n2026 INFO stopped: kafka (exit status 0)\n"
        "2026 INFO spawned: 'kafka' with pid 13\n"
    )
    assert spawn_count(log, "kafka") == 1


def test_stale_pid_file_is_removed_with_a_notice(tmp_path):
    s = Settings(home=tmp_path)
    pid_path(s).parent.mkdir(parents=True)
    dead = _dead_pid()
    pid_path(s).write_text(str(dead))
    notice = Supervisor(s).stale_pidfile_notice()
    assert notice is not None and f"pid {dead} is not running" in notice
    assert not pid_path(s).exists()


def test_pid_file_of_a_live_foreign_process_is_an_error(tmp_path):
    s = Settings(home=tmp_path)
    pid_path(s).parent.mkdir(parents=True)
    pid_path(s).write_text(str(os.getpid()))
    with pytest.raises(EtlError, match="no supervisord answers"):
        Supervisor(s).stale_pidfile_notice()


def _dead_pid() -> int:
    pid = 4_000_000
    while Path(f"/proc/{pid}").exists():
        pid -= 1
    return pid


def test_a_changed_config_file_changes_the_program_definition(tmp_path):
    """supervisord restarts a program only when its definition changes: the file digest is in it."""
    from infra.local.services import connect_program

    first = connect_program(Settings(home=tmp_path, heartbeat_interval_ms=1000))
    same = connect_program(Settings(home=tmp_path, heartbeat_interval_ms=1000))
    changed = connect_program(Settings(home=tmp_path, replication_factor=3, min_insync_replicas=1))
    assert first.environment == same.environment
    assert first.environment != changed.environment
    assert first.command == changed.command  # same file path: only the digest tells them apart


def test_python_services_carry_the_stack_settings_and_transform_stops_alone(tmp_path):
    s = Settings(home=tmp_path, port_base=23000)
    from infra.services import service

    transform, loader = (
        service(name).local.program(s, name, service(name).module)  # type: ignore[union-attr]
        for name in ("transform", "loader")
    )
    assert transform.command[-2:] == ["-m", "jobs.transform"]
    assert loader.environment["ETL_PORT_BASE"] == "23000"
    assert loader.environment["ETL_HOME"] == str(tmp_path)
    text = render_config(s, [transform, loader])
    transform_section = text.split("[program:transform]")[1].split("[program:loader]")[0]
    assert "stopasgroup=false" in transform_section and "killasgroup=true" in transform_section
    assert "stopasgroup=true" in text.split("[program:loader]")[1]


def test_purge_removes_all_state_but_the_jars(tmp_path):
    from infra.local.runner import down

    # explicit lib dir: the session stack fixture may have set ETL_LIB_DIR to the shared cache
    s = Settings(home=tmp_path, lib_dir_override=tmp_path / "lib")
    dirs = [s.data_dir, s.logs_dir, s.run_dir, s.conf_dir, s.checkpoints_dir / "transform"]
    for directory in [*dirs, s.lib_dir / "kafka"]:
        directory.mkdir(parents=True)
    down(s, purge=True)
    assert [d for d in dirs if d.exists()] == []
    assert (s.lib_dir / "kafka").is_dir()
