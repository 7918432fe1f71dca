"""The server door never writes a notebook: only its context file.

Under real-time collaboration (jupyter-collaboration) the shared document owns
the ``.ipynb``: it saves it from the collaborators' edits, and a save by anyone
else would overwrite (and, reloaded, wipe) cells a collaborator typed since.
So every route that reads a notebook (completions, the context routes,
finalize) leaves its bytes alone, and what belongs in the notebook (answers,
highlights, the embedded context) reaches it through the page that asked,
which writes into the shared document.
"""

from __future__ import annotations

import os

from jupyter_collab.core.outputs import CollabOutput
from jupyter_collab.core.providers.base import Usage
from tests.factories import completion_result
from tests.reliability.helpers import ws_send, ws_until
from tests.wire.anthropic_server import Reply

ANSWER = "The baseline comes from Jones 2018."
SPAN = "Jones 2018"


def highlight() -> dict:
    start = ANSWER.index(SPAN)
    return {
        "answer": ANSWER,
        "prompt": "Where does the baseline come from?",
        "position": {"start": start, "end": start + len(SPAN)},
        "quote": {"exact": SPAN, "prefix": ANSWER[:start], "suffix": ""},
        "cell_id": "cell-1",
        "response_id": "msg_1",
    }


def answer_payload() -> dict:
    result = completion_result(
        answer=ANSWER,
        prompt="Where does the baseline come from?",
        usage=Usage(input_tokens=5, output_tokens=2),
        context_revision=0,
        cell_id="cell-1",
    )
    return CollabOutput(result=result).model_dump(mode="json")


async def test_no_route_writes_the_notebook(
    collab_api, collab_app, jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env
):
    notebook = make_notebook(
        "nb.ipynb",
        context={"schema_version": 1, "revision": 1, "amendments": []},
    )
    before = (notebook.read_bytes(), os.stat(notebook).st_mtime_ns)
    saved: list[str] = []
    contents = collab_app.serverapp.contents_manager
    original_save = contents.save

    def spy(model, path, *args, **kwargs):
        saved.append(path)
        return original_save(model, path, *args, **kwargs)

    contents.save = spy
    try:
        code, body = await collab_api("context", params={"path": "nb.ipynb"})
        assert code == 200, body
        code, body = await collab_api(
            "context",
            method="PATCH",
            params={"path": "nb.ipynb"},
            body={
                "revision": body["revision"],
                "operations": [{"op": "add_amendment", "kind": "process", "text": "Be terse."}],
            },
        )
        assert code == 200, body
        code, body = await collab_api(
            "finalize",
            method="POST",
            body={
                "path": "nb.ipynb",
                "revision": body["revision"],
                "amendment": {"kind": "fact", "text": "The baseline is Smith 2020."},
                "highlight": highlight(),
                "correction": {"operation": "replace", "text": "Smith 2020"},
                "cell_id": "cell-1",
                "output": answer_payload(),
            },
        )
        assert code == 200, body
        assert body["output"] is not None  # the page writes it into the shared document

        anthropic_env.script(Reply.text("An answer.", chunks=2))
        ws = await jp_ws_fetch("jupyter-collab", "stream")
        await ws_send(
            ws,
            {
                "type": "complete",
                "id": "c1",
                "path": "nb.ipynb",
                "source": "%%collab\nAnything?",
                "cell_id": "cell-2",
            },
        )
        messages = await ws_until(ws, "c1", "result", "error")
        ws.close()
        assert messages[-1]["type"] == "result", messages[-1]
    finally:
        contents.save = original_save

    assert (notebook.read_bytes(), os.stat(notebook).st_mtime_ns) == before
    assert not [path for path in saved if path.endswith(".ipynb")]
    assert (jp_root_dir / "nb.collab.json").exists()
