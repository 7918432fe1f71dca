"""Conflicts between amendments: which enabled amendment makes another's probe fail.

When an amendment's probe fails, the few other enabled amendments whose words are
closest to it and its failing probes (:func:`conflict_candidates`) are each
removed in turn and the probe asked again; one whose removal makes the probe pass
is in conflict with the amendment, and both name each other
(:func:`pair_conflicts`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from ..context_model import Amendment, CollabContext, Health
from ..operation_models import AmendmentCheck, ProbeCheck
from .common import content_words, word_overlap

#: Other amendments tried as the cause of a failing probe, per failing amendment.
CONFLICT_CANDIDATES = 3
#: Failing probes of one amendment tried against each candidate.
CONFLICT_PROBES = 2

#: Asks probe ``index`` of an amendment again with the context less the given ids.
RunProbe = Callable[[Amendment, int, Sequence[str]], Awaitable[ProbeCheck]]


def conflict_candidates(
    context: CollabContext, amendment: Amendment, failing: list[ProbeCheck], limit: int
) -> list[Amendment]:
    """The other enabled amendments most likely to pull against ``amendment``:
    those sharing the most words with it and its failing probes."""
    words = content_words(amendment.text + " " + " ".join(p.prompt for p in failing))
    others = [a for a in context.enabled_amendments() if a.id != amendment.id]
    scored = sorted(others, key=lambda a: word_overlap(words, content_words(a.text)), reverse=True)
    return scored[:limit]


async def find_conflicts(
    run_probe: RunProbe,
    context: CollabContext,
    amendment: Amendment,
    probes: list[ProbeCheck],
    limit: int,
) -> dict[int, str]:
    """Failing probe index -> the id of an amendment whose removal makes it pass."""
    failing = [p for p in probes if p.outcome == "fail"][:CONFLICT_PROBES]
    if not failing:
        return {}
    trials = [
        (probe, other)
        for other in conflict_candidates(context, amendment, failing, limit)
        for probe in failing
    ]
    results = await asyncio.gather(
        *(run_probe(amendment, probe.index, [other.id]) for probe, other in trials)
    )
    found: dict[int, str] = {}
    for (probe, other), result in zip(trials, results, strict=True):
        if result.outcome == "pass" and probe.index not in found:
            found[probe.index] = other.id
    return found


def pair_conflicts(checks: dict[str, AmendmentCheck]) -> list[AmendmentCheck]:
    """Name each conflict on both sides; returns the checks that changed."""
    changed: dict[str, AmendmentCheck] = {}
    for check in list(checks.values()):
        for other_id in check.conflicts_with:
            other = checks.get(other_id)
            if other is None or check.amendment_id in other.conflicts_with:
                continue
            summary = (
                f"pulls against {check.amendment_id}, whose probes fail with it enabled; "
                + other.summary
            )
            other = other.model_copy(
                update={
                    "health": Health.conflict,
                    "conflicts_with": [*other.conflicts_with, check.amendment_id],
                    "summary": summary,
                }
            )
            checks[other_id] = changed[other_id] = other
    return list(changed.values())
