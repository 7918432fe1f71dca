"""Highlight offsets are code points in both doors.

The answer in ``tests/shared_fixtures/highlight_offsets.json`` puts emoji, a
combining mark, a mathematical letter and a CJK Extension B ideograph before
each span; jest reads the same file to check the browser's conversion from
UTF-16. A span finalized through the server route and the same span selected
and finalized through the kernel door's review must be stored, and anchored on
the answer, identically.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import CollabContext
from jupyter_collab.core.operation_models import CompletionResult
from jupyter_collab.core.outputs import CollabOutput
from jupyter_collab.core.replay import cell_highlights
from jupyter_collab.core.store import LocalContextStore, read_context_file
from jupyter_collab.kernel.loop_thread import LoopThread
from jupyter_collab.kernel.review import ReviewController
from tests.factories import completion_result

FIXTURE = json.loads(
    (Path(__file__).parent / "shared_fixtures" / "highlight_offsets.json").read_text("utf-8")
)
ANSWER: str = FIXTURE["answer"]
SPANS: list[dict] = FIXTURE["spans"]
CELL = "ask-results"


def utf16_offset(text: str, code_points: int) -> int:
    """Where a code-point offset of ``text`` lies in UTF-16 code units."""
    return len(text[:code_points].encode("utf-16-le")) // 2


def test_the_fixture_spans_are_code_point_offsets():
    for span in SPANS:
        assert ANSWER[span["start"] : span["end"]] == span["quote"]
    # Every span but the first comes after at least one astral-plane character,
    # where UTF-16 offsets run ahead of code points.
    shifted = [utf16_offset(ANSWER, s["start"]) - s["start"] for s in SPANS]
    assert shifted[0] > 0 and shifted == sorted(shifted) and shifted[-1] > shifted[0]
    assert "\u0301" in SPANS[1]["quote"], "a span with a combining mark"


def _result() -> CompletionResult:
    return completion_result(answer=ANSWER, prompt="How did the results change?", cell_id=CELL)


def _kernel_door_context(tmp_path: Path) -> CollabContext:
    """Each span selected by its quote and finalized in the kernel door's review."""
    notebook = tmp_path / "kernel.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(notebook))
    store = LocalContextStore(notebook)
    runner = LoopThread()
    broker = Broker(CollabConfig(provider="anthropic"))
    try:
        for number, span in enumerate(SPANS):
            review = ReviewController(broker=broker, result=_result(), store=store, run=runner.run)
            review.select(span["quote"])
            review.write_correction(f"correction {number}")
            review.write_amendment(f"Amendment number {number}.", "fact")
            review.finalize()
    finally:
        runner.run(broker.aclose())
        runner.close()
    return store.load()


def _highlight_body(span: dict) -> dict:
    start, end = span["start"], span["end"]
    return {
        "answer": ANSWER,
        "prompt": "How did the results change?",
        "position": {"start": start, "end": end},
        "quote": {
            "exact": span["quote"],
            "prefix": ANSWER[max(0, start - 32) : start],
            "suffix": ANSWER[end : end + 32],
        },
        "cell_id": CELL,
        "response_id": "msg_1",
    }


async def _server_door_context(collab_api, make_notebook, jp_root_dir) -> CollabContext:
    """Each span finalized through ``POST finalize`` with the fixture's offsets; the
    answer's output the server returns marks the span in its HTML fallback."""
    payload = CollabOutput(result=_result()).model_dump(mode="json")
    make_notebook("nb.ipynb")
    for number, span in enumerate(SPANS):
        code, body = await collab_api(
            "finalize",
            method="POST",
            body={
                "path": "nb.ipynb",
                "revision": number,
                "amendment": {"kind": "fact", "text": f"Amendment number {number}."},
                "highlight": _highlight_body(span),
                "correction": {"operation": "replace", "text": f"correction {number}"},
                "output": payload,
            },
        )
        assert code == 200, body
        marked = f'title="correction {number}">{html.escape(span["quote"])}</mark>'
        assert marked in body["output"]["data"]["text/html"]
    return read_context_file(jp_root_dir / "nb.collab.json", "nb.collab.json")


def _anchors(context: CollabContext) -> list[tuple[int, int, str, str, str]]:
    return [
        (
            h.highlight.position.start,
            h.highlight.position.end,
            h.highlight.quote.exact,
            h.highlight.quote.prefix,
            h.highlight.quote.suffix,
        )
        for h in cell_highlights(context, CELL, ANSWER)
    ]


async def test_both_doors_store_and_anchor_the_same_spans(
    collab_api, make_notebook, jp_root_dir, tmp_path
):
    from_server = await _server_door_context(collab_api, make_notebook, jp_root_dir)
    from_kernel = _kernel_door_context(tmp_path)

    expected = [(s["start"], s["end"]) for s in SPANS]
    for context in (from_server, from_kernel):
        stored = [(h.position.start, h.position.end) for h in context.highlights]
        assert stored == expected
    server_anchors = _anchors(from_server)
    assert [(start, end) for start, end, *_ in server_anchors] == expected
    assert [exact for _, _, exact, *_ in server_anchors] == [s["quote"] for s in SPANS]
    assert server_anchors == _anchors(from_kernel)


@pytest.mark.parametrize("span", SPANS[1:], ids=lambda s: s["quote"])
async def test_the_server_refuses_utf16_offsets(collab_api, make_notebook, jp_root_dir, span):
    make_notebook("nb.ipynb")
    body = _highlight_body(span)
    shift = utf16_offset(ANSWER, span["start"]) - span["start"]
    body["position"] = {"start": span["start"] + shift, "end": span["end"] + shift}
    code, reply = await collab_api(
        "finalize",
        method="POST",
        body={
            "path": "nb.ipynb",
            "amendment": {"kind": "fact", "text": "Amendment."},
            "highlight": body,
        },
    )
    assert code == 400, reply
    assert "code points" in reply["message"]
    assert not (jp_root_dir / "nb.collab.json").exists()
