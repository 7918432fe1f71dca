"""Reading and writing notebooks for the CLI (plain nbformat JSON, atomic writes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import InvalidRequestError, NotFoundError
from ..core.local_files import atomic_write_text, remove_leftover_temp_files
from ..core.notebook import (
    METADATA_KEY,
    embed_context,
    read_notebook_file,
    shared_context,
)
from ..core.store import LocalContextStore


def notebook_path(path: str) -> Path:
    """The path of an existing ``.ipynb`` file, or a user error."""
    candidate = Path(path)
    if candidate.suffix != ".ipynb":
        raise InvalidRequestError(f"{path}: not a notebook (expected a .ipynb file)")
    if not candidate.is_file():
        raise NotFoundError(f"{path}: no such notebook")
    return candidate


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook at ``path``; a user error naming the problem otherwise."""
    return read_notebook_file(path)


def write_notebook(path: Path, notebook: dict[str, Any]) -> None:
    """Write like nbformat does (one-space indent, sorted keys), atomically."""
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)


def has_embedded_context(notebook: dict[str, Any]) -> bool:
    section = (notebook.get("metadata") or {}).get(METADATA_KEY) or {}
    return isinstance(section, dict) and section.get("context") is not None


def sync_embedded(path: Path, context) -> bool:
    """Refresh the embedded copy when the notebook carries one; True if written.

    Called holding the folder lock (``LocalContextStore.update(then=...)``), so
    temp files of a writer that died can be removed.
    """
    notebook = read_notebook(path)
    if not has_embedded_context(notebook):
        return False
    remove_leftover_temp_files(path)
    write_notebook(path, embed_context(notebook, context))
    return True


def load_effective_context(path: Path, notebook: dict[str, Any]):
    """The sidecar when there is one, else the embedded copy (read only)."""
    from ..core.notebook import reconcile

    store = LocalContextStore(path)
    sidecar = store.load()
    return reconcile(sidecar, shared_context(notebook, str(path), has_sidecar=sidecar is not None))
