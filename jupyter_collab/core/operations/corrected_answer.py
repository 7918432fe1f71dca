"""An answer with a correction applied to its highlighted span.

The span is placed by the anchoring rules (``anchoring.py``: the stored position
when it still selects the quote, else the quote found again, else orphaned), in
code points like every offset here. What each operation does is what the
suggestions promise (``suggest.py``): ``replace`` puts the text in place of the
span, ``delete`` removes it, ``insert`` adds the text right after it, and a
``comment`` says what is wrong without rewriting anything, so it yields no
corrected answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..context_model import Correction, CorrectionOperation, Highlight
from .anchoring import AnchorResult, anchor_highlight

#: Characters that attach to the word before them: an insertion starting with
#: one gets no space in front.
_ATTACHING = ",.;:!?)]}…'\""


@dataclass(frozen=True)
class CorrectedAnswer:
    """Where the span was found, and the answer with the correction applied
    (``None`` for a comment, or when the span cannot be placed)."""

    placement: AnchorResult
    text: str | None


def _deleted(before: str, after: str) -> str:
    # Deleting a word between two spaces leaves two: keep one. Deleting the first
    # sentence of a line leaves the space after it at the line's start: drop it.
    if not before or before.endswith("\n"):
        return before + after.lstrip(" \t")
    if before.endswith((" ", "\t")) and after.startswith((" ", "\t")):
        return before + after[1:]
    return before + after


def _insertion(before: str, text: str, after: str) -> str:
    # "…mesa-optimization" + "(Hubinger et al., 2019)" reads as two words, not one.
    needs_space = (
        bool(before)
        and not before[-1].isspace()
        and bool(text)
        and not text[0].isspace()
        and text[0] not in _ATTACHING
    )
    return before + (" " if needs_space else "") + text + after


def apply_to_span(answer: str, start: int, end: int, correction: Correction) -> str | None:
    """``answer`` with ``correction`` applied to ``answer[start:end]``; ``None`` for a comment."""
    if not 0 <= start <= end <= len(answer):
        raise ValueError(f"invalid span {start}..{end} of a {len(answer)}-character answer")
    before, after = answer[:start], answer[end:]
    operation = correction.operation
    if operation == CorrectionOperation.replace:
        return before + correction.text + after
    if operation == CorrectionOperation.delete:
        return _deleted(before, after)
    if operation == CorrectionOperation.insert:
        return _insertion(answer[:end], correction.text, after)
    return None  # a comment describes the problem; it is not a rewrite


def corrected_answer(answer: str, highlight: Highlight, correction: Correction) -> CorrectedAnswer:
    """Place ``highlight`` on ``answer`` and apply ``correction`` there."""
    placement = anchor_highlight(answer, highlight)
    if not placement.placed or placement.start is None or placement.end is None:
        return CorrectedAnswer(placement, None)
    return CorrectedAnswer(
        placement, apply_to_span(answer, placement.start, placement.end, correction)
    )
