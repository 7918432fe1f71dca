"""Finding the kernel's notebook: each rule alone, their order, and a real
jupyter-server session (JPY_SESSION_NAME, and JupyterLab's cellId metadata)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.core.outputs import MIME_TYPE
from jupyter_collab.kernel.discovery import (
    CellInfo,
    NotebookFinder,
    locate_cell,
    papermill_input,
    resolve_session_name,
)
from jupyter_collab.kernel.errors import CollabNotebookError
from tests.wire.anthropic_server import Reply

REPO = Path(__file__).resolve().parent.parent
SOURCE = "%%collab\nWhat next?"


def notebook(path: Path, cells: list[tuple[str, str]], metadata: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    for cell_id, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    nb.metadata.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def finder(cwd: Path, **env: str) -> NotebookFinder:
    return NotebookFinder(env=env, cwd=cwd)


def test_session_name_absolute_relative_and_stale(tmp_path):
    nb = notebook(tmp_path / "root" / "sub" / "a.ipynb", [("c", SOURCE)])
    cwd = nb.parent
    assert resolve_session_name(str(nb), cwd) == nb
    # An API path relative to the server root (a parent of the kernel's folder).
    assert resolve_session_name("sub/a.ipynb", cwd) == tmp_path / "root" / "sub" / "a.ipynb"
    assert resolve_session_name("sub/renamed.ipynb", cwd) is None
    assert resolve_session_name("Console 1", cwd) is None


def test_rule_order(tmp_path):
    cwd = tmp_path / "work"
    a = notebook(cwd / "a.ipynb", [("a1", SOURCE)])
    b = notebook(cwd / "b.ipynb", [("b1", "%%collab\nother")])
    elsewhere = notebook(tmp_path / "other" / "c.ipynb", [("c1", "x = 1")])
    cell = CellInfo(code=SOURCE)

    # The running cell's source picks the notebook...
    assert finder(cwd).find(cell).path == a.resolve()
    assert finder(cwd).find(CellInfo(code="%%collab\nother")).how == "cell source"
    # ...a cell id beats the source...
    located = finder(cwd).find(CellInfo(code="changed, unsaved", cell_id="b1"))
    assert (located.path, located.how) == (b.resolve(), "cell id")
    # ...JPY_SESSION_NAME beats both...
    assert finder(cwd, JPY_SESSION_NAME=str(elsewhere)).find(cell).path == elsewhere
    # ...and JUPYTER_COLLAB_NOTEBOOK and the override beat everything.
    env = {"JPY_SESSION_NAME": str(elsewhere), "JUPYTER_COLLAB_NOTEBOOK": str(b)}
    assert finder(cwd, **env).find(cell).path == b
    f = finder(cwd, **env)
    f.set_override(a)
    assert f.find(cell).path == a
    # VS Code's variable is used when there is no session name.
    assert finder(cwd).find(cell, {"__vsc_ipynb_file__": str(elsewhere)}).path == elsewhere


def test_explicit_paths_must_exist(tmp_path):
    with pytest.raises(CollabNotebookError, match="does not exist"):
        finder(tmp_path, JUPYTER_COLLAB_NOTEBOOK=str(tmp_path / "gone.ipynb")).find()
    with pytest.raises(CollabNotebookError, match="not a notebook"):
        finder(tmp_path).set_override(tmp_path / "notes.txt")


def test_only_notebook_with_collab_cells_and_nothing_found(tmp_path):
    only = notebook(tmp_path / "one.ipynb", [("c", "%%collab\nhello")])
    notebook(tmp_path / "plain.ipynb", [("c", "print(1)")])
    located = finder(tmp_path).find(CellInfo(code="%%collab\nrun from a script"))
    assert (located.path, located.how) == (only, "only notebook with %%collab cells")
    notebook(tmp_path / "two.ipynb", [("c", "%%collab\nhi")])
    assert finder(tmp_path).find(CellInfo(code="%%collab\nunknown")) is None


def test_ambiguous_copies(tmp_path):
    a = notebook(tmp_path / "a.ipynb", [("c", SOURCE)])
    notebook(tmp_path / "a.nbconvert.ipynb", [("c", SOURCE)])
    with pytest.raises(CollabNotebookError, match="JUPYTER_COLLAB_NOTEBOOK"):
        finder(tmp_path).find(CellInfo(code=SOURCE))
    (tmp_path / "a.collab.json").write_text("{}")  # the one with a context file wins
    assert finder(tmp_path).find(CellInfo(code=SOURCE)).path == a.resolve()


def test_running_papermill_output_points_to_its_input(tmp_path):
    source = notebook(tmp_path / "in" / "analysis.ipynb", [("c", SOURCE)])
    info = {"papermill": {"input_path": "in/analysis.ipynb", "start_time": "t", "end_time": None}}
    out = notebook(tmp_path / "out.ipynb", [("c", SOURCE)], info)
    raw = json.loads(out.read_text())
    assert papermill_input(out, raw, [tmp_path]) == tmp_path / "in" / "analysis.ipynb"
    located = finder(tmp_path).find(CellInfo(code=SOURCE))
    assert located.path == source.resolve()
    finished = {"papermill": {**info["papermill"], "end_time": "t2"}}
    assert papermill_input(out, {"metadata": finished}, [tmp_path]) == out


def test_locate_cell_by_id_then_source_in_run_order():
    nb = {
        "cells": [
            {"id": "x", "cell_type": "code", "source": SOURCE},
            {"id": "y", "cell_type": "code", "source": "other"},
            {"id": "z", "cell_type": "code", "source": SOURCE + "\n"},
        ]
    }
    assert locate_cell(nb, CellInfo(code="whatever", cell_id="y")) == 1
    assert locate_cell(nb, CellInfo(code=SOURCE)) == 0
    assert locate_cell(nb, CellInfo(code=SOURCE), after=0) == 2
    assert locate_cell(nb, CellInfo(code=SOURCE), after=2) == 0
    assert locate_cell(nb, CellInfo(code="missing")) is None


# -- a real jupyter-server session ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_server(tmp_path, anthropic_env):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    runtime = tmp_path / "runtime"
    port, token = _free_port(), "discovery-test-token"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.pop("JUPYTER_COLLAB_NOTEBOOK", None)
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True", "--no-browser",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def api(method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    deadline = time.monotonic() + 60
    while True:
        try:
            api("GET", "/api/status")
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("jupyter server did not start")
            time.sleep(0.3)
    try:
        yield root, runtime, api, anthropic_env
    finally:
        process.terminate()
        process.wait(timeout=30)


def _execute(client, code: str, metadata: dict | None = None) -> tuple[str, list[dict]]:
    """Send an execute_request (with JupyterLab-style metadata) and collect the outputs."""
    message = client.session.msg(
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {},
         "allow_stdin": False, "stop_on_error": True},
        metadata=metadata or {},
    )  # fmt: skip
    client.shell_channel.send(message)
    msg_id = message["header"]["msg_id"]
    text, outputs = "", []
    while True:
        reply = client.get_iopub_msg(timeout=60)
        if reply["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = reply["msg_type"], reply["content"]
        if kind == "stream":
            text += content["text"]
        elif kind in ("display_data", "update_display_data", "error"):
            outputs.append({"type": kind, **content})
        elif kind == "status" and content["execution_state"] == "idle":
            return text, outputs


@pytest.mark.slow
@pytest.mark.parametrize("with_name", [True, False])
def test_jupyter_server_session_and_lab_cell_id(jupyter_server, with_name):
    root, runtime, api, wire = jupyter_server
    nb = notebook(
        root / "sub" / "analysis.ipynb",
        [("load", "%load_ext jupyter_collab"), ("ask", "%%collab\nsaved prompt")],
    )
    body = {"path": "sub/analysis.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    if with_name:  # JupyterLab sends the file name; other clients may not
        body["name"] = "analysis.ipynb"
    session = api("POST", "/api/sessions", body)
    client = _connect(runtime, session["kernel"]["id"])
    try:
        text, _ = _execute(client, "import os; print(os.environ['JPY_SESSION_NAME'], os.getcwd())")
        session_name, cwd = text.split()
        expected = str(nb) if with_name else "sub/analysis.ipynb"
        assert session_name == expected
        assert Path(cwd) == nb.parent

        _execute(client, "%load_ext jupyter_collab")
        # JupyterLab sends the cell id; the source here is an unsaved edit of that cell.
        wire.script(Reply.text("one two three four five six seven eight", delta_delay=0.06))
        text, outputs = _execute(
            client, "%%collab\nedited prompt", {"cellId": "ask", "recordTiming": False}
        )
        assert not [o for o in outputs if o["type"] == "error"], outputs
        # The answer streamed in as one display, updated in place. How many updates
        # depends on how the deltas' arrival meets the display throttle (timing, so
        # not asserted here; tests/test_kernel_display.py checks it with a fake clock).
        kinds = [o["type"] for o in outputs]
        assert kinds[0] == "display_data" and set(kinds[1:]) == {"update_display_data"}
        assert MIME_TYPE in outputs[-1]["data"]
        assert {o["transient"]["display_id"] for o in outputs} == {
            outputs[0]["transient"]["display_id"]
        }
        text, _ = _execute(
            client,
            "m = get_ipython().find_cell_magic('collab').__self__\n"
            "print(m.door.last.cell_id, m.door.last.location.how, m.door.last.location.path)",
        )
        cell_id, how, path = text.split()
        assert (cell_id, how, Path(path)) == ("ask", "JPY_SESSION_NAME", nb)
    finally:
        client.stop_channels()
        api("DELETE", f"/api/sessions/{session['id']}")


def _connect(runtime: Path, kernel_id: str):
    from jupyter_client import BlockingKernelClient

    connection = runtime / f"kernel-{kernel_id}.json"
    deadline = time.monotonic() + 30
    while not connection.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    client = BlockingKernelClient(connection_file=str(connection))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return client


@pytest.mark.slow
def test_kernel_interrupt_closes_the_upstream_stream(jupyter_server):
    root, runtime, api, wire = jupyter_server
    notebook(root / "sub" / "slow.ipynb", [("ask", "%%collab\nslow")])
    body = {"path": "sub/slow.ipynb", "name": "slow.ipynb", "type": "notebook",
            "kernel": {"name": "python3"}}  # fmt: skip
    session = api("POST", "/api/sessions", body)
    kernel_id = session["kernel"]["id"]
    client = _connect(runtime, kernel_id)
    try:
        _execute(client, "%load_ext jupyter_collab")
        # 40 words half a second apart: the response lasts 20 s unless closed early.
        wire.script(Reply.text(" ".join(["word"] * 40), delta_delay=0.5))
        message = client.session.msg(
            "execute_request",
            {"code": "%%collab\nslow", "silent": False, "store_history": True,
             "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        )  # fmt: skip
        client.shell_channel.send(message)
        deadline = time.monotonic() + 30
        while not wire.message_requests() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.2)  # a few words have streamed
        api("POST", f"/api/kernels/{kernel_id}/interrupt")
        # The wire server registers a disconnect only while it is still sending, so
        # this holds exactly when the interrupt closed the request before its end
        # (however slow the machine: the timeout only bounds a failing run).
        assert wire.wait_for_disconnect(timeout=15), "the upstream request was not closed"
        reply = client.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != message["header"]["msg_id"]:
            reply = client.get_shell_msg(timeout=10)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        # The kernel still answers afterwards. ipykernel aborts requests that arrive
        # right after an error (stop_on_error), so ask again until one is executed.
        for _ in range(10):
            text, _ = _execute(client, "print('alive')")
            if text:
                break
            time.sleep(0.3)
        assert text.strip() == "alive"
    finally:
        client.stop_channels()
        api("DELETE", f"/api/sessions/{session['id']}")
