"""The extension under a non-root base_url, as behind JupyterHub (``/user/<name>/``)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.wire.anthropic_server import Reply

BASE_URL = "/hub/user/ada.lovelace/"


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


async def test_routes_live_under_the_base_url(
    collab_api, jp_serverapp, jp_ws_fetch, make_notebook, anthropic_env, http_server, jp_http_port
):
    assert jp_serverapp.base_url == BASE_URL
    code, body = await collab_api("version")
    assert code == 200 and body["provider"] == "anthropic"

    make_notebook("work/nb.ipynb")
    code, body = await collab_api(
        "context",
        method="PATCH",
        params={"path": "work/nb.ipynb"},
        body={"revision": 0, "operations": [{"op": "add_amendment", "kind": "fact", "text": "F."}]},
    )
    assert code == 200, body

    anthropic_env.script(Reply.text("ok"))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(
        json.dumps({"type": "complete", "id": "1", "path": "work/nb.ipynb", "prompt": "hi"})
    )
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=20))
        if message["type"] in ("result", "error"):
            break
    ws.close()
    assert message["type"] == "result", message
    assert message["result"]["context_revision"] == 1

    # Nothing is served outside the base URL.
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(
            f"http://127.0.0.1:{jp_http_port}/jupyter-collab/version", raise_error=False
        )
    finally:
        client.close()
    assert response.code == 404
