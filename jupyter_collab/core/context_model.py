"""The context data model: one notebook's constitution and its provenance.

Everything here is a pydantic model so a context file is validated on load and
every entry keeps its shape on the wire. Entries are kept in lists ordered by
creation (prompt assembly depends on that order) and carry stable ids, so the
sidecar JSON diffs and merges cleanly in git.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

SCHEMA_VERSION = 1

# Bounds that keep a hostile or runaway file from turning into a giant prompt.
MAX_ENTRY_TEXT = 8_000
MAX_QUOTE_TEXT = 20_000
MAX_TOMBSTONES = 100_000

ShortText = Annotated[str, Field(max_length=MAX_ENTRY_TEXT)]
EntryId = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def new_id(prefix: str) -> str:
    """A short random id, e.g. ``a-3f9c2d1e8b7a``; stable once written."""
    return f"{prefix}-{secrets.token_hex(6)}"


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in a hand-edited file must not be ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    #: Fields added after context files were first written: the file leaves them out
    #: while they are unset (None, empty), so a file that uses none of them stays
    #: byte-identical and readable by the versions that predate them (``context_format.py``).
    omit_when_unset: ClassVar[tuple[str, ...]] = ()


class FrozenModel(StrictModel):
    """Evidence: replaced, never changed in place, so a save can tell unchanged
    evidence by identity instead of serializing it again (``context_evidence.py``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Mode(str, Enum):
    research = "research"
    learning = "learning"


class AmendmentKind(str, Enum):
    fact = "fact"
    process = "process"


class AmendmentStatus(str, Enum):
    proposed = "proposed"
    previewed = "previewed"
    accepted = "accepted"
    disabled = "disabled"
    superseded = "superseded"


class CorrectionOperation(str, Enum):
    replace = "replace"
    delete = "delete"
    insert = "insert"
    comment = "comment"


class Verdict(str, Enum):
    intended = "intended"
    unintended = "unintended"
    unchanged = "unchanged"
    # The amended answer differs from the baseline no more than the baseline differs
    # from a second sample of itself: no effect beyond sampling noise (not judged).
    within_noise = "within_noise"


class ProbeKind(str, Enum):
    original = "original"
    notebook = "notebook"
    should_change = "should_change"
    should_not_change = "should_not_change"
    user = "user"


class Settings(StrictModel):
    """Per-notebook defaults; ``None`` means "use the server/kernel default"."""

    mode: Mode = Mode.research
    model: str | None = Field(default=None, max_length=200)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    token_budget: int | None = Field(default=None, ge=0, le=2_000_000)
    include_history: bool = True


POSITION_OFFSETS = (
    "Offset in the raw answer text, counted in Unicode code points (the index of a "
    "Python str), not in UTF-16 code units: a character outside the Basic "
    "Multilingual Plane (most emoji) counts once, a combining mark counts on its own. "
    "The lab extension converts from and to its UTF-16 strings in labextension/src/offsets.ts."
)


class TextPositionSelector(FrozenModel):
    """W3C Web Annotation text position selector: ``answer[start:end]`` in code points."""

    type: Literal["TextPositionSelector"] = "TextPositionSelector"
    start: int = Field(ge=0, description=POSITION_OFFSETS)
    end: int = Field(ge=0, description=POSITION_OFFSETS)

    @model_validator(mode="after")
    def _ordered(self) -> TextPositionSelector:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class TextQuoteSelector(FrozenModel):
    """W3C Web Annotation text quote selector: the exact span plus its surroundings."""

    type: Literal["TextQuoteSelector"] = "TextQuoteSelector"
    exact: str = Field(min_length=1, max_length=MAX_QUOTE_TEXT)
    prefix: str = Field(default="", max_length=200)
    suffix: str = Field(default="", max_length=200)


class Highlight(FrozenModel):
    id: EntryId = Field(default_factory=lambda: new_id("h"))
    cell_id: str | None = Field(default=None, max_length=200)
    response_id: str | None = Field(default=None, max_length=200)
    answer_hash: str | None = Field(default=None, max_length=128)
    position: TextPositionSelector
    quote: TextQuoteSelector
    created: datetime = Field(default_factory=utcnow)
    rev: int = Field(default=1, ge=1)


class Correction(FrozenModel):
    id: EntryId = Field(default_factory=lambda: new_id("c"))
    highlight_id: EntryId | None = None
    operation: CorrectionOperation = CorrectionOperation.replace
    text: ShortText = ""
    rationale: ShortText = ""
    origin: Literal["ai", "user"] = "user"
    rank: int | None = Field(default=None, ge=0)
    created: datetime = Field(default_factory=utcnow)
    rev: int = Field(default=1, ge=1)


class Provenance(FrozenModel):
    """Where an amendment came from: which notebook, cell, span and correction."""

    omit_when_unset: ClassVar[tuple[str, ...]] = ("notebook",)

    notebook: str | None = Field(
        default=None,
        max_length=4_000,
        description="the notebook the entry was made in, set when it leaves that notebook "
        "(promoted to a shared layer, imported into another notebook); relative to the "
        "layer's folder when it is inside it",
    )
    cell_id: str | None = Field(default=None, max_length=200)
    response_id: str | None = Field(default=None, max_length=200)
    highlight_id: EntryId | None = None
    correction_id: EntryId | None = None
    quote: str | None = Field(default=None, max_length=MAX_QUOTE_TEXT)
    correction: ShortText | None = None
    prompt: str | None = Field(default=None, max_length=MAX_QUOTE_TEXT)
    source: Literal["loop", "user", "cli", "import"] = "loop"


class Expectation(str, Enum):
    """What a probe's answer should do when the amendment is added."""

    change = "change"
    no_change = "no_change"


class Health(str, Enum):
    """An amendment's state in the last check of the constitution."""

    holds = "holds"  # every probe meets its expectation
    broken = "broken"  # a probe fails its expectation (ignored, no effect, over-reach)
    flaky = "flaky"  # no failure, but a probe's effect is within sampling noise
    conflict = "conflict"  # a probe fails with another amendment enabled, passes without it
    untested = "untested"  # no probes recorded to check it with


#: How much of each accepted amended answer an amendment keeps as evidence (the
#: hashes cover both whole answers): 280 characters per probe, the baseline's hash
#: only, since a check keeps up to 200 probes per amendment and the evidence
#: travels inside the .ipynb. The prompt the amendment came from is the exception:
#: its amended answer is kept whole (up to MAX_ACCEPTED_ANSWER), as the "chosen"
#: answer a training export pairs with the answer as it was. Evidence lives in
#: its own files, which a call's prompt never reads (context-split.md).
MAX_STORED_ANSWER = 280
#: About four times the longest answer the default max_tokens allows.
MAX_ACCEPTED_ANSWER = 32_000
MAX_MEASURES = 16
MeasureValue = float | int | bool | str


class PreviewResult(FrozenModel):
    """One probe an amendment was accepted on, with what it was accepted on."""

    omit_when_unset: ClassVar[tuple[str, ...]] = (
        "expectation",
        "amended_text",
        "measures",
    )

    probe: str = Field(max_length=MAX_QUOTE_TEXT)
    probe_kind: ProbeKind = ProbeKind.user
    baseline_hash: str = Field(max_length=128)
    amended_hash: str = Field(max_length=128)
    verdict: Verdict
    reason: ShortText = ""
    expectation: Expectation | None = Field(
        default=None,
        description="set by the researcher; None: derived from the probe kind and verdict "
        "(see expected())",
    )
    amended_text: str | None = Field(
        default=None,
        max_length=MAX_ACCEPTED_ANSWER,
        description="the accepted amended answer: whole for the prompt the amendment came "
        "from (up to 32,000 characters), its first 280 characters for other probes",
    )
    measures: dict[str, MeasureValue] = Field(
        default_factory=dict,
        max_length=MAX_MEASURES,
        description="deterministic measures at acceptance (word change, noise spread, "
        "key terms found, shape of the answer)",
    )

    @field_validator("measures")
    @classmethod
    def _short_measures(cls, value: dict[str, MeasureValue]) -> dict[str, MeasureValue]:
        for key, item in value.items():
            if len(key) > 64 or (isinstance(item, str) and len(item) > 500):
                raise ValueError(f"measure {key[:64]!r} is too long")
        return value

    def expected(self) -> Expectation:
        """The expectation in force: the researcher's, else the probe kind's (should
        change, the prompt it came from: change; should not change: no change), else
        what the preview found (an intended change: change; otherwise no change)."""
        if self.expectation is not None:
            return self.expectation
        if self.probe_kind in (ProbeKind.should_change, ProbeKind.original):
            return Expectation.change
        if self.probe_kind == ProbeKind.should_not_change:
            return Expectation.no_change
        return Expectation.change if self.verdict == Verdict.intended else Expectation.no_change


class CheckRecord(FrozenModel):
    """The last check of an amendment, kept on it so every door can show its health."""

    health: Health
    at: datetime
    provider: str = Field(max_length=100)
    model: str = Field(max_length=200)
    summary: str = Field(default="", max_length=1_000)
    conflicts_with: list[EntryId] = Field(default_factory=list, max_length=50)
    probes_passed: int = Field(default=0, ge=0)
    probes_total: int = Field(default=0, ge=0)
    replayed: bool = False


class AmendmentRevision(FrozenModel):
    """One earlier state of an amendment, kept so edits can be reviewed and undone."""

    at: datetime
    kind: AmendmentKind
    text: ShortText
    status: AmendmentStatus
    note: str = Field(default="", max_length=500)


class Amendment(StrictModel):
    omit_when_unset: ClassVar[tuple[str, ...]] = ("preview_model", "check")

    id: EntryId = Field(default_factory=lambda: new_id("a"))
    kind: AmendmentKind
    text: ShortText = Field(min_length=1)
    status: AmendmentStatus = AmendmentStatus.accepted
    rationale: ShortText = ""
    provenance: Provenance = Field(default_factory=Provenance)
    preview: list[PreviewResult] = Field(default_factory=list, max_length=200)
    created: datetime = Field(default_factory=utcnow)
    updated: datetime = Field(default_factory=utcnow)
    rev: int = Field(default=1, ge=1)
    history: list[AmendmentRevision] = Field(default_factory=list, max_length=500)
    preview_model: str | None = Field(
        default=None, max_length=200, description="the model the preview answered with"
    )
    check: CheckRecord | None = Field(default=None, description="the last check's result")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("amendment text is blank")
        return value

    @property
    def enabled(self) -> bool:
        return self.status == AmendmentStatus.accepted


class CollabContext(StrictModel):
    """A notebook's whole context: the file format of ``X.collab.json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    revision: int = Field(default=0, ge=0)
    settings: Settings = Field(default_factory=Settings)
    amendments: list[Amendment] = Field(default_factory=list)
    highlights: list[Highlight] = Field(default_factory=list)
    corrections: list[Correction] = Field(default_factory=list)
    # Tombstones: ids of entries deleted from this context. Reconciling with an
    # older embedded copy that still holds them must not bring them back.
    # Written only when non-empty, so older files (and readers) are unaffected.
    removed: list[EntryId] = Field(default_factory=list, max_length=MAX_TOMBSTONES)
    #: Set only on the context a prompt is assembled from when shared layers apply
    #: (``core/layers.py``): the leading amendments that come from them, as
    #: (layer, number of amendments) in prompt order. A private attribute, so it
    #: is never written to a file or sent on the wire.
    _shared_layers: tuple[tuple[str, int], ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _unique_ids(self) -> CollabContext:
        for name in ("amendments", "highlights", "corrections"):
            seen: set[str] = set()
            for entry in getattr(self, name):
                if entry.id in seen:
                    raise ValueError(f"{name}: duplicate id {entry.id!r}")
                seen.add(entry.id)
        return self

    def editable_copy(self) -> CollabContext:
        """A copy that can be changed without touching this context, made without
        copying its evidence: the evidence models are frozen, so they are shared,
        and every list and mutable model is new. At 10,000 entries this is a
        fraction of a deep copy, and a save sees the shared evidence as unchanged
        (``context_evidence.evidence_parts``) instead of writing it again."""
        amendments = []
        for amendment in self.amendments:
            copied = amendment.model_copy()
            fields = copied.__dict__
            fields["preview"] = list(fields["preview"])
            fields["history"] = list(fields["history"])
            amendments.append(copied)
        return self.model_copy(
            update={
                "settings": self.settings.model_copy(),
                "amendments": amendments,
                "highlights": list(self.highlights),
                "corrections": list(self.corrections),
                "removed": list(self.removed),
            }
        )

    def amendment(self, amendment_id: str) -> Amendment:
        for entry in self.amendments:
            if entry.id == amendment_id:
                return entry
        from .errors import NotFoundError

        raise NotFoundError(f"no amendment with id {amendment_id!r} in this context")

    def enabled_amendments(self) -> list[Amendment]:
        return [a for a in self.amendments if a.enabled]
