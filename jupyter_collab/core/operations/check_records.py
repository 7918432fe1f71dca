"""What a check leaves on the context (a :class:`CheckRecord` per amendment) and
which recorded answers a replayed check reads."""

from __future__ import annotations

from ..context_model import CheckRecord, CollabContext
from ..errors import InvalidRequestError
from ..operation_models import CheckReport


def replay_identity(
    context: CollabContext,
    provider: str | None,
    model: str | None,
    default_provider: str | None = None,
) -> tuple[str, str]:
    """The provider and model whose recorded answers a replay reads: those given,
    else those of the last check kept on the amendments (else ``default_provider``)."""
    last = max(
        (a.check for a in context.amendments if a.check is not None),
        key=lambda record: record.at,
        default=None,
    )
    provider = provider or (last.provider if last else None) or default_provider
    model = model or (last.model if last else None)
    if provider is None or model is None:
        raise InvalidRequestError(
            "a replayed check needs to know which provider and model answered: no check is "
            "kept on the amendments, so name the provider and the model"
        )
    return provider, model


def record_check(context: CollabContext, report: CheckReport) -> CollabContext:
    """A NEW context with each checked amendment's :class:`CheckRecord` set from
    ``report`` (nothing else changes: no revision of the amendment, no history)."""
    updated = context.editable_copy()
    by_id = {a.id: a for a in updated.amendments}
    for check in report.amendments:
        amendment = by_id.get(check.amendment_id)
        if amendment is None:
            continue  # removed since the check started
        amendment.check = CheckRecord(
            health=check.health,
            at=report.at,
            provider=report.provider,
            model=report.model,
            summary=check.summary[:1000],
            conflicts_with=[c for c in check.conflicts_with if c in by_id],
            probes_passed=sum(1 for p in check.probes if p.outcome == "pass"),
            probes_total=len(check.probes),
            replayed=report.replayed,
        )
    return updated
