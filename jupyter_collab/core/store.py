"""Reading and writing a notebook's context file on the local file system.

Built on the file format (``context_format.py``) and the local file machinery
(``local_files.py``):

* a file that does not parse or validate raises :class:`ContextFileError`
  naming the file and the problem, and is never overwritten;
* writes are atomic and made under the folder lock, so no writer's change is
  lost between its read and its write;
* a context with evidence is two kinds of file (``context_evidence.py``): the hot
  file, all a prompt reads (:func:`read_hot_context_file`), and evidence files
  written before the hot file that names them, each only when its part of the
  evidence changed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from .context_evidence import (
    EvidenceRef,
    HotContext,
    evidence_chunks,
    evidence_folder_for,
    evidence_parts,
    evidence_ref,
    has_evidence,
    merge_evidence,
    parse_evidence,
    same_parts,
)
from .context_format import (
    MAX_CONTEXT_BYTES,
    next_revision,
    parse_hot_context,
    serialize_evidence_bytes,
    serialize_hot_body,
    sidecar_path_for,
    whole_context,
)
from .context_model import CollabContext
from .errors import ContextFileError
from .local_files import atomic_write_bytes, folder_lock, remove_leftover_temp_files


def _read_bytes(path: Path, source: str) -> bytes | None:
    """A regular file's bytes, size-checked; ``None`` when it does not exist.

    Only regular files are read (a FIFO or a device would block or never end),
    and the size is checked before reading.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ContextFileError(source, f"cannot be read: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ContextFileError(source, "is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ContextFileError(source, "is not a regular file")
        if info.st_size > MAX_CONTEXT_BYTES:
            raise ContextFileError(
                source, f"file is {info.st_size} bytes, over the limit of {MAX_CONTEXT_BYTES}"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_CONTEXT_BYTES + 1)
    except OSError as err:
        raise ContextFileError(source, f"cannot be read: {err.strerror}") from None
    finally:
        os.close(fd)


def evidence_folder(path: Path) -> Path:
    return path.parent / evidence_folder_for(path.name)


def read_hot_context_file(path: Path, source: str) -> HotContext | None:
    """The hot file alone: the amendments without their evidence (for prompts only;
    such a context cannot be saved). ``None`` when there is no file."""
    raw = _read_bytes(path, source)
    return None if raw is None else parse_hot_context(raw, source)


def read_context_file(path: Path, source: str) -> CollabContext | None:
    """Read and validate the whole context (hot file and its evidence files);
    ``None`` when there is no context file."""
    path = Path(path)
    missing = None
    for _attempt in (1, 2):
        hot = read_hot_context_file(path, source)
        if hot is None:
            return None
        if hot.evidence is None:
            # One file (as written before the split, or with no evidence): the
            # next save decides whether it needs evidence files.
            _forget(path)
            return whole_context(hot)
        parts, missing = [], None
        for ref in hot.evidence:
            evidence_path = evidence_folder(path) / ref.file
            evidence_source = f"{source} (evidence file {evidence_path.name})"
            raw = _read_bytes(evidence_path, evidence_source)
            if raw is None:
                missing = evidence_path
                break
            parts.append(parse_evidence(raw, ref, evidence_source))
        if missing is None:
            context = merge_evidence(hot, parts, source)
            _remember(path, context, hot.evidence)
            return context
        # A writer may have replaced the hot file and removed an evidence file
        # this one named between the two reads: read the hot file again, once.
    raise ContextFileError(
        source,
        f"names the evidence file {missing}, which is missing (provenance, "
        "preview results, history, checks, highlights and corrections are in the "
        "evidence files); restore it (or the notebook's embedded copy) before "
        "changing this context",
    )


# What each context file's evidence files hold, as the last read or write in this
# process saw it: per evidence chunk, its evidence objects and the file they are
# in. A save whose chunk is the very same objects (``evidence_parts``) names that
# file again instead of writing it. Few paths: each entry holds a context's evidence.
Known = list[tuple[list[object], EvidenceRef | None]]
_KNOWN_EVIDENCE: OrderedDict[str, tuple[Known, list[EvidenceRef] | None]] = OrderedDict()
_KNOWN_LOCK = threading.Lock()
_KNOWN_PATHS = 4


def _remember(
    path: Path,
    context: CollabContext,
    refs: list[EvidenceRef] | None,
    known: Known | None = None,
) -> None:
    key = os.path.abspath(path)
    if known is None:
        # As read: the files are the chunks, in order (empty chunks have no file,
        # so a read that cannot tell which chunk a file is remembers nothing).
        chunks = evidence_chunks(context)
        if refs is None or len(chunks) != len(refs):
            _forget(path)
            return
        known = [(evidence_parts(c), r) for c, r in zip(chunks, refs, strict=True)]
    with _KNOWN_LOCK:
        _KNOWN_EVIDENCE[key] = (known, refs)
        _KNOWN_EVIDENCE.move_to_end(key)
        while len(_KNOWN_EVIDENCE) > _KNOWN_PATHS:
            _KNOWN_EVIDENCE.popitem(last=False)


def _forget(path: Path) -> None:
    with _KNOWN_LOCK:
        _KNOWN_EVIDENCE.pop(os.path.abspath(path), None)


def _known_chunks(path: Path) -> Known:
    with _KNOWN_LOCK:
        known = _KNOWN_EVIDENCE.get(os.path.abspath(path))
    return known[0] if known is not None else []


def write_context_file(path: Path, context: CollabContext) -> None:
    """Atomically replace the context at ``path`` with ``context``; call it holding
    the folder lock.

    The evidence files whose part of the evidence changed are written first, then
    the hot file that names them all; evidence files no hot file names any more
    are removed after (those of the hot file just replaced are kept for readers
    still on it).
    """
    if isinstance(context, HotContext) and context.evidence is not None:
        raise ContextFileError(
            str(path),
            "this context was read without its evidence (for prompts); "
            "load the whole context to change it",
        )
    remove_leftover_temp_files(path)
    folder = evidence_folder(path)
    before = _known_chunks(path)
    known: Known = []
    pending: list[int] = []  # changed chunks without evidence of their own
    for index, chunk in enumerate(evidence_chunks(context)):
        parts = evidence_parts(chunk)
        if index < len(before) and same_parts(before[index][0], parts):
            ref = before[index][1]
            if ref is None or (folder / ref.file).is_file():
                known.append((parts, ref))
                continue
        known.append((parts, _write_evidence(folder, chunk) if has_evidence(chunk) else None))
        pending.append(index)
    if any(ref is not None for _, ref in known):
        # Every chunk has a file once any has evidence, so the files and the
        # chunks line up (a reader can tell which chunk each file is).
        chunks = evidence_chunks(context)
        for index in pending:
            if known[index][1] is None:
                known[index] = (known[index][0], _write_evidence(folder, chunks[index]))
    else:
        known = [(parts, None) for parts, _ in known]
    refs = [ref for _, ref in known if ref is not None] or None
    previous = _named_evidence(path)
    atomic_write_bytes(path, serialize_hot_body(context, refs), b"\n")
    _remember(path, context, refs, known)
    _collect_evidence(path, keep={r.file for r in (refs or []) + (previous or [])})


def _write_evidence(folder: Path, chunk: CollabContext) -> EvidenceRef:
    """Write ``chunk``'s evidence file unless a file of its content is there."""
    data = serialize_evidence_bytes(chunk)
    ref = evidence_ref(data)
    target = folder / ref.file
    if not target.is_file():
        folder.mkdir(exist_ok=True)
        remove_leftover_temp_files(target)
        atomic_write_bytes(target, data)
    return ref


def _named_evidence(path: Path) -> list[EvidenceRef] | None:
    """The evidence files the current hot file names (as last read or written
    here, else read from the hot file)."""
    with _KNOWN_LOCK:
        known = _KNOWN_EVIDENCE.get(os.path.abspath(path))
    if known is not None:
        return known[1]
    try:
        hot = read_hot_context_file(path, str(path))
    except ContextFileError:
        return None
    return hot.evidence if hot is not None else None


def _collect_evidence(path: Path, keep: set[str]) -> None:
    """Remove evidence files of ``path`` that are neither current nor just replaced."""
    folder = evidence_folder(path)
    names = keep
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name in names or not entry.is_file(follow_symlinks=False):
            continue
        if entry.name.endswith(".json") or entry.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    if not names:
        with contextlib.suppress(OSError):
            folder.rmdir()


class LocalContextStore:
    """The context of one notebook on the local file system (CLI and kernel door)."""

    def __init__(self, notebook_path: str | os.PathLike[str], sidecar: str | None = None):
        self.notebook_path = Path(notebook_path)
        self.path = Path(sidecar) if sidecar else Path(sidecar_path_for(str(self.notebook_path)))
        # (inode, size, mtime) of the file as this store last read or wrote it, and
        # its revision: a save can then check the revision without parsing the
        # file again. Every writer replaces the file (a new inode), so any change
        # by another writer shows in the signature.
        self._known: tuple[tuple[int, int, int], int] | None = None

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _current_revision(self) -> int | None:
        """The stored revision (``None`` without a file); parses only an unknown file."""
        signature = self._signature()
        if signature is None:
            return None
        if self._known is not None and self._known[0] == signature:
            return self._known[1]
        current = read_hot_context_file(self.path, self.source)
        return current.revision if current is not None else None

    @property
    def source(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> CollabContext | None:
        """The stored context, or ``None`` when there is no sidecar yet."""
        before = self._signature()
        context = read_context_file(self.path, self.source)
        if context is not None and before is not None and self._signature() == before:
            self._known = (before, context.revision)
        return context

    def load_for_prompt(self) -> CollabContext | None:
        """The amendments and settings without their evidence (provenance, preview
        results, history, checks, highlights, corrections): what a prompt needs,
        read from the hot file alone. Read-only: saving it is refused."""
        return read_hot_context_file(self.path, self.source)

    def load_or_new(self) -> CollabContext:
        return self.load() or CollabContext()

    def save(self, context: CollabContext) -> CollabContext:
        """Save ``context`` (based on its ``revision``); return what was written."""
        with folder_lock(self.path.parent):
            to_write = next_revision(self._current_revision(), context, self.source)
            self._write(to_write)
        return to_write

    def update(
        self,
        change: Callable[[CollabContext], CollabContext | None],
        *,
        then: Callable[[CollabContext], object] | None = None,
    ) -> CollabContext:
        """Load, apply ``change`` (which may mutate in place or return a new context), save.

        Holding the lock across read and write means no concurrent writer's
        amendment can be lost between the two. ``then`` runs with the written
        context while the lock is still held (the CLI refreshes the notebook's
        embedded copy there, so two writers cannot leave it at an older revision).
        """
        with folder_lock(self.path.parent):
            current = self.load()
            # Freshly read and not shared: changed in place, no copy needed (the
            # evidence models are frozen, so unchanged evidence keeps its identity
            # and is not written again).
            working = current or CollabContext()
            changed = change(working) or working
            to_write = next_revision(current, changed, self.source)
            self._write(to_write)
            if then is not None:
                then(to_write)
        return to_write

    def _write(self, context: CollabContext) -> None:
        write_context_file(self.path, context)
        signature = self._signature()
        self._known = (signature, context.revision) if signature is not None else None
