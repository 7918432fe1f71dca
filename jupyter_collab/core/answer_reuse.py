"""Whether a collaborator cell reuses a stored answer or calls the model, by run mode
and input hash: the run-mode rule of ``replay.py`` applied to a cell's stored answers
(this session's, the notebook's, an executed copy's). Door-neutral: the kernel door
calls it for every cell; it needs no IPython."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .broker import Broker
from .config import CollabConfig
from .errors import ConfigurationError
from .operation_models import CompletionInput
from .providers.recorded import RecordedProvider
from .replay import Decision, RunMode, StoredAnswer, decide, feedback_exclusions


def decide_reuse(
    mode: RunMode,
    config: CollabConfig,
    broker: Callable[[], Broker],
    request: CompletionInput,
    context: Any,
    candidates: list[StoredAnswer | None],
    where: str,
    cell_id: str | None = None,
) -> Decision:
    """The run mode's decision; replay needs no provider at all (``broker`` is
    only called when another mode needs the configured provider).

    Replay checks each stored answer against the request as *its* provider and
    model would have received it (so replaying a notebook recorded with another
    provider works, e.g. in CI); auto uses the configured provider and falls
    back to that check only when no provider can be built here.
    """
    unusable: ConfigurationError | None = None
    if mode != RunMode.replay:
        try:
            prepared = broker().prepare(request, context)
        except ConfigurationError as err:
            if mode != RunMode.auto:
                raise
            unusable = err
        else:
            if mode == RunMode.auto:
                reusable = _reusable_despite_feedback(
                    broker(), request, context, candidates, cell_id
                )
                if reusable is not None:
                    return decide(RunMode.replay, reusable.input_hash, [reusable], where=where)
            return decide(mode, prepared.input_hash, candidates, where=where)
    stored = [c for c in candidates if c is not None]
    hashes = [
        _prepare_as(
            config, c, request, context, feedback_exclusions(context, cell_id, c)
        ).input_hash
        for c in stored
    ]
    for candidate, input_hash in zip(stored, hashes, strict=True):
        if candidate.reusable and candidate.input_hash == input_hash:
            return decide(RunMode.replay, input_hash, [candidate], where=where)
    if unusable is not None:
        raise unusable
    return decide(mode, hashes[0] if hashes else "", candidates, where=where)


def _prepare_as(
    config: CollabConfig,
    stored: StoredAnswer,
    request: CompletionInput,
    context: Any,
    exclude_ids: list[str] | None = None,
):
    result = stored.output.result
    recorded = Broker(config, provider=RecordedProvider(result.provider, result.model))
    return recorded.prepare(request, context, exclude_ids=exclude_ids or ())


def _reusable_despite_feedback(
    broker: Broker,
    request: CompletionInput,
    context: Any,
    candidates: list[StoredAnswer | None],
    cell_id: str | None,
) -> StoredAnswer | None:
    """A stored answer whose only changed input is feedback given on it (see
    ``core.replay.feedback_exclusions``)."""
    for candidate in candidates:
        if candidate is None or not candidate.reusable:
            continue
        excluded = feedback_exclusions(context, cell_id, candidate)
        if not excluded:
            continue
        prepared = broker.prepare(request, context, exclude_ids=excluded)
        if prepared.input_hash == candidate.input_hash:
            return candidate
    return None
