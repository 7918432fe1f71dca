"""The preview's noise floor: a model whose answers vary per call and ignore the
system prompt (so no amendment can have any effect) yields no intended or
unintended probe and no judge call; a deterministic model's real change is judged
and its unaffected probe is unchanged, with no extra sampling."""

from __future__ import annotations

import asyncio
import random

import pytest

from jupyter_collab.cli.render import preview_summary, preview_table
from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import ProbeKind, Verdict
from jupyter_collab.core.errors import InvalidRequestError
from jupyter_collab.core.operation_models import AmendmentDraft, NoiseMeasure, Probe
from jupyter_collab.core.operations.diffing import word_change_share
from jupyter_collab.core.operations.noise import NOISE_MARGIN, measure_noise
from jupyter_collab.core.operations.preview import PreviewSettings
from jupyter_collab.kernel.review_view import report_table

from .scripted_provider import ScriptedProvider

DRAFT = AmendmentDraft(kind="fact", text="The Adam paper is Kingma and Ba (2015).")
REVISED = AmendmentDraft(kind="fact", text="Cite Adam as Kingma and Ba, ICLR 2015.")
JUDGE = {"verdict": "intended", "reason": "Now cites Kingma and Ba."}
VOCAB = (
    "the a model answer data result method paper sample value test effect size cohort "
    "baseline study claim source figure table trial mean error rate group analysis report"
).split()


def sampling_answers(seed: int, words: int = 40):
    """Answers drawn afresh on every call from a seeded generator, blind to the
    system prompt: a stand-in for a model that takes no temperature."""
    rng = random.Random(seed)

    def answer(_request) -> str:
        return " ".join(rng.choice(VOCAB) for _ in range(words)) + "."

    return answer


def probes(n: int) -> list[Probe]:
    return [Probe(prompt=f"Question {i}?", kind=ProbeKind.should_change) for i in range(n)]


def streamed(provider: ScriptedProvider, prompt: str) -> list:
    return [
        c.request
        for c in provider.calls
        if c.is_answer and c.request.messages[-1].content == prompt
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sampling_noise_alone_is_never_reported_as_a_change(seed):
    provider = ScriptedProvider(answer=sampling_answers(seed), structured={"judge_probe": JUDGE})
    broker = Broker(CollabConfig(), provider=provider)
    report = await broker.preview_report(DRAFT, probes(6), None)

    assert [o.verdict for o in report.outcomes] == [Verdict.within_noise] * 6
    assert "judge_probe" not in provider.kinds()
    for outcome in report.outcomes:
        assert outcome.baseline != outcome.amended
        noise = outcome.noise
        assert noise is not None and noise.within_noise and noise.baseline_samples == 2
        assert noise.baseline_spread > 0.5  # random words: most of them differ
        assert noise.amended_change <= noise.baseline_spread + NOISE_MARGIN
        assert "sampling noise" in outcome.reason
        # The baseline, its one extra sample and the amended answer.
        assert len(streamed(provider, outcome.probe.prompt)) == 3
    assert report.noise_samples == 1
    assert "6 within_noise" in preview_summary(report, "scripted")
    assert "0 intended, 0 unintended" in preview_summary(report, "scripted")


async def test_revising_the_amendment_reuses_the_baseline_samples():
    provider = ScriptedProvider(answer=sampling_answers(4), structured={"judge_probe": JUDGE})
    broker = Broker(CollabConfig(preview_noise_samples=3), provider=provider)
    first = await broker.preview_report(DRAFT, probes(3), None)
    assert all(o.noise.baseline_samples == 4 for o in first.outcomes)
    assert len(provider.calls) == 3 * (1 + 3 + 1)
    provider.calls.clear()
    second = await broker.preview_report(REVISED, probes(3), None)
    assert [o.verdict for o in second.outcomes] == [Verdict.within_noise] * 3
    # Only the amended side ran again: the baseline and its samples came from the cache.
    assert len(provider.calls) == 3
    assert all(REVISED.text in c.request.system_text() for c in provider.calls)


async def test_when_answers_are_known_to_vary_the_extra_samples_start_with_the_first():
    """At a temperature above 0 the baseline is resampled alongside the first answers,
    not after them, so the noise floor costs calls but no wall time."""
    provider = ScriptedProvider(
        answer=sampling_answers(5),
        structured={"judge_probe": JUDGE},
        delay=0.02,
        delta_delay=0.005,
    )
    broker = Broker(CollabConfig(preview_temperature=0.7), provider=provider)
    report = await broker.preview_report(DRAFT, probes(3), None)
    assert [o.verdict for o in report.outcomes] == [Verdict.within_noise] * 3
    streamed = [c for c in provider.calls if c.is_answer]
    for outcome in report.outcomes:
        mine = [c for c in streamed if c.request.messages[-1].content == outcome.probe.prompt]
        [amended] = [c for c in mine if DRAFT.text in c.request.system_text()]
        baselines = sorted(c.started for c in mine if DRAFT.text not in c.request.system_text())
        assert len(baselines) == 2
        assert baselines[1] < amended.ended  # the extra sample did not wait


async def test_identical_answers_need_no_noise_floor_even_when_answers_vary():
    provider = ScriptedProvider(answer=lambda request: "Same answer.", delay=0.05)
    broker = Broker(CollabConfig(preview_temperature=0.7), provider=provider)
    report = await broker.preview_report(DRAFT, probes(2), None)
    assert [o.verdict for o in report.outcomes] == [Verdict.unchanged] * 2
    assert all(o.noise is None for o in report.outcomes)
    assert "judge_probe" not in provider.kinds()
    await asyncio.sleep(0.1)
    assert provider.in_flight == 0  # the early extra samples were cancelled


def cites_when_told(request) -> str:
    """Deterministic: the amendment changes the answer to the citation question only."""
    question = request.messages[-1].content
    if "Adam" in question and "Kingma and Ba" in request.system_text():
        return "Adam was introduced by Kingma and Ba (2015) as an adaptive optimizer."
    if "Adam" in question:
        return "Adam was introduced by Smith et al. (2019) as an adaptive optimizer."
    return "Two plus two is four."


async def test_a_real_change_is_judged_and_an_unaffected_probe_is_unchanged():
    provider = ScriptedProvider(answer=cites_when_told, structured={"judge_probe": JUDGE})
    broker = Broker(CollabConfig(), provider=provider)
    changed = Probe(prompt="Who introduced Adam?", kind=ProbeKind.original)
    untouched = Probe(prompt="What is 2 + 2?", kind=ProbeKind.should_not_change)
    report = await broker.preview_report(DRAFT, [changed, untouched], None)

    first, second = report.outcomes
    assert first.verdict == Verdict.intended and first.reason == JUDGE["reason"]
    assert first.noise == NoiseMeasure(
        baseline_samples=2,
        baseline_spread=0.0,
        amended_change=first.noise.amended_change,
        margin=NOISE_MARGIN,
        within_noise=False,
    )
    assert 0 < first.noise.amended_change < 0.5  # a few words of the sentence changed
    assert second.verdict == Verdict.unchanged and second.noise is None
    # The changed probe drew one extra baseline sample; the unchanged one none.
    assert len(streamed(provider, changed.prompt)) == 3
    assert len(streamed(provider, untouched.prompt)) == 2
    [judge] = [c for c in provider.calls if c.kind == "judge_probe"]
    judge_text = judge.request.messages[0].content
    assert "MEASURE:" in judge_text and "0% between samples of BASELINE alone" in judge_text
    # Both doors' renderings carry the measure.
    assert f"{first.noise.amended_change:.0%}/0%" in preview_table(report, width=160)
    assert "change/noise" in report_table(report)


def test_measure_noise_rule():
    same = "one two three four five six seven eight nine ten"
    other = "one two three four five six seven eight nine eleven"
    unrelated = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    # A deterministic baseline has no noise floor: any change counts.
    assert not measure_noise([same, same], other).within_noise
    # The amended answer equal to any sample is no change at all.
    noisy = measure_noise([same, other], other)
    assert noisy.amended_change == 0.0 and noisy.within_noise
    # A change far beyond the spread counts; within spread + margin does not.
    assert not measure_noise([same, other], unrelated).within_noise
    assert measure_noise([same, other], unrelated, margin=1.0).within_noise
    assert word_change_share(same, unrelated) == 1.0
    assert word_change_share("a  b\nc", "a b c") == 0.0  # whitespace is no change
    with pytest.raises(ValueError, match="at least two"):
        measure_noise([same], other)
    with pytest.raises(ValueError, match="between 0 and 1"):
        measure_noise([same, other], other, margin=1.5)


def test_noise_samples_are_bounded():
    with pytest.raises(InvalidRequestError, match="noise_samples must be between 1 and 4"):
        PreviewSettings(noise_samples=0)
    with pytest.raises(ValueError, match="preview_noise_samples"):
        CollabConfig(preview_noise_samples=5)


def test_which_requests_are_known_to_vary():
    from jupyter_collab.core.providers.anthropic import AnthropicProvider
    from jupyter_collab.core.providers.base import ChatRequest, Message

    def request(model: str, temperature: float | None) -> ChatRequest:
        return ChatRequest(
            model=model, messages=[Message(role="user", content="Hi")], temperature=temperature
        )

    anthropic = AnthropicProvider(CollabConfig(provider="anthropic"))
    # Current models take no temperature: they sample whatever the preview asks for.
    assert anthropic.answers_vary(request("claude-sonnet-5-5", 0.0))
    assert not anthropic.answers_vary(request("claude-sonnet-4-6", 0.0))
    assert anthropic.answers_vary(request("claude-sonnet-4-6", 0.7))
    scripted = ScriptedProvider()
    assert not scripted.answers_vary(request("m", 0.0))
    assert scripted.answers_vary(request("m", None))


def test_server_setting_is_checked_and_reaches_the_broker_config():
    from jupyter_collab.server.app import CollabExtension

    extension = CollabExtension(preview_noise_samples=3)
    assert extension.collab_config().preview_noise_samples == 3
    with pytest.raises(ValueError, match="preview_noise_samples must be between 1 and 4"):
        CollabExtension(preview_noise_samples=0)


async def test_required_calls_take_free_slots_before_speculative_ones():
    """A speculative sample never holds a slot a waiting answer needs."""
    from jupyter_collab.core.operations.fanout import Slots

    slots = Slots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def use(name: str, speculative: bool, hold: asyncio.Event | None = None):
        if not speculative:
            slots.announce_required()
        async with slots.hold(speculative):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.ensure_future(use("answer 1", False, release))
    await asyncio.sleep(0)
    sample = asyncio.ensure_future(use("sample", True))  # queued first...
    await asyncio.sleep(0)
    second = asyncio.ensure_future(use("answer 2", False))  # ...served after this one
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, sample, second)
    assert order == ["answer 1", "answer 2", "sample"]


def test_the_table_marks_a_weak_judge_and_shows_the_measures_instead():
    from jupyter_collab.core.context_model import AmendmentKind
    from jupyter_collab.core.operation_models import AmendmentDraft, PreviewReport, ProbeOutcome
    from jupyter_collab.core.operations.measures import measure_answers

    fact = "The Peace of Westphalia was signed in 1648."
    outcome = ProbeOutcome(
        probe=Probe(prompt="When?", kind=ProbeKind.original),
        baseline="It was signed in 1658.",
        amended="It was signed in 1648.",
        baseline_hash="b",
        amended_hash="a",
        verdict=Verdict.unintended,
        reason="It changed.",
        measures=measure_answers(
            AmendmentKind.fact,
            fact,
            ProbeKind.original,
            "It was signed in 1658.",
            "It was signed in 1648.",
        ),
        verdict_source="weak_judge",
    )
    report = PreviewReport(
        amendment=AmendmentDraft(kind="fact", text=fact), outcomes=[outcome], model="m"
    )
    table = preview_table(report, width=200)
    assert "unintended?" in table and "now present: 1648" in table
    assert "It changed." not in table and "weak signal" in table
    trusted = report.model_copy(
        update={"outcomes": [outcome.model_copy(update={"verdict_source": "judge"})]}
    )
    assert "weak signal" not in preview_table(trusted, width=200)
