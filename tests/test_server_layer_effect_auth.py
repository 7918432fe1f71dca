"""The model previews of a promotion and of an import read other notebooks: on
either transport they need the right to read contents, not only the extension's own."""

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


async def test_import_effect_needs_the_right_to_read_contents(
    collab_api, jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    entry = Amendment(kind="fact", text="Units are mM.")
    (jp_root_dir / "a.collab.json").write_text(
        serialize_context(CollabContext(revision=1, amendments=[entry]))
    )
    request = {"path": "b.ipynb", "from_path": "a.ipynb", "entry_id": entry.id}

    code, body = await collab_api("layers/import/effect", method="POST", body=request)
    assert code == 403, body

    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "import_effect", "id": "i", **request}))
    message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    assert message["type"] == "error" and message["id"] == "i" and message["status"] == 403
    assert "an import's preview reads other notebooks" in message["message"]
    ws.close()
    assert not anthropic_env.message_requests()
