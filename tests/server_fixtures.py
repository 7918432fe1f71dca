"""pytest-jupyter's server fixtures (``jp_fetch``, ``jp_ws_fetch``, ``jp_serverapp``…)
for the server-extension tests, registered from ``tests/conftest.py``.

``pytest_jupyter.jupyter_server`` is not loaded as a plugin: its hooks would run
every coroutine test of the suite on its own event loop (bypassing
pytest-asyncio) and its autouse fixtures would start a ServerApp for every
test. Instead its fixtures are imported here, except the two autouse ones,
which are replaced by non-autouse equivalents that share pytest-asyncio's
loop, so the server, the test and the async fixtures all run on one loop and
only tests that ask for a server get one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
import pytest_asyncio
from jupyter_server.serverapp import ServerApp
from pytest_jupyter import jupyter_server as _pytest_jupyter
from traitlets.config import Config

from tests.wire.anthropic_server import FAKE_API_KEY

# pytest-jupyter's fixtures, by name (assigned, not imported, so that fixtures
# below can take them as arguments without shadowing a module-level name).
_PYTEST_JUPYTER_FIXTURES = (
    "echo_kernel_spec",
    "http_server",
    "http_server_client",
    "http_server_port",
    "jp_argv",
    "jp_auth_header",
    "jp_base_url",
    "jp_config_dir",
    "jp_configurable_serverapp",
    "jp_data_dir",
    "jp_env_config_path",
    "jp_env_jupyter_path",
    "jp_environ",
    "jp_fetch",
    "jp_home_dir",
    "jp_http_port",
    "jp_kernel_dir",
    "jp_logging_stream",
    "jp_nbconvert_templates",
    "jp_root_dir",
    "jp_runtime_dir",
    "jp_system_config_path",
    "jp_system_jupyter_path",
    "jp_web_app",
    "jp_ws_fetch",
)
globals().update({name: getattr(_pytest_jupyter, name) for name in _PYTEST_JUPYTER_FIXTURES})


@pytest_asyncio.fixture
async def jp_asyncio_loop() -> asyncio.AbstractEventLoop:
    """pytest-asyncio's loop (pytest-jupyter's own fixture would create another)."""
    return asyncio.get_running_loop()


@pytest.fixture
def jp_serverapp(jp_server_config, jp_argv, jp_configurable_serverapp, jp_asyncio_loop):
    """pytest-jupyter's ``jp_serverapp`` with its cleanup (``jp_server_cleanup``) attached."""
    app = jp_configurable_serverapp(config=jp_server_config, argv=jp_argv)
    yield app
    try:
        jp_asyncio_loop.run_until_complete(app._cleanup())
    except (RuntimeError, SystemExit) as error:  # as pytest-jupyter does
        print("ignoring cleanup error", error)
    if hasattr(app, "kernel_manager"):
        app.kernel_manager.context.destroy()
    ServerApp.clear_instance()


# -- jupyter-collab -----------------------------------------------------------------


@pytest.fixture
def collab_extension_config() -> dict[str, Any]:
    """Extra ``CollabExtension`` settings; override or update it in a test module."""
    return {}


@pytest.fixture
def jp_server_config(anthropic_env, collab_extension_config) -> Config:
    """The server with jupyter_collab enabled, talking to the Anthropic wire server."""
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_collab": True}},
            "CollabExtension": {
                "provider": "anthropic",
                "anthropic_base_url": anthropic_env.url,
                **collab_extension_config,
            },
        }
    )


@pytest.fixture
def collab_app(jp_serverapp):
    """The running CollabExtension instance."""
    for extension in jp_serverapp.extension_manager.extension_apps.get("jupyter_collab", ()):
        return extension
    raise AssertionError("the jupyter_collab server extension is not loaded")


@pytest.fixture
def make_notebook(jp_root_dir: Path):
    """Write a notebook under the server root: ``make_notebook("a/b.ipynb", context=...)``."""

    def make(path: str, *, cells=None, context: dict | None = None) -> Path:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = cells or [nbformat.v4.new_markdown_cell("# notes")]
        if context is not None:
            notebook.metadata["jupyter_collab"] = {"context": context}
        target = jp_root_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        return target

    return make


@pytest.fixture
def collab_api(jp_fetch):
    """``await collab_api("context", method="PUT", body={...}, params={...})`` → (code, json).

    Errors are returned, not raised, so tests can assert on status and body. A
    ``text/event-stream`` response gives the list of its events' JSON data.
    """
    from tornado.httpclient import HTTPClientError

    async def call(route: str, *, method: str = "GET", body: Any = None, **kwargs: Any):
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = ""
        try:
            response = await jp_fetch("jupyter-collab", route, method=method, body=body, **kwargs)
        except HTTPClientError as error:
            response = error.response
            assert response is not None, error
        text = response.body.decode("utf-8") if response.body else ""
        if response.headers.get("Content-Type", "").startswith("text/event-stream"):
            return response.code, parse_sse(text)
        return response.code, (json.loads(text) if text else None)

    return call


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The ``data:`` JSON of each server-sent event, checked against its ``event:`` name."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        data = json.loads(fields["data"])
        assert data["type"] == fields["event"]
        events.append(data)
    return events


__all__ = ["FAKE_API_KEY", "parse_sse"]
