"""Inputs and results of the loop's operations (ask, suggest, amend, probe,
preview, finalize). These are also the server door's wire models, so the
browser and the kernel see exactly the same shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .context_model import (
    MAX_ENTRY_TEXT,
    MAX_QUOTE_TEXT,
    AmendmentKind,
    CorrectionOperation,
    Expectation,
    Health,
    MeasureValue,
    Mode,
    ProbeKind,
    TextPositionSelector,
    TextQuoteSelector,
    Verdict,
)
from .providers.base import Usage

MAX_PROMPT = 200_000
MAX_TURN_AMENDMENTS = 100_000


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnModel(WireModel):
    prompt: str = Field(max_length=MAX_PROMPT)
    answer: str = Field(max_length=MAX_PROMPT)
    included_amendments: list[str] | None = Field(
        default=None,
        max_length=MAX_TURN_AMENDMENTS,
        description="the amendments the answer's constitution held (its recorded "
        "included_amendments); None: not known",
    )


class CompletionInput(WireModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    cell_id: str | None = Field(default=None, max_length=200)
    mode: Mode | None = None
    model: str | None = Field(default=None, max_length=200)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    history: list[TurnModel] = Field(default_factory=list, max_length=200)
    use_context: bool = True
    use_history: bool = True


class CompletionResult(WireModel):
    """Everything recorded about one answer (the MIME bundle's payload)."""

    answer: str
    prompt: str
    response_id: str
    provider: str
    model: str
    mode: Mode
    usage: Usage
    stop_reason: str | None = None
    context_revision: int
    context_hash: str
    input_hash: str
    answer_hash: str
    included_amendments: list[str] = Field(default_factory=list)
    omitted_amendments: list[str] = Field(default_factory=list)
    cell_id: str | None = None
    created: datetime
    duration_s: float = 0.0


class HighlightInput(WireModel):
    """A span of an answer the researcher selected."""

    answer: str = Field(min_length=1, max_length=MAX_PROMPT)
    prompt: str = Field(default="", max_length=MAX_PROMPT)
    position: TextPositionSelector
    quote: TextQuoteSelector
    cell_id: str | None = Field(default=None, max_length=200)
    response_id: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _position_selects_the_quote(self) -> HighlightInput:
        # A position counted in another unit (UTF-16) lands elsewhere after any
        # astral-plane character; storing it would misplace the highlight.
        start, end = self.position.start, self.position.end
        if self.answer[start:end] != self.quote.exact:
            raise ValueError(
                f"position {start}..{end} does not select the quoted text in the answer "
                "(offsets count Unicode code points)"
            )
        return self


class AnchorQuery(WireModel):
    """A stored highlight to place on a text (an answer as it is now)."""

    id: str = Field(min_length=1, max_length=200)
    text: str | None = Field(
        max_length=MAX_PROMPT, description="the current answer; null when there is none"
    )
    position: TextPositionSelector | None = None
    quote: TextQuoteSelector


class AnchorsRequest(WireModel):
    """``POST anchors``: highlights and the texts to place them on."""

    items: list[AnchorQuery] = Field(max_length=1_000)


class AnchorPlacement(WireModel):
    """Where a highlight sits on its text (``core/operations/anchoring.py``):
    ``exact`` at its stored position, ``moved`` elsewhere, or ``orphaned``.
    ``start``/``end`` count code points, like every offset on the wire."""

    id: str
    status: Literal["exact", "moved", "orphaned"]
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)
    score: float = Field(ge=0.0, le=1.0)


class AnchorsReply(WireModel):
    anchors: list[AnchorPlacement]


class SuggestedCorrection(WireModel):
    operation: CorrectionOperation
    text: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    why: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    rank: int = 0


class CorrectionInput(WireModel):
    operation: CorrectionOperation = CorrectionOperation.replace
    text: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    why: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    origin: Literal["ai", "user"] = "user"
    rank: int | None = None


class ProposedAmendment(WireModel):
    kind: AmendmentKind
    text: str = Field(min_length=1, max_length=MAX_ENTRY_TEXT)
    rationale: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    duplicates: list[str] = Field(
        default_factory=list, description="ids of existing entries this one repeats"
    )
    contradicts: list[str] = Field(
        default_factory=list, description="ids of existing entries this one contradicts"
    )


class AmendmentDraft(WireModel):
    """The amendment under preview: not yet part of the context."""

    kind: AmendmentKind
    text: str = Field(min_length=1, max_length=MAX_ENTRY_TEXT)
    rationale: str = Field(default="", max_length=MAX_ENTRY_TEXT)


class Probe(WireModel):
    prompt: str = Field(min_length=1, max_length=MAX_QUOTE_TEXT)
    kind: ProbeKind
    expectation: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    notebook: str | None = Field(
        default=None,
        max_length=4096,
        description="the notebook whose context answers this probe (a promotion's preview "
        "asks other notebooks' prompts); None: the notebook being previewed",
    )


class NoiseMeasure(WireModel):
    """How far the amended answer moved, set against how far the baseline moves by
    sampling alone. Shares are word-level: 0 for identical texts, 1 for nothing in common."""

    measure: Literal["word_change_share"] = "word_change_share"
    baseline_samples: int = Field(ge=2, description="baseline answers compared with each other")
    baseline_spread: float = Field(
        ge=0.0, le=1.0, description="the largest change share between two baseline samples"
    )
    amended_change: float = Field(
        ge=0.0,
        le=1.0,
        description="the change share between the amended answer and the nearest baseline sample",
    )
    margin: float = Field(
        ge=0.0, le=1.0, description="how far beyond the spread a change must go to count"
    )
    within_noise: bool


class AnswerShape(WireModel):
    """The countable shape of one answer (code blocks are not searched for lists)."""

    words: int = Field(ge=0)
    prose_words: int = Field(ge=0, description="words outside code blocks")
    lines: int = Field(ge=0, description="non-blank lines")
    sentences: int = Field(
        ge=0, description="ends of sentence outside code, and a last one left open"
    )
    bullets: int = Field(ge=0, description="lines starting with -, * or •")
    numbered: int = Field(ge=0, description="lines starting with 1. or 1)")
    headings: int = Field(ge=0)
    table_rows: int = Field(ge=0)
    code_blocks: int = Field(ge=0)
    questions: int = Field(ge=0, description="question marks outside code")


class AnswerMeasures(WireModel):
    """Deterministic measures of a probe's amended answer against its baseline
    (``core/operations/measures.py``): they stand beside the judge's verdict."""

    word_change_share: float = Field(
        ge=0.0, le=1.0, description="0 for the same words in the same order, 1 for none shared"
    )
    key_terms: list[str] = Field(
        default_factory=list, description="a fact amendment's distinctive terms (none for rules)"
    )
    terms_in_baseline: list[str] = Field(default_factory=list)
    terms_in_amended: list[str] = Field(default_factory=list)
    terms_gained: list[str] = Field(
        default_factory=list, description="key terms in the amended answer, not the baseline"
    )
    terms_lost: list[str] = Field(
        default_factory=list, description="key terms in the baseline, not the amended answer"
    )
    length_ratio: float = Field(ge=0.0, description="amended words ÷ baseline words")
    baseline_shape: AnswerShape
    amended_shape: AnswerShape
    shape_changes: list[str] = Field(
        default_factory=list, description='e.g. "bullets 0 → 4"; length only beyond ±50%'
    )
    measured_verdict: Literal["intended", "unintended", "unchanged"] = Field(
        description="the verdict these measures alone point to (no model involved)"
    )


VerdictSource = Literal["identical", "deterministic", "noise_floor", "judge", "weak_judge"]


class ProbeOutcome(WireModel):
    probe: Probe
    baseline: str
    amended: str
    baseline_hash: str
    amended_hash: str
    baseline_cached: bool = False
    verdict: Verdict
    reason: str = ""
    # Set whenever the answers differ (the baseline was sampled again to measure
    # the noise floor); None when amended and baseline answers are identical.
    noise: NoiseMeasure | None = None
    measures: AnswerMeasures | None = Field(
        default=None, description="deterministic measures, set on every outcome of a preview"
    )
    verdict_source: VerdictSource = Field(
        default="judge",
        description="what decided the verdict: identical answers, a deterministic check "
        "(a fact's key terms, a rule's shape), the noise floor, or the judge model; "
        "'weak_judge' when that model agrees poorly with the labelled calibration cases, "
        "so the measures lead and the verdict is a weak signal",
    )


class PreviewReport(WireModel):
    amendment: AmendmentDraft
    outcomes: list[ProbeOutcome]
    cancelled: bool = False
    model: str
    duration_s: float = 0.0
    noise_samples: int = Field(
        default=1, ge=1, description="extra baseline samples drawn per probe whose answers differ"
    )


class PreviewProgress(WireModel):
    """One progress event of a running preview."""

    event: Literal["started", "probe", "finished", "error"]
    total: int = 0
    done: int = 0
    outcome: ProbeOutcome | None = None
    report: PreviewReport | None = None
    message: str | None = None
    noise_samples: int | None = Field(
        default=None,
        description="on 'started': the extra baseline samples this preview draws per "
        "changed probe, so a client can report a preview it cancels",
    )
    probes: list[Probe] | None = Field(
        default=None,
        description="on 'started': the probes being answered, in order (a client that did "
        "not choose them, such as a promotion's preview, shows them while they run)",
    )


# -- the check of a whole constitution ----------------------------------------------


class ProbeCheck(WireModel):
    """One stored probe of an amendment, answered again with it (and without it,
    unless the answer with it decided)."""

    index: int = Field(ge=0, description="the probe's position in the amendment's preview list")
    prompt: str
    probe_kind: ProbeKind
    expectation: Expectation
    outcome: Literal["pass", "fail", "flaky"]
    decided_by: Literal["identical", "deterministic", "noise", "judge"] = Field(
        description="identical answers; a deterministic check (key terms, shape); the "
        "noise floor; or the model judge"
    )
    verdict: Verdict
    reason: str = ""
    baseline: str | None = Field(
        default=None,
        description="the answer without the amendment; null when the amended answer "
        "alone showed the amendment holds (its key terms, its shape), so it was not asked",
    )
    amended: str = Field(description="the answer with every enabled amendment")
    baseline_hash: str | None = None
    amended_hash: str
    accepted_hash: str | None = Field(
        default=None, description="the amended answer's hash when the amendment was accepted"
    )
    noise: NoiseMeasure | None = None
    measures: dict[str, MeasureValue] = Field(default_factory=dict)
    conflict_with: str | None = Field(
        default=None,
        description="a failing probe that passes once this other amendment is removed",
    )


class AmendmentCheck(WireModel):
    """The check of one amendment: its health and the evidence."""

    amendment_id: str
    kind: AmendmentKind
    text: str
    health: Health
    summary: str = ""
    conflicts_with: list[str] = Field(default_factory=list)
    probes: list[ProbeCheck] = Field(default_factory=list)


class CheckReport(WireModel):
    provider: str
    model: str
    at: datetime
    amendments: list[AmendmentCheck]
    cancelled: bool = False
    replayed: bool = Field(default=False, description="every answer came from a recording")
    calls: int = Field(default=0, description="model calls made (0 when replayed)")
    duration_s: float = 0.0

    @property
    def all_hold(self) -> bool:
        """True when no amendment is broken, flaky or in conflict (untested ones aside)."""
        return not self.cancelled and all(
            a.health in (Health.holds, Health.untested) for a in self.amendments
        )


class CheckProgress(WireModel):
    """One progress event of a running check.

    ``started`` (``total`` probes, ``amendments`` to check), one ``probe`` event per
    answered probe (``amendment_id`` + ``probe``), one ``amendment`` event when an
    amendment's health is known (after its conflicts are looked for), ``finished``
    with the report; ``error`` carries a message (sent by a door, not by the core)."""

    event: Literal["started", "probe", "amendment", "finished", "error"]
    total: int = 0
    done: int = 0
    amendments: int = 0
    amendment_id: str | None = None
    probe: ProbeCheck | None = None
    amendment: AmendmentCheck | None = None
    report: CheckReport | None = None
    message: str | None = None
