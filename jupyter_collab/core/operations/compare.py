"""One probe answered without and with an amendment, and a verdict: the step the
preview and the check share.

:class:`ProbeComparer` answers a probe's two requests through the shared fan-out
(``fanout.py``), measures the noise floor when the answers differ (``noise.py``),
lets the caller decide deterministically where it can (the check's key terms
and shapes, ``checks.py``) and asks the model judge only for the rest.

Every answer (and judge verdict) it obtains can be kept in a recording, keyed
by the request's input hash; a comparer in replay mode makes no call at all and
serves everything from such a recording.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..assembly import assemble, input_hash
from ..context_model import Amendment, CollabContext, Mode, Verdict
from ..errors import InvalidRequestError, ReplayMissError
from ..hashing import sha256_text
from ..operation_models import (
    AmendmentDraft,
    AnswerMeasures,
    NoiseMeasure,
    Probe,
    ProbeOutcome,
    VerdictSource,
)
from ..providers.base import ChatRequest, Provider
from .common import OpsClient, OpsResponse, clip, one_line
from .fanout import BaselineCache, Limiter, answer_text
from .measures import measure_answers, measures_text
from .noise import (
    DEFAULT_NOISE_SAMPLES,
    MAX_NOISE_SAMPLES,
    NOISE_MARGIN,
    measure_noise,
    noise_reason,
)

#: How much of each answer the judge reads.
JUDGE_ANSWER_CHARS = 2_500
IDENTICAL_REASON = "The answer is identical with and without the amendment."

JUDGE_SYSTEM = """\
You check what an amendment to an AI assistant's instructions changes. You see one \
prompt answered twice: BASELINE (current instructions) and AMENDED (the amendment added), \
and what the researcher expects for this prompt.

verdict:
- "intended": the answers differ in substance, and the difference is what the amendment \
is meant to cause for this prompt;
- "unintended": the answers differ in substance in a way the amendment should not cause \
here (it applied too broadly, or changed something unrelated);
- "unchanged": the answers say the same thing (wording aside).
reason: one short line naming the difference that decided it.

MEASURE gives the share of words that changed between AMENDED and BASELINE, and \
between two samples of BASELINE alone: the model varies by that much with no amendment, \
so a difference of that kind is not caused by the amendment. It also says which key \
terms of a fact appear in each answer, and how the length and shape (lists, headings, \
code, questions) changed: a fact whose terms newly appear, or a rule whose format now \
shows, is evidence of an intended change; rewording with the same terms and shape is \
"unchanged"."""


class JudgeResponse(OpsResponse):
    verdict: Literal["intended", "unintended", "unchanged"]
    reason: str = Field(max_length=200)


@dataclass
class PreviewSettings:
    """How the probe answers are produced (the judge uses the ops client)."""

    model: str | None = None
    mode: Mode | str | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    token_budget: int | None = None
    concurrency: int = 4
    #: Extra baseline samples per probe whose answers differ (the noise floor).
    noise_samples: int = DEFAULT_NOISE_SAMPLES
    noise_margin: float = NOISE_MARGIN

    def __post_init__(self) -> None:
        if not 1 <= self.noise_samples <= MAX_NOISE_SAMPLES:
            raise InvalidRequestError(
                f"noise_samples must be between 1 and {MAX_NOISE_SAMPLES}, not {self.noise_samples}"
            )


@dataclass
class ProbeRequests:
    baseline: ChatRequest
    amended: ChatRequest
    baseline_key: str
    amended_key: str
    model: str

    @classmethod
    def of(cls, provider: Provider, baseline: ChatRequest, amended: ChatRequest) -> ProbeRequests:
        """The pair with the input hashes their answers are cached and recorded under."""
        model = baseline.model or provider.default_model
        return cls(
            baseline=baseline,
            amended=amended,
            baseline_key=input_hash(provider.name, model, baseline),
            amended_key=input_hash(provider.name, model, amended),
            model=model,
        )


def probe_request(
    provider: Provider,
    prompt: str,
    context: CollabContext | None,
    settings: PreviewSettings,
    *,
    extra_amendments: Sequence[Amendment] = (),
    exclude_ids: Sequence[str] = (),
) -> ChatRequest:
    """One probe as the preview and the check ask it: the context with
    ``extra_amendments`` added and ``exclude_ids`` left out, for the provider's model."""
    request = assemble(
        prompt,
        context=context,
        mode=settings.mode,
        extra_amendments=list(extra_amendments),
        exclude_ids=list(exclude_ids),
        token_budget=settings.token_budget,
        model=settings.model,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
    ).request
    request.model = provider.resolve_model(request)
    return request


@dataclass(frozen=True)
class Decided:
    """A verdict reached without the judge (by a deterministic check)."""

    verdict: Verdict
    reason: str


#: ``decide(baseline, amended)`` for answers that differ: a verdict without the judge
#: (and without the noise floor, which is for the judge), or None to go on.
Decide = Callable[[str, str], Decided | None]


def judge_prompt(
    probe: Probe,
    draft: AmendmentDraft,
    baseline: str,
    amended: str,
    noise: NoiseMeasure | None,
    measures: AnswerMeasures,
) -> str:
    """The judge's user turn. ``noise`` is None when the baseline was not resampled
    (a calibration case, or a deterministic provider measured elsewhere)."""
    expectation = probe.expectation or "No expectation given: judge from the amendment."
    spread = (
        f"{noise.baseline_spread:.0%} between samples of BASELINE alone"
        if noise is not None
        else "BASELINE was not sampled twice"
    )
    return "\n\n".join(
        [
            f"Amendment ({draft.kind.value}): {clip(draft.text.strip(), 2000)}",
            f"Prompt: {clip(probe.prompt, 2000)}",
            f"Expectation: {expectation}",
            f"MEASURE: {measures_text(measures)}; {spread}.",
            f"BASELINE:\n{clip(baseline, JUDGE_ANSWER_CHARS)}",
            f"AMENDED:\n{clip(amended, JUDGE_ANSWER_CHARS)}",
        ]
    )


async def judge(ops: OpsClient, prompt: str) -> tuple[Verdict, str]:
    """One verdict and its reason for a :func:`judge_prompt` (also what the
    calibration benchmark asks each model)."""
    result = await ops.structured(
        JUDGE_SYSTEM,
        prompt,
        JudgeResponse,
        name="judge_probe",
        description="The verdict on one probe of the preview.",
    )
    reason = " ".join(result.reason.split()) or "(no reason given)"
    return Verdict(result.verdict), reason


def resample_key(baseline_key: str, sample: int) -> str:
    """The cache key of the ``sample``-th extra answer to a baseline request."""
    return f"{baseline_key}:sample-{sample}"


class ProbeComparer:
    """Answers probes without and with an amendment and judges the difference.

    ``cache`` holds baseline answers (and their extra samples) across runs;
    ``record``, when given, receives every answer and verdict this comparer
    obtains, by input hash; with ``replay`` set nothing is called and everything
    comes from ``record`` (a missing entry raises :class:`ReplayMissError`).
    """

    def __init__(
        self,
        provider: Provider,
        ops: OpsClient,
        settings: PreviewSettings,
        cache: BaselineCache,
        *,
        record: BaselineCache | None = None,
        replay: bool = False,
    ):
        if replay and record is None:
            raise InvalidRequestError("replay needs a recording of earlier answers")
        self.provider = provider
        self.ops = ops
        self.settings = settings
        self.cache = cache
        self.record = record
        self.replay = replay
        self.limiter = Limiter(settings.concurrency)
        self.calls = 0
        # Answers of this run by key, finished or on their way: two probes that send
        # the same request (the check's amended side of a prompt several amendments
        # share) make one call.
        self._answers: dict[str, asyncio.Future[str]] = {}

    def _replayed(self, key: str, what: str) -> str:
        assert self.record is not None
        found = self.record.get(key)
        if found is None:
            raise ReplayMissError(
                f"replay: no recorded {what} for these inputs (the prompt, the context, "
                "the model or a setting changed since it was recorded); run the check "
                "without replay to record one"
            )
        return found

    def _keep(self, key: str, text: str) -> None:
        if self.record is not None:
            self.record.put(key, text)

    async def answer(self, key: str, request: ChatRequest, speculative: bool = False) -> str:
        """The answer to ``request`` (recorded under ``key``)."""
        if self.replay:
            return self._replayed(key, f"answer to {one_line(request.messages[-1].content, 60)!r}")
        while (shared := self._answers.get(key)) is not None:
            try:
                return await asyncio.shield(shared)
            except asyncio.CancelledError:
                if not shared.cancelled():
                    raise  # this caller was cancelled
                # The call it waited for was cancelled (a speculative sample): ask anew.
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        # Retrieved here so a failure nobody else waited for is not logged as unseen.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._answers[key] = future
        prefix = sha256_text(f"{request.model}\n{request.system_text()}")
        self.calls += 1
        try:
            text = await self.limiter.run(
                prefix, lambda warmed: answer_text(self.provider, request, warmed), speculative
            )
        except BaseException as err:
            del self._answers[key]
            if isinstance(err, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(err)
            raise
        future.set_result(text)
        self._keep(key, text)
        return text

    async def baseline(self, requests: ProbeRequests) -> tuple[str, bool]:
        cached = self.cache.get(requests.baseline_key)
        if cached is not None:
            self._keep(requests.baseline_key, cached)
            return cached, True
        text = await self.answer(requests.baseline_key, requests.baseline)
        self.cache.put(requests.baseline_key, text)
        return text, False

    async def _resample(self, requests: ProbeRequests, sample: int, speculative: bool) -> str:
        key = resample_key(requests.baseline_key, sample)
        cached = self.cache.get(key)
        if cached is not None:
            self._keep(key, cached)
            return cached
        text = await self.answer(key, requests.baseline, speculative)
        self.cache.put(key, text)
        return text

    async def resamples(self, requests: ProbeRequests, speculative: bool = False) -> list[str]:
        """The baseline's extra samples, drawn concurrently (and cached)."""
        return list(
            await asyncio.gather(
                *(
                    self._resample(requests, sample, speculative)
                    for sample in range(1, self.settings.noise_samples + 1)
                )
            )
        )

    async def judge(
        self,
        probe: Probe,
        draft: AmendmentDraft,
        baseline: str,
        amended: str,
        noise: NoiseMeasure,
        measures: AnswerMeasures,
    ) -> tuple[Verdict, str]:
        prompt = judge_prompt(probe, draft, baseline, amended, noise, measures)
        model = self.ops.model or self.ops.provider.default_model
        key = sha256_text(f"judge\n{model}\n{JUDGE_SYSTEM}\n{prompt}")
        if self.replay:
            stored = json.loads(self._replayed(key, f"verdict on {one_line(probe.prompt, 60)!r}"))
            return Verdict(stored["verdict"]), stored["reason"]
        self.calls += 1
        verdict, reason = await self.limiter.run("judge", lambda _warmed: judge(self.ops, prompt))
        self._keep(key, json.dumps({"verdict": verdict.value, "reason": reason}))
        return verdict, reason

    async def compare(
        self,
        probe: Probe,
        requests: ProbeRequests,
        draft: AmendmentDraft,
        decide: Decide | None = None,
        speculate: bool = True,
    ) -> ProbeOutcome:
        """Both answers; when they differ, ``decide`` (when given), then for what it
        leaves open the noise floor and the judge. ``speculate=False`` draws the noise
        floor's samples only once they are needed (when ``decide`` will most likely
        settle the probe, early samples would be calls for nothing)."""
        # The answers are scheduled before the speculative samples, so a required
        # call (not a sample) is the warm-up request of the baseline's prefix.
        answers = asyncio.gather(
            self.baseline(requests), self.answer(requests.amended_key, requests.amended)
        )
        early = (
            asyncio.ensure_future(self.resamples(requests, speculative=True))
            if speculate and not self.replay and self.provider.answers_vary(requests.baseline)
            else None
        )
        noise: NoiseMeasure | None = None
        decided: Decided | None = None
        try:
            (baseline, cached), amended = await answers
            if baseline != amended:
                # A deterministic decision needs no noise floor (it is for the judge).
                decided = decide(baseline, amended) if decide is not None else None
                if decided is None:
                    resamples = await early if early is not None else await self.resamples(requests)
                    noise = measure_noise(
                        [baseline, *resamples], amended, self.settings.noise_margin
                    )
        finally:
            if early is not None:
                # Identical answers need no noise floor, a failure nothing more; a
                # finished task is left as it is (its outcome is collected here).
                early.cancel()
                await asyncio.gather(early, return_exceptions=True)
        measures = measure_answers(draft.kind, draft.text, probe.kind, baseline, amended)
        source: VerdictSource
        if baseline == amended:
            verdict, reason, source = Verdict.unchanged, IDENTICAL_REASON, "identical"
        elif decided is not None:
            verdict, reason, source = decided.verdict, decided.reason, "deterministic"
        elif noise is not None and noise.within_noise:
            verdict, reason, source = Verdict.within_noise, noise_reason(noise), "noise_floor"
        else:
            assert noise is not None
            verdict, reason = await self.judge(probe, draft, baseline, amended, noise, measures)
            source = "weak_judge" if self.ops.provider.weak_judge else "judge"
        return ProbeOutcome(
            probe=probe,
            baseline=baseline,
            amended=amended,
            baseline_hash=sha256_text(baseline),
            amended_hash=sha256_text(amended),
            baseline_cached=cached,
            verdict=verdict,
            reason=reason,
            noise=noise,
            measures=measures,
            verdict_source=source,
        )
