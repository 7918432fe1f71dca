"""The kernel's view of its notebook on disk: the context to apply and the stored cells.

The context is the sidecar (``X.collab.json``) reconciled with the copy embedded
in ``X.ipynb`` (``core.notebook.reconcile``). Entries that exist only in the
embedded copy become part of the system prompt, so they are applied only when
the notebook is trusted (``jupyter trust X.ipynb``, checked with nbformat's
``NotebookNotary``) or trust was given explicitly for headless runs
(``JUPYTER_COLLAB_TRUST_EMBEDDED=1`` or ``c.CollabMagics.trust_embedded = True``).
Otherwise the cell fails with an error that says how to accept them. The kernel
never writes the sidecar on its own: accepting an embedded context on disk is
``jupyter collab context import X.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ..core.errors import CollabError
from ..core.models import CollabContext
from ..core.notebook import ReconcileKind, extract_context, reconcile
from ..core.store import LocalContextStore
from .errors import CollabContextError, for_kernel

TRUST_ENV = "JUPYTER_COLLAB_TRUST_EMBEDDED"


@dataclass
class NotebookState:
    path: Path
    notebook: dict[str, Any]
    context: CollabContext | None
    kind: ReconcileKind
    conflicts: list[str] = field(default_factory=list)

    @property
    def sidecar(self) -> Path:
        return LocalContextStore(self.path).path


def is_trusted(notebook: Any) -> bool:
    """nbformat's signature check (the same one ``jupyter trust`` writes)."""
    try:
        from nbformat.sign import NotebookNotary

        return bool(NotebookNotary().check_signature(notebook))
    except Exception:  # no signature database, unreadable secret...: not trusted
        return False


def untrusted_message(path: Path, count: int) -> str:
    sidecar = LocalContextStore(path).path.name
    return (
        f"{path.name} carries an embedded jupyter-collab context with {count} "
        f"entr{'y' if count == 1 else 'ies'} that {'is' if count == 1 else 'are'} not in "
        f"{sidecar}, and the notebook is not trusted, so {'it is' if count == 1 else 'they are'} "
        "not applied (embedded context becomes part of the model's system prompt). "
        "Review it, then accept it with one of: `jupyter trust "
        f"{path.name}`; `jupyter collab context import {path.name}` (writes {sidecar}); "
        f"or, for headless runs of notebooks you trust, {TRUST_ENV}=1 "
        "(c.CollabMagics.trust_embedded = True)."
    )


def load_state(path: Path, *, trust_embedded: bool = False) -> NotebookState:
    """Read the notebook and its context; raise a kernel error naming the problem."""
    try:
        node = nbformat.read(str(path), as_version=4)
    except Exception as err:
        raise CollabContextError(f"cannot read the notebook {path}: {err}") from None
    try:
        sidecar = LocalContextStore(path).load()
        embedded = extract_context(node, str(path))
    except CollabError as err:
        raise for_kernel(err) from None
    result = reconcile(sidecar, embedded)
    if result.embedded_only_ids and not trust_embedded and not is_trusted(node):
        raise CollabContextError(untrusted_message(path, len(result.embedded_only_ids)))
    context = None if result.kind == ReconcileKind.none else result.context
    return NotebookState(
        path=path, notebook=node, context=context, kind=result.kind, conflicts=result.conflicts
    )
