"""The check's deterministic parts and the data model it stores: key terms, rule
shapes, expectations, backward-compatible context files, and the core run on a
scripted provider (conflict search, cancellation, replay)."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_format import parse_context, serialize_context
from jupyter_collab.core.context_model import (
    Amendment,
    AmendmentStatus,
    CollabContext,
    Expectation,
    Health,
    PreviewResult,
    ProbeKind,
    Verdict,
)
from jupyter_collab.core.errors import InvalidRequestError, NotFoundError, ReplayMissError
from jupyter_collab.core.operations import expectations
from jupyter_collab.core.operations.check_records import record_check
from jupyter_collab.core.operations.checks import (
    Shape,
    check_change,
    rule_shape,
    shape_holds,
)
from jupyter_collab.core.operations.fanout import BaselineCache
from jupyter_collab.core.operations.measures import key_terms
from tests.scripted_provider import ScriptedProvider


def test_key_terms_of_facts():
    assert key_terms("Adam was introduced by Kingma and Ba (2015).") == [
        "2015",
        "Kingma",
        "Ba",
        "introduced",
    ]
    terms = key_terms("The yields are in grams per litre (g/L), measured by HPLC.")
    assert terms[:2] == ["g/L", "HPLC"]
    assert key_terms('The column is called "Zorbax Eclipse".')[0] == "Zorbax Eclipse"
    assert key_terms("the baseline drifts upward slowly") == ["baseline"]
    assert key_terms("the curve drifts upward slowly") == ["curve", "drifts", "upward", "slowly"]


@pytest.mark.parametrize(
    ("rule", "shapes"),
    [
        ("Answer in at most three sentences.", [Shape("max", "sentences", 3)]),
        ("Use no more than 50 words.", [Shape("max", "words", 50)]),
        ("Keep it to 5 bullet points.", [Shape("max", "bullets", 5)]),
        ("Answer with fewer than 4 lines.", [Shape("max", "lines", 3)]),
        ("Reply with only code, no explanations.", [Shape("code_only")]),
        ("Always ask a clarifying question first.", [Shape("question")]),
        ("Be kind.", []),
    ],
)
def test_rule_shapes(rule, shapes):
    assert rule_shape(rule) == shapes


def test_shape_measures():
    assert shape_holds(Shape("max", "sentences", 2), "One. Two! Three?")[0] is False
    assert shape_holds(Shape("max", "sentences", 3), "One. Two! Three?") == (
        True,
        "3 sentences (at most 3)",
    )
    assert shape_holds(Shape("code_only"), "```python\nx = 1\n```")[0] is True
    assert shape_holds(Shape("code_only"), "Here:\n```python\nx = 1\n```")[0] is False
    assert shape_holds(Shape("question"), "Which run do you mean?")[0] is True
    assert shape_holds(Shape("max", "bullets", 1), "- a\n- b\n")[0] is False


def test_check_change_decides_only_when_it_can():
    fact = "Yields are in grams per litre (g/L)."
    ignored = check_change("fact", fact, ["It is 4 units."], "It is 4.2 units.")
    assert ignored.decided and ignored.met is False and "ignores the fact" in ignored.reason
    brought = check_change("fact", fact, ["It is 4 units."], "It is 4 g/L.")
    assert brought.decided and brought.met is True
    both = check_change("fact", fact, ["It is 4 g/L."], "It is 4.0 g/L.")
    assert not both.decided  # left to the judge
    rule = "Answer in at most two sentences."
    broken = check_change("process", rule, ["A. B. C."], "A. B. C. D.")
    assert broken.decided and broken.met is False and "4 sentences (at most 2)" in broken.reason
    made = check_change("process", rule, ["A. B. C."], "A. B.")
    assert made.decided and made.met is True
    assert not check_change("process", "Be kind.", ["a"], "b").decided


def result(kind: ProbeKind, verdict: Verdict = Verdict.intended, **extra) -> PreviewResult:
    return PreviewResult(
        probe="p", probe_kind=kind, baseline_hash="b", amended_hash="a", verdict=verdict, **extra
    )


def test_expectation_in_force():
    assert result(ProbeKind.should_change).expected() == Expectation.change
    assert result(ProbeKind.original).expected() == Expectation.change
    assert result(ProbeKind.should_not_change).expected() == Expectation.no_change
    assert result(ProbeKind.notebook, Verdict.unchanged).expected() == Expectation.no_change
    assert result(ProbeKind.user, Verdict.intended).expected() == Expectation.change
    assert (
        result(ProbeKind.should_change, expectation="no_change").expected() == Expectation.no_change
    )


def test_old_files_load_and_unset_fields_stay_out_of_the_file():
    old = {
        "schema_version": 1,
        "revision": 3,
        "amendments": [
            {
                "id": "a-old",
                "kind": "fact",
                "text": "An old fact.",
                "status": "accepted",
                "preview": [
                    {
                        "probe": "p",
                        "probe_kind": "user",
                        "baseline_hash": "b",
                        "amended_hash": "a",
                        "verdict": "unchanged",
                        "reason": "",
                    }
                ],
            }
        ],
    }
    context = parse_context(json.dumps(old), "old.collab.json")
    stored = context.amendments[0]
    assert stored.check is None and stored.preview[0].expectation is None
    text = serialize_context(context)
    for name in ("check", "preview_model", "expectation", "amended_text", "measures"):
        assert f'"{name}"' not in text
    # Set, they are written and read back.
    changed, _ = expectations.set_expectation(context, "a-old", 1, "change")
    text = serialize_context(changed)
    assert '"expectation": "change"' in text
    assert parse_context(text, "x").amendments[0].preview[0].expectation == Expectation.change


def test_expectation_edits_name_the_problem():
    context = CollabContext(amendments=[Amendment(id="a-1", kind="fact", text="F.")])
    with pytest.raises(InvalidRequestError, match="has no probes"):
        expectations.set_expectation(context, "a-1", 1, "change")
    with pytest.raises(InvalidRequestError, match="not an expectation"):
        expectations.add_probe(context, "a-1", "Q?", "maybe")
    with pytest.raises(NotFoundError, match="a-2"):
        expectations.add_probe(context, "a-2", "Q?", "change")
    updated, amendment = expectations.add_probe(context, "a-1", "Q?", "unchanged")
    assert amendment.preview[0].expected() == Expectation.no_change and amendment.rev == 2
    with pytest.raises(InvalidRequestError, match="already has this probe"):
        expectations.add_probe(updated, "a-1", " Q? ", "change")
    with pytest.raises(InvalidRequestError, match="from 1 to 1, not 2"):
        expectations.remove_probe(updated, "a-1", 2)
    assert context.amendments[0].preview == []  # pure


# -- the core run on a scripted provider ----------------------------------------------


def units_answer(request) -> str:
    system, prompt = request.system_text(), request.messages[-1].content
    if "yield" not in prompt:
        return f"Plain answer to {prompt}"
    unit = "mg/mL" if "(mg/mL)" in system else "g/L" if "(g/L)" in system else "units"
    return f"The yield is 5 {unit}."


def probe(prompt: str) -> PreviewResult:
    return result(ProbeKind.should_change).model_copy(update={"probe": prompt})


def units_context() -> CollabContext:
    return CollabContext(
        amendments=[
            Amendment(
                id="a-gl",
                kind="fact",
                text="Yields in grams per litre (g/L).",
                preview=[probe("What is the yield of run 1?")],
            ),
            Amendment(
                id="a-mg",
                kind="fact",
                text="Yields in milligrams per mL (mg/mL).",
                preview=[probe("What is the yield of run 2?")],
            ),
            Amendment(
                id="a-off",
                kind="fact",
                text="Disabled (kg).",
                status=AmendmentStatus.disabled,
                preview=[probe("Yield?")],
            ),
        ]
    )


async def test_conflict_progress_record_and_replay():
    provider = ScriptedProvider(answer=units_answer)
    broker = Broker(CollabConfig(), provider=provider)
    record = BaselineCache(10_000)
    events = [e async for e in broker.check(units_context(), record=record)]
    assert events[0].event == "started" and events[0].total == 2 and events[0].amendments == 2
    assert [e.event for e in events].count("probe") == 2
    report = events[-1].report
    assert {a.amendment_id: a.health for a in report.amendments} == {
        "a-gl": Health.conflict,
        "a-mg": Health.conflict,
    }
    assert not report.all_hold and report.calls > 0
    # Only the disabled amendment is not checked; naming it is an error.
    with pytest.raises(InvalidRequestError, match="disabled"):
        await broker.check_report(units_context(), amendment_ids=["a-off"])

    stored = record_check(units_context(), report)
    assert stored.amendment("a-gl").check.conflicts_with == ["a-mg"]
    assert stored.amendment("a-off").check is None

    calls = len(provider.calls)
    again = await broker.check_report(units_context(), record=record, replay=True)
    assert len(provider.calls) == calls and again.calls == 0 and again.replayed
    assert [a.health for a in again.amendments] == [a.health for a in report.amendments]
    with pytest.raises(ReplayMissError):
        await broker.check_report(units_context(), record=BaselineCache(), replay=True)


async def test_one_amendment_and_cancellation():
    provider = ScriptedProvider(answer=units_answer, delay=0.2)
    broker = Broker(CollabConfig(check_concurrency=1), provider=provider)
    cancel = asyncio.Event()
    seen = []
    async for event in broker.check(units_context(), cancel_event=cancel):
        seen.append(event)
        if event.event == "started":
            cancel.set()
    report = seen[-1].report
    assert report.cancelled and not report.all_hold

    provider = ScriptedProvider(answer=units_answer)
    broker = Broker(CollabConfig(), provider=provider)
    report = await broker.check_report(units_context(), amendment_ids=["a-mg"])
    assert [a.amendment_id for a in report.amendments] == ["a-mg"]
    assert report.amendments[0].health == Health.holds  # mg/mL wins over g/L


def test_the_kernel_check_setting_names_a_bad_value(monkeypatch):
    from jupyter_collab.kernel.errors import CollabConfigError
    from jupyter_collab.kernel.magic import CollabMagics

    magics = CollabMagics(shell=None)
    for value, expected in (("1", "live"), ("replay", "replay"), ("0", "off"), ("", "off")):
        monkeypatch.setenv("JUPYTER_COLLAB_CHECK", value)
        assert magics.settings().check == expected
    monkeypatch.setenv("JUPYTER_COLLAB_CHECK", "sometimes")
    with pytest.raises(CollabConfigError, match="JUPYTER_COLLAB_CHECK='sometimes'"):
        magics.settings()


async def test_a_change_within_sampling_noise_is_flaky():
    """A rule with no measurable shape whose answers differ only as much as the
    baseline differs from itself: flaky, not holds and not broken."""
    calls = iter(range(1_000))

    def noisy(request) -> str:
        return f"Answer to {request.messages[-1].content} variant {next(calls)}"

    provider = ScriptedProvider(answer=noisy)
    broker = Broker(CollabConfig(), provider=provider)
    context = CollabContext(
        amendments=[Amendment(id="a-kind", kind="process", text="Be kind.", preview=[probe("Hi?")])]
    )
    report = await broker.check_report(context)
    [check] = report.amendments
    [evidence] = check.probes
    assert check.health == Health.flaky and not report.all_hold
    assert evidence.outcome == "flaky" and evidence.decided_by == "noise"
    assert evidence.noise is not None and evidence.noise.within_noise
    assert not [c for c in provider.calls if not c.is_answer]  # the judge was not asked
