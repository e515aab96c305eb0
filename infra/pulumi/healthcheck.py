"""Container health checks of the project image: `python -m infra.pulumi.healthcheck <kind> ARG`.

`http URL`: the URL answers below 500 (the Spark master's and workers' UIs). `service NAME`: the
service's own readiness probe from `infra.services`, the one `etl up` and `etl status` run
locally (progress-file freshness for the transform and loaders, `/healthz` for the dashboard),
with `Settings` from the container's `ETL_*` environment, so no secret ends up in the health
check's command line. Exit 0 = healthy, as Docker expects.
"""

from __future__ import annotations

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


def service_ok(name: str) -> bool:
    from etl.settings import load_settings
    from infra.services import service

    probe = service(name).probe(load_settings())
    print(probe.detail, flush=True)  # Docker keeps the output of the last checks
    return probe.healthy


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "http":
        return 0 if http_ok(argv[1]) else 1
    if len(argv) == 2 and argv[0] == "service":
        return 0 if service_ok(argv[1]) else 1
    print("usage: python -m infra.pulumi.healthcheck http URL | service NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
