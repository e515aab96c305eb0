"""The application: the `etl` command line, the demo and the dashboard.

It may import `infra`, `jobs`, `loaders` and `etl`; only the load tests (`loadtests/`, which
drive it from outside) import it, and other processes start it by module name (`python -m app
...`). See the import-linter contract in pyproject.toml.
"""
