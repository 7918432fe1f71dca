"""``pytest --collab-check``: a notebook's amendments collected and run as test items
(in a separate pytest process against the wire-level Messages API server)."""

from __future__ import annotations

import subprocess
import sys

from jupyter_collab.core.models import Amendment
from jupyter_collab.core.store import LocalContextStore
from tests.test_check import GL, OSLO, lab_model, notebook_with, probe


def run_pytest(folder, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *options, str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_amendments_are_test_items(anthropic_env, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_COLLAB_CACHE_DIR", str(tmp_path / "cache"))
    anthropic_env.responder = lab_model
    folder = tmp_path / "project"
    folder.mkdir()
    path = notebook_with(
        folder,
        [
            Amendment(
                id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield of run 1?")]
            ),
            Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[probe("Where was it run?")]),
            Amendment(id="a-new", kind="process", text="Be brief."),
        ],
    )
    (folder / "empty.ipynb").write_text(path.read_text())  # a notebook with no context

    # Without the flag nothing is collected from notebooks: the plugin stays out of the way.
    plain = run_pytest(folder)
    assert plain.returncode == 5, plain.stdout  # "no tests ran"
    assert not anthropic_env.message_requests()

    done = run_pytest(folder, "--collab-check", "-v")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "analysis.ipynb::a-gl PASSED" in done.stdout
    assert "analysis.ipynb::a-oslo FAILED" in done.stdout
    assert "analysis.ipynb::a-new SKIPPED" in done.stdout
    assert "ignores the fact" in done.stdout
    assert "1 failed, 1 passed, 1 skipped" in done.stdout
    # The context file is not written by a test run.
    assert LocalContextStore(path).load().amendment("a-gl").check is None

    # Replay from the recording the first run kept: the same outcome, no call.
    calls = len(anthropic_env.message_requests())
    replayed = run_pytest(
        folder,
        "--collab-check",
        "--collab-check-replay",
        "--collab-check-model",
        "claude-sonnet-5-5",
    )
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "1 failed, 1 passed, 1 skipped" in replayed.stdout
    assert len(anthropic_env.message_requests()) == calls
