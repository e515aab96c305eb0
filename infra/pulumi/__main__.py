"""`pulumi up` entry point (Pulumi.yaml `main: infra/pulumi`): read the stack config, stage the
images' build contexts (jars and wheels from the host: see infra.docker.contexts), deploy, export.
All logic lives in importable modules (`program`, `components/`)."""

import pulumi

from infra.docker.contexts import stage
from infra.pulumi.program import deploy
from infra.pulumi.stack_config import load_stack_config

_config = load_stack_config()
for _name, _value in deploy(_config, stage(_config.settings)).items():
    pulumi.export(_name, _value)
