"""The constitution check through the server door: ``POST check`` (server-sent
events) and ``check`` on the stream WebSocket; results stored on the amendments
without losing a concurrent edit; probe expectations edited with ``PATCH context``.
The model is the wire-level Anthropic server answering as a small lab model."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from jupyter_collab.core.context_format import context_to_jsonable, serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext, ProbeKind
from jupyter_collab.core.store import read_context_file
from tests.test_check import GL, OSLO, lab_model, probe
from tests.wire.anthropic_server import Reply


@pytest.fixture
def notebook(make_notebook, jp_root_dir, anthropic_env, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_COLLAB_CACHE_DIR", str(tmp_path / "cache"))
    anthropic_env.responder = lab_model
    make_notebook("nb.ipynb")
    context = CollabContext(
        revision=1,
        amendments=[
            Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[probe("Where was it run?")]),
            Amendment(
                id="a-gl",
                kind="fact",
                text=GL,
                preview=[
                    probe("What is the yield of run 1?"),
                    probe("Summarize the method.", ProbeKind.should_not_change),
                ],
            ),
        ],
    )
    (jp_root_dir / "nb.collab.json").write_text(serialize_context(context))
    return context


def sidecar(jp_root_dir) -> dict:
    """The stored context as JSON data: the context file and its evidence files."""
    stored = read_context_file(jp_root_dir / "nb.collab.json", "nb.collab.json")
    return context_to_jsonable(stored)


def healths(amendments: list[dict]) -> dict[str, str | None]:
    return {a["id"]: (a.get("check") or {}).get("health") for a in amendments}


async def test_check_over_sse_streams_and_stores_the_health(collab_api, notebook, jp_root_dir):
    code, events = await collab_api("check", method="POST", body={"path": "nb.ipynb"})
    assert code == 200, events
    assert all(e["type"] == "check" for e in events)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert events[0]["total"] == 3 and events[0]["amendments"] == 2
    probes = [e for e in events if e["event"] == "probe"]
    assert sorted((e["amendment_id"], e["probe"]["index"]) for e in probes) == [
        ("a-gl", 0),
        ("a-gl", 1),
        ("a-oslo", 0),
    ]
    done = {
        e["amendment"]["amendment_id"]: e["amendment"]["health"]
        for e in events[:-1]
        if e["event"] == "amendment"
    }
    assert done == {"a-oslo": "broken", "a-gl": "holds"}

    finished = events[-1]
    assert finished["report"]["cancelled"] is False
    view = finished["context"]
    assert view["revision"] == 2  # the results were written
    assert healths(view["context"]["amendments"]) == {"a-oslo": "broken", "a-gl": "holds"}
    gl = view["context"]["amendments"][1]["check"]
    assert gl["probes_passed"] == 2 and gl["probes_total"] == 2
    assert gl["model"] == finished["report"]["model"]
    assert view["expectations"] == {"a-oslo": ["change"], "a-gl": ["change", "no_change"]}

    stored = sidecar(jp_root_dir)
    assert stored["revision"] == 2
    assert healths(stored["amendments"]) == {"a-oslo": "broken", "a-gl": "holds"}
    assert "ignores the fact" in stored["amendments"][0]["check"]["summary"]


async def test_check_of_one_amendment(collab_api, notebook, jp_root_dir):
    code, events = await collab_api(
        "check", method="POST", body={"path": "nb.ipynb", "amendment_id": "a-gl"}
    )
    assert code == 200, events
    assert events[0]["total"] == 2
    assert {e["amendment_id"] for e in events if e["event"] == "probe"} == {"a-gl"}
    assert healths(sidecar(jp_root_dir)["amendments"]) == {"a-oslo": None, "a-gl": "holds"}


async def test_check_errors_name_the_problem(collab_api, notebook, make_notebook, jp_root_dir):
    code, body = await collab_api(
        "check", method="POST", body={"path": "nb.ipynb", "amendment_id": "a-nope"}
    )
    assert code == 404 and "a-nope" in body["message"]

    code, body = await collab_api("check", method="POST", body={"path": "missing.ipynb"})
    assert code == 404, body

    make_notebook("bare.ipynb")
    code, body = await collab_api("check", method="POST", body={"path": "bare.ipynb"})
    assert code == 400 and "no context to check" in body["message"]

    code, body = await collab_api("check", method="POST", body={"path": "nb.ipynb", "extra": 1})
    assert code == 400 and "extra" in body["message"]

    await collab_api(
        "context",
        method="PATCH",
        params={"path": "nb.ipynb"},
        body={"revision": 1, "operations": [{"op": "toggle_amendment", "id": "a-gl"}]},
    )
    code, body = await collab_api(
        "check", method="POST", body={"path": "nb.ipynb", "amendment_id": "a-gl"}
    )
    assert code == 400 and "a-gl" in body["message"], body
    assert healths(sidecar(jp_root_dir)["amendments"]) == {"a-oslo": None, "a-gl": None}


async def test_an_edit_made_while_the_check_runs_is_kept(
    collab_api, notebook, jp_root_dir, anthropic_env
):
    # Hold every model call until the edit is written.
    release = threading.Event()

    def held(body):
        release.wait(timeout=30)
        return lab_model(body)

    anthropic_env.responder = held
    check = asyncio.ensure_future(collab_api("check", method="POST", body={"path": "nb.ipynb"}))
    await asyncio.sleep(0.3)
    code, view = await collab_api(
        "context",
        method="PATCH",
        params={"path": "nb.ipynb"},
        body={
            "revision": 1,
            "operations": [
                {"op": "add_amendment", "kind": "process", "text": "Cite sources."},
                {"op": "set_expectation", "id": "a-gl", "probe": 2, "expectation": "change"},
            ],
        },
    )
    assert code == 200 and view["revision"] == 2, view
    release.set()
    code, events = await check
    assert code == 200, events
    final = events[-1]["context"]
    assert final["revision"] == 3
    stored = sidecar(jp_root_dir)
    assert [a["text"] for a in stored["amendments"]] == [OSLO, GL, "Cite sources."]
    # a-gl's probes changed while it was checked: that result is of a version gone.
    assert [(a.get("check") or {}).get("health") for a in stored["amendments"]] == [
        "broken",
        None,
        None,
    ]
    assert stored["amendments"][1]["preview"][1]["expectation"] == "change"


async def test_check_over_websocket_streams_and_cancels(
    jp_ws_fetch, notebook, anthropic_env, jp_root_dir
):
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "check", "id": "c1", "path": "nb.ipynb"}))
    messages = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
        assert message["type"] == "check" and message["id"] == "c1", message
        messages.append(message)
        if message["event"] == "finished":
            break
    assert messages[0]["event"] == "started"
    assert healths(messages[-1]["context"]["context"]["amendments"]) == {
        "a-oslo": "broken",
        "a-gl": "holds",
    }

    # A slow model: cancelling finishes early with a cancelled report.
    anthropic_env.responder = lambda body: Reply.text("slow answer " * 40, delta_delay=0.05)
    await ws.write_message(json.dumps({"type": "check", "id": "c2", "path": "nb.ipynb"}))
    first = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    assert first["event"] == "started"
    await ws.write_message(json.dumps({"type": "cancel", "id": "c2"}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
        if message["event"] == "finished":
            break
    assert message["report"]["cancelled"] is True
    assert message["context"] is not None

    await ws.write_message(json.dumps({"type": "check", "id": "c3", "path": "../x.ipynb"}))
    error = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    assert error["type"] == "error" and error["id"] == "c3" and error["status"] in (400, 403, 404)
    ws.close()


async def patch(collab_api, revision: int, *operations: dict):
    return await collab_api(
        "context",
        method="PATCH",
        params={"path": "nb.ipynb"},
        body={"revision": revision, "operations": list(operations)},
    )


async def test_expectations_are_edited_through_patch(collab_api, notebook, jp_root_dir):
    code, view = await collab_api("context", params={"path": "nb.ipynb"})
    assert code == 200
    assert view["expectations"] == {"a-oslo": ["change"], "a-gl": ["change", "no_change"]}

    code, view = await patch(
        collab_api,
        1,
        {"op": "set_expectation", "id": "a-gl", "probe": 2, "expectation": "change"},
        {"op": "add_probe", "id": "a-oslo", "prompt": "Which lab?", "expectation": "change"},
    )
    assert code == 200, view
    assert view["expectations"] == {"a-oslo": ["change", "change"], "a-gl": ["change", "change"]}
    gl = view["context"]["amendments"][1]
    assert gl["preview"][1]["expectation"] == "change" and gl["rev"] == 2

    code, view = await patch(collab_api, 2, {"op": "remove_probe", "id": "a-oslo", "probe": 1})
    assert code == 200, view
    assert [p["probe"] for p in view["context"]["amendments"][0]["preview"]] == ["Which lab?"]
    stored = sidecar(jp_root_dir)
    assert stored["revision"] == 3
    assert [p["probe"] for p in stored["amendments"][0]["preview"]] == ["Which lab?"]


async def test_expectation_errors_name_the_problem(collab_api, notebook, jp_root_dir):
    before = (jp_root_dir / "nb.collab.json").read_bytes()
    code, body = await patch(
        collab_api, 1, {"op": "set_expectation", "id": "a-gl", "probe": 3, "expectation": "change"}
    )
    assert code == 400 and "a-gl has 2 probe(s)" in body["message"], body
    code, body = await patch(
        collab_api, 1, {"op": "set_expectation", "id": "a-gl", "probe": 1, "expectation": "maybe"}
    )
    assert code == 400 and "expectation" in body["message"], body
    code, body = await patch(
        collab_api,
        1,
        {
            "op": "add_probe",
            "id": "a-gl",
            "prompt": "What is the yield of run 1?",
            "expectation": "change",
        },
    )
    assert code == 400 and "already has this probe" in body["message"], body
    code, body = await patch(collab_api, 1, {"op": "remove_probe", "id": "a-x", "probe": 1})
    assert code == 400 and "a-x" in body["message"], body
    code, body = await patch(collab_api, 0, {"op": "remove_probe", "id": "a-gl", "probe": 1})
    assert code == 409, body
    assert (jp_root_dir / "nb.collab.json").read_bytes() == before
