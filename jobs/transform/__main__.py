"""`python -m jobs.transform`: run the streaming transform with the settings from `ETL_*`.

Logs JSON lines to stderr (component `transform`); exits 0 on SIGTERM/SIGINT after a graceful
stop, 1 when the query fails (supervisord restarts it; the checkpoint makes that lossless), 2 on
a configuration or prerequisite problem (one line saying what is wrong).
"""

from __future__ import annotations

import logging
import sys

from etl.errors import EtlError
from etl.logs import configure_logging
from etl.settings import load_settings


def main() -> int:
    configure_logging("transform")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # one INFO line per callback otherwise
    try:
        settings = load_settings()
        from jobs.transform.job import run

        return run(settings)
    except EtlError as exc:
        logging.getLogger("jobs.transform").error(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
