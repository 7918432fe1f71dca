"""R2: the API key never appears in any HTTP response, WebSocket message,
notebook, context file or log line, across a full loop run.

The loop runs through the server door (every route, both streaming transports,
success and failure) and the kernel door (a real kernel executing a notebook
with nbclient), with DEBUG logging everywhere (the SDK's and httpx's loggers
included) and a model server that quotes the key back in its error messages,
the way a misconfigured gateway might. Everything a user or an operator could
see is then searched for the key: response bodies and headers, WebSocket and
SSE messages, every file under the root, every log record, and the kernel's
own stdout/stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import nbformat
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_collab.core.context_format import context_to_jsonable
from jupyter_collab.core.context_model import Amendment, CollabContext
from tests.reliability.helpers import DRAFT, HIGHLIGHT, raw_fetch, sample_bodies
from tests.wire.anthropic_server import FAKE_API_KEY, Reply

REPO = Path(__file__).resolve().parents[2]
KEY_PARTS = (FAKE_API_KEY, FAKE_API_KEY[7:], FAKE_API_KEY[-16:])  # whole, without prefix, tail


def leaks(text: str) -> list[str]:
    return [part for part in KEY_PARTS if part in text]


def echoing_key(status: int) -> Reply:
    return Reply.error(status, f"invalid x-api-key: {FAKE_API_KEY} (check your settings)")


@pytest.mark.timeout(180)
async def test_r02_full_loop_through_the_server(
    jp_serverapp,
    http_server,
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    make_notebook,
    jp_root_dir,
    anthropic_env,
    caplog,
    figures,
):
    caplog.set_level(logging.DEBUG)
    embedded = CollabContext(amendments=[Amendment(kind="fact", text="Embedded fact.")])
    make_notebook(
        "nb.ipynb",
        cells=[nbformat.v4.new_code_cell("%%collab\nSummarize.")],
        context=context_to_jsonable(embedded),
    )
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/"
    seen: list[str] = []
    counts = {"http": 0, "ws": 0}

    async def call(route: str, method: str = "GET", body=None, query: str = "") -> dict | list:
        payload = json.dumps(body) if body is not None else None
        response = await raw_fetch(f"{base}{route}{query}", method, payload, jp_auth_header)
        text = response.body.decode("utf-8", "replace")
        seen.append(text)
        seen.append("\n".join(f"{k}: {v}" for k, v in response.headers.get_all()))
        counts["http"] += 1
        assert response.code < 500 or response.code in (502, 503), (route, response.code, text)
        return json.loads(text) if text.startswith(("{", "[")) else [text]

    ws = await websocket_connect(
        HTTPRequest(base.replace("http", "ws", 1) + "stream", headers=jp_auth_header)
    )

    async def ws_call(message: dict, *final: str) -> list[dict]:
        await ws.write_message(json.dumps(message))
        replies = []
        while True:
            raw = await ws.read_message()
            assert raw is not None
            seen.append(raw)
            counts["ws"] += 1
            reply = json.loads(raw)
            if reply.get("id") != message.get("id"):
                continue
            replies.append(reply)
            if reply["type"] in final or (
                reply["type"] == "progress" and reply.get("event") in final
            ):
                return replies

    q = "?path=nb.ipynb"
    bodies = sample_bodies("nb.ipynb")
    await call("version")
    await call("models")
    opened = await call("context", query=q)
    await call(
        "context/accept",
        "POST",
        {"revision": 0, "pending_hash": opened["pending_hash"]},
        q,
    )
    await call("context", "PATCH", {**bodies[("context", "PATCH")], "revision": 1}, q)
    await call("complete", "POST", bodies[("complete", "POST")])
    await ws_call(
        {"type": "complete", "id": "1", **bodies[("complete", "POST")]}, "result", "error"
    )
    await call("suggest", "POST", bodies[("suggest", "POST")])
    await call("propose", "POST", bodies[("propose", "POST")])
    await call("probes", "POST", bodies[("probes", "POST")])
    await call("preview", "POST", bodies[("preview", "POST")])
    await ws_call(
        {"type": "preview", "id": "2", **bodies[("preview", "POST")]}, "finished", "error"
    )
    await call(
        "finalize",
        "POST",
        {"path": "nb.ipynb", "amendment": DRAFT, "highlight": HIGHLIGHT, "revision": 2},
    )
    await call("context", query=q)

    # Failures whose upstream messages quote the key, on every kind of call.
    failures = 0
    for status in (401, 403, 400, 500):
        anthropic_env.script(*[echoing_key(status)] * 3)
        await call("complete", "POST", bodies[("complete", "POST")])
        anthropic_env.script(*[echoing_key(status)] * 3)
        await ws_call({"type": "complete", "id": f"e{status}", "prompt": "x"}, "result", "error")
        anthropic_env.script(*[echoing_key(status)] * 3)
        await call("suggest", "POST", bodies[("suggest", "POST")])
        failures += 3
    anthropic_env.script(
        Reply.stream_error("one two three", after=1, message=f"bad key {FAKE_API_KEY}")
    )
    await ws_call({"type": "complete", "id": "mid", "prompt": "x"}, "result", "error")
    anthropic_env.script(Reply.stream_error("one two", after=1, message=f"key={FAKE_API_KEY}"))
    await call("complete", "POST", bodies[("complete", "POST")])
    failures += 2
    ws.close()

    assert anthropic_env.received_api_key(FAKE_API_KEY)  # the key was really in use
    assert any("[secret]" in text or "[redacted]" in text for text in seen)
    files = [p for p in jp_root_dir.rglob("*") if p.is_file()]
    for path in files:
        assert not leaks(path.read_text("utf-8", "replace")), path
    records = caplog.records
    assert len(records) > 100  # DEBUG logging of the server, the SDK and httpx
    formatter = logging.Formatter()
    for record in records:
        line = formatter.format(record)
        assert not leaks(line), line[:300]
    for text in seen:
        assert not leaks(text), text[:300]
    config = jp_serverapp.web_app.settings["jupyter_collab_broker"].config
    assert not leaks(repr(config)) and not leaks(
        str(config.model_dump(exclude={"anthropic_api_key"}))
    )
    figures.add(
        "R2",
        f"server door: {counts['http']} HTTP responses (bodies + headers), {counts['ws']} "
        f"WebSocket messages, {len(files)} files, {len(records)} DEBUG log records, "
        f"{failures} upstream errors quoting the key: 0 contain it",
    )


@pytest.mark.timeout(180)
def test_r02_kernel_door_run(tmp_path, anthropic_env, capfd, monkeypatch, figures):
    pytest.importorskip("jupyter_collab.kernel.magic")
    from nbclient import NotebookClient

    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_env.url)
    monkeypatch.setenv("ANTHROPIC_LOG", "debug")  # the SDK logs every request to stderr
    monkeypatch.setenv("JUPYTER_COLLAB_PROVIDER", "anthropic")
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "live")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), *sys.path]))
    for name in ("JUPYTER_COLLAB_NOTEBOOK", "JUPYTER_COLLAB_TRUST_EMBEDDED"):
        monkeypatch.delenv(name, raising=False)
    notebook = tmp_path / "run.ipynb"
    node = nbformat.v4.new_notebook()
    node.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_collab"),
        nbformat.v4.new_code_cell("%%collab\nSummarize the cohort."),
        nbformat.v4.new_code_cell("%%collab\nThis one fails."),
        nbformat.v4.new_code_cell("%collab status"),
        nbformat.v4.new_code_cell(
            "import logging, os\nlogging.getLogger('anthropic').debug('env ok')\n"
            "print(sorted(k for k in os.environ if 'ANTHROPIC' in k))"
        ),
    ]
    nbformat.write(node, notebook)
    anthropic_env.script(Reply.text("The cohort is small."), *[echoing_key(401)] * 3)
    client = NotebookClient(
        nbformat.read(notebook, as_version=4),
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    executed = client.execute()
    nbformat.write(executed, notebook)
    out, err = capfd.readouterr()

    outputs = [o for cell in executed.cells for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert len(errors) == 1 and "invalid x-api-key" in "\n".join(errors[0]["traceback"])
    assert "[redacted]" in "\n".join(errors[0]["traceback"]) or "[secret]" in str(errors[0])
    assert anthropic_env.received_api_key(FAKE_API_KEY)
    texts = {
        "executed notebook": notebook.read_text(),
        "kernel stdout": out,
        "kernel stderr": err,
    }
    logged = err + texts["executed notebook"]  # the kernel's stderr goes to the notebook
    assert "Request options" in logged or "HTTP Request" in logged, "no SDK debug log"
    for where, text in texts.items():
        assert not leaks(text), (where, text[text.find(FAKE_API_KEY[-16:]) - 200 :][:400])
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".ipynb", ".json")]
    for path in files:
        assert not leaks(path.read_text("utf-8", "replace")), path
    figures.add(
        "R2",
        f"kernel door: nbclient run with SDK debug logging, {len(outputs)} outputs, "
        f"{len(err.splitlines())} stderr lines, {len(files)} files: 0 contain the key",
    )
