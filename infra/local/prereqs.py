"""Find the binaries the local stack needs, or say in one line how to install them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from etl.errors import PrerequisiteMissing

JAVA_MIN = 17


def postgres_bindir() -> Path:
    """The directory holding `postgres` and `initdb` (Debian keeps them off PATH)."""
    if env := os.environ.get("ETL_PG_BINDIR"):
        explicit = Path(env)
        if (explicit / "postgres").is_file() and (explicit / "initdb").is_file():
            return explicit
        raise PrerequisiteMissing(f"ETL_PG_BINDIR={env} holds no postgres and initdb binaries")
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for directory in candidates:
        if (directory / "postgres").is_file() and (directory / "initdb").is_file():
            return directory
    raise PrerequisiteMissing(
        "PostgreSQL server binaries not found: apt-get install postgresql "
        "(or set ETL_PG_BINDIR to the folder holding postgres and initdb)"
    )


def java_binary() -> str:
    """A `java` of version 17 or newer, from JAVA_HOME or PATH."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise PrerequisiteMissing("Java not found: apt-get install openjdk-17-jre-headless")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    if not match or int(match.group(1)) < JAVA_MIN:
        raise PrerequisiteMissing(
            f"Java {JAVA_MIN}+ needed, found {java}: apt-get install openjdk-17-jre-headless"
        )
    return java


def maven_binary() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise PrerequisiteMissing(
            "Maven not found (needed once, to fetch jars): apt-get install maven"
        )
    return mvn


def running_as_root() -> bool:
    return os.geteuid() == 0
