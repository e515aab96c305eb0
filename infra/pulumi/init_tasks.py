"""One-shot set-up tasks run in the project image: `python -m infra.pulumi.init_tasks <task>`.

Why a one-shot container from the project image rather than SQL files mounted into the postgres
image's `docker-entrypoint-initdb.d`: the replication role, its password and the publication are
made by `etl.source_db.prepare_source(settings)` from settings (names, passwords, the catalog's
table list), the warehouse's login roles by `etl.warehouse_db.prepare_warehouse`, and migrations
are checksummed and recorded by `etl.migrations`. initdb scripts
would run once, on an empty volume only, and would need those values written a second time in
SQL. Running the same code `etl up` runs keeps one source of truth and stays idempotent, so every
`pulumi up` may run it again.

Each task reads `Settings` from its `ETL_*` environment; `ETL_BIND_HOST` names the one server the
task talks to (every server listens on its `Settings` port inside the Docker network).
"""

from __future__ import annotations

import sys

from etl.errors import EtlError
from etl.settings import load_settings


def run(task: str) -> str:
    settings = load_settings()
    if task == "source":
        from etl.source_db import prepare_source

        applied = prepare_source(settings)
        return f"source database ready; changed now: {applied or 'nothing'}"
    if task == "warehouse":
        from etl.warehouse_db import prepare_warehouse

        applied = prepare_warehouse(settings)
        return f"warehouse database ready; changed now: {applied or 'nothing'}"
    if task == "topics":
        from etl.topics import ensure_topics

        created = ensure_topics(settings, settings.pipeline_topics())
        return f"pipeline topics ready; created now: {created or 'none'}"
    raise EtlError(f"unknown task {task!r}: use `source`, `warehouse` or `topics`")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.pulumi.init_tasks source|warehouse|topics", file=sys.stderr)
        return 2
    try:
        print(run(argv[0]), flush=True)
    except EtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
