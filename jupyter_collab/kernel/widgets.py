"""``%collab review``: the feedback loop with ipywidgets, for frontends without the lab
extension (VS Code, classic Notebook, Colab-like hosts).

Two layers:

* :class:`ReviewController`, plain Python and testable without a frontend: a
  small state machine over the same core operations the server door uses
  (``Broker.suggest_corrections``, ``propose_amendments``, ``generate_probes``,
  ``preview_report``, ``finalize``) and the same local context store as the CLI.
  Steps: select a span by quoting it -> pick a suggested correction or write one
  -> pick a proposed amendment or write one -> generate/add probes and run the
  preview -> finalize into the notebook's context file. Changing the amendment
  after a preview discards the preview (finalize refuses a preview of another
  text), so what is finalized is what was previewed.
* :class:`ReviewView`, a thin ipywidgets layout whose buttons call the
  controller and re-render; errors are shown in the view (a widget callback has
  nowhere to raise to).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..core.broker import Broker
from ..core.errors import CollabError, InvalidRequestError
from ..core.history import collab_cell_prompts
from ..core.loop_models import (
    AmendmentDraft,
    CompletionResult,
    CorrectionInput,
    HighlightInput,
    PreviewReport,
    Probe,
    ProposedAmendment,
    SuggestedCorrection,
)
from ..core.models import (
    Amendment,
    AmendmentKind,
    CollabContext,
    CorrectionOperation,
    ProbeKind,
    TextPositionSelector,
)
from ..core.operations.anchoring import make_quote
from ..core.operations.noise import change_against_noise
from ..core.store import LocalContextStore

T = TypeVar("T")

STEPS = ("select", "correct", "amend", "preview", "done")


def _sync_runner(coro: Awaitable[T]) -> T:
    import asyncio

    return asyncio.run(coro)  # type: ignore[arg-type]


@dataclass
class ReviewController:
    """The review of one answer; every method either advances the state or raises."""

    broker: Broker
    result: CompletionResult
    context: CollabContext | None = None
    store: LocalContextStore | None = None
    notebook_prompts: list[str] = field(default_factory=list)
    run: Callable[[Awaitable[Any]], Any] = _sync_runner

    highlight: HighlightInput | None = None
    suggestions: list[SuggestedCorrection] = field(default_factory=list)
    correction: CorrectionInput | None = None
    proposals: list[ProposedAmendment] = field(default_factory=list)
    draft: AmendmentDraft | None = None
    probes: list[Probe] = field(default_factory=list)
    report: PreviewReport | None = None
    finalized: Amendment | None = None

    # -- where are we ------------------------------------------------------------

    @property
    def step(self) -> str:
        if self.finalized is not None:
            return "done"
        if self.highlight is None:
            return "select"
        if self.correction is None:
            return "correct"
        if self.draft is None:
            return "amend"
        return "preview"

    def _need(self, *steps: str) -> None:
        if self.step not in steps:
            raise InvalidRequestError(
                f"this review is at the '{self.step}' step; that action belongs to "
                f"{' or '.join(repr(s) for s in steps)}"
            )

    # -- 1. highlight --------------------------------------------------------------

    def select(self, quote: str, occurrence: int = 1) -> HighlightInput:
        """Select the span of the answer that reads ``quote`` (its n-th occurrence)."""
        self._need("select", "correct", "amend", "preview")
        answer = self.result.answer
        quote = quote.strip()
        if not quote:
            raise InvalidRequestError("quote the part of the answer you want to correct")
        starts = []
        at = answer.find(quote)
        while at != -1:
            starts.append(at)
            at = answer.find(quote, at + 1)
        if not starts:
            raise InvalidRequestError(f"the answer does not contain {quote!r}")
        if not 1 <= occurrence <= len(starts):
            raise InvalidRequestError(
                f"{quote!r} occurs {len(starts)} time(s) in the answer; pick 1..{len(starts)}"
            )
        start = starts[occurrence - 1]
        end = start + len(quote)
        self._reset_from("select")
        self.highlight = HighlightInput(
            answer=answer,
            prompt=self.result.prompt,
            position=TextPositionSelector(start=start, end=end),
            quote=make_quote(answer, start, end),
            cell_id=self.result.cell_id,
            response_id=self.result.response_id,
        )
        return self.highlight

    # -- 2. correct ----------------------------------------------------------------

    def suggest(self, n: int = 3) -> list[SuggestedCorrection]:
        self._need("correct", "amend", "preview")
        assert self.highlight is not None
        self.suggestions = list(
            self.run(self.broker.suggest_corrections(self.highlight, n, self.context))
        )
        return self.suggestions

    def choose_correction(self, index: int) -> CorrectionInput:
        self._need("correct", "amend", "preview")
        if not 0 <= index < len(self.suggestions):
            raise InvalidRequestError(f"there is no suggested correction number {index + 1}")
        chosen = self.suggestions[index]
        return self._set_correction(
            CorrectionInput(
                operation=chosen.operation,
                text=chosen.text,
                why=chosen.why,
                origin="ai",
                rank=chosen.rank,
            )
        )

    def write_correction(
        self, text: str, operation: CorrectionOperation | str = "replace", why: str = ""
    ) -> CorrectionInput:
        self._need("correct", "amend", "preview")
        operation = CorrectionOperation(operation)
        if operation != CorrectionOperation.delete and not text.strip():
            raise InvalidRequestError("write the correction (or choose the delete operation)")
        return self._set_correction(
            CorrectionInput(operation=operation, text=text.strip(), why=why.strip())
        )

    def _set_correction(self, correction: CorrectionInput) -> CorrectionInput:
        self._reset_from("correct")
        self.correction = correction
        return correction

    # -- 3. amend ------------------------------------------------------------------

    def propose(self, n: int = 3) -> list[ProposedAmendment]:
        self._need("amend", "preview")
        assert self.highlight is not None and self.correction is not None
        self.proposals = list(
            self.run(
                self.broker.propose_amendments(self.highlight, self.correction, self.context, n)
            )
        )
        return self.proposals

    def choose_amendment(self, index: int) -> AmendmentDraft:
        self._need("amend", "preview")
        if not 0 <= index < len(self.proposals):
            raise InvalidRequestError(f"there is no proposed amendment number {index + 1}")
        chosen = self.proposals[index]
        return self._set_draft(
            AmendmentDraft(kind=chosen.kind, text=chosen.text, rationale=chosen.rationale)
        )

    def write_amendment(
        self, text: str, kind: AmendmentKind | str = "process", rationale: str = ""
    ) -> AmendmentDraft:
        self._need("amend", "preview")
        if not text.strip():
            raise InvalidRequestError("write the amendment's text")
        return self._set_draft(
            AmendmentDraft(kind=AmendmentKind(kind), text=text.strip(), rationale=rationale)
        )

    def _set_draft(self, draft: AmendmentDraft) -> AmendmentDraft:
        if self.draft is None or (self.draft.kind, self.draft.text) != (draft.kind, draft.text):
            self.report = None  # a preview of another text is no preview of this one
        self.draft = draft
        return draft

    # -- 4. preview ----------------------------------------------------------------

    def make_probes(self, n: int = 4) -> list[Probe]:
        self._need("preview")
        assert self.draft is not None
        generated = self.run(
            self.broker.generate_probes(self.draft, self.notebook_prompts, self.result.prompt, n)
        )
        users = [p for p in self.probes if p.kind == ProbeKind.user]
        self.probes = list(generated) + users
        return self.probes

    def add_probe(self, prompt: str) -> Probe:
        self._need("preview")
        if not prompt.strip():
            raise InvalidRequestError("the probe prompt is empty")
        probe = Probe(prompt=prompt.strip(), kind=ProbeKind.user)
        self.probes.append(probe)
        return probe

    def remove_probe(self, index: int) -> None:
        self._need("preview")
        del self.probes[index]

    def preview(self) -> PreviewReport:
        self._need("preview")
        assert self.draft is not None
        if not self.probes:
            self.probes = [Probe(prompt=self.result.prompt, kind=ProbeKind.original)]
        self.report = self.run(self.broker.preview_report(self.draft, self.probes, self.context))
        return self.report

    # -- 5. finalize ---------------------------------------------------------------

    def finalize(self) -> Amendment:
        self._need("preview")
        assert self.draft is not None
        if self.store is None:
            raise InvalidRequestError(
                "this kernel does not know which notebook it runs, so there is no context "
                "file to finalize into; run `%collab context PATH` first"
            )
        draft, report = self.draft, self.report
        base = None if self.store.exists() else self.context  # embedded-only context
        made: list[Amendment] = []

        def change(working: CollabContext) -> CollabContext:
            start = working if base is None else base.model_copy(update={"revision": 0})
            updated, amendment = Broker.finalize(
                start,
                draft,
                highlight=self.highlight,
                correction=self.correction,
                report=report,
                cell_id=self.result.cell_id,
            )
            made.append(amendment)
            return updated

        self.context = self.store.update(change)
        self.finalized = made[0]
        return self.finalized

    def _reset_from(self, step: str) -> None:
        order = STEPS.index(step)
        if order <= STEPS.index("select"):
            self.highlight = None
            self.suggestions = []
        if order <= STEPS.index("correct"):
            self.correction = None
            self.proposals = []
        if order <= STEPS.index("amend"):
            self.draft = None
            self.probes = []
            self.report = None


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


def controller_for_last(door: Any) -> ReviewController:
    """A review of the kernel's last ``%%collab`` answer."""
    last = door.last
    if last is None:
        raise InvalidRequestError("there is no answer to review yet: run a %%collab cell first")
    state = last.state
    if state is not None:
        # The review asks a model for corrections and amendments with this context.
        state.require_reviewed()
    store = LocalContextStore(Path(state.path)) if state is not None else None
    prompts = collab_cell_prompts(state.notebook) if state is not None else []
    if last.result.prompt not in prompts:
        prompts.append(last.result.prompt)
    return ReviewController(
        broker=door.broker,
        result=last.result,
        context=state.context if state is not None else None,
        store=store,
        notebook_prompts=prompts,
        run=door.runner.run,
    )


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
