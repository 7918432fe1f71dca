"""The context panel's operations on amendments: add, edit, toggle, remove,
restore and undo.

All are pure: they take a context and return a NEW context (a deep copy) plus
the entry concerned; the caller saves it with the revision check. Every change
of an existing entry records its previous state in ``history`` and bumps the
entry's ``rev`` (which is what reconciling a sidecar with an embedded copy
compares).
"""

from __future__ import annotations

from typing import Literal

from ..context_model import (
    MAX_TOMBSTONES,
    Amendment,
    AmendmentKind,
    AmendmentRevision,
    AmendmentStatus,
    CollabContext,
    Provenance,
    utcnow,
)
from ..errors import InvalidRequestError, NotFoundError
from .common import normalize

MAX_HISTORY = 500

Source = Literal["loop", "user", "cli", "import"]


def _copy(context: CollabContext) -> CollabContext:
    return context.editable_copy()


def _index(context: CollabContext, amendment_id: str) -> int:
    for i, entry in enumerate(context.amendments):
        if entry.id == amendment_id:
            return i
    raise NotFoundError(f"no amendment with id {amendment_id!r} in this context")


def find_duplicate(
    context: CollabContext | None, text: str, *, ignore_id: str | None = None
) -> Amendment | None:
    """An entry (not superseded) whose text is the same as ``text`` up to case,
    punctuation and spacing."""
    if context is None:
        return None
    key = normalize(text)
    for entry in context.amendments:
        if entry.id == ignore_id or entry.status == AmendmentStatus.superseded:
            continue
        if normalize(entry.text) == key:
            return entry
    return None


def _check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidRequestError("the amendment text is empty")
    return text


def add_amendment(
    context: CollabContext,
    kind: AmendmentKind | str,
    text: str,
    *,
    rationale: str = "",
    status: AmendmentStatus = AmendmentStatus.accepted,
    provenance: Provenance | None = None,
    source: Source = "user",
    allow_duplicate: bool = False,
) -> tuple[CollabContext, Amendment]:
    """Append a new amendment (new entries go last: prompt assembly keeps order)."""
    text = _check_text(text)
    try:
        kind = AmendmentKind(kind)
    except ValueError:
        raise InvalidRequestError(f"kind must be 'fact' or 'process', not {kind!r}") from None
    if not allow_duplicate:
        existing = find_duplicate(context, text)
        if existing is not None:
            raise InvalidRequestError(
                f"amendment {existing.id} already says this ({existing.status.value}); "
                "edit or enable that entry instead"
            )
    amendment = Amendment(
        kind=kind,
        text=text,
        rationale=rationale.strip(),
        status=status,
        provenance=provenance or Provenance(source=source),
    )
    updated = _copy(context)
    updated.amendments.append(amendment)
    return updated, amendment


def _revise(
    context: CollabContext,
    amendment_id: str,
    note: str,
    **changes: object,
) -> tuple[CollabContext, Amendment]:
    updated = _copy(context)
    index = _index(updated, amendment_id)
    current = updated.amendments[index]
    revision = AmendmentRevision(
        at=current.updated,
        kind=current.kind,
        text=current.text,
        status=current.status,
        note=note[:500],
    )
    history = [*current.history, revision][-MAX_HISTORY:]
    data = current.model_dump()
    data.update(changes)
    data.update(history=history, rev=current.rev + 1, updated=utcnow())
    revised = Amendment.model_validate(data)
    updated.amendments[index] = revised
    return updated, revised


def edit_amendment(
    context: CollabContext,
    amendment_id: str,
    *,
    text: str | None = None,
    kind: AmendmentKind | str | None = None,
    rationale: str | None = None,
    note: str = "edited",
) -> tuple[CollabContext, Amendment]:
    current = context.amendment(amendment_id)
    changes: dict[str, object] = {}
    if text is not None:
        text = _check_text(text)
        duplicate = find_duplicate(context, text, ignore_id=amendment_id)
        if duplicate is not None:
            raise InvalidRequestError(f"amendment {duplicate.id} already says this")
        if text != current.text:
            changes["text"] = text
    if kind is not None:
        try:
            kind = AmendmentKind(kind)
        except ValueError:
            raise InvalidRequestError(f"kind must be 'fact' or 'process', not {kind!r}") from None
        if kind != current.kind:
            changes["kind"] = kind
    if rationale is not None and rationale.strip() != current.rationale:
        changes["rationale"] = rationale.strip()
    if not changes:
        return _copy(context), current.model_copy(deep=True)
    return _revise(context, amendment_id, note, **changes)


def set_status(
    context: CollabContext, amendment_id: str, status: AmendmentStatus | str, note: str = ""
) -> tuple[CollabContext, Amendment]:
    status = AmendmentStatus(status)
    current = context.amendment(amendment_id)
    if current.status == status:
        return _copy(context), current.model_copy(deep=True)
    return _revise(context, amendment_id, note or status.value, status=status)


def toggle_amendment(context: CollabContext, amendment_id: str) -> tuple[CollabContext, Amendment]:
    """Enabled entries become disabled; any other becomes enabled (accepted)."""
    current = context.amendment(amendment_id)
    if current.enabled:
        return set_status(context, amendment_id, AmendmentStatus.disabled, "disabled")
    return set_status(context, amendment_id, AmendmentStatus.accepted, "enabled")


def remove_amendment(
    context: CollabContext, amendment_id: str
) -> tuple[CollabContext, Amendment, int]:
    """Delete an amendment; return it and its index so :func:`restore_amendment` can undo.

    Its id is kept as a tombstone in ``removed`` so that an older copy of the
    context (the one embedded in the notebook) cannot bring it back. Its
    highlight and correction stay: they annotate the answer they came from.
    """
    updated = _copy(context)
    index = _index(updated, amendment_id)
    removed = updated.amendments.pop(index)
    tombstones = [i for i in updated.removed if i != removed.id]
    updated.removed = [*tombstones, removed.id][-MAX_TOMBSTONES:]
    return updated, removed, index


def restore_amendment(
    context: CollabContext, amendment: Amendment, index: int | None = None
) -> CollabContext:
    """Put a removed amendment back (at its old place when given)."""
    if any(entry.id == amendment.id for entry in context.amendments):
        raise InvalidRequestError(f"amendment {amendment.id} is already in the context")
    updated = _copy(context)
    position = len(updated.amendments) if index is None else max(0, index)
    restored = amendment.model_copy(deep=True, update={"rev": amendment.rev + 1})
    updated.amendments.insert(min(position, len(updated.amendments)), restored)
    updated.removed = [i for i in updated.removed if i != amendment.id]
    return updated


def undo_amendment(context: CollabContext, amendment_id: str) -> tuple[CollabContext, Amendment]:
    """Return an amendment to the state before its last change."""
    current = context.amendment(amendment_id)
    if not current.history:
        raise InvalidRequestError(f"amendment {amendment_id} has no earlier revision to undo to")
    previous = current.history[-1]
    updated = _copy(context)
    index = _index(updated, amendment_id)
    data = current.model_dump()
    data.update(
        kind=previous.kind,
        text=previous.text,
        status=previous.status,
        history=current.history[:-1],
        rev=current.rev + 1,
        updated=utcnow(),
    )
    reverted = Amendment.model_validate(data)
    updated.amendments[index] = reverted
    return updated, reverted


def carry_tombstones(previous: CollabContext | None, replacement: CollabContext) -> CollabContext:
    """``replacement`` (a whole context a client sends to replace ``previous``) with the
    tombstones it must keep: those of ``previous``, and the ids of entries it drops
    (dropping an entry deletes it). Ids present in ``replacement`` are not tombstones."""
    if previous is None:
        return replacement
    lists = ("amendments", "highlights", "corrections")
    kept = {entry.id for name in lists for entry in getattr(replacement, name)}
    dropped = [entry.id for name in lists for entry in getattr(previous, name)]
    ordered = dict.fromkeys([*previous.removed, *replacement.removed, *dropped])
    removed = [i for i in ordered if i not in kept][-MAX_TOMBSTONES:]
    return replacement.model_copy(update={"removed": removed})
