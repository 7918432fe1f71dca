"""The context embedded in a notebook, and reconciling it with the sidecar.

A shared ``.ipynb`` carries a copy of its context in ``metadata.jupyter_collab``
so that whoever opens it gets the same constitution. The sidecar stays the
source of truth while both exist; when they differ, entries are merged by id
and the higher per-entry ``rev`` wins. Equal revisions with different content
are conflicts: the sidecar's version is kept and the conflict is reported.
Entries deleted from the sidecar (its ``removed`` tombstones) are never brought
back by an older embedded copy that still holds them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .cellsource import parse_cell
from .context_format import context_to_jsonable, parse_context
from .context_model import CollabContext
from .errors import CollabError

METADATA_KEY = "jupyter_collab"
CELL_MAGIC = "%%collab"
ENTRY_LISTS = ("amendments", "highlights", "corrections")

#: Notebooks larger than this are not read (a collaborator notebook is small).
MAX_NOTEBOOK_BYTES = 512 * 1024 * 1024


class NotebookFileError(CollabError):
    """A notebook file on disk that cannot be read as a notebook."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


def read_notebook_text(path: Path) -> str:
    """The text of the notebook file at ``path``: readable, not too large, UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:  # checked before reading it all
            raise NotebookFileError(str(path), f"the notebook is too large ({size} bytes)")
        raw = path.read_bytes()
    except OSError as err:
        raise NotebookFileError(str(path), f"cannot be read ({err.strerror})") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookFileError(str(path), f"the notebook is too large ({len(raw)} bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NotebookFileError(str(path), f"not UTF-8 text (byte {err.start})") from None


def parse_notebook_json(path: Path, text: str) -> Any:
    """The JSON value of a notebook's text (not yet checked to be a notebook)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookFileError(
            str(path),
            f"not a valid notebook: invalid JSON at line {err.lineno} column {err.colno}: "
            f"{err.msg}",
        ) from None
    except RecursionError:
        raise NotebookFileError(str(path), "not a valid notebook: nested too deeply") from None


def check_notebook(path: Path, data: Any) -> dict[str, Any]:
    """``data`` if it has the shape of a notebook (a list of cells, metadata an object)."""
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookFileError(str(path), "not a valid notebook: no list of cells")
    if not isinstance(data.get("metadata", {}), dict):
        raise NotebookFileError(str(path), "not a valid notebook: metadata is not an object")
    return data


def read_notebook_file(path: Path) -> dict[str, Any]:
    """The notebook JSON at ``path`` as plain dicts and lists.

    The one reader of notebook files on local disk: raises
    :class:`NotebookFileError` naming the problem (unreadable, too large, not
    UTF-8, invalid JSON with its line and column, not shaped like a notebook).
    """
    return check_notebook(path, parse_notebook_json(path, read_notebook_text(path)))


def embed_context(node: dict[str, Any], context: CollabContext) -> dict[str, Any]:
    """Store ``context`` in ``node["metadata"]``, in place; return ``node``.

    ``node`` is a notebook (nbformat dict) or one of its collaborator outputs:
    the kernel door has no way to write the metadata of the notebook that
    ``jupyter nbconvert --execute --output NAME`` or papermill writes, but the
    display metadata of its outputs ends up in that file (see
    :func:`carried_context`).
    """
    metadata = node.setdefault("metadata", {})
    section = metadata.setdefault(METADATA_KEY, {})
    section["context"] = context_to_jsonable(context)
    return node


def extract_context(node: dict[str, Any], source: str) -> CollabContext | None:
    """The context embedded in a notebook (or an output), or ``None`` when it carries none."""
    section = (node.get("metadata") or {}).get(METADATA_KEY) or {}
    data = section.get("context")
    if data is None:
        return None
    return parse_context(data, f"{source} (metadata.{METADATA_KEY}.context)")


def carried_context(notebook: dict[str, Any], source: str) -> CollabContext | None:
    """The context that the last collaborator output carrying one holds, or ``None``.

    Headless runs embed the context in effect in every collaborator output they
    write, because the output notebook of ``jupyter nbconvert --execute --output
    NAME`` or papermill gets no sidecar under its new name and no notebook
    metadata from the kernel. In a top-to-bottom run every output carries the
    same context; the last one is the latest.
    """
    for index in range(len(notebook.get("cells") or []) - 1, -1, -1):
        cell = notebook["cells"][index]
        if not isinstance(cell, dict) or not is_collab_cell(cell):
            continue
        for number, output in enumerate(cell.get("outputs") or []):
            if isinstance(output, dict) and (output.get("metadata") or {}).get(METADATA_KEY):
                where = f"{source} (cell {cell.get('id') or index}, output {number})"
                found = extract_context(output, where)
                if found is not None:
                    return found
    return None


def shared_context(
    notebook: dict[str, Any], source: str, *, has_sidecar: bool
) -> CollabContext | None:
    """The copy of its context a notebook carries, to reconcile with its sidecar.

    That is the notebook metadata's copy; for a notebook with neither that nor a
    sidecar (an executed copy written under a new name), the copy its
    collaborator outputs carry. Outputs are not consulted otherwise: they may be
    older than a sidecar edited since, and would bring back entries it dropped.
    """
    embedded = extract_context(notebook, source)
    if embedded is None and not has_sidecar:
        embedded = carried_context(notebook, source)
    return embedded


def is_collab_cell(cell: dict[str, Any]) -> bool:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    return cell.get("cell_type") == "code" and source.lstrip().startswith(CELL_MAGIC)


def collab_prompts(notebook: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The prompts of the collaborator cells, in order, and problems with the others."""
    prompts: list[str] = []
    problems: list[str] = []
    for index, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict) or not is_collab_cell(cell):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        try:
            prompts.append(parse_cell(source).prompt)
        except CollabError as err:
            problems.append(f"cell {index + 1}: {err}")
    return prompts, problems


class ReconcileKind(str, Enum):
    none = "none"
    identical = "identical"
    sidecar_only = "sidecar_only"
    embedded_only = "embedded_only"
    merged = "merged"


@dataclass
class ReconcileResult:
    kind: ReconcileKind
    context: CollabContext
    conflicts: list[str] = field(default_factory=list)
    # Entries that came only from the embedded copy: these need review when the
    # notebook is not trusted, because they become part of the system prompt.
    embedded_only_ids: list[str] = field(default_factory=list)

    @property
    def sidecar_needs_write(self) -> bool:
        return self.kind in (ReconcileKind.embedded_only, ReconcileKind.merged)


def _same_entries(a: CollabContext, b: CollabContext) -> bool:
    return (
        all(
            [e.model_dump(mode="json") for e in getattr(a, name)]
            == [e.model_dump(mode="json") for e in getattr(b, name)]
            for name in ENTRY_LISTS
        )
        and a.settings == b.settings
    )


def reconcile(sidecar: CollabContext | None, embedded: CollabContext | None) -> ReconcileResult:
    """Decide which context a notebook uses when it is opened."""
    if sidecar is None and embedded is None:
        return ReconcileResult(ReconcileKind.none, CollabContext())
    if embedded is None:
        return ReconcileResult(ReconcileKind.sidecar_only, sidecar)  # type: ignore[arg-type]
    if sidecar is None:
        restored = embedded.model_copy(update={"revision": 0})
        ids = [e.id for name in ENTRY_LISTS for e in getattr(embedded, name)]
        return ReconcileResult(ReconcileKind.embedded_only, restored, embedded_only_ids=ids)
    if _same_entries(sidecar, embedded):
        return ReconcileResult(ReconcileKind.identical, sidecar)
    return _merge(sidecar, embedded)


def _merge(sidecar: CollabContext, embedded: CollabContext) -> ReconcileResult:
    conflicts: list[str] = []
    embedded_only: list[str] = []
    merged: dict[str, list] = {}
    deleted_here = set(sidecar.removed)
    deleted_there = set(embedded.removed)
    for name in ENTRY_LISTS:
        ours = {e.id: e for e in getattr(sidecar, name)}
        theirs = {e.id: e for e in getattr(embedded, name)}
        result = []
        # Sidecar order first (it is the source of truth), then entries only the
        # embedded copy has, in their own order: creation order is preserved.
        for entry_id, entry in ours.items():
            other = theirs.get(entry_id)
            if other is None or other == entry:
                result.append(entry)
            elif other.rev > entry.rev:
                result.append(other)
            elif other.rev == entry.rev:
                conflicts.append(
                    f"{name[:-1]} {entry_id} differs between the sidecar and the notebook "
                    f"at the same revision {entry.rev}; kept the sidecar's version"
                )
                result.append(entry)
            else:
                result.append(entry)
            if other is None and entry_id in deleted_there:
                conflicts.append(
                    f"{name[:-1]} {entry_id} was deleted in the notebook's copy but is in "
                    "the sidecar; kept the sidecar's entry"
                )
        for entry_id, entry in theirs.items():
            if entry_id not in ours and entry_id not in deleted_here:
                result.append(entry)
                embedded_only.append(entry_id)
        merged[name] = result
    present = {e.id for entries in merged.values() for e in entries}
    removed = list(sidecar.removed) + [
        i for i in embedded.removed if i not in deleted_here and i not in present
    ]
    context = sidecar.model_copy(update={**merged, "removed": removed})
    return ReconcileResult(ReconcileKind.merged, context, conflicts, embedded_only)
