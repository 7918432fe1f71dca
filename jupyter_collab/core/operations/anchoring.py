"""Re-anchoring a stored highlight on a (possibly changed) answer.

A highlight carries two W3C selectors: a text position (start/end) and a text
quote (exact span plus ~32 characters of prefix and suffix). To place it on a
text:

1. the position, when the text there is still exactly the quote: ``exact``;
2. otherwise every occurrence of the quote, plus near matches of a slightly
   edited quote (found between the old prefix and suffix, or by aligning the
   quote around the old place), each scored on how well the quote, the prefix
   and suffix (the characters right next to the span) and the distance from the
   old position agree; a long quote that occurs exactly once needs less context.
   Near matches are only a fallback when no exact occurrence reaches the
   threshold. The best candidate at or above the threshold is ``moved``;
3. below the threshold the highlight is ``orphaned``: a highlight that cannot be
   placed with confidence is never put on a look-alike.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from ..context_model import Highlight, TextPositionSelector, TextQuoteSelector
from ..operation_models import AnchorPlacement, AnchorQuery

DEFAULT_THRESHOLD = 0.75
QUOTE_WEIGHT = 50.0
PREFIX_WEIGHT = 20.0
SUFFIX_WEIGHT = 20.0
POSITION_WEIGHT = 2.0
#: A near match must be at least this similar to the quote.
MIN_FUZZY_SIMILARITY = 0.8
#: Shorter quotes are only matched exactly (short look-alikes are everywhere).
MIN_FUZZY_LENGTH = 8
MAX_FUZZY_LENGTH = 2_000
MAX_FUZZY_WINDOW = 20_000
MAX_OCCURRENCES = 1_000
#: A quote this long that occurs exactly once needs no context to be placed.
UNIQUE_QUOTE_LENGTH = 80


@dataclass(frozen=True)
class AnchorResult:
    status: Literal["exact", "moved", "orphaned"]
    start: int | None
    end: int | None
    score: float

    @property
    def placed(self) -> bool:
        return self.status != "orphaned"


def _ratio(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _common_suffix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _side_score(expected: str, actual: str, *, before: bool) -> float:
    """How much of the stored prefix (suffix) still stands right next to a candidate.

    Only agreement adjacent to the span counts: a context that is merely similar
    (the same words shifted by a few characters) is what a look-alike has.
    """
    if not expected:
        return 1.0 if not actual else 0.5
    adjacent = _common_suffix(expected, actual) if before else _common_prefix(expected, actual)
    return adjacent / len(expected)


def _occurrences(text: str, exact: str) -> list[int]:
    found: list[int] = []
    start = text.find(exact)
    while start >= 0 and len(found) < MAX_OCCURRENCES:
        found.append(start)
        start = text.find(exact, start + 1)
    return found


def _fuzzy_candidates(
    text: str, position: TextPositionSelector | None, quote: TextQuoteSelector
) -> set[tuple[int, int]]:
    exact = quote.exact
    spans: set[tuple[int, int]] = set()
    reach = 2 * len(exact) + 32
    # Between the old prefix and suffix (the span was edited in place).
    if len(quote.prefix) >= 4:
        for occ in _occurrences(text, quote.prefix)[:50]:
            start = occ + len(quote.prefix)
            end = start + len(exact)
            if quote.suffix:
                found = text.find(quote.suffix, start, start + reach + len(quote.suffix))
                if found >= 0:
                    end = found
            spans.add((start, min(end, len(text))))
    if len(quote.suffix) >= 4:
        for occ in _occurrences(text, quote.suffix)[:50]:
            spans.add((max(0, occ - len(exact)), occ))
    # The quote aligned on its longest common run, near the old place.
    if len(text) <= MAX_FUZZY_WINDOW:
        lo, hi = 0, len(text)
    else:
        center = position.start if position is not None else len(text) // 2
        lo = max(0, center - MAX_FUZZY_WINDOW // 2)
        hi = min(len(text), lo + MAX_FUZZY_WINDOW)
    window = text[lo:hi]
    matcher = difflib.SequenceMatcher(None, window, exact, autojunk=False)
    match = matcher.find_longest_match(0, len(window), 0, len(exact))
    if match.size >= max(4, len(exact) // 4):
        start = max(0, lo + match.a - match.b)
        spans.add((start, min(len(text), start + len(exact))))
    return {(s, e) for s, e in spans if e > s}


def _score(
    text: str,
    start: int,
    end: int,
    position: TextPositionSelector | None,
    quote: TextQuoteSelector,
    quote_similarity: float,
    unique_bonus: float,
) -> float:
    prefix = text[max(0, start - len(quote.prefix)) : start] if quote.prefix else text[:start][-1:]
    suffix = text[end : end + len(quote.suffix)] if quote.suffix else text[end : end + 1]
    context = (
        PREFIX_WEIGHT * _side_score(quote.prefix, prefix, before=True)
        + SUFFIX_WEIGHT * _side_score(quote.suffix, suffix, before=False)
    ) / (PREFIX_WEIGHT + SUFFIX_WEIGHT)
    context = max(context, unique_bonus)
    if position is None:
        closeness = 0.5
    else:
        distance = abs(start - position.start)
        closeness = 1.0 - min(1.0, distance / max(len(text), len(quote.exact), 1))
    total = QUOTE_WEIGHT + PREFIX_WEIGHT + SUFFIX_WEIGHT + POSITION_WEIGHT
    return (
        QUOTE_WEIGHT * quote_similarity
        + (PREFIX_WEIGHT + SUFFIX_WEIGHT) * context
        + POSITION_WEIGHT * closeness
    ) / total


def anchor(
    text: str,
    position: TextPositionSelector | None,
    quote: TextQuoteSelector,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> AnchorResult:
    """Place a highlight on ``text``: exact, moved, or orphaned below ``threshold``."""
    exact = quote.exact
    if (
        position is not None
        and position.end <= len(text)
        and text[position.start : position.end] == exact
    ):
        return AnchorResult("exact", position.start, position.end, 1.0)

    best: tuple[float, int, int] | None = None
    occurrences = _occurrences(text, exact)
    unique_bonus = min(1.0, len(exact) / UNIQUE_QUOTE_LENGTH) if len(occurrences) == 1 else 0.0
    for start in occurrences:
        score = _score(text, start, start + len(exact), position, quote, 1.0, unique_bonus)
        if best is None or score > best[0]:
            best = (score, start, start + len(exact))
    exact_found = best is not None and best[0] >= threshold
    if not exact_found and MIN_FUZZY_LENGTH <= len(exact) <= MAX_FUZZY_LENGTH:
        # Fallback: a slightly edited quote.
        for start, end in _fuzzy_candidates(text, position, quote):
            similarity = _ratio(text[start:end], exact)
            if similarity < MIN_FUZZY_SIMILARITY or similarity == 1.0:
                continue  # too different, or an exact occurrence already scored
            score = _score(text, start, end, position, quote, similarity, 0.0)
            if best is None or score > best[0]:
                best = (score, start, end)
    if best is None or best[0] < threshold:
        return AnchorResult("orphaned", None, None, round(best[0], 4) if best else 0.0)
    score, start, end = best
    return AnchorResult("moved", start, end, round(score, 4))


def anchor_highlight(
    text: str, highlight: Highlight, *, threshold: float = DEFAULT_THRESHOLD
) -> AnchorResult:
    return anchor(text, highlight.position, highlight.quote, threshold=threshold)


def place(query: AnchorQuery, *, threshold: float = DEFAULT_THRESHOLD) -> AnchorPlacement:
    """A highlight placed on its current text; no text (the cell is gone, or has no
    answer) orphans it."""
    if query.text is None:
        return AnchorPlacement(id=query.id, status="orphaned", score=0.0)
    result = anchor(query.text, query.position, query.quote, threshold=threshold)
    return AnchorPlacement(
        id=query.id,
        status=result.status,
        start=result.start,
        end=result.end,
        score=min(1.0, max(0.0, result.score)),
    )


def make_quote(text: str, start: int, end: int, context_chars: int = 32) -> TextQuoteSelector:
    """The quote selector of ``text[start:end]`` with its prefix and suffix."""
    if not 0 <= start < end <= len(text):
        raise ValueError(f"invalid span {start}..{end} of a {len(text)}-character text")
    return TextQuoteSelector(
        exact=text[start:end],
        prefix=text[max(0, start - context_chars) : start],
        suffix=text[end : end + context_chars],
    )
