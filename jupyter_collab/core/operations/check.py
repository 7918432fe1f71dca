"""Check a constitution: every enabled amendment's stored probes answered again
with the amendment (the whole context) and, where it matters, without it, and a
health per amendment.

Per probe the expectation in force (``PreviewResult.expected()``) decides:

========================  =========================================================
the answers               outcome
========================  =========================================================
with it, alone            "change" passes when it has the fact's key terms (beyond
                          the prompt's) or the rule's shape (``holds_on_amended``):
                          the answer without it is not asked for
identical                 "no change" passes; "change" fails (no effect)
differ, decided by        met: pass; not met: fail (a fact ignored, a rule's shape
``checks.py``             missing)
within the noise floor    "no change" passes; "change" is flaky
judged                    "change" passes when intended; "no change" when unchanged
========================  =========================================================

An amendment **holds** when every probe passes, is **flaky** when none fails but
some are flaky, and is **broken** when one fails, unless removing another
enabled amendment makes a failing probe pass: then the two are in **conflict**
(both are reported, each naming the other). The candidates for a conflict are
the few amendments whose words are closest to the failing amendment and its
probes (``check_conflicts.py``). An amendment with no stored probe is
**untested**.

The probes run through the preview's machinery (``compare.py``, ``fanout.py``):
the same bounded fan-out, warm-up, whole answers (not streamed) but for the
warm-up, baseline cache and noise floor. A request is answered once per check,
by its input hash: a prompt several amendments share is answered once with the
whole context. The answer without an amendment is asked only where it decides:
for a probe that should not change, for a failing one (no effect, or the fact
ignored), and where the judge must decide. With a
recording (``record``) every answer and verdict is kept by input hash; with
``replay`` the check makes no call at all.

This module is the run; a probe's outcome and an amendment's health and summary
are put together in ``check_report.py``, and what a check leaves on the context
is ``check_records.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from ..context_model import (
    Amendment,
    CollabContext,
    Expectation,
    Health,
    MeasureValue,
    PreviewResult,
    Verdict,
    utcnow,
)
from ..errors import InvalidRequestError
from ..hashing import sha256_text
from ..operation_models import (
    AmendmentCheck,
    AmendmentDraft,
    CheckProgress,
    CheckReport,
    Probe,
    ProbeCheck,
)
from ..providers.base import ChatRequest, Provider
from .check_conflicts import CONFLICT_CANDIDATES, find_conflicts, pair_conflicts
from .check_report import amendment_health, amendment_report, probe_outcome
from .checks import Decision, check_change, decidable, holds_on_amended
from .common import OpsClient
from .compare import (
    IDENTICAL_REASON,
    Decided,
    PreviewSettings,
    ProbeComparer,
    ProbeRequests,
    probe_request,
)
from .fanout import BaselineCache
from .probes import EXPECT_CHANGE, EXPECT_NO_CHANGE


def _requests(
    provider: Provider,
    prompt: str,
    context: CollabContext,
    settings: PreviewSettings,
    without: Sequence[str],
    also_without: Sequence[str] = (),
) -> ProbeRequests:
    """The probe asked with the context less ``also_without`` (amended) and less
    ``without`` too (baseline)."""

    def ask(exclude: Sequence[str]) -> ChatRequest:
        return probe_request(provider, prompt, context, settings, exclude_ids=exclude)

    return ProbeRequests.of(provider, ask([*without, *also_without]), ask(also_without))


@dataclass
class _Probe:
    """One stored probe of one amendment, as the check runs it."""

    amendment: Amendment
    index: int
    stored: PreviewResult

    @property
    def expectation(self) -> Expectation:
        return self.stored.expected()

    def probe(self) -> Probe:
        expectation = EXPECT_CHANGE if self.expectation == Expectation.change else EXPECT_NO_CHANGE
        return Probe(prompt=self.stored.probe, kind=self.stored.probe_kind, expectation=expectation)


@dataclass
class _Run:
    provider: Provider
    comparer: ProbeComparer
    context: CollabContext
    settings: PreviewSettings
    conflict_candidates: int
    model: str = ""
    events: asyncio.Queue[CheckProgress] = field(default_factory=asyncio.Queue)
    total: int = 0
    done: int = 0

    async def run_probe(self, item: _Probe, also_without: Sequence[str] = ()) -> ProbeCheck:
        amendment = item.amendment
        requests = _requests(
            self.provider,
            item.stored.probe,
            self.context,
            self.settings,
            [amendment.id],
            also_without,
        )
        self.model = self.model or requests.model
        expectation = item.expectation
        if expectation == Expectation.change and decidable(amendment):
            # The answer with the amendment first: when it alone shows the amendment
            # holds, the answer without it (and its noise floor) is not needed.
            amended = await self.comparer.answer(requests.amended_key, requests.amended)
            found = holds_on_amended(amendment.kind, amendment.text, item.stored.probe, amended)
            if found.decided:
                return self._held(item, amended, found)
        measures: dict[str, MeasureValue] = {}
        deterministic: list[bool] = []

        def decide(baseline: str, amended: str) -> Decided | None:
            if expectation != Expectation.change:
                return None
            found = check_change(amendment.kind, amendment.text, [baseline], amended)
            measures.update(found.measures)
            if not found.decided:
                return None
            deterministic.append(bool(found.met))
            verdict = Verdict.intended if found.met else Verdict.unchanged
            return Decided(verdict, found.reason)

        draft = AmendmentDraft(kind=amendment.kind, text=amendment.text)
        outcome = await self.comparer.compare(
            item.probe(),
            requests,
            draft,
            decide,
            speculate=not (expectation == Expectation.change and decidable(amendment)),
        )
        reason = outcome.reason
        if outcome.baseline == outcome.amended:
            decided_by = "identical"
            if expectation == Expectation.change:
                found = check_change(
                    amendment.kind, amendment.text, [outcome.baseline], outcome.amended
                )
                measures.update(found.measures)
                reason = "No effect: " + IDENTICAL_REASON[0].lower() + IDENTICAL_REASON[1:]
                if found.decided and not found.met:
                    reason += f" And {found.reason}."
        elif deterministic:
            decided_by = "deterministic"
        elif outcome.verdict == Verdict.within_noise:
            decided_by = "noise"
        else:
            decided_by = "judge"
        if outcome.noise is not None:
            measures["word_change"] = outcome.noise.amended_change
            measures["baseline_spread"] = outcome.noise.baseline_spread
        return ProbeCheck(
            index=item.index,
            prompt=item.stored.probe,
            probe_kind=item.stored.probe_kind,
            expectation=expectation,
            outcome=probe_outcome(
                expectation,
                outcome.verdict,
                decided_by,
                deterministic[0] if deterministic else None,
            ),
            decided_by=decided_by,
            verdict=outcome.verdict,
            reason=reason,
            baseline=outcome.baseline,
            amended=outcome.amended,
            baseline_hash=outcome.baseline_hash,
            amended_hash=outcome.amended_hash,
            accepted_hash=item.stored.amended_hash or None,
            noise=outcome.noise,
            measures=measures,
        )

    @staticmethod
    def _held(item: _Probe, amended: str, found: Decision) -> ProbeCheck:
        """A probe the amended answer alone passes (:func:`holds_on_amended`)."""
        return ProbeCheck(
            index=item.index,
            prompt=item.stored.probe,
            probe_kind=item.stored.probe_kind,
            expectation=item.expectation,
            outcome="pass",
            decided_by="deterministic",
            verdict=Verdict.intended,
            reason=found.reason,
            amended=amended,
            amended_hash=sha256_text(amended),
            accepted_hash=item.stored.amended_hash or None,
            measures=found.measures,
        )

    async def rerun_probe(
        self, amendment: Amendment, index: int, also_without: Sequence[str]
    ) -> ProbeCheck:
        """Probe ``index`` of ``amendment`` asked with the context less ``also_without``."""
        return await self.run_probe(
            _Probe(amendment, index, amendment.preview[index]), also_without
        )

    async def check_amendment(self, amendment: Amendment) -> AmendmentCheck:
        items = [_Probe(amendment, i, stored) for i, stored in enumerate(amendment.preview)]
        if not items:
            return amendment_report(amendment, Health.untested, [], [])

        async def one(item: _Probe) -> ProbeCheck:
            result = await self.run_probe(item)
            self.done += 1
            self.events.put_nowait(
                CheckProgress(
                    event="probe",
                    total=self.total,
                    done=self.done,
                    amendment_id=amendment.id,
                    probe=result,
                )
            )
            return result

        probes = list(await asyncio.gather(*(one(item) for item in items)))
        conflicts = await find_conflicts(
            self.rerun_probe, self.context, amendment, probes, self.conflict_candidates
        )
        probes = [
            p.model_copy(update={"conflict_with": conflicts[p.index]})
            if p.index in conflicts
            else p
            for p in probes
        ]
        health = amendment_health(probes, conflicts)
        return amendment_report(amendment, health, probes, sorted(set(conflicts.values())))


def check_targets(context: CollabContext, amendment_ids: Sequence[str] | None) -> list[Amendment]:
    """The enabled amendments to check: all of them, or those named (each must exist
    and be enabled)."""
    if amendment_ids is None:
        return context.enabled_amendments()
    targets = []
    for amendment_id in amendment_ids:
        amendment = context.amendment(amendment_id)  # NotFoundError naming the id
        if not amendment.enabled:
            raise InvalidRequestError(
                f"amendment {amendment_id} is {amendment.status.value}: only enabled "
                "amendments are checked"
            )
        if amendment not in targets:
            targets.append(amendment)
    return targets


async def run_check(
    provider: Provider,
    ops: OpsClient,
    context: CollabContext,
    *,
    settings: PreviewSettings,
    cache: BaselineCache,
    amendment_ids: Sequence[str] | None = None,
    record: BaselineCache | None = None,
    replay: bool = False,
    conflict_candidates: int = CONFLICT_CANDIDATES,
    cancel_event: asyncio.Event | None = None,
) -> AsyncIterator[CheckProgress]:
    """Yield ``started``; ``probe`` events as probes are answered; an ``amendment``
    event as each amendment's health is known (again for an amendment a later
    conflict names); ``finished`` with the report (amendments in context order).

    A failing call cancels the rest and raises; ``cancel_event`` finishes early
    with ``report.cancelled`` set; closing the iterator cancels everything.
    """
    targets = check_targets(context, amendment_ids)
    comparer = ProbeComparer(provider, ops, settings, cache, record=record, replay=replay)
    run = _Run(provider, comparer, context, settings, max(0, conflict_candidates))
    # Assemble every request first: a probe that cannot be assembled fails before any call.
    for amendment in targets:
        for stored in amendment.preview:
            requests = _requests(provider, stored.probe, context, settings, [amendment.id])
            run.model = run.model or requests.model
    run.model = run.model or provider.resolve_model(ChatRequest(model=settings.model, messages=[]))
    run.total = sum(len(a.preview) for a in targets)
    started, at = time.monotonic(), utcnow()
    yield CheckProgress(event="started", total=run.total, amendments=len(targets))

    checks: dict[str, AmendmentCheck] = {}

    async def one(amendment: Amendment) -> None:
        check = await run.check_amendment(amendment)
        checks[amendment.id] = check
        run.events.put_nowait(
            CheckProgress(event="amendment", total=run.total, done=run.done, amendment=check)
        )
        for changed in pair_conflicts(checks):
            run.events.put_nowait(
                CheckProgress(event="amendment", total=run.total, done=run.done, amendment=changed)
            )

    everything = asyncio.ensure_future(asyncio.gather(*(one(a) for a in targets)))
    waiter = asyncio.ensure_future(cancel_event.wait()) if cancel_event is not None else None
    cancelled = False
    try:
        while True:
            getter = asyncio.ensure_future(run.events.get())
            watch = {getter, everything, *([waiter] if waiter is not None else [])}
            done, _ = await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
                continue
            getter.cancel()
            if everything in done:
                everything.result()  # a failure propagates
                while not run.events.empty():
                    yield run.events.get_nowait()
                break
            cancelled = True  # the cancel event
            break
    finally:
        for task in (everything, waiter):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    order = {a.id: i for i, a in enumerate(context.amendments)}
    report = CheckReport(
        provider=provider.name,
        model=run.model,
        at=at,
        amendments=sorted(checks.values(), key=lambda c: order[c.amendment_id]),
        cancelled=cancelled,
        replayed=replay,
        calls=comparer.calls,
        duration_s=round(time.monotonic() - started, 3),
    )
    yield CheckProgress(event="finished", total=run.total, done=run.done, report=report)
