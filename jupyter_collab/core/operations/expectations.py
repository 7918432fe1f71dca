"""Edit the probes an amendment is checked with: set a probe's expectation (should
change / should not change), add a probe of the researcher's own, remove one.

Pure, like ``entries.py``: each returns a NEW context and the amendment. The
amendment's ``rev`` is bumped (reconciling with an embedded copy compares it);
its text history is not, as its text did not change.
"""

from __future__ import annotations

from ..context_model import (
    MAX_QUOTE_TEXT,
    Amendment,
    CollabContext,
    Expectation,
    PreviewResult,
    ProbeKind,
    Verdict,
    utcnow,
)
from ..errors import InvalidRequestError

ADDED_REASON = "Added by the researcher; not previewed yet."
MAX_PROBES_PER_AMENDMENT = 200


def parse_expectation(value: str | Expectation) -> Expectation:
    """``change`` / ``no_change`` (also ``no-change``, ``unchanged``, ``keep``)."""
    if isinstance(value, Expectation):
        return value
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"unchanged": "no_change", "keep": "no_change", "same": "no_change"}
    try:
        return Expectation(aliases.get(key, key))
    except ValueError:
        raise InvalidRequestError(
            f"{value!r} is not an expectation; use 'change' or 'no_change'"
        ) from None


def _amendment(context: CollabContext, amendment_id: str) -> tuple[CollabContext, Amendment]:
    updated = context.editable_copy()
    return updated, updated.amendment(amendment_id)  # NotFoundError naming the id


def _probe_index(amendment: Amendment, probe: int) -> int:
    """A 1-based probe number (as the CLI and the report show it) as a list index."""
    count = len(amendment.preview)
    if count == 0:
        raise InvalidRequestError(f"amendment {amendment.id} has no probes")
    if not 1 <= probe <= count:
        raise InvalidRequestError(
            f"amendment {amendment.id} has {count} probe(s): give a number from 1 to {count}, "
            f"not {probe}"
        )
    return probe - 1


def _touch(amendment: Amendment) -> None:
    amendment.rev += 1
    amendment.updated = utcnow()


def set_expectation(
    context: CollabContext, amendment_id: str, probe: int, expectation: str | Expectation
) -> tuple[CollabContext, Amendment]:
    """Probe number ``probe`` (1-based) of the amendment expects ``expectation``."""
    wanted = parse_expectation(expectation)
    updated, amendment = _amendment(context, amendment_id)
    index = _probe_index(amendment, probe)
    amendment.preview[index] = amendment.preview[index].model_copy(update={"expectation": wanted})
    _touch(amendment)
    return updated, amendment


def add_probe(
    context: CollabContext, amendment_id: str, prompt: str, expectation: str | Expectation
) -> tuple[CollabContext, Amendment]:
    """A probe of the researcher's own, checked from the next check on."""
    wanted = parse_expectation(expectation)
    prompt = prompt.strip()
    if not prompt:
        raise InvalidRequestError("the probe prompt is empty")
    if len(prompt) > MAX_QUOTE_TEXT:
        raise InvalidRequestError(f"the probe prompt is longer than {MAX_QUOTE_TEXT} characters")
    updated, amendment = _amendment(context, amendment_id)
    if any(p.probe.strip() == prompt for p in amendment.preview):
        raise InvalidRequestError(f"amendment {amendment.id} already has this probe")
    if len(amendment.preview) >= MAX_PROBES_PER_AMENDMENT:
        raise InvalidRequestError(
            f"amendment {amendment.id} already has {MAX_PROBES_PER_AMENDMENT} probes"
        )
    amendment.preview.append(
        PreviewResult(
            probe=prompt,
            probe_kind=ProbeKind.user,
            baseline_hash="",
            amended_hash="",
            verdict=Verdict.intended if wanted == Expectation.change else Verdict.unchanged,
            reason=ADDED_REASON,
            expectation=wanted,
        )
    )
    _touch(amendment)
    return updated, amendment


def remove_probe(
    context: CollabContext, amendment_id: str, probe: int
) -> tuple[CollabContext, Amendment]:
    updated, amendment = _amendment(context, amendment_id)
    del amendment.preview[_probe_index(amendment, probe)]
    _touch(amendment)
    return updated, amendment
