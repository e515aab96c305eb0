"""Shared test set-up: fixtures live in tests/fixtures/ and are registered here."""

import os

from hypothesis import HealthCheck, settings

# Hypothesis: CI draws the same examples on every run (derandomized, no example database);
# `HYPOTHESIS_PROFILE=explore` draws new ones, five times as many, to look for more.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,  # a Spark job's time varies with the machine's load
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore", settings.get_profile("ci"), derandomize=False, max_examples=300
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.postgres", "tests.fixtures.quality"]


def pytest_collection_modifyitems(config, items):
    """Order by what a test does to the shared stack: tests that start the whole pipeline
    (`pipeline` fixture) run after the rest, then the chaos suite (marker `chaos`: it kills and
    stops services), and tests that stop the stack (name contains `lifecycle`) run last. The
    sort is stable, so order within each group is kept."""

    def phase(item) -> int:
        if "lifecycle" in item.nodeid:
            return 3
        if item.get_closest_marker("chaos"):
            return 2
        return 1 if "pipeline" in getattr(item, "fixturenames", ()) else 0

    items.sort(key=phase)
