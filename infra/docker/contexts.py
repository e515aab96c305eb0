"""Stage each image's build context under `ETL_HOME/docker/<image>/`.

Why staged folders and not the repository as the context: the images take jars and wheels made
on the host (no registry is reachable from inside a build here, which is also an air-gapped
user's situation), and sending the repository with its 1.3 GB venv to the daemon for every image
would be slow. Each folder holds its image's Dockerfile and exactly its inputs:

- `postgres`: the Dockerfile and `pg-entrypoint`;
- `jvm`: the Kafka and Connect jars and the Debezium plugin `etl jars` resolved from the POM,
  `jvm-service` and the local runner's log4j2 configurations;
- `app`: wheels of every runtime dependency in `pyproject.toml` (built by the host's pip for
  Python 3.11, the base's), the project's packages and `sql/`, the spark-sql-kafka jars and
  Data Docs' WebJars.

`plan` only names the folders (what the Pulumi program needs to describe the images); `stage`
fills them and is idempotent: jars and wheels are refreshed only when the POM or the
dependencies changed (stamp files), and jars are hard links where the filesystem allows.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from etl.errors import EtlError, PrerequisiteMissing
from etl.settings import JAR_DIRS, Settings
from infra.local.jars import resolve_jars
from infra.local.services import log4j2_config

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "infra" / "docker"
IMAGES: tuple[str, ...] = ("postgres", "jvm", "app")
#: The Python of the base image (Debian bookworm): the staged wheels must be built for it.
IMAGE_PYTHON = (3, 11)
#: What the app image runs from /app (pyproject's packages, the migrations, the metadata).
APP_SOURCES: tuple[str, ...] = (
    "app",
    "etl",
    "infra",
    "jobs",
    "loaders",
    "quality",
    "sql",
    "pyproject.toml",
)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
_WHEELS_STAMP = ".requirements-sha256"


def context_root(settings: Settings) -> Path:
    return settings.home / "docker"


def plan(settings: Settings) -> dict[str, Path]:
    """Image name -> its build context folder (which holds its `Dockerfile`)."""
    return {name: context_root(settings) / name for name in IMAGES}


def runtime_requirements() -> list[str]:
    """`[project].dependencies` of pyproject.toml: the one place versions are written."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def _link_tree(source: Path, target: Path) -> None:
    """Copy a folder as hard links (cheap, same bytes), falling back to copies across devices."""

    def link(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=link, ignore=_IGNORE)


def _image_files(name: str, dest: Path) -> None:
    """The Dockerfile and scripts kept in infra/docker/<name>/."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in (DOCKER_DIR / name).iterdir():
        if item.is_file():
            shutil.copy2(item, dest / item.name)


def _stage_jars(settings: Settings, dest: Path, components: tuple[str, ...]) -> None:
    for component in components:
        _link_tree(resolve_jars(settings, component), dest / "lib" / JAR_DIRS[component])


def stage_postgres(settings: Settings, dest: Path) -> None:
    _image_files("postgres", dest)


def stage_jvm(settings: Settings, dest: Path) -> None:
    _image_files("jvm", dest)
    _stage_jars(settings, dest, ("kafka", "connect", "debezium"))
    for component in ("kafka", "connect"):
        (dest / f"log4j2-{component}.xml").write_text(log4j2_config(component))


def stage_wheels(dest: Path, python: str = sys.executable) -> None:
    """Wheels of every runtime dependency, with `requirements.txt` naming them."""
    if sys.version_info[:2] != IMAGE_PYTHON:
        wanted = ".".join(map(str, IMAGE_PYTHON))
        raise PrerequisiteMissing(
            f"the app image's wheels are built for Python {wanted} (Debian bookworm's), "
            f"this is {sys.version.split()[0]}: run with python{wanted}"
        )
    requirements = "\n".join(runtime_requirements()) + "\n"
    digest = hashlib.sha256(requirements.encode()).hexdigest()
    stamp = dest / _WHEELS_STAMP
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    (dest / "requirements.txt").write_text(requirements)
    pip_wheel = [python, "-m", "pip", "wheel", "-q", "--wheel-dir", str(dest)]
    result = subprocess.run(
        [*pip_wheel, "-r", str(dest / "requirements.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise EtlError("pip wheel for the app image failed: " + result.stderr[-1200:])
    stamp.write_text(digest + "\n")


def stage_app(settings: Settings, dest: Path) -> None:
    _image_files("app", dest)
    stage_wheels(dest / "wheels")
    _stage_jars(settings, dest, ("spark", "webjars"))
    src = dest / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in APP_SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=_IGNORE)
        else:
            shutil.copy2(path, src / name)


STAGERS: dict[str, Callable[[Settings, Path], None]] = {
    "postgres": stage_postgres,
    "jvm": stage_jvm,
    "app": stage_app,
}


def stage(settings: Settings) -> dict[str, Path]:
    """Fill every image's context folder (see the module docstring); return `plan(settings)`."""
    contexts = plan(settings)
    for name, folder in contexts.items():
        STAGERS[name](settings, folder)
    return contexts
