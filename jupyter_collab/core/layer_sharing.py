"""Sharing a notebook whose answers used shared layers.

A notebook exported with its context (``jupyter collab context export``) also
embeds the shared layers' entries it used, at ``metadata.jupyter_collab.layers``:
each layer's name, its file (the project layer's relative to the notebook's
folder), revision and entries. A recipient whose own layers lack some of those
entries is told which (:func:`missing_layers`) instead of silently getting
answers from a different constitution.

Embedded layers are never applied: like a context embedded in an untrusted
notebook, they become part of no prompt until someone accepts them into a file
of their own (``jupyter collab context import NB --from OTHER`` copies a
notebook's entries; a layer's entries are accepted the same way as any entry,
by adding them to a layer file). So the untrusted-notebook rule holds for every
layer that arrives with a notebook.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from .context_model import Amendment
from .errors import ContextFileError
from .layers import SHARED_LAYERS, ContextLayers, Layer, shared_entries
from .notebook import METADATA_KEY
from .operations.amend import repeats

LAYERS_KEY = "layers"
MAX_EMBEDDED_ENTRIES = 5_000


class EmbeddedLayer(BaseModel):
    """One shared layer as a shared notebook carries it."""

    layer: Layer
    file: str = Field(
        max_length=4_000,
        description="the project layer's file relative to the notebook's folder; "
        "'personal' for the personal layer",
    )
    revision: int = Field(ge=0)
    entries: list[Amendment] = Field(max_length=MAX_EMBEDDED_ENTRIES)


def layers_manifest(layers: ContextLayers, notebook: str | os.PathLike[str]) -> list[EmbeddedLayer]:
    """The shared layers whose entries reach this notebook's prompt, as a shared
    notebook should carry them."""
    folder = Path(os.path.abspath(notebook)).parent
    manifest = []
    for layer, entries in shared_entries(layers):
        entries = [a for a in entries if a.enabled]
        if not entries:
            continue
        found = layers.get(layer)
        if layer == Layer.project and found.path is not None:
            name = Path(os.path.relpath(found.path, folder)).as_posix()
        else:
            name = "personal"
        revision = found.context.revision if found.context is not None else 0
        manifest.append(EmbeddedLayer(layer=layer, file=name, revision=revision, entries=entries))
    return manifest


def embed_layers(node: dict[str, Any], manifest: list[EmbeddedLayer]) -> dict[str, Any]:
    """Store ``manifest`` in the notebook's metadata, in place (removed when empty)."""
    section = node.setdefault("metadata", {}).setdefault(METADATA_KEY, {})
    if manifest:
        section[LAYERS_KEY] = [item.model_dump(mode="json") for item in manifest]
    else:
        section.pop(LAYERS_KEY, None)
    return node


def embedded_layers(node: dict[str, Any], source: str) -> list[EmbeddedLayer]:
    """The shared layers a notebook carries (``[]`` when none); a malformed section
    raises :class:`ContextFileError` naming it."""
    section = (node.get("metadata") or {}).get(METADATA_KEY) or {}
    data = section.get(LAYERS_KEY) if isinstance(section, dict) else None
    if data is None:
        return []
    where = f"{source} (metadata.{METADATA_KEY}.{LAYERS_KEY})"
    if not isinstance(data, list):
        raise ContextFileError(where, "expected a list of layers")
    try:
        return [EmbeddedLayer.model_validate(item) for item in data]
    except ValidationError as err:
        first = err.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ContextFileError(where, f"{location}: {first['msg']}") from None


def missing_layers(embedded: list[EmbeddedLayer], layers: ContextLayers) -> list[str]:
    """What a shared notebook's layers hold that the recipient's layers do not: one
    sentence per layer, empty when every embedded entry applies here too (same id,
    or an entry saying the same in any layer)."""
    here = [a for layer in layers.in_prompt_order() for a in layer.entries if a.enabled]
    ids = {a.id for a in here}
    messages = []
    for item in embedded:
        if item.layer not in SHARED_LAYERS:
            continue
        lacking = [a for a in item.entries if a.id not in ids and not repeats(a.text, here)]
        if not lacking:
            continue
        what = (
            f"the {item.layer.value} layer it was shared with "
            f"({item.file}, revision {item.revision})"
        )
        if len(lacking) == len(item.entries) and not layers.get(item.layer).entries:
            head = f"{what} is missing here"
        else:
            head = f"{len(lacking)} of the {len(item.entries)} entries of {what} do not apply here"
        listed = "; ".join(f"{a.id}: {a.text.strip()[:80]}" for a in lacking[:5])
        more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        messages.append(
            f"{head} ({listed}{more}): its answers were made with them, so answers here may "
            "differ. They are not applied from the notebook; add them to a layer of your "
            "own if you want them."
        )
    return messages
