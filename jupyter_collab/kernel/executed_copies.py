"""Executed copies of a notebook: the answers they hold and the context they carry.

``jupyter nbconvert --to notebook --execute X.ipynb`` writes ``X.nbconvert.ipynb``
beside the notebook; its answers are stored answers a later run may reuse. A copy
written under another name (``--output NAME``, papermill) has no sidecar, so each
answer's output carries the context in effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.context_model import CollabContext
from ..core.notebook import METADATA_KEY, embed_context
from ..core.replay import StoredAnswer, stored_answer_of_cell
from .notebook_state import read_notebook_shared


def nbconvert_answer(notebook: Path, cell_id: str | None) -> StoredAnswer | None:
    """The answer of ``cell_id`` in ``X.nbconvert.ipynb``, the file a previous
    ``jupyter nbconvert --to notebook --execute X.ipynb`` wrote beside ``X.ipynb``."""
    sibling = notebook.with_name(notebook.name[: -len(".ipynb")] + ".nbconvert.ipynb")
    if not cell_id or not sibling.is_file() or notebook.name.endswith(".nbconvert.ipynb"):
        return None
    try:
        node = read_notebook_shared(sibling)
    except Exception:
        return None
    for cell in node.get("cells") or []:
        if isinstance(cell, dict) and cell.get("id") == cell_id:
            return stored_answer_of_cell(cell, "nbconvert output")
    return None


def carrying_context(metadata: dict[str, Any], context: CollabContext | None) -> dict[str, Any]:
    """The output metadata with ``context`` embedded (``core.notebook.embed_context``).

    The kernel cannot write the metadata of the notebook that ``jupyter nbconvert
    --execute --output NAME`` or papermill writes, and that notebook has no
    sidecar under its new name; the display metadata of this output does end up
    in it, so the copy carries the context its answers were checked against and
    replays under any name. A copy, never the stored metadata itself: stored
    answers are shared with the notebook cache.
    """
    if context is None:
        return metadata
    output = {"metadata": {**metadata, METADATA_KEY: dict(metadata.get(METADATA_KEY) or {})}}
    return embed_context(output, context)["metadata"]
