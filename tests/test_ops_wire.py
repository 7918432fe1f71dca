"""Every loop operation for real through the ``anthropic`` SDK against the
wire-level Messages API server: request shapes, schemas, cache breakpoints,
concurrency and baseline reuse, as the server's request log shows them."""

from __future__ import annotations

import itertools
import json
import threading
import time

import nbformat
import pytest

from jupyter_collab.cli import main
from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import (
    Amendment,
    CollabContext,
    ProbeKind,
    TextPositionSelector,
    Verdict,
)
from jupyter_collab.core.operation_models import (
    AmendmentDraft,
    CorrectionInput,
    HighlightInput,
    Probe,
)
from jupyter_collab.core.operations.amend import AmendmentsResponse
from jupyter_collab.core.operations.anchoring import make_quote
from jupyter_collab.core.operations.common import with_max_items
from jupyter_collab.core.operations.suggest import SuggestionsResponse
from tests.wire.anthropic_server import AnthropicWireServer, Reply, is_structured

ANSWER = "Adam was introduced by Smith et al. (2019) and adapts the learning rate."
QUOTE = "Smith et al. (2019)"
DRAFT = AmendmentDraft(kind="fact", text="Adam was introduced by Kingma and Ba (2015).")
REVISED = AmendmentDraft(kind="fact", text="Cite Adam as Kingma and Ba, ICLR 2015.")
TOOL_MODEL = "claude-opus-4-1"  # predates JSON outputs: structured calls use forced tool use
SAMPLING_MODEL = "claude-sonnet-4-6"  # still accepts temperature


def broker(**config) -> Broker:
    return Broker(CollabConfig(provider="anthropic", max_retries=0, request_timeout=20, **config))


def highlight() -> HighlightInput:
    start = ANSWER.index(QUOTE)
    end = start + len(QUOTE)
    return HighlightInput(
        answer=ANSWER,
        prompt="Who introduced Adam?",
        position=TextPositionSelector(start=start, end=end),
        quote=make_quote(ANSWER, start, end),
    )


def bodies(server: AnthropicWireServer) -> list[dict]:
    return [r.body for r in server.message_requests()]


def system_text(body: dict) -> str:
    return "\n\n".join(block["text"] for block in body.get("system") or [])


def assert_cached_system(body: dict) -> None:
    system = body["system"]
    assert system[0]["cache_control"] == {"type": "ephemeral"}


# -- structured operations ---------------------------------------------------------


async def test_suggest_with_json_outputs(anthropic_env):
    result = await broker().suggest_corrections(highlight(), n=3)
    assert len(result) == 1 and result[0].text  # the server's schema-built example
    [body] = bodies(anthropic_env)
    assert "stream" not in body or body["stream"] is False
    assert body["output_config"]["format"]["type"] == "json_schema"
    schema = body["output_config"]["format"]["schema"]
    assert set(schema["properties"]) == {"suggestions"}
    assert_cached_system(body)
    assert f"[[{QUOTE}]]" in body["messages"][0]["content"]


async def test_suggest_with_forced_tool_use(anthropic_env):
    result = await broker(ops_model=TOOL_MODEL).suggest_corrections(highlight())
    assert result[0].operation.value == "replace"
    [body] = bodies(anthropic_env)
    assert body["model"] == TOOL_MODEL
    assert body["tool_choice"] == {"type": "tool", "name": "suggest_corrections"}
    [tool] = body["tools"]
    assert tool["name"] == "suggest_corrections"
    expected = with_max_items(SuggestionsResponse, (("suggestions", 1, 3),))
    assert tool["input_schema"] == expected.model_json_schema()
    assert tool["input_schema"]["properties"]["suggestions"]["maxItems"] == 3
    assert_cached_system(body)


async def test_invalid_structured_output_is_retried_once_then_quoted(anthropic_env):
    from jupyter_collab.core.errors import StructuredOutputError

    bad = {"suggestions": [{"operation": "rewrite", "text": "x", "why": "y"}]}
    anthropic_env.script(Reply.tool(bad, name="suggest_corrections"))
    anthropic_env.script(Reply.tool(bad, name="suggest_corrections"))
    with pytest.raises(StructuredOutputError, match="rewrite"):
        await broker(ops_model=TOOL_MODEL).suggest_corrections(highlight())
    _first, second = bodies(anthropic_env)
    assert len(second["messages"]) == 3 and "not valid" in second["messages"][2]["content"]


async def test_propose_amendments_over_the_wire(anthropic_env):
    context = CollabContext(
        amendments=[
            Amendment(kind="fact", text="Adam was introduced by Kingma and Ba (2015)."),
            Amendment(kind="process", text="Never cite a paper you cannot name exactly."),
        ]
    )
    fact_id, rule_id = (a.id for a in context.amendments)
    anthropic_env.script(
        Reply.tool(
            {
                "amendments": [
                    {
                        "kind": "fact",
                        "text": "Adam was introduced by Kingma & Ba (2015)",
                        "rationale": "The correction names the right paper.",
                        "duplicates": [],
                        "contradicts": [],
                    },
                    {
                        "kind": "process",
                        "text": "Cite any paper you like.",
                        "rationale": "Looser citations.",
                        "duplicates": ["a-made-up"],
                        "contradicts": [rule_id],
                    },
                ]
            },
            name="propose_amendments",
        )
    )
    correction = CorrectionInput(text="Kingma and Ba (2015)", why="Wrong authors.")
    result = await broker(ops_model=TOOL_MODEL).propose_amendments(
        highlight(), correction, context, n=3
    )
    assert [p.duplicates for p in result] == [[fact_id], []]
    assert [p.contradicts for p in result] == [[], [rule_id]]
    [body] = bodies(anthropic_env)
    expected = with_max_items(AmendmentsResponse, (("amendments", 1, 3),))
    assert body["tools"][0]["input_schema"] == expected.model_json_schema()
    assert f"[{fact_id}] (fact)" in body["messages"][0]["content"]


async def test_layer_contradictions_over_the_wire(anthropic_env, tmp_path):
    from jupyter_collab.core.layers import ContextLayers, Layer, LayerFile
    from jupyter_collab.core.operations.layer_contradictions import ContradictionsResponse

    def layer(name: Layer, *entries: Amendment) -> LayerFile:
        return LayerFile(name, tmp_path / name.value, CollabContext(amendments=list(entries)))

    layers = ContextLayers(
        personal=layer(Layer.personal),
        project=layer(
            Layer.project, Amendment(id="a-fr", kind="process", text="Answer in French.")
        ),
        notebook=layer(
            Layer.notebook, Amendment(id="a-en", kind="process", text="Answer in English.")
        ),
    )
    verdicts = [
        {"first": "project:a-fr", "second": "notebook:a-en", "contradicts": True, "why": "Fr/En."},
        {"first": "project:a-xx", "second": "notebook:a-en", "contradicts": True, "why": "No."},
    ]
    anthropic_env.script(Reply.tool({"verdicts": verdicts}, name="layer_contradictions"))
    shared = broker(ops_model=TOOL_MODEL)
    result = await shared.layer_contradictions(layers)
    assert [(str(c.nearer), str(c.farther), c.why) for c in result.contradictions] == [
        ("notebook:a-en", "project:a-fr", "Fr/En.")
    ]
    [body] = bodies(anthropic_env)
    assert body["model"] == TOOL_MODEL
    assert body["tool_choice"] == {"type": "tool", "name": "layer_contradictions"}
    expected = with_max_items(ContradictionsResponse, (("verdicts", 1, 1),))
    assert body["tools"][0]["input_schema"] == expected.model_json_schema()
    assert_cached_system(body)
    assert "1. [project:a-fr] (process) Answer in French." in body["messages"][0]["content"]
    # Asked again with the same texts: nothing goes over the wire.
    again = await shared.layer_contradictions(layers)
    assert again.contradictions == result.contradictions and len(bodies(anthropic_env)) == 1


async def test_generate_probes_over_the_wire(anthropic_env):
    probes = await broker().generate_probes(DRAFT, ["Load data."], "Who introduced Adam?", n=2)
    kinds = [p.kind for p in probes]
    assert kinds[:2] == [ProbeKind.original, ProbeKind.notebook]
    assert set(kinds[2:]) <= {ProbeKind.should_change, ProbeKind.should_not_change}
    [body] = bodies(anthropic_env)
    assert set(body["output_config"]["format"]["schema"]["properties"]) == {
        "should_change",
        "should_not_change",
    }
    assert DRAFT.text in body["messages"][0]["content"]


# -- preview -----------------------------------------------------------------------


class Tracker:
    """A responder that holds each request for ``delay`` seconds and records when
    it started and ended as positions on one counter (the order of events, not
    their time), so concurrency is visible on the server side."""

    def __init__(self, delay: float):
        self.delay = delay
        self.lock = threading.Lock()
        self.order = itertools.count()
        self.in_flight = 0
        self.max_in_flight = 0
        self.spans: list[tuple[str, int, int, dict]] = []

    def __call__(self, body: dict):
        with self.lock:
            start = next(self.order)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.spans.append((system_text(body), start, next(self.order), body))
        return None  # the server's deterministic default reply


def is_judge(body: dict) -> bool:
    """A structured call (the judge), not an answer."""
    return is_structured(body)


def answer_requests(server: AnthropicWireServer, amendment: str) -> tuple[list, list]:
    answers = [b for b in bodies(server) if not is_judge(b)]
    return (
        [b for b in answers if amendment not in system_text(b)],
        [b for b in answers if amendment in system_text(b)],
    )


def probes(n: int) -> list[Probe]:
    return [Probe(prompt=f"Probe question {i}?", kind=ProbeKind.should_change) for i in range(n)]


async def test_preview_concurrency_warming_and_baseline_reuse(anthropic_env):
    tracker = Tracker(delay=0.15)
    anthropic_env.responder = tracker
    b = broker(preview_concurrency=3, model=SAMPLING_MODEL)
    context = CollabContext(amendments=[Amendment(kind="process", text="Be concise.")])

    report = await b.preview_report(DRAFT, probes(4), context)
    assert not report.cancelled and len(report.outcomes) == 4
    assert all(o.verdict == Verdict.intended for o in report.outcomes)  # the judge's example
    baseline, amended = answer_requests(anthropic_env, DRAFT.text)
    # Every answer differs, so each baseline is sampled twice (the noise floor).
    assert len(baseline) == 8 and len(amended) == 4
    for body in baseline + amended:
        assert body["model"] == SAMPLING_MODEL
        assert body["temperature"] == 0  # low temperature for previews
        assert "Be concise." in system_text(body)  # the current context
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    judges = [b for b in bodies(anthropic_env) if is_judge(b)]
    assert len(judges) == 4 and not any(j.get("stream") for j in judges)
    assert all("BASELINE:" in j["messages"][0]["content"] for j in judges)

    # Bounded concurrency, and it did fan out.
    assert 1 < tracker.max_in_flight <= 3
    # The first request of each system prompt finished before the next one started.
    # Only that first request streams (its start releases the others); the others
    # are read by nobody until they end, so they are asked whole.
    by_system: dict[str, list[tuple[int, int, bool]]] = {}
    for system, start, end, body in tracker.spans:
        if not is_judge(body):
            by_system.setdefault(system, []).append((start, end, bool(body.get("stream"))))
    assert len(by_system) == 2
    for spans in by_system.values():
        spans.sort()
        first_end = spans[0][1]
        assert all(start > first_end for start, _, _ in spans[1:])
        assert [streamed for _, _, streamed in spans] == [True] + [False] * (len(spans) - 1)

    # A revised amendment re-runs only the amended side.
    anthropic_env.clear()
    tracker.spans.clear()
    second = await b.preview_report(REVISED, probes(4), context)
    assert all(o.baseline_cached for o in second.outcomes)
    assert [o.baseline for o in second.outcomes] == [o.baseline for o in report.outcomes]
    baseline2, amended2 = answer_requests(anthropic_env, REVISED.text)
    assert len(baseline2) == 0  # the baselines and their extra samples came from the cache
    assert len(amended2) == 4
    await b.aclose()


async def test_preview_cancel_over_the_wire(anthropic_env):
    import asyncio

    anthropic_env.responder = Tracker(delay=0.3)
    b = broker(preview_concurrency=1)
    cancel = asyncio.Event()
    seen = []
    async for event in b.preview(DRAFT, probes(5), None, cancel_event=cancel):
        seen.append(event)
        if event.event == "probe":
            cancel.set()
    report = seen[-1].report
    assert report.cancelled and len(report.outcomes) == 1
    # A request already on the wire when the event was set may still arrive;
    # after that, nothing more is sent.
    await asyncio.sleep(0.4)
    settled = len(bodies(anthropic_env))
    await asyncio.sleep(0.6)
    # Fewer than a whole run's calls: baseline, amended, a second baseline sample
    # (the answers differ) and a judge call per probe.
    assert len(bodies(anthropic_env)) == settled < 5 * 4
    await b.aclose()


# -- the CLI, headless, against the wire server ------------------------------------


def write_notebook(path, prompts: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"%%collab\n{p}") for p in prompts]
    nbformat.write(nb, str(path))


def test_cli_preview_against_the_wire_server_reuses_baselines(
    anthropic_env, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("JUPYTER_COLLAB_CACHE_DIR", str(tmp_path / "cache"))
    probes_json = {
        "should_change": ["Which paper introduced Adam?"],
        "should_not_change": ["What is a learning rate?"],
    }

    def responder(body: dict):
        schema = (body.get("output_config") or {}).get("format", {}).get("schema", {})
        if "should_change" in schema.get("properties", {}):
            return Reply.text(json.dumps(probes_json))
        return None

    anthropic_env.responder = responder
    notebook = tmp_path / "analysis.ipynb"
    write_notebook(notebook, ["Who introduced Adam?"])
    args = ["preview", str(notebook), "--kind", "fact", "--probes", "2", "--quiet"]

    assert main([*args, "--amendment", DRAFT.text]) == 0
    out = capsys.readouterr().out
    assert "verdict" in out and "original" in out and "intended" in out
    baseline, amended = answer_requests(anthropic_env, DRAFT.text)
    # The cell's prompt + 2 generated probes; each baseline sampled twice (the noise floor).
    assert len(baseline) == 6 and len(amended) == 3

    anthropic_env.clear()
    assert main([*args, "--amendment", REVISED.text]) == 0
    out = capsys.readouterr().out
    assert "3 baseline(s) reused" in out
    baseline2, amended2 = answer_requests(anthropic_env, REVISED.text)
    # The generated probes come from the (deterministic) server, so they are the
    # same prompts: every baseline is reused, only the amended side runs.
    assert len(baseline2) == 0 and len(amended2) == 3

    anthropic_env.clear()
    assert main([*args, "--amendment", REVISED.text, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["amendment"]["text"] == REVISED.text
    assert all(o["baseline_cached"] for o in report["outcomes"])
