"""The kernel's view of its notebook on disk: the context to apply and the stored cells.

The context is the sidecar (``X.collab.json``) reconciled with the copy embedded
in ``X.ipynb`` (``core.notebook.shared_context``: the notebook metadata's copy,
or for an executed copy with neither, the one its collaborator outputs carry).
Entries that exist only in the embedded copy would become part of the system
prompt, so they are sent to a model only when the notebook is trusted
(``jupyter trust X.ipynb``, checked with nbformat's ``NotebookNotary``) or trust
was given explicitly for headless runs (``JUPYTER_COLLAB_TRUST_EMBEDDED=1`` or
``c.CollabMagics.trust_embedded = True``). Without trust they still serve to
check stored answers against their input hashes (replay, or auto mode when
nothing changed): nothing is sent anywhere then, so nothing can be injected.
A cell that would call the model with them fails with an error that says how
to accept them (``NotebookState.unreviewed``). The kernel never writes the
sidecar on its own: accepting an embedded context on disk is
``jupyter collab context import X.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.assembly import share_read_only
from ..core.context_model import CollabContext
from ..core.errors import CollabError
from ..core.filecache import FileCache
from ..core.notebook import (
    NotebookFileError,
    ReconcileKind,
    parse_notebook_json,
    read_notebook_text,
    reconcile,
    shared_context,
)
from ..core.store import LocalContextStore
from ..core.trust import is_trusted
from .errors import CollabContextError, for_kernel

TRUST_ENV = "JUPYTER_COLLAB_TRUST_EMBEDDED"


@dataclass
class NotebookState:
    path: Path
    notebook: dict[str, Any]
    context: CollabContext | None
    kind: ReconcileKind
    conflicts: list[str] = field(default_factory=list)
    # The copy of the context this notebook's outputs carry onwards: the
    # embedded copy as found when it is all there is (its revision kept, so a
    # replayed output is byte-identical to the stored one), else ``context``.
    carried: CollabContext | None = None
    # Why ``context`` must not reach a model: it holds embedded entries nobody
    # accepted (see the module docstring); ``None`` when it may.
    unreviewed: str | None = None

    def require_reviewed(self) -> None:
        """Raise the untrusted-context error when ``context`` must not reach a model."""
        if self.unreviewed is not None:
            raise CollabContextError(self.unreviewed)

    @property
    def sidecar(self) -> Path:
        return LocalContextStore(self.path).path


def untrusted_message(path: Path, count: int) -> str:
    sidecar = LocalContextStore(path).path.name
    return (
        f"{path.name} carries an embedded jupyter-collab context with {count} "
        f"entr{'y' if count == 1 else 'ies'} that {'is' if count == 1 else 'are'} not in "
        f"{sidecar}, and the notebook is not trusted, so {'it is' if count == 1 else 'they are'} "
        "not sent to a model (embedded context becomes part of the model's system prompt); "
        "replaying the answers stored in the notebook needs no trust, but this cell needs a "
        "call. Review the context, then accept it with one of: `jupyter trust "
        f"{path.name}`; `jupyter collab context import {path.name}` (writes {sidecar}); "
        f"or, for headless runs of notebooks you trust, {TRUST_ENV}=1 "
        "(c.CollabMagics.trust_embedded = True)."
    )


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _rejoin_bundle(bundle: Any) -> None:
    if not isinstance(bundle, dict):
        return
    for key, value in bundle.items():
        if not _is_json_mime(key) and isinstance(value, list):
            if all(isinstance(line, str) for line in value):
                bundle[key] = "".join(value)


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook as ``nbformat.read(path, as_version=4)`` gives it (multi-line
    strings joined, transient fields dropped), as plain dicts and lists.

    A well-formed version 4 notebook is read as JSON with nbformat's reading rules
    inlined (``v4.rwbase.rejoin_lines`` and ``strip_transient``): importing nbformat
    in the kernel costs more than a second (jsonschema and its format checkers),
    and it would validate the whole notebook again at every cell. Anything else
    (an older format, a damaged structure) goes through nbformat itself, for its
    conversion and its messages. The file itself is read by the core's notebook
    reader (``core.notebook.read_notebook_text``: size limit, UTF-8, JSON errors
    with their line and column), which raises ``NotebookFileError``.
    """
    text = read_notebook_text(path)
    node = parse_notebook_json(path, text)
    cells = node.get("cells") if isinstance(node, dict) else None
    metadata = node.get("metadata") if isinstance(node, dict) else None
    well_formed = (
        isinstance(node, dict)
        and type(node.get("nbformat")) is int
        and node["nbformat"] == 4
        and isinstance(metadata, dict)
        and isinstance(cells, list)
        and all(isinstance(c, dict) and isinstance(c.get("metadata"), dict) for c in cells)
    )
    if not well_formed:
        import nbformat

        return nbformat.reads(text, as_version=4)
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        metadata.pop(key, None)
    for cell in cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            for attachment in attachments.values():
                _rejoin_bundle(attachment)
        cell["metadata"].pop("trusted", None)
        if cell.get("cell_type") == "code" and isinstance(cell.get("outputs"), list):
            for output in cell["outputs"]:
                if not isinstance(output, dict):
                    continue
                kind = output.get("output_type", "")
                if kind in ("execute_result", "display_data"):
                    _rejoin_bundle(output.get("data"))
                elif kind and isinstance(output.get("text"), list):
                    output["text"] = "".join(output["text"])
    return node


# Notebooks as read, and the last state per notebook, reused while neither the
# notebook nor its sidecar changed on disk: a headless run reads and validates
# them once, not once per cell.
_NOTEBOOKS: FileCache[dict[str, Any]] = FileCache(max_entries=8)
_STATES: FileCache[tuple[NotebookState, bool]] = FileCache(max_entries=8)


def read_notebook_shared(path: Path) -> dict[str, Any]:
    """:func:`read_notebook`, reused while the file is unchanged; never change the result."""
    return _NOTEBOOKS.read(path, [path], lambda: read_notebook(path))


def forget_states() -> None:
    """Drop every remembered notebook state (the next cell reads the files again)."""
    _STATES.clear()
    _NOTEBOOKS.clear()


def _keep_state(loaded: tuple[NotebookState, bool]) -> bool:
    state, checked_trust = loaded
    # A state that needed the notary's verdict is not kept: trust can change
    # without either file changing.
    if checked_trust:
        return False
    if state.context is not None:
        share_read_only(state.context)
    return True


def load_state(path: Path, *, trust_embedded: bool = False) -> NotebookState:
    """Read the notebook and its context; raise a kernel error naming the problem.

    The result is shared while neither file changes: the notebook and the context
    in it must not be changed by the caller (the context is shared read-only with
    prompt assembly, see ``core.assembly.share_read_only``).
    """
    sidecar = LocalContextStore(path).path
    state, _ = _STATES.read(
        (path, trust_embedded),
        [path, sidecar],
        lambda: _load_state(path, trust_embedded=trust_embedded),
        keep=_keep_state,
    )
    return state


def _load_state(path: Path, *, trust_embedded: bool) -> tuple[NotebookState, bool]:
    try:
        node = read_notebook(path)
    except NotebookFileError as err:
        raise CollabContextError(f"cannot read the notebook {path}: {err.problem}") from None
    except Exception as err:
        raise CollabContextError(f"cannot read the notebook {path}: {err}") from None
    try:
        sidecar = LocalContextStore(path).load()
        embedded = shared_context(node, str(path), has_sidecar=sidecar is not None)
    except CollabError as err:
        raise for_kernel(err) from None
    result = reconcile(sidecar, embedded)
    checked_trust = bool(result.embedded_only_ids) and not trust_embedded
    unreviewed = None
    if checked_trust and not is_trusted(node):
        unreviewed = untrusted_message(path, len(result.embedded_only_ids))
    context = None if result.kind == ReconcileKind.none else result.context
    state = NotebookState(
        path=path,
        notebook=node,
        context=context,
        kind=result.kind,
        conflicts=result.conflicts,
        carried=embedded if result.kind == ReconcileKind.embedded_only else context,
        unreviewed=unreviewed,
    )
    return state, checked_trust
