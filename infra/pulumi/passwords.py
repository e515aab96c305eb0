"""Database passwords: a stack secret when the operator set one, else generated once and kept.

Why not `secrets.token_urlsafe()` straight in the program: it would yield a new password on every
`pulumi up`, while the postgres image applies `POSTGRES_PASSWORD` only when it initialises an empty
volume, so the second run would lock every client out. pulumi-random (which keeps a generated value
in the stack state) is not a dependency here; `GeneratedPassword` is its ~20-line equivalent: the
value is made by Python's `secrets` in `create`, stored (encrypted, as a secret output) in the
stack state, and stays the same until the resource is replaced. To choose a password instead:
`pulumi config set --secret dbPassword ...` (and `loaderPassword`, `readerPassword`,
`replicationPassword`).

One password per database role of the role model (`etl.settings.DB_ROLES`), the same roles the
local stack generates per ETL_HOME: the admin, the loader (writes `dw` only), the reader (reads
only) and Debezium's replication role.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from etl.settings import DB_ROLES

DEFAULT_LENGTH = 32


class GeneratedPasswordProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        length = int(props["length"])
        value = secrets.token_urlsafe(length)[:length]
        return CreateResult(id_=uuid.uuid4().hex, outs={"length": length, "result": value})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = int(olds["length"]) != int(news["length"])
        return DiffResult(changes=changed, replaces=["length"] if changed else [])


class GeneratedPassword(Resource):
    """A random URL-safe password, generated once, a secret output."""

    result: pulumi.Output[str]

    def __init__(
        self, name: str, length: int = DEFAULT_LENGTH, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["result"])
        super().__init__(
            GeneratedPasswordProvider(),
            name,
            {"length": length, "result": None},
            pulumi.ResourceOptions.merge(opts, secret),
        )


def password_names(field: str) -> tuple[str, str]:
    """(stack config key, resource name) of a password field: `loader_password` ->
    (`loaderPassword`, `loader-password`)."""
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest), field.replace("_", "-")


def stack_passwords() -> dict[str, pulumi.Output[str]]:
    """Every role's password (`Settings` field name -> secret output)."""
    return {field: stack_password(*password_names(field)) for _, field in DB_ROLES.values()}


def stack_password(config_key: str, resource_name: str) -> pulumi.Output[str]:
    """The configured secret `config_key`, or a generated password kept in the stack state."""
    configured = pulumi.Config().get_secret(config_key)
    if configured is not None:
        return pulumi.Output.secret(configured)
    return pulumi.Output.secret(GeneratedPassword(resource_name).result)
