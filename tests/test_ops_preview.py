"""preview against a scripted provider: baseline/amended requests, verdicts,
bounded concurrency with cache warming, baseline reuse, cancellation, errors."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import Amendment, CollabContext, ProbeKind, Settings, Verdict
from jupyter_collab.core.errors import InvalidRequestError, ProviderError
from jupyter_collab.core.hashing import sha256_text
from jupyter_collab.core.operation_models import AmendmentDraft, Probe
from jupyter_collab.core.operations.diffing import short_diff, word_diff
from jupyter_collab.core.operations.preview import IDENTICAL_REASON

from .scripted_provider import Call, ScriptedProvider

DRAFT = AmendmentDraft(kind="process", text="Answer in one sentence.")
REVISED = AmendmentDraft(kind="process", text="Answer in at most two sentences.")
JUDGE = {"verdict": "intended", "reason": "Shorter, as the rule asks."}


def probes(n: int) -> list[Probe]:
    return [Probe(prompt=f"Question {i}?", kind=ProbeKind.should_change) for i in range(n)]


def make(delay: float = 0.0, **config) -> tuple[Broker, ScriptedProvider]:
    provider = ScriptedProvider(structured={"judge_probe": JUDGE}, delay=delay)
    return Broker(CollabConfig(**config), provider=provider), provider


def stream_calls(provider: ScriptedProvider, text: str) -> tuple[list, list]:
    """(baseline, amended) answer requests: amended ones carry the amendment text."""
    streams = [c.request for c in provider.calls if c.is_answer]
    return (
        [r for r in streams if text not in r.system_text()],
        [r for r in streams if text in r.system_text()],
    )


async def collect(agen) -> list:
    async with aclosing(agen) as events:
        return [event async for event in events]


async def test_preview_events_outcomes_and_requests():
    broker, provider = make(preview_temperature=0.3, max_tokens=99)
    context = CollabContext(amendments=[Amendment(kind="fact", text="The lab uses R 4.3.")])
    events = await collect(broker.preview(DRAFT, probes(3), context))
    assert [e.event for e in events] == ["started", "probe", "probe", "probe", "finished"]
    assert events[0].total == 3 and [e.done for e in events[1:4]] == [1, 2, 3]
    report = events[-1].report
    assert report.amendment == DRAFT and not report.cancelled and report.model == "scripted-1"
    assert [o.probe.prompt for o in report.outcomes] == [
        "Question 0?",
        "Question 1?",
        "Question 2?",
    ]
    for outcome in report.outcomes:
        assert outcome.verdict == Verdict.intended and outcome.reason == JUDGE["reason"]
        assert outcome.baseline != outcome.amended
        assert outcome.baseline_hash == sha256_text(outcome.baseline)
        assert outcome.amended_hash == sha256_text(outcome.amended)
        assert not outcome.baseline_cached
    baseline, amended = stream_calls(provider, DRAFT.text)
    # The answers differ, so each baseline was sampled a second time (the noise floor).
    assert len(baseline) == 6 and len(amended) == 3
    assert all(o.noise is not None and o.noise.baseline_spread == 0 for o in report.outcomes)
    for request in baseline + amended:
        assert request.temperature == 0.3 and request.max_tokens == 99
        assert "The lab uses R 4.3." in request.system_text()  # the current context
        assert request.system[-1].cache is True
        assert len(request.messages) == 1  # probes carry no conversation history
    judges = [c for c in provider.calls if c.kind == "judge_probe"]
    assert len(judges) == 3
    judge_text = judges[0].request.messages[0].content
    assert "BASELINE:" in judge_text and "AMENDED:" in judge_text and DRAFT.text in judge_text


async def test_identical_answers_are_unchanged_without_a_judge_call():
    broker, provider = make()
    provider.answer = lambda request: "Same answer."
    report = await broker.preview_report(DRAFT, probes(2), None)
    assert [o.verdict for o in report.outcomes] == [Verdict.unchanged] * 2
    assert report.outcomes[0].reason == IDENTICAL_REASON
    assert "judge_probe" not in provider.kinds()


async def test_revised_amendment_reuses_baselines():
    broker, provider = make()
    first = await broker.preview_report(DRAFT, probes(4), None)
    assert not any(o.baseline_cached for o in first.outcomes)
    provider.calls.clear()
    second = await broker.preview_report(REVISED, probes(4), None)
    assert all(o.baseline_cached for o in second.outcomes)
    assert [o.baseline for o in second.outcomes] == [o.baseline for o in first.outcomes]
    baseline, amended = stream_calls(provider, REVISED.text)
    assert baseline == [] and len(amended) == 4
    # A changed context changes the baseline's input hash: no stale reuse.
    provider.calls.clear()
    context = CollabContext(amendments=[Amendment(kind="fact", text="New fact.")])
    third = await broker.preview_report(REVISED, probes(4), context)
    assert not any(o.baseline_cached for o in third.outcomes)


def streams_by_prefix(provider: ScriptedProvider) -> dict[str, list[Call]]:
    """The streamed calls of each system prompt, in the order they started."""
    by_prefix: dict[str, list[Call]] = {}
    for call in sorted(provider.calls, key=lambda c: c.started or 0):
        if call.is_answer:
            by_prefix.setdefault(call.request.system_text(), []).append(call)
    return by_prefix


async def test_concurrency_is_bounded_and_first_request_per_prefix_warms():
    broker, provider = make(delay=0.05, preview_concurrency=3)
    await broker.preview_report(DRAFT, probes(8), None)
    assert provider.max_in_flight == 3
    # Within each system prompt, the second request starts only once the first answers.
    by_prefix = streams_by_prefix(provider)
    assert len(by_prefix) == 2
    for first, second, *_ in by_prefix.values():
        assert first.first_text < second.started


async def test_the_fan_out_starts_when_the_first_answer_starts_streaming():
    """The provider's cache entry exists once the first response has begun, so the
    other requests of the same prompt need not wait for it to finish."""
    provider = ScriptedProvider(
        structured={"judge_probe": JUDGE},
        delay=0.1,
        delta_delay=0.1,
        answer=lambda request: "one two three four five six",
    )
    broker = Broker(CollabConfig(), provider=provider)
    await broker.preview_report(DRAFT, probes(4), None)
    for first, second, *_ in streams_by_prefix(provider).values():
        assert first.first_text < second.started  # after the first token...
        assert second.started < first.ended  # ...before the first answer ends


async def test_concurrency_argument_overrides_config():
    broker, provider = make(delay=0.02, preview_concurrency=4)
    await broker.preview_report(DRAFT, probes(6), None, concurrency=1)
    assert provider.max_in_flight == 1


async def test_cancel_event_finishes_with_a_cancelled_report():
    broker, provider = make(delay=0.05, preview_concurrency=1)
    cancel = asyncio.Event()
    events = []
    async with aclosing(broker.preview(DRAFT, probes(6), None, cancel_event=cancel)) as stream:
        async for event in stream:
            events.append(event)
            if event.event == "probe":
                cancel.set()
    report = events[-1].report
    assert events[-1].event == "finished" and report.cancelled
    assert len(report.outcomes) == 1
    await asyncio.sleep(0.1)
    assert provider.in_flight == 0


async def test_closing_the_iterator_cancels_outstanding_calls():
    broker, provider = make(delay=0.5, preview_concurrency=4)
    stream = broker.preview(DRAFT, probes(4), None)
    first = await stream.__anext__()
    assert first.event == "started"
    task = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    assert provider.in_flight > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert provider.in_flight == 0


async def test_a_failing_call_raises_and_cancels_the_rest():
    broker, provider = make(delay=0.02)
    provider.fail_on = lambda request: "Question 2?" in request.messages[-1].content
    with pytest.raises(ProviderError, match="scripted failure"):
        await broker.preview_report(DRAFT, probes(5), None)
    await asyncio.sleep(0.05)
    assert provider.in_flight == 0


async def test_preview_needs_probes_and_dedupes_them():
    broker, _provider = make()
    with pytest.raises(InvalidRequestError, match="no probes"):
        await broker.preview_report(DRAFT, [], None)
    same = [Probe(prompt="Q?", kind=ProbeKind.original), Probe(prompt="Q?", kind=ProbeKind.user)]
    report = await broker.preview_report(DRAFT, same, None)
    assert [o.probe.kind for o in report.outcomes] == [ProbeKind.original]


async def test_preview_uses_notebook_settings():
    broker, provider = make()
    context = CollabContext(settings=Settings(model="nb-model", max_tokens=77, mode="learning"))
    await broker.preview_report(DRAFT, probes(1), context)
    request = next(c.request for c in provider.calls if c.is_answer)
    assert request.model == "nb-model" and request.max_tokens == 77
    assert "Mode: learning" in request.system_text()


async def test_preview_respects_allowed_models():
    broker, _ = make(allowed_models=["a"])
    context = CollabContext(settings=Settings(model="b"))
    with pytest.raises(InvalidRequestError, match="not allowed"):
        await broker.preview_report(DRAFT, probes(1), context)


def test_short_diff():
    assert short_diff("same", "same") == "(identical)"
    assert short_diff("The cat sat.", "The dog sat.") == "-[cat] +[dog]"
    parts = word_diff("a b c", "a x c")
    assert [(p.op, p.text) for p in parts] == [
        ("equal", "a "),
        ("delete", "b"),
        ("insert", "x"),
        ("equal", " c"),
    ]
    long = short_diff("word " * 50, "other " * 50, width=30)
    assert (len(long) < 60 and "more" not in long) or long.endswith("more)")


async def test_aclose_after_a_probe_event_cancels_the_rest():
    broker, provider = make(delay=0.2, preview_concurrency=1)
    stream = broker.preview(DRAFT, probes(5), None)
    async for event in stream:
        if event.event == "probe":
            break
    calls_at_close = len(provider.calls)
    await stream.aclose()
    assert provider.in_flight == 0
    await asyncio.sleep(0.3)
    assert len(provider.calls) == calls_at_close  # nothing started after closing


async def test_every_outcome_carries_the_measures_and_the_judge_sees_them():
    broker, provider = make()
    fact = AmendmentDraft(kind="fact", text="The Peace of Westphalia was signed in 1648.")
    provider.answer = lambda request: (
        "It was signed in 1648." if fact.text in request.system_text() else "It was signed in 1658."
    )
    report = await broker.preview_report(fact, probes(1), None)
    outcome = report.outcomes[0]
    assert outcome.verdict_source == "judge"
    assert outcome.measures.terms_gained == ["1648"]
    assert outcome.measures.measured_verdict == "intended"
    judge = next(c for c in provider.calls if c.kind == "judge_probe")
    judge_text = judge.request.messages[0].content
    assert "now present: 1648" in judge_text and "key terms of the fact" in judge_text


async def test_a_weak_judge_marks_its_verdicts_and_deterministic_ones_say_so():
    broker, provider = make()
    provider.weak_judge = True
    report = await broker.preview_report(DRAFT, probes(1), None)
    assert report.outcomes[0].verdict_source == "weak_judge"
    broker, provider = make()
    provider.weak_judge = True
    provider.answer = lambda request: "Same answer."
    report = await broker.preview_report(DRAFT, probes(1), None)
    assert report.outcomes[0].verdict_source == "identical"
    assert report.outcomes[0].measures.word_change_share == 0.0
