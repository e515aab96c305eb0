"""Warehouse data quality: Great Expectations suites defined in code, offline Data Docs.

Beside `jobs` and `loaders` (imports only `etl`). Run by `etl quality` and, as a subprocess
(`python -m quality`), by the loader's gate, so the loader never imports GX.

GX's usage statistics are switched off here, before any GX import: nothing reaches the network.
"""

import os

os.environ["GX_ANALYTICS_ENABLED"] = "false"
