"""Copy each JVM component's jars from Maven into `ETL_LIB_DIR/<folder>/`, once.

The POM (`infra/jvm/pom.xml`) declares one profile per component. A directory is reused while the
POM is unchanged (a stamp file holds the POM's hash), so nothing is downloaded at run time and a
version bump in the POM re-resolves just by running `etl jars` or `etl up` again.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from etl.errors import PrerequisiteMissing
from etl.settings import JAR_DIRS, Settings
from infra.local.prereqs import maven_binary

POM = Path(__file__).resolve().parent.parent / "jvm" / "pom.xml"
#: Components with a POM of their own (no profile): Data Docs' WebJars.
OWN_POMS: dict[str, Path] = {"webjars": POM.with_name("webjars.xml")}

#: The POM's profiles, one per JVM component; each lands in `Settings.jars_dir(component)`.
COMPONENTS: tuple[str, ...] = tuple(JAR_DIRS)
_STAMP = ".pom-sha256"


def _pom(component: str) -> Path:
    return OWN_POMS.get(component, POM)


def _pom_hash(component: str) -> str:
    return hashlib.sha256(_pom(component).read_bytes()).hexdigest()


def jars_current(settings: Settings, component: str) -> bool:
    stamp = settings.jars_dir(component) / _STAMP
    return stamp.exists() and stamp.read_text().strip() == _pom_hash(component)


def resolve_jars(settings: Settings, component: str) -> Path:
    """Make `lib/<component>` hold the component's runtime jars; return the directory."""
    target = settings.jars_dir(component)
    if jars_current(settings, component):
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        maven_binary(),
        "-B",
        "-q",
        "-f",
        str(_pom(component)),
        *([] if component in OWN_POMS else ["-P", component]),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise PrerequisiteMissing(f"Maven could not resolve the {component} jars:\n{tail}")
    (staging / _STAMP).write_text(_pom_hash(component))
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    return target
