"""Run the Pulumi program under mocks for one stack file and collect what it registered."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from etl.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PROJECT = "cdc-etl"
CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/image:Image"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
DYNAMIC = "pulumi-python:dynamic:Resource"


# How a secret input reaches the mock monitor: a map tagged with Pulumi's secret signature.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def reveal(value: Any) -> Any:
    """The plain value of a possibly secret input."""
    return value["value"] if is_secret(value) else value


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like the docker provider would and records every registration."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        if args.typ == IMAGE:
            outputs["repoDigest"] = fake_digest(args.inputs["imageName"])
        elif args.typ == CONTAINER:
            outputs["exitCode"] = 0
        elif args.typ == DYNAMIC and "length" in args.inputs:
            outputs["result"] = f"generated-{args.name}"
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]


def stack_file(stack: str) -> dict[str, Any]:
    """The `config` map of Pulumi.<stack>.yaml, as written."""
    return yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]


def stack_config(stack: str) -> dict[str, str]:
    """Pulumi.<stack>.yaml as the engine hands config to a program: `project:key` -> string."""
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in stack_file(stack).items()
    }


def stack_settings(stack: str, **extra: Any) -> Settings:
    """The settings a stack file describes (plus `extra`), built independently of the program."""
    # imported here: the program's modules load only after the mocks are installed
    from infra.pulumi.stack_config import DEFAULT_PORT_BASE, settings_from

    return settings_from(
        {"port_base": DEFAULT_PORT_BASE, **stack_file(stack)[f"{PROJECT}:settings"], **extra}
    )


def parse_properties(text: str) -> dict[str, str]:
    """`key=value` lines (a Java properties file as the project writes them)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@dataclass
class ProgramRun:
    mocks: RecordingMocks
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: dict[str, bool] = field(default_factory=dict)

    def containers(self) -> dict[str, dict[str, Any]]:
        """Container inputs by service (its network alias)."""
        return {c.inputs["hostname"]: c.inputs for c in self.mocks.of_type(CONTAINER)}

    def env(self, service: str) -> dict[str, str]:
        return dict(e.split("=", 1) for e in reveal(self.containers()[service]["envs"]))

    def properties(self, service: str) -> dict[str, str]:
        """A `jvm` image container's properties file (its `SERVICE_PROPERTIES`)."""
        return parse_properties(self.env(service)["SERVICE_PROPERTIES"])

    def connector_inputs(self) -> dict[str, Any]:
        [connector] = [r for r in self.mocks.of_type(DYNAMIC) if "connector_name" in r.inputs]
        return {key: reveal(value) for key, value in connector.inputs.items()}


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    *,
    mocks: RecordingMocks | None = None,
    stage_images: bool = False,
) -> ProgramRun:
    """Run the program (`deploy`) for `stack` under `mocks` (fresh recording ones by default);
    resolve its outputs. Image contexts are only named (`plan`) unless `stage_images`."""
    from infra.docker.contexts import plan, stage
    from infra.pulumi.program import deploy
    from infra.pulumi.stack_config import load_stack_config

    mocks = mocks or RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    config = stack_config(stack)
    for key, value in (overrides or {}).items():
        config[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    secret_keys = []
    for key, value in (secrets or {}).items():
        config[f"{PROJECT}:{key}"] = value
        secret_keys.append(f"{PROJECT}:{key}")
    pulumi.runtime.set_all_config(config, secret_keys)
    run = ProgramRun(mocks)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        cfg = load_stack_config()
        outputs = deploy(cfg, (stage if stage_images else plan)(cfg.settings))
        names = list(outputs)

        async def secretness() -> dict[str, bool]:
            return {n: await pulumi.Output.from_input(outputs[n]).is_secret() for n in names}

        values = pulumi.Output.all(*[outputs[n] for n in names])
        return pulumi.Output.all(values, pulumi.Output.from_input(secretness())).apply(
            lambda pair: (
                run.outputs.update(zip(names, pair[0], strict=True)),
                run.secret_outputs.update(pair[1]),
            )
        )

    program()
    return run
