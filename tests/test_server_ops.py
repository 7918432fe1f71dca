"""The loop's operations through the server door: suggest, propose, probes,
preview (SSE and WebSocket) and finalize. The model is the wire-level Anthropic
server; its default replies are schema-valid structured outputs."""

from __future__ import annotations

import asyncio
import json
import random
import threading

import pytest

from jupyter_collab.core.context_format import context_to_jsonable, serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.outputs import MIME_TYPE, CollabOutput
from jupyter_collab.core.providers.base import Usage
from jupyter_collab.core.store import read_context_file
from tests.factories import completion_result
from tests.wire.anthropic_server import Reply

ANSWER = "The baseline comes from Jones 2018, and the effect size is 0.4."
SPAN = "Jones 2018"


def highlight() -> dict:
    start = ANSWER.index(SPAN)
    return {
        "answer": ANSWER,
        "prompt": "Where does the baseline come from?",
        "position": {"start": start, "end": start + len(SPAN)},
        "quote": {"exact": SPAN, "prefix": ANSWER[:start], "suffix": ANSWER[start + len(SPAN) :]},
        "cell_id": "cell-1",
        "response_id": "msg_1",
    }


DRAFT = {"kind": "fact", "text": "The baseline comes from Smith 2020, not Jones 2018."}
PROBES = [
    {"prompt": "Where does the baseline come from?", "kind": "original"},
    {"prompt": "What is 2 + 2?", "kind": "should_not_change"},
]


@pytest.fixture
def notebook(make_notebook, jp_root_dir):
    make_notebook("nb.ipynb")
    context = CollabContext(revision=1, amendments=[Amendment(kind="process", text="Be terse.")])
    (jp_root_dir / "nb.collab.json").write_text(serialize_context(context))
    return context


def sidecar(jp_root_dir) -> dict:
    """The stored context as JSON data: the context file and its evidence files."""
    stored = read_context_file(jp_root_dir / "nb.collab.json", "nb.collab.json")
    return context_to_jsonable(stored)


async def test_suggest(collab_api, notebook, anthropic_env):
    code, body = await collab_api(
        "suggest", method="POST", body={"path": "nb.ipynb", "highlight": highlight(), "n": 2}
    )
    assert code == 200, body
    assert 1 <= len(body["suggestions"]) <= 2
    assert {"operation", "text", "why", "rank"} <= set(body["suggestions"][0])
    # The notebook's context was loaded server-side and shown to the model.
    assert "Be terse." in json.dumps(anthropic_env.message_requests()[-1].body)


async def test_suggest_errors(collab_api, notebook, anthropic_env):
    code, body = await collab_api("suggest", method="POST", body={"path": "nb.ipynb"})
    assert code == 400 and "field 'highlight'" in body["message"]
    code, body = await collab_api(
        "suggest", method="POST", body={"path": "x.ipynb", "highlight": highlight()}
    )
    assert code == 404
    code, body = await collab_api(
        "suggest", method="POST", body={"path": "nb.ipynb", "highlight": highlight(), "n": 9}
    )
    assert code == 400 and "field 'n'" in body["message"]
    anthropic_env.script(Reply.error(401, "invalid x-api-key"))
    code, body = await collab_api(
        "suggest", method="POST", body={"path": "nb.ipynb", "highlight": highlight()}
    )
    assert code == 502 and "invalid x-api-key" in body["message"]


async def test_propose(collab_api, notebook):
    code, body = await collab_api(
        "propose",
        method="POST",
        body={
            "path": "nb.ipynb",
            "highlight": highlight(),
            "correction": {"operation": "replace", "text": "Smith 2020"},
        },
    )
    assert code == 200, body
    assert body["amendments"]
    assert body["amendments"][0]["kind"] in ("fact", "process")


async def test_propose_errors(collab_api, notebook, anthropic_env):
    code, body = await collab_api(
        "propose",
        method="POST",
        body={"highlight": highlight(), "correction": {"operation": "rewrite"}},
    )
    assert code == 400 and "field 'correction.operation'" in body["message"]
    anthropic_env.script(Reply.text("this is not JSON"), Reply.text("still not JSON"))
    code, body = await collab_api(
        "propose",
        method="POST",
        body={"highlight": highlight(), "correction": {"text": "Smith 2020"}},
    )
    assert code == 502 and body["reason"] == "provider_error"
    assert "still not JSON" in body["message"]


async def test_probes(collab_api):
    code, body = await collab_api(
        "probes",
        method="POST",
        body={
            "amendment": DRAFT,
            "notebook_prompts": ["Summarize the cohort."],
            "original_prompt": "Where does the baseline come from?",
            "n": 2,
        },
    )
    assert code == 200, body
    kinds = [p["kind"] for p in body["probes"]]
    assert "original" in kinds and "notebook" in kinds


async def test_probes_errors(collab_api):
    code, body = await collab_api("probes", method="POST", body={"amendment": {"kind": "fact"}})
    assert code == 400 and "field 'amendment.text'" in body["message"]


async def test_preview_over_sse(collab_api, notebook, anthropic_env):
    code, events = await collab_api(
        "preview", method="POST", body={"path": "nb.ipynb", "amendment": DRAFT, "probes": PROBES}
    )
    assert code == 200, events
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("probe") == 2
    assert all(e["type"] == "progress" for e in events)
    report = events[-1]["report"]
    assert len(report["outcomes"]) == 2
    assert report["cancelled"] is False
    # The amended calls carried the draft in the system prompt, after the context.
    systems = [json.dumps(r.body.get("system")) for r in anthropic_env.message_requests()]
    assert any("Smith 2020" in s and "Be terse." in s for s in systems)


class SamplingAnswers:
    """Answers drawn afresh on every call from a seeded generator, blind to the system
    prompt (so no amendment can have any effect): a model that takes no temperature.
    Structured requests (the judge) get the server's default, schema-valid reply."""

    WORDS = (
        "the a model answer data result method paper sample value test effect size cohort "
        "baseline study claim source figure table trial mean error rate group analysis"
    ).split()

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.lock = threading.Lock()  # the wire server answers on its own threads

    def __call__(self, body: dict):
        if body.get("output_config") or body.get("tool_choice"):
            return None
        with self.lock:
            words = [self.rng.choice(self.WORDS) for _ in range(40)]
        return Reply.text(" ".join(words) + ".")


async def test_preview_of_sampling_noise_reports_no_change(collab_api, notebook, anthropic_env):
    anthropic_env.responder = SamplingAnswers(seed=11)
    probes = [*PROBES, {"prompt": "Summarize the cohort.", "kind": "notebook"}]
    code, events = await collab_api(
        "preview", method="POST", body={"path": "nb.ipynb", "amendment": DRAFT, "probes": probes}
    )
    assert code == 200, events
    report = events[-1]["report"]
    assert [o["verdict"] for o in report["outcomes"]] == ["within_noise"] * 3
    for outcome in report["outcomes"]:
        noise = outcome["noise"]
        assert noise["within_noise"] and noise["baseline_samples"] == 2
        assert noise["measure"] == "word_change_share" and noise["baseline_spread"] > 0.5
    assert report["noise_samples"] == 1
    requests = [r.body for r in anthropic_env.message_requests()]
    # Baseline, its second sample and the amended answer per probe, and no judge call.
    assert len(requests) == 3 * 3
    assert not any(body.get("output_config") or body.get("tool_choice") for body in requests)
    # The default model takes no temperature, which is why its answers vary.
    assert all("temperature" not in body for body in requests)


async def test_preview_errors(collab_api, notebook, anthropic_env):
    code, body = await collab_api(
        "preview", method="POST", body={"path": "nb.ipynb", "amendment": DRAFT, "probes": []}
    )
    assert code == 400 and "field 'probes'" in body["message"]
    anthropic_env.responder = lambda body: Reply.error(400, "bad request from the model")
    code, body = await collab_api(
        "preview", method="POST", body={"path": "nb.ipynb", "amendment": DRAFT, "probes": PROBES}
    )
    # "started" was sent before the calls failed: the failure is an error event.
    assert code == 200
    assert body[0]["event"] == "started"
    assert body[-1]["type"] == "error" and body[-1]["status"] == 502
    assert "bad request from the model" in body[-1]["message"]


async def test_preview_over_websocket_with_cancel(jp_ws_fetch, notebook, anthropic_env):
    anthropic_env.responder = lambda body: Reply.text("slow answer " * 20, delta_delay=0.05)
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(
        json.dumps(
            {"type": "preview", "id": "p", "path": "nb.ipynb", "amendment": DRAFT, "probes": PROBES}
        )
    )
    first = json.loads(await asyncio.wait_for(ws.read_message(), timeout=20))
    assert first["type"] == "progress" and first["event"] == "started" and first["id"] == "p"
    await ws.write_message(json.dumps({"type": "cancel", "id": "p"}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=20))
        if message["type"] == "progress" and message["event"] == "finished":
            break
        assert message["type"] == "progress", message
    assert message["report"]["cancelled"] is True
    ws.close()


async def test_finalize(collab_api, notebook, jp_root_dir):
    code, body = await collab_api(
        "finalize",
        method="POST",
        body={
            "path": "nb.ipynb",
            "revision": 1,
            "amendment": DRAFT,
            "highlight": highlight(),
            "correction": {"operation": "replace", "text": "Smith 2020"},
        },
    )
    assert code == 200, body
    assert body["amendment"]["text"] == DRAFT["text"]
    assert body["amendment"]["provenance"]["quote"] == SPAN
    assert body["context"]["revision"] == 2
    stored = sidecar(jp_root_dir)
    assert [a["text"] for a in stored["amendments"]] == ["Be terse.", DRAFT["text"]]
    assert stored["highlights"][0]["quote"]["exact"] == SPAN
    assert stored["corrections"][0]["text"] == "Smith 2020"


async def test_finalize_keeps_the_whole_amended_answer_of_the_original_prompt(
    collab_api, notebook, jp_root_dir, anthropic_env
):
    """Previewed and finalized through the server as the panel does: the amended answer
    to the prompt the amendment came from is stored whole (a training export's chosen
    answer), the other probe's is cut to its first 280 characters."""

    def answers(body: dict):
        if body.get("output_config") or body.get("tool_choice"):
            return None  # the judge: the server's default structured reply
        amended = "Smith 2020" in json.dumps(body.get("system"))
        return Reply.text(("Smith 2020 is the source. " if amended else "Jones. ") * 40)

    anthropic_env.responder = answers
    code, events = await collab_api(
        "preview", method="POST", body={"path": "nb.ipynb", "amendment": DRAFT, "probes": PROBES}
    )
    assert code == 200, events
    report = events[-1]["report"]
    amended = report["outcomes"][0]["amended"]
    assert len(amended) > 280
    code, body = await collab_api(
        "finalize",
        method="POST",
        body={"path": "nb.ipynb", "revision": 1, "amendment": DRAFT, "report": report},
    )
    assert code == 200, body
    preview = sidecar(jp_root_dir)["amendments"][-1]["preview"]
    assert [r["probe_kind"] for r in preview] == ["original", "should_not_change"]
    assert preview[0]["amended_text"] == amended
    assert len(preview[1]["amended_text"]) == 280


async def test_finalize_errors(collab_api, notebook, jp_root_dir):
    before = (jp_root_dir / "nb.collab.json").read_bytes()
    code, body = await collab_api(
        "finalize", method="POST", body={"path": "nb.ipynb", "revision": 0, "amendment": DRAFT}
    )
    assert code == 409 and body["reason"] == "stale_revision"
    code, body = await collab_api(
        "finalize",
        method="POST",
        body={"path": "nb.ipynb", "amendment": {"kind": "process", "text": "be terse"}},
    )
    assert code == 400 and "already says this" in body["message"]
    code, body = await collab_api(
        "finalize", method="POST", body={"path": "gone.ipynb", "amendment": DRAFT}
    )
    assert code == 404
    code, body = await collab_api("finalize", method="POST", body={"amendment": DRAFT})
    assert code == 400 and "field 'path'" in body["message"]
    assert (jp_root_dir / "nb.collab.json").read_bytes() == before


def answer_payload() -> dict:
    result = completion_result(
        answer=ANSWER,
        prompt="Where does the baseline come from?",
        usage=Usage(input_tokens=5, output_tokens=2),
        context_revision=1,
        cell_id="cell-1",
    )
    return CollabOutput(result=result).model_dump(mode="json")


async def test_finalize_returns_the_answer_output_with_the_highlight(
    collab_api, notebook, jp_root_dir
):
    code, body = await collab_api(
        "finalize",
        method="POST",
        body={
            "path": "nb.ipynb",
            "amendment": DRAFT,
            "highlight": highlight(),
            "correction": {"operation": "replace", "text": "Smith 2020"},
            "output": answer_payload(),
        },
    )
    assert code == 200, body
    output = body["output"]
    assert output["output_type"] == "display_data"
    shown = output["data"][MIME_TYPE]["highlights"]
    stored = sidecar(jp_root_dir)
    assert [h["highlight"]["id"] for h in shown] == [stored["highlights"][0]["id"]]
    assert shown[0]["amendment_ids"] == [body["amendment"]["id"]]
    assert [c["text"] for c in shown[0]["corrections"]] == ["Smith 2020"]
    assert (
        '<mark class="jp-collab-highlight" title="Smith 2020">Jones 2018</mark><sup>1</sup>'
        in output["data"]["text/html"]
    )
    assert (
        "> **Correction** on “Jones 2018” (replace): Smith 2020" in output["data"]["text/markdown"]
    )
    assert output["metadata"]["jupyter_collab"]["input_hash"] == "sha256:y"


async def test_finalize_on_a_damaged_answer_payload_saves_without_an_output(
    collab_api, notebook, jp_root_dir
):
    code, body = await collab_api(
        "finalize",
        method="POST",
        body={
            "path": "nb.ipynb",
            "amendment": DRAFT,
            "highlight": highlight(),
            "output": {"result": {"answer": ANSWER}},
        },
    )
    assert code == 200, body
    assert body["output"] is None
    assert [a["text"] for a in sidecar(jp_root_dir)["amendments"]][-1] == DRAFT["text"]
