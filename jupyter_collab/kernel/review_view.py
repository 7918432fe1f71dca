"""``%collab review``'s face: ipywidgets for frontends without the lab extension
(VS Code, classic Notebook, Colab-like hosts).

:class:`ReviewView` is a thin layout whose buttons call a
:class:`~.review.ReviewController` and re-render; errors are shown in the view (a
widget callback has nowhere to raise to). The HTML helpers are plain functions.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from ..core.context_model import AmendmentKind, CorrectionOperation
from ..core.errors import CollabError, InvalidRequestError
from ..core.operation_models import PreviewReport, ProposedAmendment, SuggestedCorrection
from ..core.operations.noise import change_against_noise
from .review import STEPS, ReviewController, controller_for_last

# -- rendering helpers (plain functions, testable) --------------------------------------


def report_table(report: PreviewReport) -> str:
    """The preview as an HTML table: probe, verdict, reason, baseline vs amended."""
    rows = []
    for outcome in report.outcomes:
        rows.append(
            "<tr>"
            f"<td>{html.escape(outcome.probe.kind.value)}</td>"
            f"<td>{html.escape(outcome.probe.prompt)}</td>"
            f'<td class="jp-collab-verdict-{outcome.verdict.value}">'
            f"<b>{html.escape(outcome.verdict.value)}</b></td>"
            f"<td>{html.escape(change_against_noise(outcome.noise))}</td>"
            f"<td>{html.escape(outcome.reason)}</td>"
            f"<td>{html.escape(_clip(outcome.baseline))}</td>"
            f"<td>{html.escape(_clip(outcome.amended))}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>probe</th><th>prompt</th><th>verdict</th>"
        '<th title="share of words the amendment changed / share that changes between '
        'two baseline samples alone">change/noise</th><th>why</th>'
        "<th>without the amendment</th><th>with it</th></tr>"
    )
    note = " (cancelled)" if report.cancelled else ""
    return (
        f'<table class="jp-collab-preview"><caption>Preview{note}: '
        f"{html.escape(report.amendment.text)}</caption>{head}{''.join(rows)}</table>"
    )


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def suggestion_label(index: int, s: SuggestedCorrection) -> str:
    what = s.text or "(delete)"
    return f"{index + 1}. {s.operation.value}: {what}" + (f" — {s.why}" if s.why else "")


def proposal_label(index: int, p: ProposedAmendment) -> str:
    flags = []
    if p.duplicates:
        flags.append("repeats " + ", ".join(p.duplicates))
    if p.contradicts:
        flags.append("contradicts " + ", ".join(p.contradicts))
    extra = f" [{'; '.join(flags)}]" if flags else ""
    return f"{index + 1}. [{p.kind.value}] {p.text}{extra}"


class ReviewView:
    """The ipywidgets face of a :class:`ReviewController`."""

    def __init__(self, controller: ReviewController):
        import ipywidgets as w

        self.c = controller
        self.w = w
        self.answer = w.HTML()
        self.status = w.HTML()
        self.quote = w.Text(description="Quote:", placeholder="paste the span to correct")
        self.occurrence = w.BoundedIntText(value=1, min=1, max=999, description="Occurrence:")
        self.select_button = w.Button(description="Select span")
        self.suggest_button = w.Button(description="Suggest corrections")
        self.suggestions = w.RadioButtons(options=[], description="Suggested:")
        self.use_suggestion = w.Button(description="Use this correction")
        self.correction_text = w.Textarea(description="Or write:", placeholder="your correction")
        self.operation = w.Dropdown(
            options=[o.value for o in CorrectionOperation], value="replace", description="As:"
        )
        self.use_own_correction = w.Button(description="Use my correction")
        self.propose_button = w.Button(description="Propose amendments")
        self.proposals = w.RadioButtons(options=[], description="Proposed:")
        self.use_proposal = w.Button(description="Use this amendment")
        self.amendment_text = w.Textarea(description="Or write:", placeholder="your amendment")
        self.kind = w.Dropdown(
            options=[k.value for k in AmendmentKind], value="process", description="Kind:"
        )
        self.use_own_amendment = w.Button(description="Use my amendment")
        self.probes_button = w.Button(description="Generate probes")
        self.probe_text = w.Text(description="Add probe:", placeholder="a prompt to check")
        self.add_probe_button = w.Button(description="Add probe")
        self.probes = w.HTML()
        self.preview_button = w.Button(description="Run preview", button_style="info")
        self.preview_table = w.HTML()
        self.finalize_button = w.Button(description="Finalize", button_style="success")

        actions: list[tuple[Any, Callable[[], Any]]] = [
            (
                self.select_button,
                lambda: self.c.select(self.quote.value, self.occurrence.value),
            ),
            (self.suggest_button, self.c.suggest),
            (
                self.use_suggestion,
                lambda: self.c.choose_correction(self._index(self.suggestions)),
            ),
            (
                self.use_own_correction,
                lambda: self.c.write_correction(self.correction_text.value, self.operation.value),
            ),
            (self.propose_button, self.c.propose),
            (self.use_proposal, lambda: self.c.choose_amendment(self._index(self.proposals))),
            (
                self.use_own_amendment,
                lambda: self.c.write_amendment(self.amendment_text.value, self.kind.value),
            ),
            (self.probes_button, self.c.make_probes),
            (self.add_probe_button, lambda: self.c.add_probe(self.probe_text.value)),
            (self.preview_button, self.c.preview),
            (self.finalize_button, self.c.finalize),
        ]
        for button, action in actions:
            button.on_click(self._handler(action))

        self.sections = {
            "select": w.VBox([self.quote, self.occurrence, self.select_button]),
            "correct": w.VBox(
                [
                    self.suggest_button,
                    self.suggestions,
                    self.use_suggestion,
                    self.correction_text,
                    self.operation,
                    self.use_own_correction,
                ]
            ),
            "amend": w.VBox(
                [
                    self.propose_button,
                    self.proposals,
                    self.use_proposal,
                    self.amendment_text,
                    self.kind,
                    self.use_own_amendment,
                ]
            ),
            "preview": w.VBox(
                [
                    self.probes_button,
                    self.probes,
                    w.HBox([self.probe_text, self.add_probe_button]),
                    self.preview_button,
                    self.preview_table,
                    self.finalize_button,
                ]
            ),
        }
        self.widget = w.VBox([self.answer, *self.sections.values(), self.status])
        self.widget.add_class("jp-collab-review")
        self.refresh()

    @staticmethod
    def _index(radio: Any) -> int:
        if radio.index is None:
            raise InvalidRequestError("choose one of the options first")
        return int(radio.index)

    def _handler(self, action: Callable[[], Any]) -> Callable[[Any], None]:
        def handle(_button: Any) -> None:
            try:
                action()
            except CollabError as err:
                self.refresh(error=str(err))
            except Exception as err:  # shown, not lost in the widget log
                self.refresh(error=f"{type(err).__name__}: {err}")
            else:
                self.refresh()

        return handle

    def refresh(self, error: str | None = None) -> None:
        c = self.c
        answer = html.escape(c.result.answer)
        if c.highlight is not None:
            start, end = c.highlight.position.start, c.highlight.position.end
            text = c.result.answer
            answer = (
                html.escape(text[:start])
                + f"<mark>{html.escape(text[start:end])}</mark>"
                + html.escape(text[end:])
            )
        self.answer.value = f'<div style="white-space: pre-wrap">{answer}</div>'
        self.suggestions.options = [suggestion_label(i, s) for i, s in enumerate(c.suggestions)]
        self.proposals.options = [proposal_label(i, p) for i, p in enumerate(c.proposals)]
        self.probes.value = (
            "<ol>"
            + "".join(
                f"<li>[{html.escape(p.kind.value)}] {html.escape(p.prompt)}</li>" for p in c.probes
            )
            + "</ol>"
        )
        self.preview_table.value = report_table(c.report) if c.report is not None else ""
        order = STEPS.index(c.step)
        for name, section in self.sections.items():
            visible = STEPS.index(name) <= order and c.step != "done"
            section.layout.display = None if visible else "none"
        self.status.value = self._status_html(error)

    def _status_html(self, error: str | None) -> str:
        c = self.c
        if error:
            style = "color: var(--jp-error-color1)"
            return f'<div class="jp-collab-error" style="{style}">{html.escape(error)}</div>'
        if c.finalized is not None:
            where = c.store.path.name if c.store is not None else "the context"
            return (
                f"Finalized {html.escape(c.finalized.id)} ({c.finalized.kind.value}) into "
                f"{html.escape(where)}: later cells of this notebook use it."
            )
        hints = {
            "select": "Quote the part of the answer that is wrong or unhelpful.",
            "correct": "Choose a suggested correction or write your own.",
            "amend": "Choose a proposed amendment or write your own.",
            "preview": (
                "Preview what the amendment changes, then finalize."
                if c.report is None
                else "Check the verdicts; revise and re-preview, or finalize."
            ),
        }
        return html.escape(hints[c.step])


def review_last(door: Any) -> Any:
    """``%collab review``: display the review widget for the last answer."""
    from IPython.display import display

    from .errors import for_kernel

    try:
        controller = controller_for_last(door)
    except CollabError as err:
        raise for_kernel(err) from None
    view = ReviewView(controller)
    display(view.widget)
    return None
