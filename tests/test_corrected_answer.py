"""A correction applied to its span (``core/operations/corrected_answer.py``): what each
operation does, spacing at the seams, and the span placed by the anchoring rules."""

from __future__ import annotations

import pytest

from jupyter_collab.core.context_model import (
    Correction,
    Highlight,
    TextPositionSelector,
    TextQuoteSelector,
)
from jupyter_collab.core.operations.anchoring import make_quote
from jupyter_collab.core.operations.corrected_answer import apply_to_span, corrected_answer

ANSWER = "Mesa-optimization was introduced by Smith et al. in 2021."


def _fix(operation: str, text: str = "") -> Correction:
    return Correction(operation=operation, text=text)


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


@pytest.mark.parametrize(
    ("operation", "text", "expected"),
    [
        (
            "replace",
            "Hubinger et al.",
            "Mesa-optimization was introduced by Hubinger et al. in 2021.",
        ),
        ("delete", "", "Mesa-optimization was introduced by in 2021."),
        (
            "insert",
            "(a guess; check the paper)",
            "Mesa-optimization was introduced by Smith et al. (a guess; check the paper) in 2021.",
        ),
        (
            "insert",
            ", probably,",
            "Mesa-optimization was introduced by Smith et al., probably, in 2021.",
        ),
    ],
)
def test_each_operation(operation, text, expected):
    start, end = _span(ANSWER, "Smith et al.")
    assert apply_to_span(ANSWER, start, end, _fix(operation, text)) == expected


def test_a_comment_rewrites_nothing():
    start, end = _span(ANSWER, "Smith et al.")
    assert apply_to_span(ANSWER, start, end, _fix("comment", "this reference is invented")) is None


def test_delete_keeps_the_text_around_the_span_as_it_is_otherwise():
    answer = "Use a log scale.\nThen plot."
    start, end = _span(answer, "\nThen plot.")
    assert apply_to_span(answer, start, end, _fix("delete")) == "Use a log scale."
    start, end = _span(answer, "Use ")
    assert apply_to_span(answer, start, end, _fix("delete")) == "a log scale.\nThen plot."
    # The first sentence of a line: the space that followed it goes too.
    answer = "Intro.\nThe trial had 20 patients. They were randomized."
    start, end = _span(answer, "The trial had 20 patients.")
    assert apply_to_span(answer, start, end, _fix("delete")) == "Intro.\nThey were randomized."


def test_insert_adds_a_space_only_where_words_would_run_together():
    answer = "See the paper. Then plot."
    start, end = _span(answer, "See the paper.")
    fixed = apply_to_span(answer, start, end, _fix("insert", "It is from 2019."))
    assert fixed == "See the paper. It is from 2019. Then plot."
    start, end = _span(answer, "See the paper. ")
    fixed = apply_to_span(answer, start, end, _fix("insert", "It is from 2019. "))
    assert fixed == "See the paper. It is from 2019. Then plot."


def test_a_span_outside_the_answer_is_refused():
    with pytest.raises(ValueError, match="invalid span"):
        apply_to_span(ANSWER, 5, len(ANSWER) + 1, _fix("delete"))


def test_offsets_are_code_points_around_astral_characters():
    answer = "🙂🙂 Smith et al. 🙂 wrote it."
    start, end = _span(answer, "Smith et al.")
    assert start == 3  # two emoji and a space: three code points, five UTF-16 units
    fixed = apply_to_span(answer, start, end, _fix("replace", "Hubinger et al."))
    assert fixed == "🙂🙂 Hubinger et al. 🙂 wrote it."


def _highlight(answer: str, quote: str, *, shift: int = 0) -> Highlight:
    start, end = _span(answer, quote)
    return Highlight(
        cell_id="cell-1",
        position=TextPositionSelector(start=start + shift, end=end + shift),
        quote=make_quote(answer, start, end),
    )


def test_the_span_is_placed_by_anchoring():
    highlight = _highlight(ANSWER, "Smith et al.")
    fixed = corrected_answer(ANSWER, highlight, _fix("replace", "Hubinger et al."))
    assert fixed.placement.status == "exact"
    assert fixed.text == "Mesa-optimization was introduced by Hubinger et al. in 2021."

    # A stale position (the offsets of another text): the quote is found again.
    stale = _highlight(ANSWER, "Smith et al.", shift=-4)
    moved = corrected_answer(ANSWER, stale, _fix("replace", "Hubinger et al."))
    assert moved.placement.status == "moved"
    assert moved.text == fixed.text


def test_a_span_that_is_gone_gives_no_corrected_answer():
    highlight = Highlight(
        cell_id="cell-1",
        position=TextPositionSelector(start=0, end=12),
        quote=TextQuoteSelector(exact="Jones and Li", prefix="", suffix=" proposed"),
    )
    gone = corrected_answer(ANSWER, highlight, _fix("replace", "Hubinger et al."))
    assert gone.placement.status == "orphaned"
    assert gone.text is None
