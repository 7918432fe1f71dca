"""core/replay.py (run modes, the reuse decision, annotations of a reused answer) and
core/history.py (earlier collaborator turns), the door-neutral parts of the kernel door."""

from __future__ import annotations

import pytest

from jupyter_collab.core.context_model import (
    CollabContext,
    Correction,
    Highlight,
    TextPositionSelector,
    TextQuoteSelector,
)
from jupyter_collab.core.errors import InvalidRequestError, ReplayMissError
from jupyter_collab.core.history import turns_above, turns_for_cell
from jupyter_collab.core.outputs import CollabOutput, build_output
from jupyter_collab.core.replay import (
    Action,
    RunMode,
    StoredAnswer,
    cell_highlights,
    decide,
    parse_run_mode,
    redisplay_bundle,
    stored_answer_of_cell,
)
from tests.factories import completion_result


def result(answer="Use a log scale for the yields.", prompt="p", input_hash="sha256:h", cell="c"):
    return completion_result(
        answer=answer, prompt=prompt, context_revision=1, input_hash=input_hash, cell_id=cell
    )


def collab_cell(cell_id, res=None, source="%%collab\nq"):
    cell = {"id": cell_id, "cell_type": "code", "source": source, "metadata": {}, "outputs": []}
    if res is not None:
        cell["outputs"] = [build_output(CollabOutput(result=res))]
    return cell


def test_parse_run_mode():
    assert parse_run_mode(None) == RunMode.auto
    assert parse_run_mode(" Replay ") == RunMode.replay
    with pytest.raises(InvalidRequestError, match="JUPYTER_COLLAB_MODE='fast'"):
        parse_run_mode("fast")


def test_decide_per_mode():
    stored = stored_answer_of_cell(collab_cell("c", result()))
    assert stored is not None and stored.input_hash == "sha256:h"
    assert decide(RunMode.auto, "sha256:h", [None, stored]).action == Action.reuse
    assert decide(RunMode.auto, "sha256:other", [stored]).action == Action.call
    assert decide(RunMode.replay, "sha256:h", [stored]).stored is stored
    with pytest.raises(ReplayMissError, match="different inputs"):
        decide(RunMode.replay, "sha256:other", [stored])
    with pytest.raises(ReplayMissError, match="no stored answer"):
        decide(RunMode.replay, "sha256:h", [None])
    assert decide(RunMode.record, "sha256:h", [stored]).action == Action.call
    live = decide(RunMode.live, "sha256:h", [stored])
    assert live.action == Action.call and live.keep_for_reuse is False
    not_reusable = StoredAnswer(stored.output, stored.data, stored.metadata, "session", False)
    assert decide(RunMode.auto, "sha256:h", [not_reusable]).action == Action.call


def test_redisplay_is_the_stored_bundle_unless_annotations_changed():
    res = result()
    stored = stored_answer_of_cell(collab_cell("c", res))
    assert redisplay_bundle(stored, None, "c") == (stored.data, stored.metadata)
    # A correction finalized on this cell since: the bundle is rebuilt to show it.
    exact = "log scale"
    start = res.answer.index(exact)
    highlight = Highlight(
        cell_id="c",
        position=TextPositionSelector(start=start, end=start + len(exact)),
        quote=TextQuoteSelector(exact=exact, prefix="Use a ", suffix=" for"),
    )
    context = CollabContext(
        highlights=[highlight],
        corrections=[Correction(highlight_id=highlight.id, text="linear scale")],
    )
    data, _ = redisplay_bundle(stored, context, "c")
    assert (
        '<mark class="jp-collab-highlight" title="linear scale">log scale</mark>'
        in (data["text/html"])
    )


def test_highlights_reanchor_or_orphan():
    exact = "log scale"
    highlight = Highlight(
        cell_id="c",
        position=TextPositionSelector(start=6, end=15),
        quote=TextQuoteSelector(exact=exact, prefix="Use a ", suffix=" for"),
    )
    context = CollabContext(highlights=[highlight])
    moved = cell_highlights(context, "c", "Maybe use a log scale for the yields.")
    assert moved[0].highlight.position.start == len("Maybe use a ")
    assert cell_highlights(context, "c", "Something else entirely.") == []
    assert cell_highlights(context, "other-cell", "Use a log scale") == []


def test_history_turns_above_in_notebook_order():
    first, second = result(prompt="first filled", answer="A1"), result(prompt="second", answer="A2")
    nb = {
        "cells": [
            collab_cell("c1", first),
            {"id": "code", "cell_type": "code", "source": "x = 1", "outputs": []},
            collab_cell("c2"),  # not answered: skipped
            collab_cell("c3", second),
            collab_cell("c4"),
        ]
    }
    turns = turns_above(nb, 4)
    assert [(t.prompt, t.answer) for t in turns] == [("first filled", "A1"), ("second", "A2")]
    # This session's answers win over the file's.
    newer = result(prompt="first again", answer="B1")
    assert turns_above(nb, 4, {"c1": newer})[0].answer == "B1"
    assert turns_above(nb, 0) == []
    # Without a notebook: this session's answers in run order, minus the current cell.
    session = {"k1": first, "k2": second}
    unlocated = turns_for_cell(None, None, session, ["k2", "k1"], "k1")
    assert [t.answer for t in unlocated] == ["A2"]


def test_a_turn_carries_the_amendments_its_answer_was_given_with():
    # Prompt assembly keeps those before the conversation (see core/assembly.py).
    answered = completion_result(prompt="q", answer="A", included_amendments=["a-one", "a-two"])
    nb = {"cells": [collab_cell("c1", answered), collab_cell("c2")]}
    assert turns_above(nb, 1)[0].included_amendments == ["a-one", "a-two"]
    unlocated = turns_for_cell(None, None, {"k1": answered}, ["k1"], "k2")
    assert unlocated[0].included_amendments == ["a-one", "a-two"]
