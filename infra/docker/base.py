"""The one Debian base every image of the deployment is built from.

`PINNED_BASE` is the pinned default (`debian:bookworm-slim` by digest); stack config `baseImage`
overrides it. Where no registry serves images (an air-gapped host, or this project's CI),
`ensure_base` makes the same Debian release's root filesystem with `debootstrap` from Debian's
package archive and imports it as `LOCAL_BASE`: `python -m infra.docker.base` prints the
reference to put in `baseImage`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from etl.errors import PrerequisiteMissing

if TYPE_CHECKING:  # the `docker` package is a dev dependency: imported where it is used
    from docker import DockerClient

PINNED_BASE = (
    "debian:bookworm-slim@sha256:4b50eb66f977b4062683ff434ef18ac191da862dbe966961bc11990cf5791a8d"
)
#: The Debian release of PINNED_BASE: its python3 (3.11) is the one the image's wheels are for.
SUITE = "bookworm"
LOCAL_BASE = f"cdc-etl/debian-base:{SUITE}"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def _docker_client() -> DockerClient:
    import docker  # the `docker` PyPI package: the Docker Engine API

    return docker.from_env(timeout=600)


def image_present(client: DockerClient, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def try_pull(client: DockerClient, ref: str) -> bool:
    import docker.errors

    try:
        client.images.pull(ref)
    except docker.errors.APIError:
        return False
    return True


def debootstrap_base(
    client: DockerClient, tag: str = LOCAL_BASE, mirror: str = DEBIAN_MIRROR
) -> str:
    """`debootstrap --variant=minbase` the release into a temporary folder, `docker import` it."""
    if shutil.which("debootstrap") is None:
        raise PrerequisiteMissing("debootstrap not found: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="cdc-etl-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PrerequisiteMissing(
                f"debootstrap {SUITE} failed (needs root and {mirror}): "
                + (result.stdout + result.stderr)[-600:]
            )
        # What the slim image leaves out too: downloaded packages and apt's lists.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        repository, _, image_tag = tag.rpartition(":")
        client.api.import_image_from_stream(tar.stdout, repository=repository, tag=image_tag)
        if tar.wait() != 0:
            raise PrerequisiteMissing(f"tar of the {SUITE} root filesystem failed")
    return tag


def ensure_base(client: DockerClient | None = None, pinned: str = PINNED_BASE) -> str:
    """The base reference to build from: the pinned image if present or pullable, else a
    debootstrapped `LOCAL_BASE` (made once, then reused)."""
    client = client or _docker_client()
    if image_present(client, pinned) or try_pull(client, pinned):
        return pinned
    if image_present(client, LOCAL_BASE):
        return LOCAL_BASE
    return debootstrap_base(client)


if __name__ == "__main__":
    print(ensure_base())
    sys.exit(0)
