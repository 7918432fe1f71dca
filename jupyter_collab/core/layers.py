"""Context layers: the notebook's constitution, its project's and the researcher's.

Three files of the same format (``context_format.py``), read and written by the
same store (``store.py``), so each has the notebook context's validation,
atomic writes, revision rule and provenance:

* the **personal** layer, ``jupyter_data_dir()/collab/context.json``: entries for
  every notebook of this researcher on this machine;
* the **project** layer, ``.collab/context.json`` in the nearest folder above the
  notebook that has one. The walk starts at the notebook's folder and stops at
  the first folder that is a repository root (it holds ``.git``), the root it is
  given (the server door gives the ContentsManager's root) or the file system's
  root, after looking in that folder;
* the **notebook** layer, ``X.collab.json`` beside ``X.ipynb`` (today's file).

Assembly order is most stable first: personal, project, notebook
(``core/assembly.py`` puts the shared layers and the notebook's own entries in
separate cached blocks). Precedence is the reverse: where entries disagree the
nearer layer wins. The model is told so in the constitution's introduction; an
entry whose id also appears in a nearer layer is left out of the prompt (a
promoted entry keeps its id, so a stale copy never applies twice).

Both doors ask :func:`context_in_effect` for what a prompt is assembled from.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .assembly import share_read_only
from .context_format import sidecar_path_for
from .context_model import Amendment, AmendmentStatus, CollabContext
from .filecache import FileCache
from .store import LocalContextStore

PROJECT_FOLDER = ".collab"
LAYER_FILE = "context.json"
REPOSITORY_MARKER = ".git"


class Layer(str, Enum):
    personal = "personal"
    project = "project"
    notebook = "notebook"


#: The order of the prompt (most stable first); precedence is the reverse.
PROMPT_ORDER = (Layer.personal, Layer.project, Layer.notebook)
SHARED_LAYERS = (Layer.personal, Layer.project)


def personal_layer_path() -> Path:
    """The personal layer's file (it may not exist yet)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "collab" / LAYER_FILE


def project_layer_path(folder: str | os.PathLike[str]) -> Path:
    """The project layer's file for a project rooted at ``folder``."""
    return Path(folder) / PROJECT_FOLDER / LAYER_FILE


def project_search_folders(
    notebook_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> list[Path]:
    """The folders the project layer is looked for in, nearest first: from the
    notebook's folder up to the repository root, ``root`` or the file system's root
    (whichever comes first, included)."""
    folder = Path(os.path.abspath(notebook_path)).parent
    stop = Path(os.path.abspath(root)) if root is not None else None
    folders = []
    while True:
        folders.append(folder)
        if folder == stop or (folder / REPOSITORY_MARKER).exists() or folder.parent == folder:
            return folders
        folder = folder.parent


def find_project_layer(
    notebook_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> Path | None:
    """The nearest project layer file above the notebook, or ``None``."""
    for folder in project_search_folders(notebook_path, root):
        candidate = project_layer_path(folder)
        if candidate.is_file():
            return candidate
    return None


def layer_store(path: str | os.PathLike[str]) -> LocalContextStore:
    """The store of a shared layer's file (the notebook layer's is ``LocalContextStore(nb)``)."""
    return LocalContextStore(path, sidecar=str(path))


@dataclass(frozen=True)
class LayerFile:
    """One layer as found for a notebook: where it is and what it holds."""

    layer: Layer
    path: Path | None  # None: no such layer (no project layer above the notebook)
    context: CollabContext | None  # None: the file does not exist (yet)

    @property
    def entries(self) -> list:
        return list(self.context.amendments) if self.context is not None else []


@dataclass(frozen=True)
class ContextLayers:
    """The layers that apply to one notebook."""

    notebook: LayerFile
    project: LayerFile
    personal: LayerFile

    def in_prompt_order(self) -> list[LayerFile]:
        return [self.personal, self.project, self.notebook]

    def get(self, layer: Layer | str) -> LayerFile:
        return getattr(self, Layer(layer).value)


_LAYER_FILES: FileCache[CollabContext | None] = FileCache(max_entries=32)


def read_layer(path: Path) -> CollabContext | None:
    """A shared layer's context (``None`` when the file does not exist), parsed once
    per version of the file and shared read-only: copy it before changing it."""

    def read() -> CollabContext | None:
        context = layer_store(path).load()
        return share_read_only(context) if context is not None else None

    return _LAYER_FILES.read(("layer", str(path)), [path], read)


def resolve_layers(
    notebook_path: str | os.PathLike[str],
    notebook_context: CollabContext | None,
    *,
    root: str | os.PathLike[str] | None = None,
    personal_path: Path | None = None,
) -> ContextLayers:
    """The notebook's layers: its own context (as the door loaded it), the nearest
    project layer and the personal layer. A layer file that does not parse raises
    :class:`ContextFileError` naming it, as the notebook's own does."""
    project_path = find_project_layer(notebook_path, root)
    personal = personal_path if personal_path is not None else personal_layer_path()
    return ContextLayers(
        notebook=LayerFile(
            Layer.notebook, Path(sidecar_path_for(str(notebook_path))), notebook_context
        ),
        project=LayerFile(
            Layer.project,
            project_path,
            read_layer(project_path) if project_path is not None else None,
        ),
        personal=LayerFile(Layer.personal, personal, read_layer(personal)),
    )


def shared_entries(layers: ContextLayers) -> list[tuple[Layer, list]]:
    """Each shared layer's entries that reach the prompt, in prompt order: not
    superseded, and not also in a nearer layer (the nearer copy wins)."""
    nearer: set[str] = {a.id for a in layers.notebook.entries}
    kept: list[tuple[Layer, list]] = []
    for layer in reversed(SHARED_LAYERS):  # nearest first, to know what is nearer
        entries = [
            a
            for a in layers.get(layer).entries
            if a.id not in nearer and a.status != AmendmentStatus.superseded
        ]
        nearer.update(a.id for a in layers.get(layer).entries)
        kept.append((layer, entries))
    return list(reversed(kept))


_EFFECTIVE_LOCK = threading.Lock()
_EFFECTIVE: dict[tuple[int, int, int], tuple[tuple, CollabContext]] = {}
_EFFECTIVE_MAX = 16


def layered_context(layers: ContextLayers) -> CollabContext | None:
    """The context a prompt is assembled from: the notebook's, with the shared
    layers' entries before its own (``CollabContext._shared_layers`` says which).

    The notebook's context itself when no shared entry applies (so nothing
    changes for a notebook without layers). The result is shared read-only and
    reused while the three contexts are the same objects (both doors keep parsed
    contexts while their files are unchanged); never save it: it is not any
    layer's file.
    """
    own = layers.notebook.context
    shared = [(layer, entries) for layer, entries in shared_entries(layers) if entries]
    if not shared:
        return own
    parts = (own, layers.project.context, layers.personal.context)
    key = tuple(id(part) for part in parts)
    with _EFFECTIVE_LOCK:
        hit = _EFFECTIVE.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], parts, strict=True)):
            return hit[1]
    base = own if own is not None else CollabContext()
    amendments = [a for _, entries in shared for a in entries] + list(base.amendments)
    effective = base.model_copy(update={"amendments": amendments})
    effective._shared_layers = tuple((layer.value, len(entries)) for layer, entries in shared)
    share_read_only(effective)
    with _EFFECTIVE_LOCK:
        if len(_EFFECTIVE) >= _EFFECTIVE_MAX:
            _EFFECTIVE.pop(next(iter(_EFFECTIVE)))
        _EFFECTIVE[key] = (parts, effective)
    return effective


def context_in_effect(
    notebook_path: str | os.PathLike[str],
    notebook_context: CollabContext | None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> CollabContext | None:
    """What a prompt of this notebook is assembled from (both doors call this)."""
    return layered_context(resolve_layers(notebook_path, notebook_context, root=root))


def layer_of(layers: ContextLayers, entry_id: str) -> Layer | None:
    """The nearest layer holding ``entry_id``."""
    for layer in reversed(PROMPT_ORDER):
        if any(a.id == entry_id for a in layers.get(layer).entries):
            return layer
    return None


def overridden_by(layers: ContextLayers, layer: Layer, entry_id: str) -> Layer | None:
    """The nearer layer that also holds ``entry_id`` (its copy is the one that
    applies), or ``None``."""
    nearer = PROMPT_ORDER[PROMPT_ORDER.index(layer) + 1 :]
    return next((n for n in nearer if any(a.id == entry_id for a in layers.get(n).entries)), None)


def entries_in_effect(layers: ContextLayers) -> list[tuple[Layer, Amendment]]:
    """Every entry that reaches the prompt, with its layer, in prompt order:
    accepted, and not overridden by a nearer layer's copy."""
    return [
        (layer.layer, entry)
        for layer in layers.in_prompt_order()
        for entry in layer.entries
        if entry.enabled and overridden_by(layers, layer.layer, entry.id) is None
    ]
