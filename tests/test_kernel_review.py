"""The ipywidgets review: the controller's state machine and the view's buttons, driven
programmatically against the real core operations and the Anthropic wire server."""

from __future__ import annotations

import nbformat
import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import CollabContext
from jupyter_collab.core.errors import InvalidRequestError
from jupyter_collab.core.operation_models import CompletionResult
from jupyter_collab.core.store import LocalContextStore
from jupyter_collab.kernel.loop_thread import LoopThread
from jupyter_collab.kernel.review import ReviewController
from jupyter_collab.kernel.review_view import ReviewView, report_table
from tests.factories import completion_result

ANSWER = "The outlier is sample_c at 7.8 mg/L. Check the column pressure log first."


@pytest.fixture
def runner():
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture
def broker(anthropic_env, runner):
    made = Broker(CollabConfig(provider="anthropic"))
    yield made
    runner.run(made.aclose())


def _result() -> CompletionResult:
    return completion_result(
        answer=ANSWER, prompt="Which run is the outlier?", cell_id="ask-outlier"
    )


def _store(tmp_path) -> LocalContextStore:
    nb = nbformat.v4.new_notebook()
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    return LocalContextStore(path)


def test_controller_walks_the_loop_and_finalizes(broker, runner, tmp_path):
    store = _store(tmp_path)
    c = ReviewController(
        broker=broker,
        result=_result(),
        context=None,
        store=store,
        notebook_prompts=["Which run is the outlier?", "Plot the yields."],
        run=runner.run,
    )
    assert c.step == "select"
    with pytest.raises(InvalidRequestError, match="does not contain"):
        c.select("not in the answer")
    with pytest.raises(InvalidRequestError, match="'select' step"):
        c.suggest()
    highlight = c.select("7.8 mg/L")
    assert ANSWER[highlight.position.start : highlight.position.end] == "7.8 mg/L"
    assert highlight.quote.prefix.endswith("sample_c at ")
    assert c.step == "correct"

    suggestions = c.suggest()
    assert suggestions, "the wire model returned schema-valid suggestions"
    c.choose_correction(0)
    assert c.correction.origin == "ai" and c.step == "amend"
    c.write_correction("7.8 g/L", "replace", why="the unit is grams per litre")
    assert c.correction.origin == "user"

    proposals = c.propose()
    assert proposals
    c.choose_amendment(0)
    assert c.step == "preview"
    c.write_amendment("Yields in this notebook are in g/L.", "fact")
    c.add_probe("What unit are the yields in?")
    probes = c.make_probes(n=2)
    assert any(p.prompt == "What unit are the yields in?" for p in probes)
    assert any(p.kind.value == "original" for p in probes)
    report = c.preview()
    assert report.outcomes and report.amendment.text == "Yields in this notebook are in g/L."
    table = report_table(report)
    assert "<table" in table and "verdict" in table

    # Revising the text discards the preview of the old text.
    c.write_amendment("Yields are in g/L (grams per litre).", "fact")
    assert c.report is None
    c.preview()
    amendment = c.finalize()
    assert c.step == "done"
    saved = store.load()
    assert saved.revision == 1
    assert saved.amendments[0].id == amendment.id
    assert saved.amendments[0].text == "Yields are in g/L (grams per litre)."
    assert saved.amendments[0].provenance.quote == "7.8 mg/L"
    assert saved.amendments[0].provenance.cell_id == "ask-outlier"
    assert saved.amendments[0].preview, "the preview results are kept as provenance"
    assert saved.highlights[0].cell_id == "ask-outlier"
    assert saved.corrections[0].text == "7.8 g/L"


def test_finalize_without_a_notebook_says_what_to_do(broker, runner):
    c = ReviewController(broker=broker, result=_result(), run=runner.run)
    c.select("sample_c")
    c.write_correction("sample_b")
    c.write_amendment("Name samples exactly as in the data.", "process")
    with pytest.raises(InvalidRequestError, match="%collab context PATH"):
        c.finalize()


def test_view_buttons_drive_the_controller(broker, runner, tmp_path):
    store = _store(tmp_path)
    store.save(CollabContext())
    c = ReviewController(broker=broker, result=_result(), store=store, run=runner.run)
    view = ReviewView(c)
    assert view.sections["correct"].layout.display == "none"

    view.quote.value = "nowhere"
    view.select_button.click()
    assert "does not contain" in view.status.value and c.step == "select"

    view.quote.value = "column pressure log"
    view.select_button.click()
    assert "<mark>column pressure log</mark>" in view.answer.value
    assert view.sections["correct"].layout.display is None

    view.suggest_button.click()
    assert len(view.suggestions.options) == len(c.suggestions) > 0
    view.suggestions.index = 0
    view.use_suggestion.click()
    assert c.step == "amend"

    view.amendment_text.value = "Before blaming the data, check the instrument logs."
    view.kind.value = "process"
    view.use_own_amendment.click()
    assert c.step == "preview"
    view.probe_text.value = "Sample_b looks low, why?"
    view.add_probe_button.click()
    assert "Sample_b looks low" in view.probes.value
    view.preview_button.click()
    assert "<table" in view.preview_table.value, view.status.value
    view.finalize_button.click()
    assert c.step == "done", view.status.value
    assert "Finalized" in view.status.value
    assert store.load().amendments[0].kind.value == "process"
    assert store.load().revision == 2
