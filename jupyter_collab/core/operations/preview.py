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
* Other notebooks' prompts: a probe that names a notebook (``Probe.notebook``) is
  answered with that notebook's context (``contexts``) and its answer settings
  (``notebook_settings``: model, mode, length), not the previewed one's: a
  promotion's preview asks the notebooks the moved entry would reach.

The machinery is shared with the check of a whole constitution (``check.py``):
the slots, warm-up, cache and task running are in ``fanout.py``, one probe's
answers, noise floor and judge in ``compare.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing

from ..context_model import Amendment, CollabContext
from ..errors import InvalidRequestError
from ..operation_models import (
    AmendmentDraft,
    PreviewProgress,
    PreviewReport,
    Probe,
    ProbeOutcome,
)
from ..providers.base import Provider
from .common import OpsClient
from .compare import (
    IDENTICAL_REASON,
    JUDGE_SYSTEM,
    JudgeResponse,
    PreviewSettings,
    ProbeComparer,
    ProbeRequests,
    judge_prompt,
    probe_request,
    resample_key,
)
from .fanout import BaselineCache, in_completion_order
from .probes import dedupe_probes

__all__ = [
    "IDENTICAL_REASON",
    "JUDGE_SYSTEM",
    "MAX_PROBES",
    "BaselineCache",
    "JudgeResponse",
    "PreviewRun",
    "PreviewSettings",
    "ProbeRequests",
    "build_requests",
    "judge_prompt",
    "resample_key",
    "run_preview",
]

MAX_PROBES = 50


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
    baseline = probe_request(provider, probe.prompt, context, settings)
    amended = probe_request(
        provider, probe.prompt, context, settings, extra_amendments=[draft_amendment(draft)]
    )
    return ProbeRequests.of(provider, baseline, amended)


#: Each notebook's context in effect, by the name its probes carry (``Probe.notebook``).
NotebookContexts = Mapping[str, CollabContext | None]


def context_of(
    probe: Probe, context: CollabContext | None, contexts: NotebookContexts | None
) -> CollabContext | None:
    """The context a probe is answered with: its notebook's when it names one."""
    if probe.notebook is None:
        return context
    if contexts is None or probe.notebook not in contexts:
        raise InvalidRequestError(f"no context was given for the notebook {probe.notebook!r}")
    return contexts[probe.notebook]


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
        contexts: NotebookContexts | None = None,
        notebook_settings: Mapping[str, PreviewSettings] | None = None,
    ):
        self.provider = provider
        self.draft = draft
        self.context = context
        self.contexts = contexts
        self.notebook_settings = notebook_settings or {}
        self.settings = settings
        self.comparer = ProbeComparer(provider, ops, settings, cache)
        self.model = provider.default_model

    def requests(self, probe: Probe) -> ProbeRequests:
        context = context_of(probe, self.context, self.contexts)
        settings = self.settings
        if probe.notebook is not None:
            settings = self.notebook_settings.get(probe.notebook, settings)
        return build_requests(self.provider, probe, self.draft, context, settings)

    async def run_probe(self, probe: Probe) -> ProbeOutcome:
        requests = self.requests(probe)
        self.model = requests.model
        return await self.comparer.compare(probe, requests, self.draft)


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
    contexts: NotebookContexts | None = None,
    notebook_settings: Mapping[str, PreviewSettings] | None = None,
) -> AsyncIterator[PreviewProgress]:
    """Yield ``started`` (with the probes), one ``probe`` event per outcome (in
    completion order), then ``finished`` with the report (outcomes in probe order).
    A probe naming a notebook is answered with ``contexts[probe.notebook]`` and
    ``notebook_settings[probe.notebook]`` (``settings`` when it has none there).

    A failing call cancels the others and raises; ``cancel_event`` ends the run
    early with ``report.cancelled`` set; closing the iterator cancels everything.
    """
    probes = dedupe_probes(probes)
    if not probes:
        raise InvalidRequestError("there are no probes to preview")
    if len(probes) > MAX_PROBES:
        raise InvalidRequestError(f"at most {MAX_PROBES} probes can be previewed at once")
    run = PreviewRun(provider, ops, draft, context, settings, cache, contexts, notebook_settings)
    # Build every request first: a probe that cannot be assembled fails before any call.
    for probe in probes:
        run.requests(probe)
    started = time.monotonic()
    total = len(probes)
    yield PreviewProgress(
        event="started", total=total, noise_samples=settings.noise_samples, probes=probes
    )

    outcomes: dict[int, ProbeOutcome] = {}
    cancelled = False
    # aclosing: closing this iterator closes the fan-out too, cancelling its calls.
    async with aclosing(
        in_completion_order((run.run_probe(probe) for probe in probes), cancel_event)
    ) as results:
        async for finished in results:
            if finished is None:
                cancelled = True
                break
            outcomes[finished.index] = finished.result
            yield PreviewProgress(
                event="probe", total=total, done=len(outcomes), outcome=finished.result
            )
    report = PreviewReport(
        amendment=draft,
        outcomes=[outcomes[i] for i in sorted(outcomes)],
        cancelled=cancelled,
        model=run.model,
        duration_s=round(time.monotonic() - started, 3),
        noise_samples=settings.noise_samples,
    )
    yield PreviewProgress(event="finished", total=total, done=len(outcomes), report=report)
