"""Shared test set-up: fixtures live in tests/fixtures/ and are registered here."""

pytest_plugins = ["tests.fixtures.stack"]


def pytest_collection_modifyitems(config, items):
    """Tests that stop the shared stack (marker-free convention: name contains `lifecycle`)
    run last, so every other test sees a running stack."""
    items.sort(key=lambda item: "lifecycle" in item.nodeid)
