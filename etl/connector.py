"""The Debezium connector through the Kafka Connect REST API: create, update, inspect, delete.

`ensure_connector` PUTs the config only when it differs from what Connect holds, so repeated
`etl up` runs leave a running connector alone. Failures carry the trace Connect reports.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from tenacity import retry, retry_if_exception, stop_after_delay, wait_fixed

from etl.errors import EtlError

EnsureResult = Literal["created", "updated", "unchanged"]


def _rebalancing(exc: BaseException) -> bool:
    """409 (worker rebalancing) and connection errors are worth retrying for a while."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (409, 500, 503)
    return isinstance(exc, httpx.TransportError)


_retry = retry(
    retry=retry_if_exception(_rebalancing),
    stop=stop_after_delay(60),
    wait=wait_fixed(1),
    reraise=True,
)


class ConnectClient:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, timeout=self.timeout_s, **kwargs)

    def config(self, name: str) -> dict[str, str] | None:
        response = self._request("GET", f"/connectors/{name}/config")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def status(self, name: str) -> dict[str, Any] | None:
        response = self._request("GET", f"/connectors/{name}/status")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    @_retry
    def put_config(self, name: str, config: dict[str, str]) -> None:
        response = self._request("PUT", f"/connectors/{name}/config", json=config)
        if response.status_code == 400:
            raise EtlError(f"Connect rejected connector {name}: {response.json().get('message')}")
        response.raise_for_status()

    @_retry
    def delete(self, name: str) -> bool:
        response = self._request("DELETE", f"/connectors/{name}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    @_retry
    def restart(self, name: str) -> None:
        response = self._request(
            "POST",
            f"/connectors/{name}/restart",
            params={"includeTasks": "true", "onlyFailed": "true"},
        )
        response.raise_for_status()

    @_retry
    def ensure_connector(self, name: str, config: dict[str, str]) -> EnsureResult:
        """Create the connector, update it if its config changed, or leave it alone."""
        current = self.config(name)
        if current is not None and normalized(current, name) == normalized(config, name):
            return "unchanged"
        self.put_config(name, config)
        return "created" if current is None else "updated"

    @_retry
    def stop(self, name: str) -> bool:
        """Stop the connector and its tasks, config kept (KIP-875); False if there is none."""
        response = self._request("PUT", f"/connectors/{name}/stop")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    @_retry
    def reset_offsets(self, name: str) -> None:
        """Forget a stopped connector's offsets (a source's LSN, a sink's consumer group), so a
        connector created again under this name starts afresh instead of resuming."""
        response = self._request("DELETE", f"/connectors/{name}/offsets")
        if response.status_code != 404:
            response.raise_for_status()

    def failure_trace(self, name: str) -> str | None:
        """The first FAILED connector or task trace, if any."""
        status = self.status(name) or {}
        parts = [status.get("connector", {}), *status.get("tasks", [])]
        for part in parts:
            if part.get("state") == "FAILED":
                return str(part.get("trace", "FAILED without a trace"))
        return None


def normalized(config: dict[str, str], name: str) -> dict[str, str]:
    """Connect echoes configs with `name` added; compare without it, values as strings."""
    return {k: str(v) for k, v in config.items() if k != "name" or v != name}
