"""`pulumi up` entry point (Pulumi.yaml `main: infra/pulumi`): read the stack config, deploy,
export. All logic lives in importable modules (`program`, `components/`)."""

import pulumi

from infra.pulumi.program import deploy
from infra.pulumi.stack_config import load_stack_config

for _name, _value in deploy(load_stack_config()).items():
    pulumi.export(_name, _value)
