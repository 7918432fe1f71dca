"""R4: corrupt, truncated, wrong-schema, enormous and hostile context files give a
clear error naming the file, and the file is left byte-identical (content,
size and mtime), in every door: the server's routes (REST and WebSocket), the
CLI, the local store the kernel uses, and the kernel door itself."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jupyter_collab.cli import main as cli_main
from jupyter_collab.core.context_model import CollabContext
from jupyter_collab.core.errors import ContextFileError
from jupyter_collab.core.store import LocalContextStore
from tests.hostile_contexts import HOSTILE, plant, state, truncations
from tests.reliability.helpers import fingerprint, sample_bodies, ws_send, ws_until


def remove(path: Path) -> None:
    if path.is_dir():
        path.rmdir()
    else:
        path.unlink()


@pytest.mark.timeout(240)
async def test_r04_hostile_context_files_through_the_server(
    collab_api, jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env, figures
):
    make_notebook("nb.ipynb")
    sidecar = jp_root_dir / "nb.collab.json"
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    checks = 0
    bodies = sample_bodies("nb.ipynb")
    for index, (name, (content, expected)) in enumerate(HOSTILE.items()):
        plant(sidecar, content)
        before = state(sidecar)
        calls = [
            ("context", "GET", None, True),
            ("context", "PATCH", bodies[("context", "PATCH")], True),
            ("context", "PUT", {"context": {"schema_version": 1}, "revision": 3}, True),
            ("finalize", "POST", bodies[("finalize", "POST")], False),
            ("complete", "POST", bodies[("complete", "POST")], False),
            ("suggest", "POST", bodies[("suggest", "POST")], False),
            ("preview", "POST", bodies[("preview", "POST")], False),
        ]
        for route, method, body, query in calls:
            params = {"path": "nb.ipynb"} if query else None
            code, reply = await collab_api(route, method=method, body=body, params=params)
            assert code == 409, (name, route, method, code, reply)
            assert reply["reason"] == "invalid_context_file", (name, route, reply)
            assert "nb.collab.json" in reply["message"], (name, reply)
            assert expected in reply["message"], (name, expected, reply["message"])
            checks += 1
        await ws_send(ws, {"type": "complete", "id": str(index), "path": "nb.ipynb", "prompt": "x"})
        error = (await ws_until(ws, str(index), "error", "result"))[-1]
        assert error["type"] == "error" and error["status"] == 409, (name, error)
        assert "nb.collab.json" in error["message"]
        checks += 1
        assert state(sidecar) == before, name  # byte-identical, not even touched
        assert sorted(p.name for p in jp_root_dir.iterdir()) == ["nb.collab.json", "nb.ipynb"]
        remove(sidecar)
    ws.close()
    assert anthropic_env.message_requests() == []  # a broken context never reaches a model
    figures.add(
        "R4",
        f"{len(HOSTILE)} hostile context files (corrupt, {len(truncations())} truncations, "
        "wrong schema, 64 MB+, FIFO, folder, deep nesting…) x 8 server calls: "
        f"{checks} clear 409s naming the file, 0 files changed",
    )


async def test_r04_a_damaged_embedded_copy_is_reported_and_left_alone(
    collab_api, make_notebook, jp_root_dir
):
    path = make_notebook("nb.ipynb", context={"schema_version": 1, "amendments": "garbage"})
    before = fingerprint(path)
    code, body = await collab_api("context", params={"path": "nb.ipynb"})
    assert code == 200, body
    assert "nb.ipynb" in body["embedded_error"] and "amendments" in body["embedded_error"]
    assert body["needs_review"] is False and body["context"]["amendments"] == []
    assert fingerprint(path) == before


def test_r04_hostile_context_files_in_the_cli_and_local_store(tmp_path, capsys, figures):
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    store = LocalContextStore(notebook)
    checks = 0
    for name, (content, expected) in HOSTILE.items():
        plant(store.path, content)
        before = state(store.path)
        with pytest.raises(ContextFileError) as info:
            store.load()
        assert str(store.path) in str(info.value) and expected in str(info.value), name
        for change in (lambda c: None, lambda c: c.amendments.clear()):
            with pytest.raises(ContextFileError):
                store.update(change)
        with pytest.raises(ContextFileError):
            store.save(CollabContext())
        checks += 4
        for argv in (
            ["context", "show", str(notebook)],
            ["context", "validate", str(notebook)],
            ["context", "add", str(notebook), "--kind", "fact", "--text", "New."],
            ["context", "import", str(notebook)],
        ):
            capsys.readouterr()
            code = cli_main(argv)
            err = capsys.readouterr().err
            assert code != 0, (name, argv)
            if argv[1] != "import":  # import first says there is nothing embedded
                assert "nb.collab.json" in err and expected in err, (name, argv, err)
            assert "Traceback" not in err
            checks += 1
        assert state(store.path) == before, name
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
        remove(store.path)
    figures.add("R4", f"{checks} CLI and local-store checks, 0 files changed")


def test_r04_the_kernel_door_names_the_file(tmp_path):
    notebook_state = pytest.importorskip("jupyter_collab.kernel.notebook_state")
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    sidecar = tmp_path / "nb.collab.json"
    for name, (content, expected) in HOSTILE.items():
        plant(sidecar, content)
        before = state(sidecar)
        with pytest.raises(Exception) as info:
            notebook_state.load_state(notebook)
        assert "nb.collab.json" in str(info.value) and expected in str(info.value), name
        assert state(sidecar) == before
        remove(sidecar)
