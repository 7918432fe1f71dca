"""Shared pytest configuration. Fixture modules are registered as plugins so
each test layer keeps its fixtures in its own file."""

from __future__ import annotations

import os
import tempfile

import pytest

pytest_plugins: list[str] = []


def pytest_configure(config):
    """A Jupyter data dir of the run's own: the personal context layer
    (``jupyter_data_dir()/collab/context.json``) and the trust database of the
    person running the tests must not shape any test's prompts."""
    del config
    os.environ["JUPYTER_DATA_DIR"] = tempfile.mkdtemp(prefix="collab-test-jupyter-data-")


def pytest_collection_modifyitems(config, items):
    """In CI the real-model tests must run: a missing [local] extra is a failure there."""
    del config
    if os.environ.get("CI") != "true":
        return
    for item in items:
        if "local_model" in item.keywords:
            item.add_marker(pytest.mark.timeout(900))


pytest_plugins.append("tests.wire.fixtures")

# Server-extension tests (tests/test_server_*.py): pytest-jupyter's jp_* fixtures,
# imported without its hooks and autouse fixtures (see tests/server_fixtures.py).
pytest_plugins.append("tests.server_fixtures")

# Headless runs (nbclient, nbconvert, papermill) against the wire server.
pytest_plugins.append("tests.headless_support")
