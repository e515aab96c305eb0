"""How every container of the deployment is made: one network, a restart policy, a health check,
log rotation, labels.

Components describe *what* runs (`ContainerSpec`); `service_container` decides *how*, once, so no
component can forget a health check or a restart policy. Long-running services restart
`unless-stopped` and are waited on until healthy (dependents start after). One-shot tasks
(migrations, topic creation) are attached to: `pulumi up` waits for them to exit and fails on a
non-zero exit code, and they never restart on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from etl.settings import Settings

SERVICE_RESTART = "unless-stopped"
TASK_RESTART = "no"
#: Docker's way to say "this container has no health check" (used for one-shot tasks only).
NO_HEALTHCHECK = ("NONE",)


@dataclass(frozen=True)
class Deployment:
    """What every container of one stack shares."""

    name_prefix: str
    network_name: pulumi.Input[str]
    host_ip: str = "127.0.0.1"

    def container_name(self, service: str) -> str:
        return f"{self.name_prefix}-{service}"

    @property
    def host_address(self) -> str:
        """How the host reaches a published port; a wildcard bind is reached via loopback."""
        return "127.0.0.1" if self.host_ip in ("0.0.0.0", "") else self.host_ip

    def host_url(self, port: int) -> str:
        return f"http://{self.host_address}:{port}"


@dataclass(frozen=True)
class ImageArgs:
    """Args every component takes: the image it runs and the deployment it joins."""

    image: pulumi.Input[str]
    deployment: Deployment


@dataclass(frozen=True)
class ServiceArgs(ImageArgs):
    """Args of a component configured from the shared settings."""

    settings: Settings


@dataclass(frozen=True)
class HealthCheck:
    """A Docker health check; `test` is an exec-form command (no shell)."""

    test: tuple[str, ...]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 12
    start_period: str = "20s"

    def args(self) -> docker.ContainerHealthcheckArgs:
        if self.test == NO_HEALTHCHECK:
            return docker.ContainerHealthcheckArgs(tests=list(NO_HEALTHCHECK))
        return docker.ContainerHealthcheckArgs(
            tests=["CMD", *self.test],
            interval=self.interval,
            timeout=self.timeout,
            retries=self.retries,
            start_period=self.start_period,
        )


@dataclass(frozen=True)
class ContainerSpec:
    """One container: `service` is also its host name and network alias."""

    service: str
    image: pulumi.Input[str]
    healthcheck: HealthCheck
    envs: pulumi.Input[Sequence[pulumi.Input[str]]] = ()
    command: Sequence[str] | None = None
    #: (docker volume name, path in the container)
    volumes: Sequence[tuple[pulumi.Input[str], str]] = ()
    #: container ports published on the deployment's host address, same number outside
    published_ports: Sequence[int] = ()
    one_shot: bool = False
    wait_timeout_s: int = 180
    labels: dict[str, str] = field(default_factory=dict)


def service_container(
    resource_name: str, spec: ContainerSpec, deployment: Deployment, opts: pulumi.ResourceOptions
) -> docker.Container:
    labels = {
        "io.cdc-etl.stack": deployment.name_prefix,
        "io.cdc-etl.service": spec.service,
        **spec.labels,
    }
    task = spec.one_shot
    container = docker.Container(
        resource_name,
        name=deployment.container_name(spec.service),
        hostname=spec.service,
        image=spec.image,
        command=list(spec.command) if spec.command is not None else None,
        envs=spec.envs,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(
                name=deployment.network_name, aliases=[spec.service]
            )
        ],
        volumes=[
            docker.ContainerVolumeArgs(volume_name=name, container_path=path)
            for name, path in spec.volumes
        ],
        ports=[
            docker.ContainerPortArgs(internal=p, external=p, ip=deployment.host_ip)
            for p in spec.published_ports
        ],
        healthcheck=spec.healthcheck.args(),
        restart=TASK_RESTART if task else SERVICE_RESTART,
        must_run=not task,
        attach=task,
        logs=task,
        wait=not task,
        wait_timeout=spec.wait_timeout_s,
        log_driver="json-file",
        log_opts={"max-size": "10m", "max-file": "3"},
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
        opts=opts,
    )
    if task:
        container.exit_code.apply(lambda code: _require_success(spec.service, code))
    return container


def _require_success(service: str, exit_code: int | None) -> int | None:
    """Fail `pulumi up` with the task's name when a one-shot task exits non-zero."""
    if exit_code not in (None, 0):
        raise RuntimeError(
            f"one-shot task {service} exited with {exit_code}: see `docker logs <prefix>-{service}`"
        )
    return exit_code
