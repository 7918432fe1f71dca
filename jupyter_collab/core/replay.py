"""Run modes and the reuse decision: when may a collaborator cell show a stored answer?

Door-neutral (no IPython, no tornado): the kernel door uses it for headless
runs, and any other door may use it the same way.

Every answer records ``input_hash``, a hash of everything that shaped it
(provider, model, parameters, the system prompt with the context, the
conversation; see :func:`jupyter_collab.core.assembly.input_hash`). A door
prepares the request without calling the model (``Broker.prepare``), compares
hashes and then:

========  ===================================================================
mode      behaviour
========  ===================================================================
auto      reuse the stored answer when its input hash equals the prepared
          one; call the model otherwise (the default)
replay    never call; a missing or stale stored answer is an error
record    always call, and keep the new answer for reuse
live      always call, and keep nothing extra for reuse
========  ===================================================================

A reused answer is displayed from the stored bundle itself (byte-identical);
it is rebuilt only when the annotations on it (highlights and corrections in
the context) changed since it was stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .context_model import CollabContext, Highlight, TextPositionSelector
from .errors import InvalidRequestError, ReplayMissError
from .operations.anchoring import anchor_highlight, make_quote
from .outputs import MIME_TYPE, AnnotatedHighlight, CollabOutput, build_bundle

RUN_MODE_ENV = "JUPYTER_COLLAB_MODE"


class RunMode(str, Enum):
    auto = "auto"
    replay = "replay"
    record = "record"
    live = "live"


def parse_run_mode(value: str | RunMode | None, *, source: str = RUN_MODE_ENV) -> RunMode:
    """``None`` or ``""`` means auto; anything unknown is an error naming ``source``."""
    if value is None or value == "":
        return RunMode.auto
    if isinstance(value, RunMode):
        return value
    try:
        return RunMode(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in RunMode)
        raise InvalidRequestError(
            f"{source}={value!r} is not a run mode; use one of: {choices}"
        ) from None


@dataclass
class StoredAnswer:
    """An answer already shown once: earlier in this session, in the notebook on disk,
    or in the output notebook of an earlier headless run."""

    output: CollabOutput
    data: dict[str, Any]  # the display bundle exactly as stored
    metadata: dict[str, Any]
    origin: str  # "notebook" or "session"
    reusable: bool = True  # False for answers from live mode

    @property
    def input_hash(self) -> str:
        return self.output.result.input_hash

    @classmethod
    def from_nb_output(cls, nb_output: dict[str, Any], origin: str) -> StoredAnswer | None:
        """Wrap one nbformat output dict; ``None`` when it is not ours or is damaged."""
        from .outputs import read_output

        output = read_output(nb_output)
        if output is None:
            return None
        return cls(
            output=output,
            data=_plain(nb_output.get("data") or {}),
            metadata=_plain(nb_output.get("metadata") or {}),
            origin=origin,
        )


def stored_answer_of_cell(cell: dict[str, Any], origin: str = "notebook") -> StoredAnswer | None:
    """The first output of ``cell`` carrying the project's MIME type."""
    for nb_output in cell.get("outputs") or []:
        if MIME_TYPE in (nb_output.get("data") or {}):
            found = StoredAnswer.from_nb_output(nb_output, origin)
            if found is not None:
                return found
    return None


class Action(str, Enum):
    reuse = "reuse"
    call = "call"


@dataclass
class Decision:
    action: Action
    reason: str
    stored: StoredAnswer | None = None
    keep_for_reuse: bool = True  # whether a new answer is kept for later reuse


def decide(
    mode: RunMode,
    input_hash: str,
    candidates: Iterable[StoredAnswer | None],
    *,
    where: str = "this cell",
) -> Decision:
    """Choose between reusing a stored answer and calling the model.

    ``candidates`` are in order of preference (e.g. this session's answer, then
    the one on disk). Raises :class:`ReplayMissError` in replay mode when none
    matches.
    """
    stored = [c for c in candidates if c is not None]
    match = next((c for c in stored if c.reusable and c.input_hash == input_hash), None)
    if mode in (RunMode.auto, RunMode.replay) and match is not None:
        return Decision(Action.reuse, f"input hash unchanged ({match.origin})", match)
    if mode == RunMode.replay:
        if not stored:
            problem = "has no stored answer"
        else:
            problem = (
                f"has a stored answer made from different inputs (stored {stored[0].input_hash}, "
                f"now {input_hash}): the prompt, a {{variable}}, the context, the model or a "
                "parameter changed since it was recorded"
            )
        raise ReplayMissError(
            f"replay mode: {where} {problem}. Run once in 'auto' or 'record' mode "
            f"({RUN_MODE_ENV}=record) to store a fresh answer."
        )
    if mode == RunMode.record:
        return Decision(Action.call, "record mode always calls", keep_for_reuse=True)
    if mode == RunMode.live:
        return Decision(Action.call, "live mode always calls", keep_for_reuse=False)
    reason = "no stored answer" if not stored else "inputs changed since the stored answer"
    return Decision(Action.call, reason, keep_for_reuse=True)


def feedback_exclusions(
    context: CollabContext | None, cell_id: str | None, stored: StoredAnswer
) -> list[str]:
    """Amendments finalized from feedback on this cell's answer that the answer did not use.

    An answer is not made stale by the feedback given on it: the researcher
    highlighted it, corrected it and turned the correction into an amendment, and
    the answer stays the record of what the model said. So when deciding whether
    a stored answer may be reused, those amendments are left out of the inputs.
    Any other change of the context (an amendment from another cell, an edited
    or removed one the answer did use) still makes it stale. Running the cell
    again in ``record`` mode (or from JupyterLab) answers with them applied.
    """
    if context is None or not cell_id:
        return []
    used = set(stored.output.result.included_amendments)
    return [
        a.id for a in context.amendments if a.provenance.cell_id == cell_id and a.id not in used
    ]


# -- the annotations an answer is shown with -----------------------------------------


def _anchor(highlight: Highlight, answer: str) -> Highlight | None:
    """Place ``highlight`` on ``answer`` (the loop's anchoring rule), or ``None`` if orphaned."""
    placed = anchor_highlight(answer, highlight)
    if not placed.placed or placed.start is None or placed.end is None:
        return None
    if placed.status == "exact":
        return highlight
    return highlight.model_copy(
        update={
            "position": TextPositionSelector(start=placed.start, end=placed.end),
            "quote": make_quote(answer, placed.start, placed.end),
        }
    )


def cell_highlights(
    context: CollabContext | None, cell_id: str | None, answer: str
) -> list[AnnotatedHighlight]:
    """The highlights of ``cell_id`` (with their corrections) anchored on ``answer``.

    Highlights whose quote is no longer in the answer are left out (orphaned
    rather than misplaced).
    """
    if context is None or not cell_id:
        return []
    found: list[AnnotatedHighlight] = []
    for highlight in context.highlights:
        if highlight.cell_id != cell_id:
            continue
        anchored = _anchor(highlight, answer)
        if anchored is None:
            continue
        corrections = [c for c in context.corrections if c.highlight_id == highlight.id]
        amendment_ids = [
            a.id for a in context.amendments if a.provenance.highlight_id == highlight.id
        ]
        found.append(
            AnnotatedHighlight(
                highlight=anchored, corrections=corrections, amendment_ids=amendment_ids
            )
        )
    return found


def redisplay_bundle(
    stored: StoredAnswer, context: CollabContext | None, cell_id: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a reused answer displays: the stored bundle itself, unless its annotations changed."""
    result = stored.output.result
    highlights = cell_highlights(context, cell_id or result.cell_id, result.answer)
    current = [h.model_dump(mode="json") for h in highlights]
    before = [h.model_dump(mode="json") for h in stored.output.highlights]
    if current == before:
        return stored.data, stored.metadata
    return build_bundle(stored.output.model_copy(update={"highlights": highlights}))


def _plain(value: Any) -> Any:
    """nbformat's NotebookNode (a dict subclass) as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
