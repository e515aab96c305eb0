"""The Debezium connector as a Pulumi resource: a dynamic provider over the Connect REST API.

`pulumi up` creates the connector and waits until it and its task are RUNNING (a FAILED one fails
the update with Connect's own trace); a changed config is PUT in place (Connect restarts the
connector; its offsets, and so the replication slot position, are kept); a changed connector name
replaces it, deleting the old one first because both would claim the same replication slot;
`pulumi destroy` deletes it; `pulumi refresh` reads the live config, so drift shows up as a diff.

The REST calls are `etl.connector.ConnectClient`'s, the ones `etl up` makes, so both ways to run
share the same retry-on-rebalance behaviour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from etl.connector import ConnectClient, normalized
from etl.errors import EtlError

DEFAULT_TIMEOUT_S = 120.0


def await_running(client: ConnectClient, name: str, timeout_s: float) -> dict[str, Any]:
    """Poll the connector's status until it and every task run; raise on FAILED or timeout."""
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        trace = client.failure_trace(name)
        if trace:
            raise EtlError(f"connector {name} FAILED: {trace.splitlines()[0]}\n{trace}")
        status = client.status(name) or {}
        tasks = status.get("tasks", [])
        if (
            status.get("connector", {}).get("state") == "RUNNING"
            and tasks
            and all(t.get("state") == "RUNNING" for t in tasks)
        ):
            return status
        time.sleep(1)
    raise EtlError(f"connector {name} not RUNNING after {timeout_s:.0f} s; last status: {status}")


class ConnectorProvider(ResourceProvider):
    """CRUD of one connector. Inputs: `connect_url`, `connector_name`, `config`, `timeout_s`."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        client = ConnectClient(props["connect_url"])
        name = props["connector_name"]
        client.put_config(name, props["config"])
        await_running(client, name, float(props.get("timeout_s") or DEFAULT_TIMEOUT_S))
        return dict(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        # PUT creates or adopts a connector of that name; either way it ends with our config.
        return CreateResult(id_=props["connector_name"], outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        name = news["connector_name"]
        replaces = ["connector_name"] if olds.get("connector_name") != name else []
        changed = (
            bool(replaces)
            or olds.get("connect_url") != news.get("connect_url")
            or (normalized(olds.get("config") or {}, name) != normalized(news["config"], name))
        )
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        ConnectClient(props["connect_url"]).delete(props["connector_name"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = ConnectClient(props["connect_url"]).config(id_)
        if live is None:
            return ReadResult(id_=None, outs={})  # gone: Pulumi drops it from the state
        return ReadResult(id_=id_, outs={**props, "config": normalized(live, id_)})


@dataclass(frozen=True)
class DebeziumConnectorArgs:
    connect_url: pulumi.Input[str]
    name: pulumi.Input[str]
    config: pulumi.Input[dict[str, str]]
    timeout_s: float = DEFAULT_TIMEOUT_S


class DebeziumConnector(Resource):
    """A connector registered in a Kafka Connect cluster; its config is a secret output."""

    connector_name: pulumi.Output[str]
    config: pulumi.Output[dict[str, str]]
    connect_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: DebeziumConnectorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "connect_url": args.connect_url,
            "connector_name": args.name,
            "config": pulumi.Output.secret(args.config),
            "timeout_s": args.timeout_s,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["config"])
        super().__init__(
            ConnectorProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )
