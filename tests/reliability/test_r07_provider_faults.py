"""R7: provider faults against the wire-level Anthropic server: 429 and 529 with
retry-after, 500, a connection drop, a timeout, an error event mid-stream.

Each is retried where sensible (before any text was shown: by the SDK for a
failed request, by the provider for a stream that failed before its first
token), or turns into a clear cell error; text already streamed is kept (the
deltas reached the client before the error; the kernel door's display keeps
it); the notebook's context file is untouched. Both doors are exercised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import nbformat
import pytest

from jupyter_collab.core.config import CollabConfig
from tests.reliability.helpers import (
    fingerprint,
    sample_bodies,
    tree_fingerprint,
    valid_context_json,
    ws_send,
    ws_until,
)
from tests.wire.anthropic_server import FAKE_API_KEY, Reply

TIMEOUT = 1.0  # request_timeout of these tests' server and kernel door
ANSWER = "alpha beta gamma delta epsilon zeta eta theta"


@pytest.fixture
def collab_extension_config():
    return {"request_timeout": TIMEOUT}


@dataclass
class Fault:
    name: str
    replies: list[Reply]
    ok: bool  # True: the retry recovers and the answer arrives
    calls: int  # upstream requests expected
    deltas: int | None = None  # text deltas before the error (failures)
    message: str = ""  # in the error message
    min_gap: float = 0.0  # seconds between the first two requests (retry-after)


def faults() -> list[Fault]:
    ok = Reply.text(ANSWER)
    return [
        Fault(
            "429 + retry-after", [Reply.error(429, retry_after="0.3"), ok], True, 2, min_gap=0.28
        ),
        Fault(
            "529 + retry-after", [Reply.error(529, retry_after="0.3"), ok], True, 2, min_gap=0.28
        ),
        Fault("500 once", [Reply.error(500), ok], True, 2),
        Fault(
            "500 persistent",
            [Reply.error(500)] * 3,
            False,
            3,
            0,
            "Anthropic API error 500 (api_error): Internal server error",
        ),
        Fault(
            "429 persistent",
            [Reply.error(429, retry_after="0.05")] * 3,
            False,
            3,
            0,
            "Anthropic API error 429 (rate_limit_error)",
        ),
        Fault("drop before the first token", [Reply.drop(ANSWER, after=0), ok], True, 2),
        Fault(
            "drop mid-stream",
            [Reply.drop(ANSWER, after=3)],
            False,
            1,
            3,
            "connection to the Anthropic API dropped in the middle of the answer",
        ),
        Fault(
            "timeout before the first token",
            [Reply.text(ANSWER, first_token_delay=4 * TIMEOUT)] * 3,
            False,
            3,
            0,
            f"sent nothing for {TIMEOUT:g} s",
        ),
        Fault(
            "timeout mid-stream",
            [Reply.text(ANSWER, delta_delay=4 * TIMEOUT)],
            False,
            1,
            1,
            f"sent nothing for {TIMEOUT:g} s in the middle of the answer",
        ),
        Fault(
            "error event mid-stream",
            [Reply.stream_error(ANSWER, after=2)],
            False,
            1,
            2,
            "Anthropic API error 529 (overloaded_error) during the streamed answer: Overloaded",
        ),
        Fault(
            "error event before the first token", [Reply.stream_error(ANSWER, after=0), ok], True, 2
        ),
    ]


def gap(server) -> float:
    requests = server.message_requests()
    return requests[1].time - requests[0].time if len(requests) > 1 else 0.0


@pytest.fixture
def project(make_notebook, jp_root_dir):
    make_notebook("nb.ipynb")
    (jp_root_dir / "nb.collab.json").write_text(valid_context_json("A fact.", revision=4))
    return jp_root_dir


@pytest.mark.timeout(180)
async def test_r07_faults_through_the_server_websocket(
    jp_ws_fetch, project, anthropic_env, figures
):
    before = tree_fingerprint(project)
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    summary = []
    for index, fault in enumerate(faults()):
        anthropic_env.clear()
        anthropic_env.script(*fault.replies)
        await ws_send(
            ws, {"type": "complete", "id": str(index), "path": "nb.ipynb", "prompt": "go"}
        )
        messages = await ws_until(ws, str(index), "result", "error", timeout=60)
        deltas = [m["text"] for m in messages if m["type"] == "delta"]
        final = messages[-1]
        calls = len(anthropic_env.message_requests())
        assert calls == fault.calls, (fault.name, calls)
        if fault.ok:
            assert final["type"] == "result", (fault.name, final)
            assert final["result"]["answer"] == ANSWER == "".join(deltas), fault.name
            assert gap(anthropic_env) >= fault.min_gap, (fault.name, gap(anthropic_env))
            summary.append(f"{fault.name}: retried, answered ({calls} calls)")
        else:
            assert final["type"] == "error", (fault.name, final)
            assert final["status"] == 502 and final["reason"] == "provider_error", final
            assert fault.message in final["message"], (fault.name, final["message"])
            assert "Traceback" not in final["message"] and FAKE_API_KEY not in final["message"]
            assert len(deltas) == fault.deltas, (fault.name, deltas)
            assert ANSWER.startswith("".join(deltas))  # the partial answer, as streamed
            summary.append(f"{fault.name}: clear error after {len(deltas)} kept deltas")
        assert tree_fingerprint(project) == before, fault.name  # the context is untouched
    ws.close()
    figures.add(
        "R7",
        f"{len(summary)} faults through the server door: "
        f"{sum('retried' in s for s in summary)} recovered by retry, "
        f"{sum('clear error' in s for s in summary)} clear errors keeping the partial answer, "
        "context untouched",
    )


async def test_r07_faults_through_sse_and_the_loop_operations(
    collab_api, project, anthropic_env, figures
):
    before = tree_fingerprint(project)
    bodies = sample_bodies("nb.ipynb")
    # SSE: an error before the first event is an HTTP error; after it, an error event.
    anthropic_env.script(*[Reply.error(500)] * 3)
    code, body = await collab_api("complete", method="POST", body=bodies[("complete", "POST")])
    assert code == 502 and "500 (api_error)" in body["message"]
    anthropic_env.script(Reply.drop(ANSWER, after=2))
    code, events = await collab_api("complete", method="POST", body=bodies[("complete", "POST")])
    assert code == 200 and [e["type"] for e in events] == ["delta", "delta", "error"]
    assert "dropped in the middle of the answer" in events[-1]["message"]

    # Structured operations (non-streamed requests): the SDK retries, then a clear error.
    anthropic_env.clear()
    anthropic_env.script(Reply.error(529, retry_after="0.1"))
    code, body = await collab_api("suggest", method="POST", body=bodies[("suggest", "POST")])
    assert code == 200 and body["suggestions"], body
    assert len(anthropic_env.message_requests()) == 2
    anthropic_env.clear()
    anthropic_env.responder = lambda request: Reply.text("late", first_token_delay=4 * TIMEOUT)
    code, body = await collab_api("propose", method="POST", body=bodies[("propose", "POST")])
    anthropic_env.responder = None
    assert code == 502, body
    assert f"did not answer within {TIMEOUT:g} s (tried 3 times)" in body["message"]

    # A preview whose one probe keeps failing: the run stops with a clear error.
    anthropic_env.clear()
    anthropic_env.responder = lambda request: (
        Reply.error(500) if "FAILPROBE" in json.dumps(request.get("messages")) else None
    )
    preview = {
        **bodies[("preview", "POST")],
        "probes": [
            {"prompt": "fine probe", "kind": "user"},
            {"prompt": "FAILPROBE", "kind": "user"},
        ],
    }
    code, events = await collab_api("preview", method="POST", body=preview)
    anthropic_env.responder = None
    assert code in (200, 502), events
    if code == 200:
        assert events[-1]["type"] == "error" and "500" in events[-1]["message"], events[-1]
    assert tree_fingerprint(project) == before
    figures.add(
        "R7", "SSE, suggest, propose and preview faults: retried or clear errors, context untouched"
    )


# -- the kernel door ---------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, data, metadata, display_id, update) -> None:
        self.calls.append(data)

    def shown(self) -> str:
        return self.calls[-1].get("text/markdown", "") if self.calls else ""


@pytest.mark.timeout(180)
def test_r07_faults_through_the_kernel_door(tmp_path, anthropic_env, figures):
    door_mod = pytest.importorskip("jupyter_collab.kernel.collab_cell")
    settings_mod = pytest.importorskip("jupyter_collab.kernel.kernel_settings")
    from jupyter_collab.core.replay import RunMode
    from jupyter_collab.kernel.discovery import CellInfo, NotebookFinder
    from jupyter_collab.kernel.errors import CollabProviderError

    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    sidecar = tmp_path / "nb.collab.json"
    sidecar.write_text(valid_context_json("A fact.", revision=2))
    before = fingerprint(sidecar)
    config = CollabConfig(
        provider="anthropic", anthropic_base_url=anthropic_env.url, request_timeout=TIMEOUT
    )
    recorder = Recorder()
    door = door_mod.KernelDoor(
        settings_mod.KernelSettings(
            config=config, run_mode=RunMode.live, update_interval=0.0, notebook_path=str(notebook)
        ),
        finder=NotebookFinder(env={}, cwd=tmp_path),
        publish=recorder,
        warn=lambda message: None,
    )
    handled = 0
    try:
        for fault in faults():
            anthropic_env.clear()
            anthropic_env.script(*fault.replies)
            recorder.calls.clear()
            cell = CellInfo(code=f"%%collab\n{fault.name}")
            if fault.ok:
                run = door.run_cell("", fault.name, namespace={}, cell=cell)
                assert run.result.answer == ANSWER, fault.name
            else:
                with pytest.raises(CollabProviderError) as info:
                    door.run_cell("", fault.name, namespace={}, cell=cell)
                assert fault.message in str(info.value), (fault.name, str(info.value))
                partial = "".join(ANSWER.split(" ")[i] + " " for i in range(fault.deltas or 0))
                if partial:  # what streamed stays visible in the cell
                    assert partial.strip() in recorder.shown(), (fault.name, recorder.shown())
            assert len(anthropic_env.message_requests()) == fault.calls, fault.name
            assert fingerprint(sidecar) == before
            handled += 1
    finally:
        door.close()
    figures.add("R7", f"{handled} faults through the kernel door: same outcomes, partial text kept")
