"""The service objects (`infra.services`): one declaration each, consistent with itself, and the
only list the runner, `etl status` and the image commands are built from."""

from __future__ import annotations

import importlib.util

import pytest

from etl.settings import Settings
from infra.pulumi.entrypoints import APP_DIR, module_command, module_script
from infra.services import SERVICES, processes, project_services, service, with_dependencies
from tests.fixtures.stack import REPO

pytestmark = pytest.mark.unit


def test_dependencies_are_known_services_started_earlier() -> None:
    order = [s.name for s in SERVICES]
    assert len(set(order)) == len(order)
    for position, spec in enumerate(SERVICES):
        for dependency in spec.depends_on:
            assert dependency in order[:position], f"{spec.name} needs {dependency} first"
        if spec.host:
            assert spec.host in order[:position] and not spec.process


def test_every_process_has_a_local_program_of_its_name(tmp_path) -> None:
    settings = Settings(home=tmp_path, lib_dir_override=tmp_path / "lib")
    for spec in processes():
        if spec.module:  # the JVM and PostgreSQL builders need binaries; Python ones do not
            program = spec.local.program(settings, spec.name, spec.module)  # type: ignore[union-attr]
            assert program.name == spec.name
            assert program.command[-len(spec.module) - 1 :] == ["-m", *spec.module]


def test_entry_points_exist_locally_and_in_the_image() -> None:
    """The module a service runs is importable, and the file spark-submit gets is real
    (the image's APP_DIR is the repository root)."""
    for spec in project_services():
        assert importlib.util.find_spec(spec.module[0]) is not None, spec.module
        assert module_command(spec) == ["python", "-m", *spec.module]
        if spec.spark_job:
            script = module_script(spec)
            assert (REPO / script.removeprefix(APP_DIR + "/")).is_file(), script


def test_streaming_services_are_probed_by_their_progress_file(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    for spec in SERVICES:
        if spec.progress is not None:
            probe = spec.probe(settings)
            assert not probe.healthy and spec.progress.FILE_NAME in probe.detail


def test_with_dependencies_closes_over_what_a_service_needs() -> None:
    assert [s.name for s in with_dependencies(["connector"])] == [
        "source-db",
        "kafka",
        "connect",
        "connector",
    ]
    assert with_dependencies(None) == list(SERVICES)
    with pytest.raises(KeyError, match="unknown component 'sparkle'"):
        service("sparkle")
