"""`pulumi up` without the Pulumi CLI: the program's Docker resources applied through the Docker
Engine API (the `docker` PyPI package), in dependency order, with the exact inputs the program
hands to the Docker provider.

How: Pulumi's mock monitor calls `new_resource` once per resource, with its inputs resolved,
after every resource it depends on (by data or `depends_on`) has returned. `ApplyingMocks` is
such a monitor that creates the resource for real and answers with the real outputs (a built
image's id, a task's exit code), which is what the docker provider does under `pulumi up`:

- `Image`: build `build.context` / `build.dockerfile` with `build.args`, tag `imageName`;
- `Network`, `Volume`: create them by name;
- `Container`: create with its command, env, mounts, network and aliases, published ports,
  health check, restart policy, log options and labels; start it; `wait` -> wait until healthy
  (`waitTimeout`), `attach` (a one-shot task) -> wait for its exit and fail on a non-zero code;
- the connector (a dynamic resource): the program's own `ConnectorProvider.create`.

Every created object is remembered, so `destroy` removes them in reverse order, volumes too.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import docker
import docker.errors
import pulumi

from infra.pulumi.connector_provider import ConnectorProvider
from tests.infra.pulumi_harness import (
    CONTAINER,
    DYNAMIC,
    IMAGE,
    NETWORK,
    VOLUME,
    RecordingMocks,
    reveal,
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def duration_ns(text: str) -> int:
    """A Go-style duration of the docker provider ("10s", "500ms") in nanoseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"unsupported duration {text!r}")
    return int(float(match.group(1)) * _NS[match.group(2)])


def healthcheck(inputs: dict[str, Any] | None) -> dict[str, Any] | None:
    if not inputs:
        return None
    check: dict[str, Any] = {"test": inputs["tests"]}
    for key, api_key in (
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("startPeriod", "start_period"),
    ):
        if inputs.get(key):
            check[api_key] = duration_ns(inputs[key])
    if inputs.get("retries"):
        check["retries"] = int(inputs["retries"])
    return check


class ApplyingMocks(RecordingMocks):
    """Pulumi mocks that apply each resource with the Docker Engine API (see module docstring)."""

    def __init__(self, build_timeout_s: int = 3600) -> None:
        super().__init__()
        self.client = docker.from_env(timeout=build_timeout_s)
        self.created: list[tuple[str, str]] = []  # (kind, id) in creation order
        #: seconds each resource took to apply, for the test's printed figures
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    # ---- Pulumi's mock interface
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        """Apply for real; the recording mocks' answer (generated passwords) fills the rest."""
        started = time.monotonic()
        inputs = {key: reveal(value) for key, value in args.inputs.items()}
        resource_id, outputs = self._apply(args.typ, inputs)
        self.seconds[args.name] = time.monotonic() - started
        recorded_id, recorded = super().new_resource(args)
        return resource_id or recorded_id, {**recorded, **outputs}

    def _apply(self, typ: str, inputs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """(real id, real outputs) of what was created; (None, {}) for what is not Docker's."""
        if typ == IMAGE:
            return self._build(inputs)
        if typ == NETWORK:
            network = self.client.networks.create(inputs["name"], driver=inputs.get("driver"))
            self._remember("network", network.id)
            return network.id, {}
        if typ == VOLUME:
            volume = self.client.volumes.create(name=inputs["name"])
            self._remember("volume", volume.name)
            return volume.name, {}
        if typ == CONTAINER:
            return self._container(inputs)
        if typ == DYNAMIC and "connector_name" in inputs:
            result = ConnectorProvider().create(inputs)
            return result.id, dict(result.outs or {})
        return None, {}

    def _remember(self, kind: str, ident: str) -> None:
        with self._lock:
            self.created.append((kind, ident))

    # ---- images
    def _build(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        build = inputs["build"]
        image, _logs = self.client.images.build(
            path=build["context"],
            dockerfile=build["dockerfile"],
            buildargs=build.get("args") or {},
            tag=inputs["imageName"],
            rm=True,
            forcerm=True,
        )
        return inputs["imageName"], {"repoDigest": image.id, "imageName": inputs["imageName"]}

    # ---- containers
    def _container(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        networks = inputs.get("networksAdvanced") or []
        first, *others = networks
        endpoint = self.client.api.create_endpoint_config(aliases=first.get("aliases"))
        ports = {
            f"{int(p['internal'])}/tcp": (p.get("ip") or "127.0.0.1", int(p["external"]))
            for p in inputs.get("ports") or []
        }
        restart = inputs.get("restart") or "no"
        container = self.client.containers.create(
            image=inputs["image"],
            name=inputs["name"],
            hostname=inputs.get("hostname"),
            command=inputs.get("command"),
            environment=list(inputs.get("envs") or []),
            volumes={
                v["volumeName"]: {"bind": v["containerPath"], "mode": "rw"}
                for v in inputs.get("volumes") or []
            },
            ports=ports,
            healthcheck=healthcheck(inputs.get("healthcheck")),
            restart_policy={"Name": restart} if restart != "no" else None,
            log_config={
                "Type": inputs.get("logDriver") or "json-file",
                "Config": inputs.get("logOpts") or {},
            },
            labels={item["label"]: item["value"] for item in inputs.get("labels") or []},
            network=first["name"],
            networking_config={first["name"]: endpoint},
        )
        self._remember("container", container.id)
        for extra in others:
            self.client.networks.get(extra["name"]).connect(container, aliases=extra.get("aliases"))
        container.start()
        if inputs.get("attach"):
            code = container.wait(timeout=int(inputs.get("waitTimeout") or 600))["StatusCode"]
            if code != 0:
                logs = container.logs(tail=40).decode(errors="replace")
                raise RuntimeError(f"one-shot task {inputs['name']} exited with {code}:\n{logs}")
            return container.id, {"exitCode": code}
        if inputs.get("wait"):
            self.wait_healthy(container.id, float(inputs.get("waitTimeout") or 180))
        return container.id, {"exitCode": None}

    def wait_healthy(self, container_id: str, timeout_s: float) -> None:
        """Like the provider's `wait`: until Docker says healthy; fail on exit or unhealthy."""
        deadline = time.monotonic() + timeout_s
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.client.api.inspect_container(container_id)["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy" or (health is None and state.get("Running")):
                return
            if health == "unhealthy" or state.get("Status") in ("exited", "dead"):
                break
            time.sleep(1)
        name = self.client.api.inspect_container(container_id)["Name"]
        logs = self.client.api.logs(container_id, tail=40).decode(errors="replace")
        raise RuntimeError(f"container {name} not healthy ({state.get('Health')}):\n{logs}")

    # ---- pulumi destroy
    def destroy(self) -> list[str]:
        """Remove what was created, newest first (connectors go with Connect's topics)."""
        errors = []
        for kind, ident in reversed(self.created):
            try:
                if kind == "container":
                    self.client.containers.get(ident).remove(force=True, v=True)
                elif kind == "network":
                    self.client.networks.get(ident).remove()
                elif kind == "volume":
                    self.client.volumes.get(ident).remove(force=True)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:
                errors.append(f"{kind} {ident}: {exc}")
        return errors
