"""Re-anchoring highlights: by position, then by quote with prefix/suffix, else orphaned."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jupyter_collab.core.context_model import Highlight, TextPositionSelector, TextQuoteSelector
from jupyter_collab.core.operation_models import AnchorQuery
from jupyter_collab.core.operations.anchoring import (
    DEFAULT_THRESHOLD,
    MIN_FUZZY_SIMILARITY,
    anchor,
    anchor_highlight,
    make_quote,
    place,
)

ANSWER = (
    "Gradient descent minimises a loss by stepping against the gradient. "
    "The learning rate controls the step size; too large a rate diverges. "
    "Adam (Kingma and Ba, 2015) adapts the rate per parameter."
)


def select(
    text: str, exact: str, occurrence: int = 0
) -> tuple[TextPositionSelector, TextQuoteSelector]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(exact, start + 1)
    end = start + len(exact)
    return TextPositionSelector(start=start, end=end), make_quote(text, start, end)


def test_unchanged_text_is_exact():
    position, quote = select(ANSWER, "Kingma and Ba, 2015")
    result = anchor(ANSWER, position, quote)
    assert (result.status, result.start, result.end, result.score) == (
        "exact",
        position.start,
        position.end,
        1.0,
    )


def test_text_inserted_before_moves_the_highlight():
    position, quote = select(ANSWER, "Kingma and Ba, 2015")
    changed = "In short: " + ANSWER
    result = anchor(changed, position, quote)
    assert result.status == "moved"
    assert changed[result.start : result.end] == "Kingma and Ba, 2015"
    assert result.start == position.start + len("In short: ")


def test_repeated_phrase_picks_the_occurrence_with_the_same_context():
    text = "The rate is 0.1 for SGD. With momentum, the rate is 0.1 as well."
    position, quote = select(text, "rate is 0.1", occurrence=1)
    changed = "Note. " + text.replace("The rate is 0.1 for SGD.", "The rate is 0.1 for plain SGD.")
    result = anchor(changed, position, quote)
    assert result.status == "moved"
    assert result.start == changed.index("rate is 0.1", changed.index("momentum"))


def test_slightly_edited_span_is_found_between_its_prefix_and_suffix():
    position, quote = select(ANSWER, "controls the step size")
    changed = ANSWER.replace("controls the step size", "controls the step-size")
    result = anchor(changed, position, quote)
    assert result.status == "moved"
    assert changed[result.start : result.end] == "controls the step-size"
    assert result.score < 1.0


def test_removed_span_is_orphaned_not_placed_on_a_look_alike():
    text = "Use Adam. Adam is fine here. Later: Adam (Kingma and Ba, 2015) is cited."
    position, quote = select(text, "Adam", occurrence=2)
    changed = text.replace("Later: Adam (Kingma and Ba, 2015) is cited.", "Later: it is cited.")
    assert "Adam" in changed  # look-alikes remain
    result = anchor(changed, position, quote)
    assert result.status == "orphaned" and result.start is None
    assert result.score < DEFAULT_THRESHOLD


def test_rewritten_answer_orphans_the_highlight():
    position, quote = select(ANSWER, "too large a rate diverges")
    result = anchor("A completely different answer about tokenizers.", position, quote)
    assert result.status == "orphaned"


def test_position_out_of_range_falls_back_to_the_quote():
    position, quote = select(ANSWER, "Kingma and Ba, 2015")
    short = ANSWER[position.start - 40 :]
    result = anchor(short, position, quote)
    assert result.status == "moved" and short[result.start : result.end] == quote.exact


def test_long_unique_quote_survives_a_changed_context():
    sentence = "The learning rate controls the step size; too large a rate diverges."
    position, quote = select(ANSWER, sentence)
    changed = "Intro paragraph.\n\n" + sentence + "\n\nA new ending."
    result = anchor(changed, position, quote)
    assert result.status == "moved" and changed[result.start : result.end] == sentence


def test_anchor_highlight_and_make_quote():
    position, quote = select(ANSWER, "Adam")
    highlight = Highlight(position=position, quote=quote)
    assert anchor_highlight(ANSWER, highlight).status == "exact"
    assert quote.prefix == ANSWER[max(0, position.start - 32) : position.start]
    with pytest.raises(ValueError):
        make_quote("abc", 2, 2)


# -- properties -------------------------------------------------------------------


@st.composite
def text_and_span(draw):
    text = draw(st.text(min_size=1, max_size=300))
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, len(text)))
    return text, start, end


@given(text_and_span())
@settings(max_examples=300, deadline=None)
def test_property_unchanged_text_is_exact(case):
    text, start, end = case
    result = anchor(text, TextPositionSelector(start=start, end=end), make_quote(text, start, end))
    assert (result.status, result.start, result.end) == ("exact", start, end)


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8)


@st.composite
def unique_words_and_span(draw):
    words = draw(st.lists(WORD, min_size=3, max_size=40, unique=True))
    i = draw(st.integers(0, len(words) - 1))
    j = draw(st.integers(i + 1, min(len(words), i + 6)))
    text = " ".join(words)
    start = len(" ".join(words[:i])) + (1 if i else 0)
    end = start + len(" ".join(words[i:j]))
    assert text[start:end] == " ".join(words[i:j])
    return text, start, end


@given(unique_words_and_span())
@settings(max_examples=400, deadline=None)
def test_property_removing_the_span_orphans_it(case):
    text, start, end = case
    position = TextPositionSelector(start=start, end=end)
    quote = make_quote(text, start, end)
    changed = text[:start] + text[end:]
    result = anchor(changed, position, quote)
    assert result.status == "orphaned", (changed, quote, result)


@given(text_and_span(), st.data())
@settings(max_examples=300, deadline=None)
def test_property_never_placed_on_unrelated_text(case, data):
    text, start, end = case
    quote = make_quote(text, start, end)
    position = TextPositionSelector(start=start, end=end)
    changed = text[:start] + data.draw(st.text(max_size=20)) + text[end:]
    result = anchor(changed, position, quote)
    if result.placed:
        placed = changed[result.start : result.end]
        from difflib import SequenceMatcher

        assert SequenceMatcher(None, placed, quote.exact, autojunk=False).ratio() >= 0.8


@given(
    unique_words_and_span(), st.text(alphabet="0123456789XYZ ", min_size=1, max_size=30), st.data()
)
@settings(max_examples=300, deadline=None)
def test_property_insertions_elsewhere_move_it_exactly(case, inserted, data):
    text, start, end = case
    assume(inserted.strip())
    position = TextPositionSelector(start=start, end=end)
    quote = make_quote(text, start, end)
    where = data.draw(st.sampled_from([0, start, end, len(text)]))
    changed = text[:where] + inserted + text[where:]
    shift = len(inserted) if where <= start else 0
    result = anchor(changed, position, quote)
    assert result.placed, (changed, quote, result)
    assert (result.start, result.end) == (start + shift, end + shift)


# -- the placements the page renders (tests/shared_fixtures/anchoring.json) ---------

SHARED_ANCHORING = json.loads(
    (Path(__file__).parent / "shared_fixtures" / "anchoring.json").read_text("utf-8")
)["cases"]


def _query(case: dict) -> AnchorQuery:
    return AnchorQuery(id="h", text=case["text"], position=case["position"], quote=case["quote"])


@pytest.mark.parametrize("case", SHARED_ANCHORING, ids=lambda c: c["name"])
def test_the_shared_placements_are_the_cores(case):
    placement = place(_query(case))
    assert {"status": placement.status, "start": placement.start, "end": placement.end} == (
        case["expected"]
    )
    if placement.start is not None:
        # Code points: the placed text is the quote (or its edited form) in the answer.
        placed = case["text"][placement.start : placement.end]
        similarity = difflib.SequenceMatcher(None, placed, case["quote"]["exact"]).ratio()
        assert similarity >= MIN_FUZZY_SIMILARITY


def test_the_shared_cases_cover_every_status_and_astral_characters():
    statuses = {case["expected"]["status"] for case in SHARED_ANCHORING}
    assert statuses == {"exact", "moved", "orphaned"}
    assert any(case["text"] is None for case in SHARED_ANCHORING)
    astral = [
        c for c in SHARED_ANCHORING if c["text"] and any(ord(ch) > 0xFFFF for ch in c["text"])
    ]
    assert len(astral) >= 4


async def test_the_server_route_places_highlights_as_the_core_does(collab_api):
    items = [
        {"id": str(i), "text": c["text"], "position": c["position"], "quote": c["quote"]}
        for i, c in enumerate(SHARED_ANCHORING)
    ]
    code, body = await collab_api("anchors", method="POST", body={"items": items})
    assert code == 200, body
    assert [a["id"] for a in body["anchors"]] == [str(i) for i in range(len(items))]
    for anchor_, case in zip(body["anchors"], SHARED_ANCHORING, strict=True):
        assert {k: anchor_[k] for k in ("status", "start", "end")} == case["expected"]


async def test_the_server_route_names_a_bad_item(collab_api):
    code, body = await collab_api(
        "anchors", method="POST", body={"items": [{"id": "h", "text": "x", "quote": {}}]}
    )
    assert code == 400 and "exact" in body["message"], body
