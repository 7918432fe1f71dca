"""Moving entries between layers (promote, demote) and between notebooks (import).

A move changes two context files: the entry leaves one and arrives in the
other, with its provenance (origin notebook, cell, quoted span, correction,
preview verdicts and check record) and a history note saying where it came
from. Both files are written under their folder locks, each with the revision
rule; if the second write fails, the first file is put back byte for byte, so a
failed move leaves both files as they were and no entry is lost or doubled.

Repeats are refused with the check proposals get (``operations.amend.repeats``:
normalized texts at least ``DUPLICATE_RATIO`` similar).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .context_format import next_revision, sidecar_path_for
from .context_model import (
    Amendment,
    AmendmentRevision,
    AmendmentStatus,
    CollabContext,
    new_id,
    utcnow,
)
from .errors import CollabError, InvalidRequestError, NotFoundError, StaleRevisionError
from .layers import Layer, find_project_layer, personal_layer_path, project_layer_path
from .local_files import atomic_write_bytes, folder_lock, remove_leftover_temp_files
from .operations.amend import repeats
from .operations.entries import remove_amendment, restore_amendment
from .store import read_context_file, write_context_file

#: Revisions a caller based its change on, per file (the server's 409 check).
Expected = dict[Path, int]


class MissingLayerError(NotFoundError):
    """The layer a move names does not exist for this notebook."""


def notebook_layer_path(notebook: str | os.PathLike[str]) -> Path:
    return Path(sidecar_path_for(str(notebook)))


def target_layer_path(
    notebook: str | os.PathLike[str],
    layer: Layer | str,
    *,
    root: str | os.PathLike[str] | None = None,
    project_folder: str | os.PathLike[str] | None = None,
) -> Path:
    """Where ``layer``'s file is for ``notebook``. The project layer must exist
    (found by the walk up from the notebook) unless ``project_folder`` names the
    folder to start one in; the personal layer's file is made on first write."""
    layer = Layer(layer)
    if layer == Layer.notebook:
        return notebook_layer_path(notebook)
    if layer == Layer.personal:
        return personal_layer_path()
    if project_folder is not None:
        folder = Path(os.path.abspath(project_folder))
        if not folder.is_dir():
            raise NotFoundError(f"{project_folder} is not a folder")
        if not Path(os.path.abspath(notebook)).is_relative_to(folder):
            raise InvalidRequestError(
                f"{notebook} is not inside {folder}: a project layer applies to the "
                "notebooks under its folder"
            )
        return project_layer_path(folder)
    found = find_project_layer(notebook, root)
    if found is None:
        raise MissingLayerError(
            f"no project layer above {notebook} (no {Path('.collab') / 'context.json'} in "
            "its folder or any folder above it, up to the repository root); start one "
            "with --project-dir FOLDER"
        )
    return found


def origin_name(notebook: str | os.PathLike[str], layer_file: Path, layer: Layer) -> str:
    """How a moved entry names its origin notebook: relative to the project's folder
    (so the name holds on every clone), absolute for the personal layer."""
    absolute = Path(os.path.abspath(notebook))
    if layer == Layer.project:
        project = layer_file.parent.parent
        with contextlib.suppress(ValueError):
            return absolute.relative_to(project).as_posix()
    return str(absolute)


@dataclass
class MoveResult:
    entry: Amendment
    source: Path
    target: Path
    source_revision: int
    target_revision: int
    notes: list[str] = field(default_factory=list)


def _raw(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _put_back(path: Path, raw: bytes | None) -> None:
    if raw is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        atomic_write_bytes(path, raw)


def _check_expected(path: Path, current: CollabContext | None, expected: Expected | None) -> None:
    if expected is None or path not in expected:
        return
    actual = current.revision if current is not None else 0
    if expected[path] != actual:
        raise StaleRevisionError(str(path), expected=expected[path], actual=actual)


def write_pair(
    source: Path,
    target: Path,
    change: Callable[
        [CollabContext | None, CollabContext | None], tuple[CollabContext, CollabContext]
    ],
    *,
    expected: Expected | None = None,
    then: Callable[[CollabContext, CollabContext], object] | None = None,
) -> tuple[CollabContext, CollabContext]:
    """Change two context files together: both or neither.

    ``change(source_context, target_context)`` returns the new pair. The target is
    written first (an entry is never only in neither file), then the source; when
    the source's write (or ``then``) fails, the target's old bytes are put back.
    Folder locks are taken in a fixed order, so two moves in opposite directions
    cannot wait on each other.
    """
    if source == target:
        raise InvalidRequestError(f"{source} is both the source and the target")
    if not source.exists():
        raise MissingLayerError(f"{source} does not exist: there is nothing to move from it")
    target.parent.mkdir(parents=True, exist_ok=True)
    folders = sorted({source.parent, target.parent})
    with contextlib.ExitStack() as locks:
        for folder in folders:
            locks.enter_context(folder_lock(folder))
        current_source = read_context_file(source, str(source))
        current_target = read_context_file(target, str(target))
        _check_expected(source, current_source, expected)
        _check_expected(target, current_target, expected)
        new_source, new_target = change(
            current_source.model_copy(deep=True) if current_source is not None else None,
            current_target.model_copy(deep=True) if current_target is not None else None,
        )
        new_source = next_revision(current_source, new_source, str(source))
        new_target = next_revision(current_target, new_target, str(target))
        target_before = _raw(target)
        remove_leftover_temp_files(target)
        write_context_file(target, new_target)
        try:
            remove_leftover_temp_files(source)
            write_context_file(source, new_source)
            if then is not None:
                then(new_source, new_target)
        except BaseException:
            _put_back(target, target_before)
            raise
    return new_source, new_target


def moved_entry(entry: Amendment, note: str, origin: str | None) -> Amendment:
    provenance = entry.provenance
    if origin is not None and provenance.notebook is None:
        provenance = provenance.model_copy(update={"notebook": origin})
    revision = AmendmentRevision(
        at=utcnow(), kind=entry.kind, text=entry.text, status=entry.status, note=note
    )
    return entry.model_copy(
        deep=True,
        update={
            "provenance": provenance,
            "history": [*entry.history, revision][-500:],
            "rev": entry.rev + 1,
            "updated": utcnow(),
        },
    )


def refuse_repeat(entry: Amendment, target: CollabContext, where: str) -> None:
    same_id = [a for a in target.amendments if a.id == entry.id]
    if same_id:
        raise CollabError(
            f"{where} already holds an entry with id {entry.id}; "
            "remove one of the two first so no edit is lost"
        )
    found = repeats(entry.text, target.amendments)
    if found:
        raise CollabError(
            f"{entry.id} repeats {found[0]} of {where} ({target.amendment(found[0]).text!r}); "
            f"remove one of them instead of keeping both"
        )


def move_entry(
    notebook: str | os.PathLike[str],
    entry_id: str,
    *,
    source_layer: Layer,
    target_layer: Layer,
    root: str | os.PathLike[str] | None = None,
    project_folder: str | os.PathLike[str] | None = None,
    expected: dict[Layer, int] | None = None,
    then: Callable[[CollabContext, CollabContext], object] | None = None,
) -> MoveResult:
    """Move one entry between two of ``notebook``'s layers (promote: from the
    notebook out; demote: back into it). ``expected``: the revisions of the two
    layers the caller based the move on (a layer that moved on since is refused)."""
    if source_layer == target_layer:
        raise InvalidRequestError(f"{entry_id} is already in the {target_layer.value} layer")
    source = target_layer_path(notebook, source_layer, root=root, project_folder=project_folder)
    target = target_layer_path(notebook, target_layer, root=root, project_folder=project_folder)
    shared = target_layer if source_layer == Layer.notebook else source_layer
    shared_path = target if source_layer == Layer.notebook else source
    origin = origin_name(notebook, shared_path, shared) if shared != Layer.notebook else None
    verb = "promoted" if source_layer == Layer.notebook else "demoted"
    moved: dict[str, Amendment] = {}

    def change(
        from_context: CollabContext | None, to_context: CollabContext | None
    ) -> tuple[CollabContext, CollabContext]:
        if from_context is None:
            raise NotFoundError(f"{source} does not exist: the {source_layer.value} layer is empty")
        entry = next((a for a in from_context.amendments if a.id == entry_id), None)
        if entry is None:
            raise NotFoundError(
                f"no entry {entry_id!r} in the {source_layer.value} layer ({source})"
            )
        if entry.status == AmendmentStatus.superseded:
            raise InvalidRequestError(f"{entry_id} is superseded; only entries in use move")
        to_context = to_context or CollabContext()
        refuse_repeat(entry, to_context, f"the {target_layer.value} layer ({target})")
        note = f"{verb} from the {source_layer.value} layer to the {target_layer.value} layer"
        arriving = moved_entry(entry, note, origin)
        updated_source, _, _ = remove_amendment(from_context, entry_id)
        updated_target = restore_amendment(to_context, arriving)
        # restore_amendment bumps rev for an undo; a move already counted it.
        updated_target.amendments[-1] = arriving
        moved["entry"] = arriving
        return updated_source, updated_target

    by_path = {source: source_layer, target: target_layer}
    revisions = {p: expected[layer] for p, layer in by_path.items() if layer in (expected or {})}
    written_source, written_target = write_pair(
        source, target, change, expected=revisions, then=then
    )
    return MoveResult(
        moved["entry"], source, target, written_source.revision, written_target.revision
    )


def promote(notebook, entry_id: str, to: Layer | str, **options) -> MoveResult:
    to = Layer(to)
    if to == Layer.notebook:
        raise InvalidRequestError("promote moves an entry to the project or personal layer")
    return move_entry(notebook, entry_id, source_layer=Layer.notebook, target_layer=to, **options)


def demote(notebook, entry_id: str, from_layer: Layer | str, **options) -> MoveResult:
    from_layer = Layer(from_layer)
    if from_layer == Layer.notebook:
        raise InvalidRequestError("demote moves an entry from the project or personal layer")
    return move_entry(
        notebook, entry_id, source_layer=from_layer, target_layer=Layer.notebook, **options
    )


@dataclass
class ImportResult:
    imported: list[Amendment]
    skipped: list[str]  # why each entry was not imported
    context: CollabContext
    #: The other notebook's id of each imported entry (an id this notebook already
    #: uses is replaced on arrival), so a preview's choice can be imported by id.
    source_ids: list[str] = field(default_factory=list)


def import_entries(
    target: CollabContext,
    other: CollabContext,
    other_name: str,
    entry_ids: Sequence[str] = (),
) -> ImportResult:
    """A NEW ``target`` with ``other``'s entries added (those named, else every
    entry in use), each keeping its provenance and naming ``other_name`` as its
    origin; repeats of an entry ``target`` already has are skipped and said so."""
    if entry_ids:
        chosen = [other.amendment(entry_id) for entry_id in entry_ids]
    else:
        chosen = [a for a in other.amendments if a.status == AmendmentStatus.accepted]
    updated = target.model_copy(deep=True)
    imported: list[Amendment] = []
    skipped: list[str] = []
    source_ids: list[str] = []
    for entry in chosen:
        if entry.status == AmendmentStatus.superseded:
            skipped.append(f"{entry.id}: superseded")
            continue
        found = repeats(entry.text, updated.amendments)
        if found:
            skipped.append(f"{entry.id}: repeats {found[0]} ({entry.text.strip()[:80]})")
            continue
        arriving = moved_entry(entry, f"imported from {other_name}", other_name)
        provenance = arriving.provenance.model_copy(update={"source": "import"})
        taken = {a.id for a in updated.amendments} | set(updated.removed)
        arriving = arriving.model_copy(
            update={
                "provenance": provenance,
                "id": arriving.id if arriving.id not in taken else new_id("a"),
            }
        )
        updated.amendments.append(arriving)
        imported.append(arriving)
        source_ids.append(entry.id)
    return ImportResult(imported, skipped, updated, source_ids)
