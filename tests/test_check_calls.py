"""What a check asks the model, counted on a scripted provider: the answer without
an amendment only where it decides, a request several amendments share asked
once, whole answers but for each prefix's warm-up; and the verdicts that still
need both answers (broken, no effect, conflict) keep them as evidence."""

from __future__ import annotations

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import (
    Amendment,
    CollabContext,
    Health,
    PreviewResult,
    ProbeKind,
    Verdict,
)
from jupyter_collab.core.operations.checks import holds_on_amended
from tests.scripted_provider import Call, ScriptedProvider

KIT = 'Sample 1 was measured with kit "KIT-01".'
BUFFER = 'Every run used the buffer "TRIS-7".'
OSLO = "The HPLC instrument is in the Oslo lab."
GL = "Yields in grams per litre (g/L)."
MG = "Yields in milligrams per millilitre (mg/mL)."


def stored(prompt: str, kind: ProbeKind = ProbeKind.should_change) -> PreviewResult:
    verdict = Verdict.intended if kind == ProbeKind.should_change else Verdict.unchanged
    return PreviewResult(
        probe=prompt, probe_kind=kind, baseline_hash="", amended_hash="", verdict=verdict
    )


def lab(request) -> str:
    """Names the kit, the buffer and the unit only when its fact is in the
    instructions; echoes a question about Oslo; anything else depends on the
    prompt alone."""
    system, prompt = request.system_text(), request.messages[-1].content
    if "kit" in prompt:
        return f"It was measured with {'KIT-01' if KIT in system else 'a kit'}."
    if "buffer" in prompt:
        return f"The runs used {'TRIS-7' if BUFFER in system else 'a buffer'}."
    if "yield" in prompt:
        return (
            f"The yield is 4.2 {'mg/mL' if MG in system else 'g/L' if GL in system else 'units'}."
        )
    if "Oslo" in prompt:
        return f"You asked: {prompt}"
    return f"Plain answer to {prompt}"


def check(context: CollabContext):
    provider = ScriptedProvider(answer=lab)
    return Broker(CollabConfig(), provider=provider).check_report(context), provider


def whole_context(call: Call, *texts: str) -> bool:
    return all(text in call.request.system_text() for text in texts)


async def test_a_probe_its_answer_with_the_amendment_decides_costs_one_call():
    context = CollabContext(
        amendments=[
            Amendment(
                id="a-kit",
                kind="fact",
                text=KIT,
                preview=[
                    stored("Which kit measured sample 1?"),
                    stored("Suggest a title for figure 1.", ProbeKind.should_not_change),
                ],
            ),
            Amendment(
                id="a-buffer",
                kind="fact",
                text=BUFFER,
                preview=[
                    stored("Which buffer was used?"),
                    stored("Explain replicate 2.", ProbeKind.should_not_change),
                ],
            ),
        ]
    )
    run, provider = check(context)
    report = await run
    assert [a.health for a in report.amendments] == [Health.holds, Health.holds]
    # Two probes that should change, one answer each (with the whole context); two
    # that should not, answered with and without their amendment: 6 calls, not 8.
    assert report.calls == len(provider.calls) == 6
    changing = [c for c in provider.calls if "kit" in c.request.messages[-1].content]
    changing += [c for c in provider.calls if "buffer" in c.request.messages[-1].content]
    assert len(changing) == 2 and all(whole_context(c, KIT, BUFFER) for c in changing)
    for amendment, term in zip(report.amendments, ("KIT-01", "TRIS-7"), strict=True):
        held, kept = amendment.probes
        assert held.outcome == "pass" and held.decided_by == "deterministic"
        assert held.baseline is None and held.baseline_hash is None  # not asked
        assert term in held.reason and term in held.amended
        assert kept.outcome == "pass" and kept.decided_by == "identical"
        assert kept.baseline == kept.amended
    # Each prompt prefix's first request streams (warm-up); the rest are asked whole.
    by_prefix: dict[str, list[Call]] = {}
    for call in sorted(provider.calls, key=lambda c: c.started or 0):
        by_prefix.setdefault(call.request.system_text(), []).append(call)
    assert len(by_prefix) == 3  # the whole context, and each one without its fact
    for calls in by_prefix.values():
        assert [c.kind for c in calls] == ["stream"] + ["complete"] * (len(calls) - 1)


async def test_failing_probes_are_still_told_apart_with_both_answers():
    context = CollabContext(
        amendments=[
            # The model never mentions Oslo; it echoes the question, whose words are
            # the fact's key terms: an echo is no evidence, so both answers are asked.
            Amendment(id="a-oslo", kind="fact", text=OSLO, preview=[stored("Is HPLC in Oslo?")]),
            Amendment(id="a-gl", kind="fact", text=GL, preview=[stored("What is the yield?")]),
            Amendment(id="a-mg", kind="fact", text=MG, preview=[stored("And the yield now?")]),
        ]
    )
    run, provider = check(context)
    report = await run
    oslo, gl, mg = report.amendments
    assert (oslo.health, gl.health, mg.health) == (Health.broken, Health.conflict, Health.conflict)
    [echo] = oslo.probes
    assert echo.outcome == "fail" and echo.decided_by == "identical"
    assert "No effect" in echo.reason and echo.baseline == echo.amended
    [pulled] = gl.probes
    assert pulled.outcome == "fail" and pulled.conflict_with == "a-mg"
    assert pulled.baseline is not None and "mg/mL" in pulled.baseline  # the evidence
    assert gl.conflicts_with == ["a-mg"] and mg.conflicts_with == ["a-gl"]
    # a-oslo: with and without (2), then both again without each of the two others,
    # the conflict search (4); a-gl: with and without (2), without a-oslo both again
    # (2), without a-mg its answer alone passes (1); a-mg: its answer alone (1).
    # Asking both sides everywhere would make 14.
    assert report.calls == len(provider.calls) == 12


async def test_a_request_several_amendments_share_is_asked_once():
    shared = "Summarize the method."
    context = CollabContext(
        amendments=[
            Amendment(
                id="a-kit",
                kind="fact",
                text=KIT,
                preview=[stored(shared, ProbeKind.should_not_change)],
            ),
            Amendment(
                id="a-buffer",
                kind="fact",
                text=BUFFER,
                preview=[stored(shared, ProbeKind.should_not_change)],
            ),
        ]
    )
    run, provider = check(context)
    report = await run
    assert [a.health for a in report.amendments] == [Health.holds, Health.holds]
    # One answer with the whole context for both, and one without each: 3, not 4.
    assert len([c for c in provider.calls if whole_context(c, KIT, BUFFER)]) == 1
    assert report.calls == len(provider.calls) == 3


def test_what_the_amended_answer_alone_decides():
    assert holds_on_amended("fact", KIT, "Which kit?", "It was KIT-01.").met is True
    echoed = holds_on_amended("fact", OSLO, "Is HPLC in Oslo?", "You asked: Is HPLC in Oslo?")
    assert not echoed.decided and echoed.measures["terms_in_amended"] == 2
    assert not holds_on_amended("fact", KIT, "Which kit?", "A kit.").decided
    terse = "Answer in at most two sentences."
    assert holds_on_amended("process", terse, "Describe it.", "One. Two.").met is True
    assert not holds_on_amended("process", terse, "Describe it.", "One. Two. Three.").decided
    assert not holds_on_amended("process", "Be kind.", "Hi?", "Hello.").decided
