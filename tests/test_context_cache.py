"""Parsed contexts reused while their file is unchanged: the server door's per-path
cache (``SharedContexts``) and the kernel door's notebook state.

A file is reused only when it was last changed long enough before it was read
(``SETTLED_SECONDS``; its change time counts, which ``os.utime`` cannot move):
the tests move the caches' clocks forward instead of waiting.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.core.assembly import is_shared_read_only
from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.errors import ContextFileError
from jupyter_collab.core.local_files import SETTLED_SECONDS
from jupyter_collab.kernel import notebook_state
from jupyter_collab.kernel.notebook_state import load_state, read_notebook
from jupyter_collab.server.shared_contexts import SharedContexts
from tests.wire.anthropic_server import Reply


def later() -> float:
    """A clock for reads that start long enough after the files' last changes."""
    return time.time() + SETTLED_SECONDS + 1


def shared_cache(**kwargs) -> SharedContexts:
    cache = SharedContexts(**kwargs)
    cache.clock = later
    return cache


def write(path: Path, *texts: str, kind: str = "fact") -> None:
    context = CollabContext(amendments=[Amendment(kind=kind, text=t) for t in texts])
    path.write_text(serialize_context(context))


# -- the server door's cache ---------------------------------------------------------


def test_an_unchanged_file_is_parsed_once_and_shared(tmp_path):
    cache = shared_cache()
    sidecar = tmp_path / "nb.collab.json"
    write(sidecar, "First fact.")
    first = cache.load(str(sidecar), "nb.collab.json")
    assert first is not None and [a.text for a in first.amendments] == ["First fact."]
    assert cache.load(str(sidecar), "nb.collab.json") is first
    assert is_shared_read_only(first)
    assert len(cache) == 1


def test_an_edit_on_disk_is_seen_even_with_the_same_size(tmp_path):
    cache = shared_cache()
    sidecar = tmp_path / "nb.collab.json"
    write(sidecar, "Fact A.")
    first = cache.load(str(sidecar), "s")
    # Same length, edited in place (same inode), the modification time put back:
    # the change time still differs.
    before = sidecar.stat()
    time.sleep(0.05)  # a later clock tick
    text = sidecar.read_text().replace("Fact A.", "Fact B.")
    with open(sidecar, "r+", encoding="utf-8") as handle:
        handle.write(text)
    os.utime(sidecar, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = cache.load(str(sidecar), "s")
    assert second is not first and [a.text for a in second.amendments] == ["Fact B."]
    # Replaced (a new inode), as the stores write.
    write(sidecar, "Fact C.", "Fact D.")
    third = cache.load(str(sidecar), "s")
    assert [a.text for a in third.amendments] == ["Fact C.", "Fact D."]


def test_a_file_read_while_it_may_still_change_is_not_kept(tmp_path):
    cache = SharedContexts()  # the real clock: the file changed just now
    sidecar = tmp_path / "nb.collab.json"
    write(sidecar, "Fresh.")  # changed just now: a rewrite in the same tick could hide
    first = cache.load(str(sidecar), "s")
    second = cache.load(str(sidecar), "s")
    assert first == second and second is not first
    assert len(cache) == 0 and not is_shared_read_only(second)


def test_a_bad_or_removed_file_is_never_served_from_the_cache(tmp_path):
    cache = shared_cache()
    sidecar = tmp_path / "nb.collab.json"
    write(sidecar, "Good.")
    assert cache.load(str(sidecar), "nb.collab.json") is not None
    sidecar.write_text('{"schema_version": 1, "amendments": [{"kind": "fact"}]}')
    with pytest.raises(ContextFileError, match=r"nb.collab.json.*amendments\.0\.text"):
        cache.load(str(sidecar), "nb.collab.json")
    with pytest.raises(ContextFileError):  # still bad, still read (and reported) again
        cache.load(str(sidecar), "nb.collab.json")
    sidecar.unlink()
    assert cache.load(str(sidecar), "nb.collab.json") is None
    assert len(cache) == 0


def test_the_cache_is_bounded_by_entries_and_file_sizes(tmp_path):
    cache = shared_cache(max_entries=2, max_bytes=10_000)
    paths = []
    for i in range(3):
        path = tmp_path / f"nb{i}.collab.json"
        write(path, f"Fact {i}.")
        paths.append(path)
        cache.load(str(path), path.name)
    assert len(cache) == 2  # the oldest went
    big = tmp_path / "big.collab.json"
    write(big, *[f"A fact long enough to take room, number {i}." for i in range(300)])
    assert big.stat().st_size > 10_000
    assert cache.load(str(big), big.name) is not None
    assert len(cache) == 2  # too big to keep: the others stay


async def test_completions_see_an_edit_of_the_sidecar_on_disk(
    jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env, collab_app
):
    from tests.reliability.helpers import ws_send, ws_until

    make_notebook("nb.ipynb")
    sidecar = jp_root_dir / "nb.collab.json"
    write(sidecar, "The cohort is 2019 to 2021.")
    # Completions read the hot file alone (the amendments without their evidence).
    shared = collab_app.contexts.store.prompt_contexts
    shared.clock = later
    ws = await jp_ws_fetch("jupyter-collab", "stream")

    async def ask(request_id: str) -> str:
        anthropic_env.script(Reply.text("ok"))
        await ws_send(
            ws, {"type": "complete", "id": request_id, "path": "nb.ipynb", "source": "%%collab\nq"}
        )
        messages = await ws_until(ws, request_id, "result", "error")
        assert messages[-1]["type"] == "result", messages[-1]
        body = anthropic_env.message_requests()[-1].body
        return "\n\n".join(block["text"] for block in body["system"])

    assert "2019 to 2021" in await ask("1")
    assert len(shared) == 1
    cached = next(iter(shared._entries.values()))[1]
    assert "2019 to 2021" in await ask("2")
    assert next(iter(shared._entries.values()))[1] is cached  # not parsed again
    # Another program (the CLI, an editor) changes the file: the next request sees it.
    write(sidecar, "The cohort is 2020 to 2022.", "Always give units.")
    system = await ask("3")
    assert "2020 to 2022" in system and "Always give units." in system
    assert "2019 to 2021" not in system
    ws.close()


# -- the kernel door's notebook state ---------------------------------------------------


@pytest.fixture
def fresh_states(monkeypatch):
    notebook_state.forget_states()
    monkeypatch.setattr(notebook_state._STATES, "clock", later)
    monkeypatch.setattr(notebook_state._NOTEBOOKS, "clock", later)
    yield
    notebook_state.forget_states()


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def test_the_notebook_state_is_reused_while_both_files_are_unchanged(tmp_path, fresh_states):
    notebook = _notebook(tmp_path / "nb.ipynb", "%%collab\nfirst")
    sidecar = tmp_path / "nb.collab.json"
    write(sidecar, "Kernel fact.")
    first = load_state(notebook)
    assert load_state(notebook) is first
    assert first.context is not None and is_shared_read_only(first.context)
    # The sidecar changes: a new state with the new context.
    write(sidecar, "Kernel fact, edited.")
    second = load_state(notebook)
    assert second is not first
    assert [a.text for a in second.context.amendments] == ["Kernel fact, edited."]
    assert load_state(notebook) is second
    # The notebook changes (saved from the lab): its new cells are seen.
    _notebook(notebook, "%%collab\nfirst", "%%collab\nsecond")
    third = load_state(notebook)
    assert third is not second and len(third.notebook["cells"]) == 2


def test_a_fresh_notebook_state_is_read_again(tmp_path, monkeypatch):
    notebook_state.forget_states()  # the real clock: the files changed just now
    notebook = _notebook(tmp_path / "nb.ipynb", "%%collab\nq")
    write(tmp_path / "nb.collab.json", "One.")
    assert load_state(notebook) is not load_state(notebook)


def test_reading_a_notebook_matches_nbformat(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["orig_nbformat"] = 3
    code = nbformat.v4.new_code_cell("x = 1\nprint(x)\n")
    code.metadata["trusted"] = True
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1\n2\n"),
        nbformat.v4.new_output(
            "display_data",
            data={"text/plain": "a\nb", "application/json": {"k": [1, 2]}, "image/png": "AAAA"},
        ),
        nbformat.v4.new_output(
            "execute_result", data={"text/markdown": "# t\n"}, execution_count=1
        ),
    ]
    markdown = nbformat.v4.new_markdown_cell("line 1\nline 2")
    markdown.attachments = {"a.png": {"image/png": "iVBOR\nw0K"}}
    nb.cells = [code, markdown]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))  # writes multi-line strings as lists of lines
    raw = json.loads(path.read_text())
    raw["metadata"]["signature"] = "sha256:abc"
    path.write_text(json.dumps(raw))
    assert isinstance(raw["cells"][0]["source"], list)
    assert read_notebook(path) == nbformat.read(str(path), as_version=4)
    # An older format goes through nbformat (and is converted).
    v3 = tmp_path / "old.ipynb"
    v3.write_text(
        json.dumps(
            {
                "nbformat": 3,
                "nbformat_minor": 0,
                "metadata": {},
                "worksheets": [
                    {"cells": [{"cell_type": "code", "input": "1", "outputs": [],
                                "language": "python", "metadata": {}}]}
                ],
            }
        )
    )  # fmt: skip
    converted = read_notebook(v3)
    assert converted["nbformat"] == 4 and converted["cells"][0]["source"] == "1"
