"""Fixtures for the Anthropic wire server (registered from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .anthropic_server import FAKE_API_KEY, AnthropicWireServer


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicWireServer]:
    """A started Messages API server on 127.0.0.1; stopped after the test."""
    server = AnthropicWireServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anthropic_env(
    anthropic_server: AnthropicWireServer, monkeypatch: pytest.MonkeyPatch
) -> AnthropicWireServer:
    """ANTHROPIC_API_KEY (a fake key) and ANTHROPIC_BASE_URL (the server) set, as users do.

    Returns the server; the key is ``tests.wire.anthropic_server.FAKE_API_KEY``.
    """
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    for name in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CUSTOM_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    return anthropic_server
