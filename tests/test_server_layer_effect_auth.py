"""A promotion's model preview reads other notebooks: on either transport it
needs the right to read contents, not only the extension's own."""

from __future__ import annotations

import asyncio
import json

import pytest
from jupyter_server.auth.authorizer import Authorizer

from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext


class NoContents(Authorizer):
    """Every action allowed except on contents."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return resource != "contents"


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config.ServerApp.authorizer_class = NoContents
    return jp_server_config


async def test_layer_effect_needs_the_right_to_read_contents(
    collab_api, jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env, monkeypatch, tmp_path
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    make_notebook("nb.ipynb")
    entry = Amendment(kind="fact", text="Units are mM.")
    (jp_root_dir / "nb.collab.json").write_text(
        serialize_context(CollabContext(revision=1, amendments=[entry]))
    )
    move = {
        "path": "nb.ipynb",
        "entry_id": entry.id,
        "from_layer": "notebook",
        "to_layer": "personal",
    }

    code, body = await collab_api("layers/effect", method="POST", body=move)
    assert code == 403, body

    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "layer_effect", "id": "e", **move}))
    message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    assert message["type"] == "error" and message["id"] == "e" and message["status"] == 403
    assert "read contents" in message["message"]
    ws.close()
    assert not anthropic_env.message_requests()
