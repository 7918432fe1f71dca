"""Completions through the server door: WebSocket ``stream`` and SSE ``complete``.

The model is the wire-level Anthropic server from ``tests/wire``: the real SDK
talks HTTP to it, and its request log shows exactly what the server sent.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.history import turns_above
from jupyter_collab.core.outputs import MIME_TYPE, CollabOutput, build_output
from tests.factories import completion_result
from tests.reliability.helpers import post_raw_complete, ws_send, ws_until
from tests.wire.anthropic_server import Reply, message_text

FACT = "The study cohort is patients admitted between 2019 and 2021."
RULE = "Ask one clarifying question before writing any report."


@pytest.fixture
def notebook_with_context(make_notebook, jp_root_dir):
    make_notebook("nb.ipynb")
    context = CollabContext(
        revision=2,
        amendments=[Amendment(kind="fact", text=FACT), Amendment(kind="process", text=RULE)],
    )
    (jp_root_dir / "nb.collab.json").write_text(serialize_context(context))
    return context


def system_blocks(server) -> list[dict[str, Any]]:
    return server.message_requests()[-1].body["system"]


# -- the WebSocket ---------------------------------------------------------------


async def test_completion_streams_with_the_notebook_context(
    jp_ws_fetch, notebook_with_context, anthropic_env
):
    anthropic_env.script(Reply.text("The cohort is small; what outcome do you study?", chunks=4))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(
        ws,
        {
            "type": "complete",
            "id": "c1",
            "path": "nb.ipynb",
            "source": "%%collab --max-tokens 300\nSummarize {df_name} for me.",
            "variables": {"df_name": "admissions"},
            "cell_id": "cell-7",
        },
    )
    messages = await ws_until(ws, "c1", "result", "error")
    ws.close()

    deltas = [m["text"] for m in messages if m["type"] == "delta"]
    assert len(deltas) == 4
    final = messages[-1]
    assert final["type"] == "result", final
    result = final["result"]
    assert result["answer"] == "".join(deltas)
    assert result["prompt"] == "Summarize admissions for me."
    assert result["cell_id"] == "cell-7"
    assert result["context_revision"] == 2
    assert result["included_amendments"] == [a.id for a in notebook_with_context.amendments]
    assert result["usage"]["output_tokens"] > 0
    output = final["output"]
    assert output["output_type"] == "display_data"
    assert output["data"][MIME_TYPE]["result"]["answer"] == result["answer"]
    assert output["metadata"]["jupyter_collab"]["input_hash"] == result["input_hash"]

    # What reached the model: the amendments in the system prompt, in two cached
    # blocks (persona + facts, then the process rules), each closed by a breakpoint.
    request = anthropic_env.message_requests()[-1].body
    assert request["max_tokens"] == 300
    assert message_text(request["messages"][-1]) == "Summarize admissions for me."
    blocks = request["system"]
    assert len(blocks) == 2, blocks
    assert FACT in blocks[0]["text"] and RULE not in blocks[0]["text"]
    assert blocks[1]["text"].startswith("## Process rules") and RULE in blocks[1]["text"]
    assert all(b["cache_control"] == {"type": "ephemeral"} for b in blocks)
    assert blocks[1]["text"].rstrip().endswith(RULE)


async def test_several_requests_share_one_socket(jp_ws_fetch, make_notebook, anthropic_env):
    make_notebook("nb.ipynb")
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    for request_id in ("a", "b"):
        await ws_send(
            ws, {"type": "complete", "id": request_id, "path": "nb.ipynb", "prompt": request_id}
        )
    results = {}
    while len(results) < 2:
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=20))
        if message["type"] in ("result", "error"):
            results[message["id"]] = message
    ws.close()
    assert {m["type"] for m in results.values()} == {"result"}
    assert results["a"]["result"]["prompt"] == "a"
    assert results["b"]["result"]["prompt"] == "b"


async def test_cancel_closes_the_upstream_request(jp_ws_fetch, make_notebook, anthropic_env):
    make_notebook("nb.ipynb")
    anthropic_env.script(Reply.text(" ".join(["word"] * 200), delta_delay=0.05))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(ws, {"type": "complete", "id": "x", "path": "nb.ipynb", "prompt": "go"})
    first = await ws_until(ws, "x", "delta")
    assert first[-1]["type"] == "delta"
    await ws_send(ws, {"type": "cancel", "id": "x"})
    messages = await ws_until(ws, "x", "cancelled", "result", "error")
    assert messages[-1]["type"] == "cancelled"
    assert await asyncio.to_thread(anthropic_env.wait_for_disconnect, 10)
    ws.close()


async def test_closing_the_socket_closes_the_upstream_request(
    jp_ws_fetch, make_notebook, anthropic_env
):
    make_notebook("nb.ipynb")
    anthropic_env.script(Reply.text(" ".join(["word"] * 200), delta_delay=0.05))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(ws, {"type": "complete", "id": "x", "path": "nb.ipynb", "prompt": "go"})
    await ws_until(ws, "x", "delta")
    ws.close()
    assert await asyncio.to_thread(anthropic_env.wait_for_disconnect, 10)


async def test_the_server_answers_while_a_completion_streams(
    jp_ws_fetch, collab_api, make_notebook, anthropic_env
):
    make_notebook("nb.ipynb")
    # 200 words 0.05 s apart: the stream lasts about 10 s.
    anthropic_env.script(Reply.text(" ".join(["word"] * 200), delta_delay=0.05))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(ws, {"type": "complete", "id": "slow", "path": "nb.ipynb", "prompt": "go"})
    await ws_until(ws, "slow", "delta")
    code, _ = await collab_api("context", params={"path": "nb.ipynb"})
    replied_at = datetime.now(timezone.utc)
    assert code == 200
    messages = await ws_until(ws, "slow", "result", "error")
    assert messages[-1]["type"] == "result"
    # The REST reply came before the answer was complete (its result is stamped
    # when it is): the stream did not hold the server's event loop.
    finished_at = datetime.fromisoformat(messages[-1]["result"]["created"])
    assert replied_at < finished_at, (replied_at, finished_at)
    ws.close()


async def test_stream_errors_are_messages_with_a_status(jp_ws_fetch, make_notebook, anthropic_env):
    make_notebook("nb.ipynb")
    ws = await jp_ws_fetch("jupyter-collab", "stream")

    await ws.write_message("not json")
    error = json.loads(await ws.read_message())
    assert error["type"] == "error" and error["status"] == 400 and error["id"] is None

    await ws_send(ws, {"type": "dance", "id": "1"})
    error = json.loads(await ws.read_message())
    assert error["status"] == 400 and "field 'type'" in error["message"]

    await ws_send(ws, {"type": "complete", "id": "2", "path": "nb.ipynb"})
    error = (await ws_until(ws, "2", "error"))[-1]
    assert error["status"] == 400 and "'source'" in error["message"]

    await ws_send(ws, {"type": "complete", "id": "3", "path": "nope.ipynb", "prompt": "x"})
    error = (await ws_until(ws, "3", "error"))[-1]
    assert error["status"] == 404 and error["reason"] == "not_found"

    await ws_send(
        ws, {"type": "complete", "id": "4", "source": "%%collab --bogus\nhello", "path": "nb.ipynb"}
    )
    error = (await ws_until(ws, "4", "error"))[-1]
    assert error["status"] == 400 and "--bogus" in error["message"]

    anthropic_env.script(Reply.error(400, "max_tokens: 999999 > 64000, the maximum allowed"))
    await ws_send(ws, {"type": "complete", "id": "5", "path": "nb.ipynb", "prompt": "x"})
    error = (await ws_until(ws, "5", "error"))[-1]
    assert error["status"] == 502 and error["reason"] == "provider_error"
    assert "max_tokens: 999999 > 64000" in error["message"]
    assert "Traceback" not in error["message"]

    anthropic_env.script(Reply.stream_error("one two three four five", after=2))
    await ws_send(ws, {"type": "complete", "id": "6", "path": "nb.ipynb", "prompt": "x"})
    messages = await ws_until(ws, "6", "error", "result")
    assert [m["type"] for m in messages] == ["delta", "delta", "error"]
    assert messages[-1]["status"] == 502 and "Overloaded" in messages[-1]["message"]
    ws.close()


# -- server-sent events -------------------------------------------------------------


async def test_sse_completion(collab_api, notebook_with_context, anthropic_env):
    anthropic_env.script(Reply.text("Which outcome?", chunks=2))
    code, events = await collab_api(
        "complete",
        method="POST",
        body={"path": "nb.ipynb", "prompt": "Write the report.", "mode": "learning"},
    )
    assert code == 200
    assert [e["type"] for e in events] == ["delta", "delta", "result"]
    assert events[-1]["result"]["answer"] == "Which outcome?"
    assert events[-1]["result"]["mode"] == "learning"
    assert FACT in json.dumps(system_blocks(anthropic_env))


async def test_sse_without_context(collab_api, notebook_with_context, anthropic_env):
    code, events = await collab_api(
        "complete", method="POST", body={"path": "nb.ipynb", "source": "%%collab --no-context\nhi"}
    )
    assert code == 200, events
    assert events[-1]["result"]["included_amendments"] == []
    assert FACT not in json.dumps(system_blocks(anthropic_env))


async def test_sse_errors_before_the_first_event_are_http_errors(
    collab_api, make_notebook, anthropic_env
):
    make_notebook("nb.ipynb")
    anthropic_env.script(Reply.error(400, "prompt is too long: 250000 tokens > 200000 maximum"))
    code, body = await collab_api(
        "complete", method="POST", body={"path": "nb.ipynb", "prompt": "x"}
    )
    assert code == 502
    assert body["reason"] == "provider_error"
    assert "prompt is too long" in body["message"]

    code, body = await collab_api("complete", method="POST", body={"prompt": "x", "temperature": 9})
    assert code == 400 and "field 'temperature'" in body["message"]


async def test_sse_error_after_the_first_event_is_an_event(
    collab_api, make_notebook, anthropic_env
):
    make_notebook("nb.ipynb")
    anthropic_env.script(Reply.stream_error("one two three", after=1))
    code, events = await collab_api("complete", method="POST", body={"prompt": "x"})
    assert code == 200
    assert [e["type"] for e in events] == ["delta", "error"]
    assert events[-1]["status"] == 502


async def test_sse_client_disconnect_closes_the_upstream_request(
    http_server, jp_http_port, jp_base_url, jp_auth_header, make_notebook, anthropic_env
):
    make_notebook("nb.ipynb")
    anthropic_env.script(Reply.text(" ".join(["word"] * 200), delta_delay=0.05))
    reader, writer = await post_raw_complete(
        jp_http_port, jp_base_url, jp_auth_header, {"path": "nb.ipynb", "prompt": "go"}
    )
    received = b""
    while b"event: delta" not in received:
        received += await asyncio.wait_for(reader.read(1024), timeout=20)
    assert received.startswith(b"HTTP/1.1 200")
    writer.close()
    assert await asyncio.to_thread(anthropic_env.wait_for_disconnect, 10)


# -- configuration errors -------------------------------------------------------------


@pytest.fixture
def collab_extension_config():
    return {"allowed_models": ["claude-sonnet-5-5"]}


async def test_model_not_allowed_is_400(collab_api, make_notebook):
    code, body = await collab_api(
        "complete", method="POST", body={"source": "%%collab --model claude-opus-5\nhi"}
    )
    assert code == 400
    assert "claude-opus-5" in body["message"] and "allowed" in body["message"]


async def test_missing_key_is_503(collab_api, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, body = await collab_api("complete", method="POST", body={"prompt": "hi"})
    assert code == 503, body
    assert body["reason"] == "not_configured"
    assert "ANTHROPIC_API_KEY" in body["message"]


async def test_jp_fetch_raises_for_errors_by_default(jp_fetch):
    """(sanity: the raw fixture sees the same status)"""
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-collab", "complete", method="POST", body="{}")
    assert info.value.code == 400


# -- the conversation a cell continues ----------------------------------------------


def _answer_output(prompt: str, answer: str) -> dict[str, Any]:
    result = completion_result(answer=answer, prompt=prompt, response_id="msg_0")
    return build_output(CollabOutput(result=result))


# The cells above a collaborator cell, as a notebook holds them: only answered
# collaborator code cells with a valid payload and a non-empty answer are turns.
CELLS_ABOVE = [
    nbformat.v4.new_code_cell(
        "%%collab\nWhere is the data?",
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="loading\n"),
            _answer_output("Where is the data?", "In data/raw."),
        ],
    ),
    nbformat.v4.new_code_cell("x = 1", outputs=[_answer_output("not a collaborator", "no")]),
    nbformat.v4.new_markdown_cell("%%collab\nnot a code cell"),
    nbformat.v4.new_code_cell(
        "%%collab\ndamaged",
        outputs=[
            nbformat.v4.new_output(
                "display_data", data={MIME_TYPE: {"result": {"prompt": "p", "answer": "a"}}}
            )
        ],
    ),
    nbformat.v4.new_code_cell("%%collab\nempty", outputs=[_answer_output("empty", "")]),
    nbformat.v4.new_code_cell(
        "  %%collab --mode learning\nWhich test for {df}?",
        outputs=[_answer_output("Which test for admissions?", "A t-test.")],
    ),
]
EXPECTED_TURNS = [
    ("Where is the data?", "In data/raw."),
    ("Which test for admissions?", "A t-test."),
]


def _as_sent_by_the_browser(cell: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_type": cell["cell_type"],
        "source": cell["source"],
        "outputs": [{"data": o["data"]} for o in cell.get("outputs", []) if "data" in o],
    }


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


async def test_the_server_takes_the_turns_from_the_cells_above(
    collab_api, notebook_with_context, anthropic_env
):
    cells = [_as_sent_by_the_browser(cell) for cell in CELLS_ABOVE]
    code, events = await collab_api(
        "complete",
        method="POST",
        body={"path": "nb.ipynb", "source": "%%collab\nAnd now?", "cells_above": cells},
    )
    assert code == 200, events
    from_cells = events[-1]["result"]["input_hash"]
    messages = anthropic_env.message_requests()[-1].body["messages"]
    sent = [(_text(m["content"]), m["role"]) for m in messages]
    expected = [
        x for prompt, answer in EXPECTED_TURNS for x in ((prompt, "user"), (answer, "assistant"))
    ]
    assert sent[:-1] == expected
    assert sent[-1] == ("And now?", "user")

    # The kernel door's rule over the same cells saved in a notebook: the same input hash.
    notebook = nbformat.v4.new_notebook(cells=[*CELLS_ABOVE, nbformat.v4.new_code_cell("")])
    turns = turns_above(notebook, len(CELLS_ABOVE))
    assert [(t.prompt, t.answer) for t in turns] == EXPECTED_TURNS
    code, events = await collab_api(
        "complete",
        method="POST",
        body={
            "path": "nb.ipynb",
            "source": "%%collab\nAnd now?",
            "history": [t.model_dump() for t in turns],
        },
    )
    assert code == 200, events
    assert events[-1]["result"]["input_hash"] == from_cells


async def test_no_history_ignores_the_cells_above(collab_api, notebook_with_context, anthropic_env):
    cells = [_as_sent_by_the_browser(cell) for cell in CELLS_ABOVE]
    code, events = await collab_api(
        "complete",
        method="POST",
        body={
            "path": "nb.ipynb",
            "source": "%%collab --no-history\nAnd now?",
            "cells_above": cells,
        },
    )
    assert code == 200, events
    messages = anthropic_env.message_requests()[-1].body["messages"]
    assert [_text(m["content"]) for m in messages] == ["And now?"]
    # No later cell sends this prompt as history, so it closes no cached prefix.
    assert messages[0]["content"] == "And now?"


async def test_cells_above_and_history_together_are_refused(collab_api, notebook_with_context):
    code, body = await collab_api(
        "complete",
        method="POST",
        body={
            "path": "nb.ipynb",
            "source": "%%collab\nAnd now?",
            "cells_above": [],
            "history": [{"prompt": "a", "answer": "b"}],
        },
    )
    assert code == 400 and "not both" in body["message"]
