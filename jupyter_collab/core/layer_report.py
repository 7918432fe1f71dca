"""Which entries of which layer apply to a notebook, why, and where layers repeat
each other: what ``jupyter collab context show --layers`` prints (and the wire's shape).

Repeats use the check proposals get (``operations.amend.repeats``). Whether two
entries contradict each other takes a model, so this report, deterministic and
fast, leaves it out and states the precedence (a nearer layer's entry wins over a
farther one's); ``operations/layer_contradictions.py`` asks the ops model about
the entries of different layers, for ``--contradictions`` and the panel's
``POST layers/contradictions``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from .context_model import Amendment, AmendmentStatus
from .layers import PROMPT_ORDER, ContextLayers, Layer, LayerFile, overridden_by
from .operations.amend import repeats


class LayerEntryReport(BaseModel):
    id: str
    kind: str
    text: str
    status: str
    applies: bool
    why: str = Field(description="why the entry applies to this notebook, or why not")
    repeats: list[str] = Field(
        default_factory=list, description="'layer:id' of entries of other layers it repeats"
    )
    origin_notebook: str | None = None


class LayerReport(BaseModel):
    layer: Layer
    path: str | None = Field(description="the layer's file; None when there is no such layer")
    exists: bool
    revision: int
    entries: list[LayerEntryReport]


class LayersReport(BaseModel):
    notebook: str
    layers: list[LayerReport] = Field(description="in prompt order: personal, project, notebook")
    missing: list[str] = Field(
        default_factory=list,
        description="shared layers the notebook carries (it was shared with them) whose "
        "entries do not apply here, one sentence each",
    )


#: How a report names a file: the CLI prints OS paths; the server names files by
#: their path under its root, and the personal layer without the home folder.
Display = Callable[[Path], str]


def _reason(layer: LayerFile, notebook: str, display: Display) -> str:
    if layer.layer == Layer.personal:
        return "personal layer: applies to every notebook you open"
    if layer.layer == Layer.project and layer.path is not None:
        folder = display(layer.path.parent.parent)
        return f"project layer of {folder}: {notebook} is inside that folder"
    return "this notebook's own entry"


def _entry_report(
    entry: Amendment, layer: LayerFile, layers: ContextLayers, notebook: str, display: Display
) -> LayerEntryReport:
    overridden = overridden_by(layers, layer.layer, entry.id)
    if overridden is not None:
        applies, why = False, f"overridden by the {overridden.value} layer's copy of {entry.id}"
    elif entry.status != AmendmentStatus.accepted:
        applies, why = False, f"{entry.status.value}: not in the prompt"
    else:
        applies, why = True, _reason(layer, notebook, display)
    found = []
    for other in PROMPT_ORDER:
        if other == layer.layer:
            continue
        others = [a for a in layers.get(other).entries if a.id != entry.id]
        found += [f"{other.value}:{i}" for i in repeats(entry.text, others)]
    return LayerEntryReport(
        id=entry.id,
        kind=entry.kind.value,
        text=entry.text,
        status=entry.status.value,
        applies=applies,
        why=why,
        repeats=found,
        origin_notebook=entry.provenance.notebook,
    )


def layers_report(
    layers: ContextLayers,
    notebook: str,
    display: Display = str,
    missing: Sequence[str] = (),
) -> LayersReport:
    reports = []
    for layer in layers.in_prompt_order():
        reports.append(
            LayerReport(
                layer=layer.layer,
                path=display(layer.path) if layer.path is not None else None,
                exists=layer.context is not None,
                revision=layer.context.revision if layer.context is not None else 0,
                entries=[_entry_report(a, layer, layers, notebook, display) for a in layer.entries],
            )
        )
    return LayersReport(notebook=notebook, layers=reports, missing=list(missing))
