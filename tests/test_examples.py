"""The committed example notebooks replay headless with zero model calls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_collab.core.outputs import MIME_TYPE

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.ipynb"))


def _answers(path: Path) -> dict[str, dict]:
    nb = json.loads(path.read_text())
    return {
        cell["id"]: output["data"][MIME_TYPE]
        for cell in nb["cells"]
        for output in cell.get("outputs") or []
        if MIME_TYPE in (output.get("data") or {})
    }


def test_every_example_has_recorded_answers():
    assert {p.name for p in EXAMPLES} >= {
        "citations.ipynb",
        "collaborator-style.ipynb",
        "headless.ipynb",
    }
    for path in EXAMPLES:
        assert _answers(path), f"{path.name} has no recorded collaborator answers"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_replays_headless_with_zero_model_calls(example, tmp_path):
    folder = tmp_path / "examples"
    shutil.copytree(REPO / "examples", folder)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "JUPYTER_COLLAB_", "OPENAI_"))
    }
    # No provider can be reached: replay must not need one.
    env.update(
        JUPYTER_COLLAB_MODE="replay",
        JUPYTER_COLLAB_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="sk-ant-unused",
        ANTHROPIC_BASE_URL="http://127.0.0.1:9",
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--output",
            "replayed.ipynb",
            example.name,
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert _answers(folder / "replayed.ipynb") == _answers(example)
