"""Adding a finalized highlight to an answer's output (``core/outputs.py``), which the
server returns from ``finalize`` so the page shows it without rebuilding the bundle."""

from __future__ import annotations

from jupyter_collab.core.context_model import (
    Amendment,
    CollabContext,
    Correction,
    Highlight,
    Provenance,
    TextPositionSelector,
    TextQuoteSelector,
)
from jupyter_collab.core.outputs import (
    MIME_TYPE,
    AnnotatedHighlight,
    CollabOutput,
    annotated_display,
    annotation_for,
    with_annotation,
)
from jupyter_collab.core.providers.base import Usage
from tests.factories import completion_result

ANSWER = "See Smith et al., 2019 <now>."


def _highlight(highlight_id: str) -> Highlight:
    return Highlight(
        id=highlight_id,
        cell_id="cell-1",
        position=TextPositionSelector(start=4, end=22),
        quote=TextQuoteSelector(exact="Smith et al., 2019"),
    )


def _output(*highlights: AnnotatedHighlight) -> CollabOutput:
    result = completion_result(
        answer=ANSWER,
        model="m",
        usage=Usage(input_tokens=5, output_tokens=2, cache_read_input_tokens=3),
        context_revision=2,
    )
    return CollabOutput(result=result, highlights=list(highlights))


def _context() -> tuple[CollabContext, Amendment]:
    amendment = Amendment(
        id="a-1", kind="fact", text="Cite Amodei.", provenance=Provenance(highlight_id="h-1")
    )
    context = CollabContext(
        highlights=[_highlight("h-1")],
        corrections=[Correction(id="c-1", highlight_id="h-1", text="Amodei et al. (2016)")],
        amendments=[amendment],
    )
    return context, amendment


def test_the_annotation_is_the_amendments_highlight_with_its_corrections():
    context, amendment = _context()
    annotation = annotation_for(context, amendment)
    assert annotation is not None
    assert annotation.highlight.id == "h-1"
    assert [c.id for c in annotation.corrections] == ["c-1"]
    assert annotation.amendment_ids == ["a-1"]
    unsourced = Amendment(kind="fact", text="Typed by hand.")
    assert annotation_for(context, unsourced) is None


def test_a_second_amendment_on_the_same_highlight_is_merged():
    context, amendment = _context()
    annotation = annotation_for(context, amendment)
    once = with_annotation(_output(), annotation)
    twice = with_annotation(once, annotation.model_copy(update={"amendment_ids": ["a-2", "a-1"]}))
    assert len(twice.highlights) == 1
    assert twice.highlights[0].amendment_ids == ["a-1", "a-2"]
    other = AnnotatedHighlight(highlight=_highlight("h-2"))
    assert [h.highlight.id for h in with_annotation(twice, other).highlights] == ["h-1", "h-2"]


def test_the_annotated_display_rebuilds_the_fallbacks():
    context, amendment = _context()
    display = annotated_display(_output().model_dump(mode="json"), context, amendment)
    assert display is not None
    data = display.model_dump(mode="json", by_alias=True)["data"]
    assert data[MIME_TYPE]["highlights"][0]["highlight"]["id"] == "h-1"
    html = data["text/html"]
    assert (
        '<mark class="jp-collab-highlight" title="Amodei et al. (2016)">Smith et al., 2019</mark>'
        "<sup>1</sup>" in html
    )
    assert "&lt;now&gt;" in html
    assert (
        "> **Correction** on “Smith et al., 2019” (replace): Amodei et al. (2016)"
        in (data["text/markdown"])
    )
    assert annotated_display({"result": {"answer": ANSWER}}, context, amendment) is None


def test_a_highlight_finalized_meanwhile_on_the_same_answer_is_kept():
    # Two people finalize on one answer at once: the second sends the answer as
    # its page held it, before the first one's highlight reached it.
    output = _output()
    on_answer = dict(response_id=output.result.response_id, answer_hash=output.result.answer_hash)
    first = _highlight("h-1").model_copy(update=on_answer)
    second = Highlight(
        id="h-2",
        position=TextPositionSelector(start=0, end=3),
        quote=TextQuoteSelector(exact="See"),
        **on_answer,
    )
    elsewhere = Highlight(
        id="h-3",
        response_id="msg_another_answer",
        position=TextPositionSelector(start=0, end=3),
        quote=TextQuoteSelector(exact="See"),
    )
    amendments = [
        Amendment(
            id=f"a-{n}", kind="fact", text=f"Rule {n}.", provenance=Provenance(highlight_id=h)
        )
        for n, h in ((1, "h-1"), (2, "h-2"), (3, "h-3"))
    ]
    context = CollabContext(highlights=[first, second, elsewhere], amendments=amendments)

    display = annotated_display(output.model_dump(mode="json"), context, amendments[1])

    assert display is not None
    shown = display.model_dump(mode="json", by_alias=True)["data"][MIME_TYPE]["highlights"]
    assert [item["highlight"]["id"] for item in shown] == ["h-1", "h-2"]
    assert [item["amendment_ids"] for item in shown] == [["a-1"], ["a-2"]]
