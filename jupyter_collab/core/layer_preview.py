"""What moving an entry to another layer would do, before it is written: the
entry as it would arrive, and each notebook a project layer would then apply to,
marked when that notebook already says the same (the repeats check proposals
get). The context panel shows it before a promotion; nothing here writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .context_model import Amendment, CollabContext
from .errors import CollabError, NotFoundError
from .layer_moves import (
    moved_entry,
    notebook_layer_path,
    origin_name,
    refuse_repeat,
    target_layer_path,
)
from .layers import Layer, find_project_layer
from .operations.amend import repeats
from .store import read_context_file

#: How many notebooks a move's preview looks at under a project's folder.
MAX_PREVIEW_NOTEBOOKS = 500


@dataclass
class NotebookEffect:
    notebook: Path
    effect: str  # "gains": the entry will apply; "repeats": one of its entries says it
    detail: str = ""


@dataclass
class MovePreview:
    entry: Amendment
    target: Path
    notebooks: list[NotebookEffect]
    every_notebook: bool  # the personal layer: every notebook, none listed
    truncated: bool = False


def notebooks_under(folder: Path) -> tuple[list[Path], bool]:
    """The notebooks in ``folder`` and its subfolders (hidden ones, such as
    ``.ipynb_checkpoints``, skipped), and whether there were more than the bound."""
    found: list[Path] = []
    for current, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if name.endswith(".ipynb"):
                found.append(Path(current) / name)
                if len(found) >= MAX_PREVIEW_NOTEBOOKS:
                    return found, True
    return found, False


def preview_move(
    notebook: str | os.PathLike[str],
    entry_id: str,
    *,
    source_layer: Layer,
    target_layer: Layer,
    root: str | os.PathLike[str] | None = None,
    project_folder: str | os.PathLike[str] | None = None,
) -> MovePreview:
    """What a move would do, without writing: the entry as it would arrive, and for
    a project layer each notebook it would then apply to, with the ones that already
    say the same (the repeats check against each notebook's own context). Raises
    what the move itself would (missing layer, missing entry, a repeat in the target)."""
    source = target_layer_path(notebook, source_layer, root=root, project_folder=project_folder)
    target = target_layer_path(notebook, target_layer, root=root, project_folder=project_folder)
    current = read_context_file(source, str(source))
    entry = next((a for a in (current.amendments if current else []) if a.id == entry_id), None)
    if entry is None:
        raise NotFoundError(f"no entry {entry_id!r} in the {source_layer.value} layer ({source})")
    if target_layer != Layer.notebook:
        refuse_repeat(entry, read_context_file(target, str(target)) or CollabContext(), str(target))
    origin = origin_name(notebook, target, target_layer) if target_layer != Layer.notebook else None
    arriving = moved_entry(entry, f"to the {target_layer.value} layer", origin)
    if target_layer == Layer.personal:
        return MovePreview(arriving, target, [], every_notebook=True)
    if target_layer == Layer.notebook:
        return MovePreview(arriving, target, [NotebookEffect(Path(notebook), "gains")], False)
    folder = target.parent.parent
    candidates, truncated = notebooks_under(folder)
    effects = []
    for candidate in candidates:
        nearest = find_project_layer(candidate, root)
        # Another (nearer) project layer applies there, or none reaches this one;
        # a layer not written yet applies wherever no other one is found.
        if nearest != target and not (nearest is None and not target.exists()):
            continue
        own_path = notebook_layer_path(candidate)
        try:
            own = read_context_file(own_path, str(own_path))
        except CollabError as err:
            effects.append(NotebookEffect(candidate, "unreadable", str(err)))
            continue
        same = repeats(entry.text, [a for a in (own.amendments if own else []) if a.id != entry.id])
        if same:
            effects.append(NotebookEffect(candidate, "repeats", same[0]))
        else:
            effects.append(NotebookEffect(candidate, "gains"))
    return MovePreview(arriving, target, effects, every_notebook=False, truncated=truncated)


def importable_notebooks(
    notebook: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> tuple[list[Path], bool]:
    """The notebooks ``notebook`` could import entries from: those with a context
    file (an embedded copy nobody accepted is not importable) in its project's
    folder when a project layer reaches it, else in its own folder and below; and
    whether there were more notebooks than the walk looks at."""
    own = Path(notebook)
    project = find_project_layer(own, root)
    folder = project.parent.parent if project is not None else own.parent
    candidates, truncated = notebooks_under(folder)
    found = [
        candidate
        for candidate in candidates
        if candidate.resolve() != own.resolve() and notebook_layer_path(candidate).is_file()
    ]
    return found, truncated
