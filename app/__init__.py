"""The application on top of everything: the `etl` command line, the demo and the dashboard.

The top layer: it may import `infra`, `jobs`, `loaders` and `etl`; nothing imports it (other
processes start it by module name, `python -m app ...`). See the import-linter contract in
pyproject.toml.
"""
