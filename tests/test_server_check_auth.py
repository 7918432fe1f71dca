"""A check stores its results in the context: on either transport it needs the
right to write contents, not only the extension's own."""

from __future__ import annotations

import asyncio
import json

import pytest
from jupyter_server.auth.authorizer import Authorizer

from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext
from tests.test_check import OSLO, probe


class ContentsReadOnly(Authorizer):
    """Every action allowed except writing contents."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return not (action == "write" and resource == "contents")


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config.ServerApp.authorizer_class = ContentsReadOnly
    return jp_server_config


@pytest.fixture
def notebook(make_notebook, jp_root_dir):
    make_notebook("nb.ipynb")
    context = CollabContext(
        revision=1,
        amendments=[Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[probe("Where?")])],
    )
    (jp_root_dir / "nb.collab.json").write_text(serialize_context(context))


async def test_check_needs_the_right_to_write_contents(
    collab_api, jp_ws_fetch, notebook, anthropic_env, jp_root_dir
):
    before = (jp_root_dir / "nb.collab.json").read_bytes()
    code, body = await collab_api("check", method="POST", body={"path": "nb.ipynb"})
    assert code == 403, body

    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "check", "id": "c", "path": "nb.ipynb"}))
    message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    assert message["type"] == "error" and message["id"] == "c" and message["status"] == 403
    assert "write contents" in message["message"]
    ws.close()
    assert (jp_root_dir / "nb.collab.json").read_bytes() == before
    assert not anthropic_env.message_requests()  # refused before any model call
