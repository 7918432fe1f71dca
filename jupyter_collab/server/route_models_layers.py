"""The bodies of the layer routes (``layers``, ``layers/contradictions``,
``layers/move``, ``layers/import``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..core.context_model import Amendment
from ..core.layer_report import LayersReport
from ..core.layers import Layer
from ..core.operations.layer_contradictions import LayerContradictions
from .route_models import ContextView, NotebookPath, WireModel

EntryId = Annotated[str, Field(min_length=1, max_length=64)]


class LayersView(WireModel):
    """GET layers: every layer of a notebook, which entries apply and why."""

    path: str
    report: LayersReport


class LayerContradictionsRequest(WireModel):
    """Which entries of a notebook's layers contradict an entry of another layer."""

    path: NotebookPath


class LayerContradictionsReply(WireModel):
    """POST layers/contradictions: the ops model's verdicts on the closest pairs of
    entries of different layers (verdicts already given are not asked again)."""

    path: str
    result: LayerContradictions


class LayerMoveRequest(WireModel):
    """Promote (from the notebook) or demote (into it) one entry."""

    path: NotebookPath
    entry_id: EntryId
    from_layer: Layer
    to_layer: Layer
    revisions: dict[Layer, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="the revisions of the layers the move was based on (from GET layers); "
        "a layer that changed since is refused with 409",
    )
    project_dir: str | None = Field(
        default=None,
        max_length=4096,
        description="a folder under the server root to start a project layer in "
        "(FOLDER/.collab/context.json) when the notebook has none; '' is the root",
    )


class NotebookEffectView(WireModel):
    notebook: str = Field(description="the notebook's path under the server root")
    effect: str = Field(
        description="gains: the entry will apply to it; repeats: it already has an entry "
        "saying the same (detail: its id); unreadable: its context file does not parse"
    )
    detail: str = ""


class LayerMovePreview(WireModel):
    """POST layers/preview: what a move would do, nothing written."""

    entry: Amendment = Field(description="the entry as it would arrive, with its provenance")
    target: str = Field(description="the target layer's file")
    every_notebook: bool = Field(description="the personal layer: it applies everywhere")
    notebooks: list[NotebookEffectView]
    truncated: bool = Field(description="more notebooks than the preview looks at")


class LayerMoveReply(WireModel):
    entry: Amendment
    layers: LayersView
    context: ContextView = Field(description="the notebook's own context after the move")


class LayerImportRequest(WireModel):
    """Import another notebook's accepted entries (or those named) into this one."""

    path: NotebookPath
    from_path: NotebookPath
    entry_ids: list[EntryId] = Field(default_factory=list, max_length=1000)
    revision: int | None = Field(
        default=None, ge=0, description="if given, refuse (409) when the context moved on"
    )
    dry_run: bool = Field(
        default=False, description="say what would be imported and skipped, write nothing"
    )


class LayerImportEffectRequest(WireModel):
    """The model preview of importing one entry of another notebook into this one:
    this notebook's most recent prompts, answered without and with it."""

    path: NotebookPath
    from_path: NotebookPath
    entry_id: EntryId = Field(description="the entry's id in the other notebook")


class LayerImportReply(WireModel):
    imported: list[Amendment] = Field(
        description="the entries as they arrive (or would, on a dry run), with provenance"
    )
    source_ids: list[EntryId] = Field(
        description="the other notebook's id of each imported entry, in the same order"
    )
    skipped: list[str] = Field(description="entries not imported, each with why")
    written: bool = Field(description="false on a dry run: nothing was written")
    context: ContextView


class ImportableView(WireModel):
    """GET layers/importable: notebooks this one could import entries from."""

    path: str
    notebooks: list[str] = Field(
        description="paths under the server root of the notebooks with a context file in "
        "the project's folder (or the notebook's own folder when no project layer reaches it)"
    )
    truncated: bool = Field(description="more notebooks than the search looks at")
