"""Container health checks of the project image: `python -m infra.pulumi.healthcheck <kind> [arg]`.

`http URL`: the URL answers below 500 (dashboard, Spark UIs). `deps`: the servers this container
works against answer a real request (Kafka metadata, a warehouse query), read from the
`ETL_KAFKA_BOOTSTRAP` / `ETL_WAREHOUSE_DSN` variables the Pulumi program sets, so no secret ends
up in the health check's command line. Exit 0 = healthy, as Docker expects.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def http_ok(url: str, timeout_s: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def dependencies_ok() -> bool:
    from etl.health import probe_kafka, probe_postgres

    bootstrap = os.environ.get("ETL_KAFKA_BOOTSTRAP")
    dsn = os.environ.get("ETL_WAREHOUSE_DSN")
    checks = []
    if bootstrap:
        checks.append(probe_kafka(bootstrap).healthy)
    if dsn:
        checks.append(probe_postgres(dsn).healthy)
    return bool(checks) and all(checks)


def main(argv: list[str]) -> int:
    if argv[:1] == ["http"] and len(argv) == 2:
        return 0 if http_ok(argv[1]) else 1
    if argv == ["deps"]:
        return 0 if dependencies_ok() else 1
    print("usage: python -m infra.pulumi.healthcheck http URL | deps", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
