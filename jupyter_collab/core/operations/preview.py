"""Preview an amendment: every probe answered without it (baseline) and with it
(amended), and a verdict per probe.

* The noise floor: when the two answers differ, the baseline is sampled again
  (``noise_samples`` times, cached like the baseline) and the change is set
  against the baseline's own spread (``noise.py``). A change within that spread is
  ``within_noise`` and never reaches the judge; a larger one is judged, and the
  judge sees the measure. Identical answers are ``unchanged`` with no extra call,
  so a deterministic provider pays extra only on probes the amendment changed.
  When the provider says its answers vary anyway (``Provider.answers_vary``: a
  model that takes no temperature), the extra samples start with the first two
  answers, as speculative calls: they use only slots no required call is
  waiting for, so they add calls but not wall time (and none at all when the
  answers turn out identical before a slot frees up).

* Bounded concurrency: every model call holds one of ``concurrency`` slots;
  required calls are served before speculative ones.
* Cache warming: the first request of each distinct system prompt (the
  baseline context, the amended context, the judge's instructions) starts
  before any other request with that prompt; the rest fan out as soon as its
  answer begins to stream (a provider's cache entry is available once the
  first response has begun), so they read the prompt from the cache instead of
  all writing it at once, and the preview costs about one call's wall time.
* Baseline reuse: baseline answers are kept in an LRU keyed by the assembled
  request's input hash, so revising the amendment re-runs only the amended side.
* Cancellation: setting ``cancel_event`` ends the run with a report marked
  ``cancelled``; closing the iterator cancels outstanding calls at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field

from ..assembly import assemble, input_hash
from ..errors import InvalidRequestError, ProviderError
from ..hashing import sha256_text
from ..loop_models import (
    AmendmentDraft,
    AnswerMeasures,
    NoiseMeasure,
    PreviewProgress,
    PreviewReport,
    Probe,
    ProbeOutcome,
)
from ..models import Amendment, CollabContext, Mode, Verdict
from ..providers.base import ChatRequest, Provider, StreamEnd, TextDelta
from ..store import atomic_write_text
from .common import OpsClient, OpsResponse, clip
from .measures import measure_answers, measures_text
from .noise import (
    DEFAULT_NOISE_SAMPLES,
    MAX_NOISE_SAMPLES,
    NOISE_MARGIN,
    measure_noise,
    noise_reason,
)
from .probes import dedupe_probes

T = TypeVar("T")
VerdictSource = Literal["identical", "noise_floor", "judge", "weak_judge"]

MAX_PROBES = 50
CACHE_FILE_VERSION = 1
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


class BaselineCache:
    """A small LRU of baseline answers keyed by input hash."""

    def __init__(self, maxsize: int = 512):
        self.maxsize = maxsize
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    # A headless door (the CLI) keeps baselines between runs in a file.

    @classmethod
    def load(cls, path: Path, maxsize: int = 512) -> BaselineCache:
        """The cache stored at ``path``; empty when the file is missing or unreadable."""
        cache = cls(maxsize)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cache
        if isinstance(data, dict) and data.get("version") == CACHE_FILE_VERSION:
            for key, value in (data.get("answers") or {}).items():
                if isinstance(key, str) and isinstance(value, str):
                    cache.put(key, value)
        return cache

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": CACHE_FILE_VERSION, "answers": dict(self._items)}
        atomic_write_text(path, json.dumps(payload, ensure_ascii=False))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


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


def draft_amendment(draft: AmendmentDraft) -> Amendment:
    """The draft as a (not stored) amendment, for prompt assembly."""
    return Amendment(kind=draft.kind, text=draft.text, rationale=draft.rationale)


def build_requests(
    provider: Provider,
    probe: Probe,
    draft: AmendmentDraft,
    context: CollabContext | None,
    settings: PreviewSettings,
) -> ProbeRequests:
    def build(extra: list[Amendment]) -> ChatRequest:
        assembled = assemble(
            probe.prompt,
            context=context,
            mode=settings.mode,
            extra_amendments=extra,
            token_budget=settings.token_budget,
            model=settings.model,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
        )
        request = assembled.request
        request.model = provider.resolve_model(request)
        return request

    baseline = build([])
    amended = build([draft_amendment(draft)])
    model = baseline.model or provider.default_model
    return ProbeRequests(
        baseline=baseline,
        amended=amended,
        baseline_key=input_hash(provider.name, model, baseline),
        amended_key=input_hash(provider.name, model, amended),
        model=model,
    )


async def answer_text(
    provider: Provider, request: ChatRequest, on_first_event: Callable[[], None] | None = None
) -> str:
    """Run one request to its end and return the answer text.

    ``on_first_event`` is called when the answer starts (the prompt has been read).
    """
    parts: list[str] = []
    ended = False
    async with aclosing(provider.stream(request)) as stream:
        async for event in stream:
            if on_first_event is not None:
                on_first_event()
                on_first_event = None
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, StreamEnd):
                ended = True
    if not ended:
        raise ProviderError(f"{provider.name}: the stream ended without a final message")
    return "".join(parts)


class _Slots:
    """The concurrency bound, with required calls served before speculative ones.

    Speculative calls (the noise floor's extra samples, started with a probe's
    first answers in case they are needed) take a slot only when more slots are
    free than required calls (answers, needed samples, judge calls) are announced
    and still waiting, so they fill idle slots and never push an answer the
    preview must have into a second wave."""

    def __init__(self, concurrency: int):
        self._free = max(1, concurrency)
        self._required_waiting = 0
        self._changed = asyncio.Condition()

    def announce_required(self) -> None:
        """A required call is on its way (it may first wait for its prefix's warm-up)."""
        self._required_waiting += 1

    async def withdraw_required(self) -> None:
        """An announced required call ended before it took a slot (cancelled, failed)."""
        async with self._changed:
            self._required_waiting -= 1
            self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def hold(self, speculative: bool) -> AsyncIterator[None]:
        """A slot; a required caller must have announced itself first."""
        async with self._changed:
            if speculative:
                await self._changed.wait_for(lambda: self._free > self._required_waiting)
            else:
                await self._changed.wait_for(lambda: self._free > 0)
                self._required_waiting -= 1
            self._free -= 1
        try:
            yield
        finally:
            async with self._changed:
                self._free += 1
                self._changed.notify_all()


class _Limiter:
    """The slots plus the warm-up rule: one request per prompt prefix first."""

    def __init__(self, concurrency: int):
        self._slots = _Slots(concurrency)
        self._warmed: dict[str, asyncio.Event] = {}

    async def run(
        self,
        prefix: str,
        call: Callable[[Callable[[], None]], Awaitable[T]],
        speculative: bool = False,
    ) -> T:
        """Run ``call(warmed)``; the first call of a prefix signals ``warmed()`` when the
        provider has read its prompt (or when it ends), releasing the others."""
        waiting = not speculative
        if waiting:
            self._slots.announce_required()
        try:
            event = self._warmed.get(prefix)
            if event is None:
                event = self._warmed[prefix] = asyncio.Event()
                try:
                    async with self._slots.hold(speculative):
                        waiting = False
                        return await call(event.set)
                finally:
                    event.set()  # on failure too: the others then try for themselves
            await event.wait()
            async with self._slots.hold(speculative):
                waiting = False
                return await call(_nothing)
        finally:
            if waiting:
                await self._slots.withdraw_required()


def _nothing() -> None:
    return None


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


class PreviewRun:
    """One preview: the probes' requests, their answers and their verdicts."""

    def __init__(
        self,
        provider: Provider,
        ops: OpsClient,
        draft: AmendmentDraft,
        context: CollabContext | None,
        settings: PreviewSettings,
        cache: BaselineCache,
    ):
        self.provider = provider
        self.ops = ops
        self.draft = draft
        self.context = context
        self.settings = settings
        self.cache = cache
        self.limiter = _Limiter(settings.concurrency)
        self.model = provider.default_model

    async def _answer(self, request: ChatRequest, speculative: bool = False) -> str:
        prefix = sha256_text(f"{request.model}\n{request.system_text()}")
        return await self.limiter.run(
            prefix, lambda warmed: answer_text(self.provider, request, warmed), speculative
        )

    async def _baseline(self, requests: ProbeRequests) -> tuple[str, bool]:
        cached = self.cache.get(requests.baseline_key)
        if cached is not None:
            return cached, True
        text = await self._answer(requests.baseline)
        self.cache.put(requests.baseline_key, text)
        return text, False

    async def _resample(self, requests: ProbeRequests, sample: int, speculative: bool) -> str:
        key = resample_key(requests.baseline_key, sample)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        text = await self._answer(requests.baseline, speculative)
        self.cache.put(key, text)
        return text

    async def _resamples(self, requests: ProbeRequests, speculative: bool = False) -> list[str]:
        """The baseline's extra samples, drawn concurrently (and cached)."""
        return list(
            await asyncio.gather(
                *(
                    self._resample(requests, sample, speculative)
                    for sample in range(1, self.settings.noise_samples + 1)
                )
            )
        )

    async def _judge(
        self,
        probe: Probe,
        baseline: str,
        amended: str,
        noise: NoiseMeasure,
        measures: AnswerMeasures,
    ) -> tuple[Verdict, str]:
        prompt = judge_prompt(probe, self.draft, baseline, amended, noise, measures)
        return await self.limiter.run("judge", lambda _warmed: judge(self.ops, prompt))

    async def run_probe(self, probe: Probe) -> ProbeOutcome:
        requests = build_requests(self.provider, probe, self.draft, self.context, self.settings)
        self.model = requests.model
        # The answers are scheduled before the speculative samples, so a required
        # call (not a sample) is the warm-up request of the baseline's prefix.
        answers = asyncio.gather(self._baseline(requests), self._answer(requests.amended))
        early = (
            asyncio.ensure_future(self._resamples(requests, speculative=True))
            if self.provider.answers_vary(requests.baseline)
            else None
        )
        try:
            (baseline, cached), amended = await answers
            noise: NoiseMeasure | None = None
            if baseline != amended:
                resamples = await early if early is not None else await self._resamples(requests)
                noise = measure_noise([baseline, *resamples], amended, self.settings.noise_margin)
        finally:
            if early is not None:
                # Identical answers need no noise floor, a failure nothing more; a
                # finished task is left as it is (its outcome is collected here).
                early.cancel()
                await asyncio.gather(early, return_exceptions=True)
        measures = measure_answers(self.draft.kind, self.draft.text, probe.kind, baseline, amended)
        source: VerdictSource
        if noise is None:
            verdict, reason, source = Verdict.unchanged, IDENTICAL_REASON, "identical"
        elif noise.within_noise:
            verdict, reason, source = Verdict.within_noise, noise_reason(noise), "noise_floor"
        else:
            verdict, reason = await self._judge(probe, baseline, amended, noise, measures)
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


async def run_preview(
    provider: Provider,
    ops: OpsClient,
    draft: AmendmentDraft,
    probes: list[Probe],
    context: CollabContext | None,
    *,
    settings: PreviewSettings,
    cache: BaselineCache,
    cancel_event: asyncio.Event | None = None,
) -> AsyncIterator[PreviewProgress]:
    """Yield ``started``, one ``probe`` event per outcome (in completion order),
    then ``finished`` with the report (outcomes in probe order).

    A failing call cancels the others and raises; ``cancel_event`` ends the run
    early with ``report.cancelled`` set; closing the iterator cancels everything.
    """
    probes = dedupe_probes(probes)
    if not probes:
        raise InvalidRequestError("there are no probes to preview")
    if len(probes) > MAX_PROBES:
        raise InvalidRequestError(f"at most {MAX_PROBES} probes can be previewed at once")
    run = PreviewRun(provider, ops, draft, context, settings, cache)
    # Build every request first: a probe that cannot be assembled fails before any call.
    for probe in probes:
        build_requests(provider, probe, draft, context, settings)
    started = time.monotonic()
    total = len(probes)
    yield PreviewProgress(event="started", total=total, noise_samples=settings.noise_samples)

    tasks = {asyncio.ensure_future(run.run_probe(probe)): i for i, probe in enumerate(probes)}
    waiter = asyncio.ensure_future(cancel_event.wait()) if cancel_event is not None else None
    outcomes: dict[int, ProbeOutcome] = {}
    cancelled = False
    pending = set(tasks)
    try:
        while pending:
            watch = pending | ({waiter} if waiter is not None else set())
            done, _ = await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done - {waiter}, key=tasks.__getitem__):
                pending.discard(task)
                outcome = task.result()  # a failure propagates; finally cancels the rest
                outcomes[tasks[task]] = outcome
                yield PreviewProgress(
                    event="probe", total=total, done=len(outcomes), outcome=outcome
                )
            if waiter is not None and waiter in done:
                cancelled = bool(pending)
                break
    finally:
        leftovers = [*pending, *([waiter] if waiter is not None else [])]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
    report = PreviewReport(
        amendment=draft,
        outcomes=[outcomes[i] for i in sorted(outcomes)],
        cancelled=cancelled,
        model=run.model,
        duration_s=round(time.monotonic() - started, 3),
        noise_samples=settings.noise_samples,
    )
    yield PreviewProgress(event="finished", total=total, done=len(outcomes), report=report)
