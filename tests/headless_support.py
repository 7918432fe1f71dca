"""What the headless tests share: the Anthropic wire server, a kernel environment
pointing at it, and ways to run a notebook (nbclient, papermill) and read its outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_collab.core.outputs import MIME_TYPE
from tests.wire.anthropic_server import FAKE_API_KEY, AnthropicWireServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def wire():
    # A low caching threshold so this small context is cached, as a real one would be.
    server = AnthropicWireServer(cache_min_tokens=100).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kernel_env(wire, monkeypatch, tmp_path):
    """What a user sets: the key and base URL; the package importable in the kernel."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", wire.url)
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(REPO) + (os.pathsep + path if path else ""))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))  # own trust db
    for name in (
        "JUPYTER_COLLAB_MODE",
        "JUPYTER_COLLAB_NOTEBOOK",
        "JUPYTER_COLLAB_TRUST_EMBEDDED",
        "JUPYTER_COLLAB_PROVIDER",
        "JUPYTER_COLLAB_MODEL",
        "JPY_SESSION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    return wire


def run_nbclient(path: Path, allow_errors: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(nb, str(path))
    return nb


def collab_outputs(nb) -> dict[str, list[dict]]:
    """Per cell id, our outputs as plain JSON (what the file holds)."""
    found = {}
    for cell in nb["cells"]:
        ours = [
            json.loads(json.dumps(o))
            for o in cell.get("outputs") or []
            if MIME_TYPE in (o.get("data") or {})
        ]
        if ours:
            found[cell["id"]] = ours
    return found


def system_text(request) -> str:
    return "\n".join(block["text"] for block in request.body["system"])


def run_papermill(
    source: Path, target: Path, cwd: Path, *options: str, **env: str
) -> subprocess.CompletedProcess:
    """The papermill CLI as a user types it; ``options`` such as ``-p name value``."""
    return subprocess.run(
        [sys.executable, "-m", "papermill", "-k", "python3", str(source), str(target), *options],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
