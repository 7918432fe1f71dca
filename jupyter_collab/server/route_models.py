"""Server-only wire models (requests and responses of the REST and WebSocket routes).

The loop's own shapes (``CompletionInput``, ``CompletionResult``,
``HighlightInput``, ``PreviewProgress``…) live in ``core/operation_models.py`` and are
reused as they are, so the browser and the kernel see the same JSON. What is
here only exists because of HTTP: a notebook ``path`` on every request (the
server loads the context itself), base revisions, and the PATCH operations.
A completion's request (``completion_request``) and the stream's events and
messages (``stream_protocol``) have modules of their own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..core.context_model import (
    MAX_ENTRY_TEXT,
    MAX_QUOTE_TEXT,
    Amendment,
    AmendmentKind,
    AmendmentStatus,
    CollabContext,
    Expectation,
    Mode,
)
from ..core.operation_models import (
    AmendmentDraft,
    CorrectionInput,
    HighlightInput,
    PreviewReport,
    Probe,
    ProposedAmendment,
    SuggestedCorrection,
)
from ..core.operations.preview import MAX_PROBES
from ..core.outputs import CollabDisplayData

NotebookPath = Annotated[str, Field(min_length=1, max_length=4096)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- info ------------------------------------------------------------------------


class VersionInfo(WireModel):
    version: str
    schema_version: int
    provider: str


class ModelsInfo(WireModel):
    """What the UI may know about the model setup: never a key, only whether one is set."""

    provider: str
    model: str | None
    ops_model: str | None
    allowed_models: list[str]
    default_mode: Mode
    key_configured: bool
    preview_concurrency: int
    token_budget: int


# -- context -----------------------------------------------------------------------


class ContextView(WireModel):
    """A notebook's context as the server sees it (GET, PUT, PATCH, accept)."""

    path: str
    context: CollabContext
    revision: int
    token_count: int
    # The JSON to store in ``metadata.jupyter_collab.context`` when the notebook is
    # saved. ``None`` while an embedded context awaits review: embedding then
    # would overwrite what the researcher has not reviewed yet.
    embedded: dict[str, Any] | None = None
    expectations: dict[str, list[Expectation]] = Field(
        default_factory=dict,
        description="for each amendment id, the expectation in force of each stored probe "
        "(in order): the researcher's, else the one derived from the probe",
    )


class OpenedContext(ContextView):
    """GET context: the sidecar reconciled with the notebook's embedded copy."""

    reconcile: Literal["none", "identical", "sidecar_only", "embedded_only", "merged"]
    conflicts: list[str] = Field(default_factory=list)
    trusted: bool
    # An embedded context from an untrusted notebook is never applied: it is
    # returned here for review and applied by POST context/accept.
    needs_review: bool = False
    pending: CollabContext | None = None
    pending_hash: str | None = None
    embedded_only_ids: list[str] = Field(default_factory=list)
    restored: bool = False  # the sidecar was written from the embedded copy
    embedded_error: str | None = None  # the embedded copy did not validate (ignored)
    embedded_layers: list[dict[str, Any]] | None = Field(
        default=None,
        description="the shared layers' entries this notebook's prompts use, to store in "
        "metadata.jupyter_collab.layers when it is saved (core/layer_sharing.py); None "
        "when they cannot be read here (no local files, a layer file that does not parse)",
    )


class ContextPut(WireModel):
    """Replace the whole context; ``revision`` is the one it was based on."""

    context: CollabContext
    revision: int = Field(ge=0)


EntryIdField = Annotated[str, Field(min_length=1, max_length=64)]


class AddAmendment(WireModel):
    op: Literal["add_amendment"]
    kind: AmendmentKind
    text: str = Field(min_length=1, max_length=MAX_ENTRY_TEXT)
    rationale: str = Field(default="", max_length=MAX_ENTRY_TEXT)
    status: AmendmentStatus = AmendmentStatus.accepted


class UpdateAmendment(WireModel):
    op: Literal["update_amendment"]
    id: EntryIdField
    text: str | None = Field(default=None, min_length=1, max_length=MAX_ENTRY_TEXT)
    kind: AmendmentKind | None = None
    status: AmendmentStatus | None = None
    rationale: str | None = Field(default=None, max_length=MAX_ENTRY_TEXT)
    note: str = Field(default="edited", max_length=500)

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateAmendment:
        if all(v is None for v in (self.text, self.kind, self.status, self.rationale)):
            raise ValueError("update_amendment needs at least one of text, kind, status, rationale")
        return self


class ToggleAmendment(WireModel):
    op: Literal["toggle_amendment"]
    id: EntryIdField


class RemoveAmendment(WireModel):
    op: Literal["remove_amendment"]
    id: EntryIdField


class RestoreAmendment(WireModel):
    """Undo a removal: put the removed entry back (at ``index`` when given)."""

    op: Literal["restore_amendment"]
    amendment: Amendment
    index: int | None = Field(default=None, ge=0)


class UndoAmendment(WireModel):
    """Return an entry to the state before its last change."""

    op: Literal["undo_amendment"]
    id: EntryIdField


class SettingsChange(WireModel):
    """Only the fields given are changed; ``null`` resets one to the server default."""

    mode: Mode | None = None
    model: str | None = Field(default=None, max_length=200)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    token_budget: int | None = Field(default=None, ge=0, le=2_000_000)
    include_history: bool | None = None


class SetSettings(WireModel):
    op: Literal["set_settings"]
    settings: SettingsChange


ProbeNumber = Annotated[int, Field(ge=1, description="1-based, as the check report numbers it")]


class SetExpectation(WireModel):
    """Probe ``probe`` of the amendment should change its answer, or should not."""

    op: Literal["set_expectation"]
    id: EntryIdField
    probe: ProbeNumber
    expectation: Expectation


class AddProbe(WireModel):
    """A probe of the researcher's own, checked from the next check on."""

    op: Literal["add_probe"]
    id: EntryIdField
    prompt: str = Field(min_length=1, max_length=MAX_QUOTE_TEXT)
    expectation: Expectation


class RemoveProbe(WireModel):
    op: Literal["remove_probe"]
    id: EntryIdField
    probe: ProbeNumber


PatchOperation = Annotated[
    AddAmendment
    | UpdateAmendment
    | ToggleAmendment
    | RemoveAmendment
    | RestoreAmendment
    | UndoAmendment
    | SetSettings
    | SetExpectation
    | AddProbe
    | RemoveProbe,
    Field(discriminator="op"),
]


class ContextPatch(WireModel):
    revision: int = Field(ge=0)
    operations: list[PatchOperation] = Field(min_length=1, max_length=100)


class AcceptReview(WireModel):
    """Accept the embedded context that GET context returned for review."""

    revision: int = Field(ge=0, description="the sidecar revision the review was based on")
    pending_hash: str | None = Field(
        default=None, max_length=128, description="pending_hash of the reviewed context"
    )


# -- loop operations -------------------------------------------------------------


class SuggestRequest(WireModel):
    path: NotebookPath | None = None
    highlight: HighlightInput
    n: int = Field(default=3, ge=1, le=5)


class AmendRequest(WireModel):
    path: NotebookPath | None = None
    highlight: HighlightInput
    correction: CorrectionInput
    n: int = Field(default=3, ge=1, le=5)


class ProbesRequest(WireModel):
    amendment: AmendmentDraft
    notebook_prompts: list[Annotated[str, Field(max_length=MAX_QUOTE_TEXT)]] = Field(
        default_factory=list, max_length=MAX_PROBES
    )
    original_prompt: str | None = Field(default=None, max_length=MAX_QUOTE_TEXT)
    n: int = Field(default=4, ge=0, le=12)


class PreviewRequest(WireModel):
    path: NotebookPath | None = None
    amendment: AmendmentDraft
    probes: list[Probe] = Field(min_length=1, max_length=MAX_PROBES)


class CheckRequest(WireModel):
    """Check a notebook's enabled amendments (or one) on their stored probes; the
    results are stored on the amendments when the check ends."""

    path: NotebookPath
    amendment_id: EntryIdField | None = Field(
        default=None, description="check only this amendment (conflicts are still looked for)"
    )


class FinalizeRequest(WireModel):
    path: NotebookPath
    revision: int | None = Field(
        default=None, ge=0, description="if given, refuse (409) when the context moved on"
    )
    amendment: AmendmentDraft
    highlight: HighlightInput | None = None
    correction: CorrectionInput | None = None
    report: PreviewReport | None = None
    cell_id: str | None = Field(default=None, max_length=200)
    output: dict[str, Any] | None = Field(
        default=None,
        description="the collab MIME payload of the answer the highlight is on, as the "
        "notebook holds it; the reply then carries that answer's display output "
        "with the finalized highlight added",
    )


class SuggestReply(WireModel):
    """``POST suggest``'s answer."""

    suggestions: list[SuggestedCorrection]


class ProposeReply(WireModel):
    """``POST propose``'s answer."""

    amendments: list[ProposedAmendment]


class ProbesReply(WireModel):
    """``POST probes``'s answer."""

    probes: list[Probe]


class FinalizeReply(WireModel):
    """``POST finalize``'s answer: the new amendment and the context it is now in."""

    amendment: Amendment
    context: ContextView
    output: CollabDisplayData | None = Field(
        default=None,
        description="the answer's display output with the finalized highlight, when the "
        "request carried the answer's payload and it could be read",
    )


class ErrorReply(WireModel):
    """The body of every error answer of the REST routes."""

    message: str
    reason: str
