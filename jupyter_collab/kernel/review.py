"""``%collab review``'s steps, plain Python and testable without a frontend.

:class:`ReviewController` is a small state machine over the same core operations
the server door uses (``Broker.suggest_corrections``, ``propose_amendments``,
``generate_probes``, ``preview_report``, ``finalize``) and the same local context
store as the CLI. Steps: select a span by quoting it -> pick a suggested
correction or write one -> pick a proposed amendment or write one -> generate/add
probes and run the preview -> finalize into the notebook's context file. Changing
the amendment after a preview discards the preview (finalize refuses a preview of
another text), so what is finalized is what was previewed. Its face is
``review_view``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..core.broker import Broker
from ..core.context_model import (
    Amendment,
    AmendmentKind,
    CollabContext,
    CorrectionOperation,
    ProbeKind,
    TextPositionSelector,
)
from ..core.errors import InvalidRequestError
from ..core.history import collab_cell_prompts
from ..core.operation_models import (
    AmendmentDraft,
    CompletionResult,
    CorrectionInput,
    HighlightInput,
    PreviewReport,
    Probe,
    ProposedAmendment,
    SuggestedCorrection,
)
from ..core.operations.anchoring import make_quote
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
