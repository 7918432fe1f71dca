"""Headless runs of real notebooks: nbclient, the `jupyter nbconvert` CLI and papermill
execute examples/headless.ipynb in real kernels against the Anthropic wire server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from jupyter_collab.core.notebook import carried_context, embed_context
from jupyter_collab.core.outputs import MIME_TYPE
from jupyter_collab.core.store import LocalContextStore
from tests.headless_support import REPO, collab_outputs, run_nbclient, run_papermill, system_text
from tests.wire.anthropic_server import Reply, message_text

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "headless.ipynb"
FACT = "grams per litre (g/L)"
RULE = "at most three sentences"


@pytest.fixture
def notebook(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    shutil.copy(REPO / "examples" / "headless.collab.json", folder)
    return folder / EXAMPLE.name


def test_nbclient_run_uses_context_cache_breakpoint_and_history(kernel_env, notebook, monkeypatch):
    nb = run_nbclient(notebook)
    requests = kernel_env.message_requests()
    assert len(requests) == 2
    first, second = requests
    # The notebook's context (a fact and a process rule) is in the system prompt,
    # which closes with a cache breakpoint.
    assert FACT in system_text(first) and RULE in system_text(first)
    assert first.body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert first.body["stream"] is True
    # {yields} was filled from the kernel.
    assert "'sample_c': 7.8" in message_text(first.body["messages"][-1])
    # The second cell (--no-context) continues the conversation but has no context.
    assert FACT not in system_text(second)
    assert [m["role"] for m in second.body["messages"]] == ["user", "assistant", "user"]

    outputs = collab_outputs(nb)
    assert set(outputs) == {"ask-outlier", "ask-definition"}
    payload = outputs["ask-outlier"][0]["data"][MIME_TYPE]["result"]
    assert payload["context_revision"] == 1 and payload["included_amendments"] == [
        "a-fact-units",
        "a-process-terse",
    ]
    assert payload["usage"]["cache_creation_input_tokens"] > 0
    meta = outputs["ask-outlier"][0]["metadata"]["jupyter_collab"]
    assert meta["input_hash"] == payload["input_hash"]

    # record mode calls again: the context now comes from the prompt cache.
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "record")
    nb = run_nbclient(notebook)
    assert len(kernel_env.message_requests()) == 4
    payload = collab_outputs(nb)["ask-outlier"][0]["data"][MIME_TYPE]["result"]
    assert payload["usage"]["cache_read_input_tokens"] > 0


def test_replay_with_server_stopped_is_byte_identical(kernel_env, notebook, monkeypatch):
    first = collab_outputs(run_nbclient(notebook))
    before = notebook.read_text()
    assert len(kernel_env.message_requests()) == 2
    kernel_env.stop()
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "replay")
    second = collab_outputs(run_nbclient(notebook))
    assert second == first
    assert len(kernel_env.message_requests()) == 2  # zero new requests
    # The collaborator outputs in the file are byte-identical too.
    after = notebook.read_text()
    assert _collab_json(after) == _collab_json(before)


def _collab_json(text: str) -> str:
    nb = json.loads(text)
    return json.dumps(collab_outputs(nb), sort_keys=True)


def test_replay_of_a_changed_cell_fails(kernel_env, notebook, monkeypatch):
    run_nbclient(notebook)
    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("7.8", "9.9")  # the data changed
    nbformat.write(nb, str(notebook))
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "replay")
    with pytest.raises(CellExecutionError) as info:
        run_nbclient(notebook)
    assert "CollabReplayError" in str(info.value)
    assert "different inputs" in str(info.value)


def test_embedded_only_notebook_uses_its_context_headless(kernel_env, notebook, monkeypatch):
    sidecar = LocalContextStore(notebook)
    nb = nbformat.read(str(notebook), as_version=4)
    embed_context(nb, sidecar.load())
    nbformat.write(nb, str(notebook))
    sidecar.path.unlink()

    # Not trusted: the run fails and says how to accept the context.
    with pytest.raises(CellExecutionError) as info:
        run_nbclient(notebook)
    assert "CollabContextError" in str(info.value)
    assert "JUPYTER_COLLAB_TRUST_EMBEDDED=1" in str(info.value)
    assert kernel_env.message_requests() == []

    monkeypatch.setenv("JUPYTER_COLLAB_TRUST_EMBEDDED", "1")
    run_nbclient(notebook)
    first = kernel_env.message_requests()[0]
    assert FACT in system_text(first) and RULE in system_text(first)
    assert not sidecar.path.exists()  # the kernel never writes the sidecar by itself


def test_provider_failure_mid_stream_keeps_partial_output(kernel_env, notebook):
    kernel_env.script(Reply.stream_error("partial answer words here", after=2))
    nb = run_nbclient(notebook, allow_errors=True)
    outputs = nb.cells[3].outputs
    partial = [o for o in outputs if o.output_type == "display_data"]
    assert partial and "text/markdown" in partial[0].data and MIME_TYPE not in partial[0].data
    assert partial[0].data["text/markdown"].startswith("partial")
    error = next(o for o in outputs if o.output_type == "error")
    assert error.ename == "CollabProviderError"
    assert "Overloaded" in error.evalue
    assert len(error.traceback) == 1  # a short message, not a stack of frames


def _nbconvert(path: Path, cwd: Path, *options: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute"]
    return subprocess.run(
        [*command, str(path.relative_to(cwd)), *options],  # the literal command; no --inplace
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_nbconvert_cli_records_replays_and_fails_loudly(kernel_env, notebook):
    root = notebook.parent.parent  # run from above the notebook's folder, as a user would
    done = _nbconvert(notebook, root)
    assert done.returncode == 0, done.stderr
    assert len(kernel_env.message_requests()) == 2

    assert notebook.with_name("headless.nbconvert.ipynb").is_file()
    # Second run (auto mode): nothing changed, so the answers of the first run (in
    # headless.nbconvert.ipynb) are reused: no model call, even with a broken provider.
    kernel_env.responder = lambda body: Reply.error(401, "invalid x-api-key")
    again = _nbconvert(notebook, root)
    assert again.returncode == 0, again.stderr
    assert len(kernel_env.message_requests()) == 2

    # A run that must call the model fails loudly when the provider fails.
    failed = _nbconvert(notebook, root, JUPYTER_COLLAB_MODE="record")
    assert failed.returncode != 0
    assert "CellExecutionError" in failed.stderr
    assert "CollabProviderError" in failed.stderr and "invalid x-api-key" in failed.stderr


def test_papermill_finds_the_input_notebook(kernel_env, notebook, tmp_path):
    out = tmp_path / "papermill-out.ipynb"
    done = subprocess.run(
        [sys.executable, "-m", "papermill", "-k", "python3", str(notebook), str(out)],
        cwd=tmp_path,  # papermill starts the kernel here, not in the notebook's folder
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    first = kernel_env.message_requests()[0]
    assert FACT in system_text(first)
    assert set(collab_outputs(nbformat.read(str(out), as_version=4))) == {
        "ask-outlier",
        "ask-definition",
    }


def test_feedback_on_an_answer_does_not_make_it_stale(kernel_env, notebook, monkeypatch):
    """An amendment finalized from a cell's answer leaves that answer replayable;
    an amendment from elsewhere makes it stale."""
    from jupyter_collab.core.context_model import Amendment, Provenance

    run_nbclient(notebook)
    kernel_env.stop()
    store = LocalContextStore(notebook)
    store.update(
        lambda c: c.amendments.append(
            Amendment(
                kind="fact",
                text="sample_c's column was replaced before its re-run.",
                provenance=Provenance(cell_id="ask-outlier", quote="sample_c"),
            )
        )
    )
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "replay")
    run_nbclient(notebook)  # replays: the new amendment is feedback on this very answer
    assert len(kernel_env.message_requests()) == 2

    store.update(lambda c: c.amendments.append(Amendment(kind="process", text="Use SI units.")))
    with pytest.raises(CellExecutionError, match="different inputs"):
        run_nbclient(notebook)


def _assert_carries_sidecar_context(executed: Path, original: Path) -> None:
    """Every collaborator output of ``executed`` carries the original's sidecar context."""
    sidecar = LocalContextStore(original).load()
    nb = json.loads(executed.read_text())
    outputs = collab_outputs(nb)
    assert set(outputs) == {"ask-outlier", "ask-definition"}
    for ours in outputs.values():
        assert ours[0]["metadata"]["jupyter_collab"]["context"]["amendments"]
    assert carried_context(nb, str(executed)) == sidecar


def test_nbconvert_output_under_a_new_name_replays_with_its_own_context(kernel_env, notebook):
    root = notebook.parent
    done = _nbconvert(notebook, root, "--output", "other.ipynb")
    assert done.returncode == 0, done.stderr
    assert len(kernel_env.message_requests()) == 2
    _assert_carries_sidecar_context(root / "other.ipynb", notebook)

    # The copy alone, in a folder with no sidecar and not trusted (nbconvert does
    # not sign what it writes), replays under its new name with zero model calls.
    elsewhere = notebook.parent.parent / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "other.ipynb"
    shutil.move(root / "other.ipynb", copy)
    replayed = _nbconvert(copy, elsewhere, JUPYTER_COLLAB_MODE="replay")
    assert replayed.returncode == 0, replayed.stderr
    assert len(kernel_env.message_requests()) == 2
    assert not (elsewhere / "other.collab.json").exists()
    again = json.loads((elsewhere / "other.nbconvert.ipynb").read_text())
    assert collab_outputs(again) == collab_outputs(json.loads(copy.read_text()))

    # auto mode with nothing changed reuses too, still without trust.
    assert _nbconvert(copy, elsewhere).returncode == 0
    assert len(kernel_env.message_requests()) == 2

    # A changed cell needs a call, and the carried context is someone's embedded
    # text: refused without trust, with no request sent.
    nb = nbformat.read(str(copy), as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("7.8", "9.9")
    nbformat.write(nb, str(copy))
    refused = _nbconvert(copy, elsewhere)
    assert refused.returncode != 0
    assert "CollabContextError" in refused.stderr and "jupyter trust other.ipynb" in refused.stderr
    assert len(kernel_env.message_requests()) == 2
    trusted = _nbconvert(copy, elsewhere, JUPYTER_COLLAB_TRUST_EMBEDDED="1")
    assert trusted.returncode == 0, trusted.stderr
    requests = kernel_env.message_requests()
    assert len(requests) == 4  # the changed cell, and the next one whose history it is
    assert FACT in system_text(requests[2]) and RULE in system_text(requests[2])
    assert "9.9" in message_text(requests[2].body["messages"][-1])


def test_papermill_output_replays_under_its_own_name(kernel_env, notebook, tmp_path):
    first = tmp_path / "papermill-out.ipynb"
    done = run_papermill(notebook, first, tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(kernel_env.message_requests()) == 2
    _assert_carries_sidecar_context(first, notebook)

    # Papermill runs the copy (it names papermill-out.ipynb as its input), and so
    # does nbconvert; neither calls the model, though the original and its
    # sidecar are gone.
    shutil.rmtree(notebook.parent)
    kernel_env.stop()
    second = tmp_path / "papermill-again.ipynb"
    replayed = run_papermill(first, second, tmp_path, JUPYTER_COLLAB_MODE="replay")
    assert replayed.returncode == 0, replayed.stderr
    assert collab_outputs(nbformat.read(str(second), as_version=4)) == collab_outputs(
        nbformat.read(str(first), as_version=4)
    )
    converted = _nbconvert(first, tmp_path, JUPYTER_COLLAB_MODE="replay")
    assert converted.returncode == 0, converted.stderr
    assert len(kernel_env.message_requests()) == 2


def test_nbconvert_with_the_check_fails_on_a_broken_amendment(kernel_env, notebook, tmp_path):
    root = notebook.parent.parent
    answers = str(tmp_path / "check-answers.json")
    # The example's amendments have no probes: untested, which does not stop the run.
    done = _nbconvert(
        notebook, root, JUPYTER_COLLAB_CHECK="1", JUPYTER_COLLAB_CHECK_ANSWERS=answers
    )
    assert done.returncode == 0, done.stderr

    # A fact the (echoing) model never mentions, with a probe it should change.
    from jupyter_collab.core.context_model import Amendment, PreviewResult

    probe = PreviewResult(
        probe="Which instrument measured the yields?",
        probe_kind="should_change",
        baseline_hash="",
        amended_hash="",
        verdict="intended",
    )
    store = LocalContextStore(notebook)
    store.update(
        lambda c: c.amendments.append(
            Amendment(
                id="a-oslo", kind="fact", text="The HPLC is in the Oslo lab.", preview=[probe]
            )
        )
    )
    kernel_env.clear()
    failed = _nbconvert(
        notebook, root, JUPYTER_COLLAB_CHECK="1", JUPYTER_COLLAB_CHECK_ANSWERS=answers
    )
    assert failed.returncode != 0
    assert "CollabCheckError" in failed.stderr
    assert "broken a-oslo" in failed.stderr and "ignores the fact" in failed.stderr
    asked = [r for r in kernel_env.message_requests() if "instrument measured" in str(r.body)]
    assert asked  # the check ran its probe before the cells

    # Replayed from the recording: the same verdict with no model call.
    kernel_env.clear()
    kernel_env.responder = lambda body: Reply.error(500, "must not be called")
    replayed = _nbconvert(
        notebook,
        root,
        JUPYTER_COLLAB_CHECK="replay",
        JUPYTER_COLLAB_CHECK_ANSWERS=answers,
        JUPYTER_COLLAB_PROVIDER="anthropic",
        JUPYTER_COLLAB_MODEL="claude-sonnet-5-5",
        JUPYTER_COLLAB_MODE="replay",
    )
    assert replayed.returncode != 0
    assert "broken a-oslo" in replayed.stderr
    assert not kernel_env.message_requests()
