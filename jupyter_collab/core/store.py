"""Reading and writing a notebook's context file on the local file system.

Built on the file format (``context_format.py``) and the local file machinery
(``local_files.py``):

* a file that does not parse or validate raises :class:`ContextFileError`
  naming the file and the problem, and is never overwritten;
* writes are atomic and made under the folder lock, so no writer's change is
  lost between its read and its write.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from .context_format import (
    MAX_CONTEXT_BYTES,
    next_revision,
    parse_context,
    serialize_context_body,
    sidecar_path_for,
)
from .context_model import CollabContext
from .errors import ContextFileError
from .local_files import atomic_write_bytes, folder_lock, remove_leftover_temp_files


def read_context_file(path: Path, source: str) -> CollabContext | None:
    """Read and validate a context file; ``None`` when it does not exist.

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
            raw = handle.read(MAX_CONTEXT_BYTES + 1)
    except OSError as err:
        raise ContextFileError(source, f"cannot be read: {err.strerror}") from None
    finally:
        os.close(fd)
    return parse_context(raw, source)


def write_context_file(path: Path, context: CollabContext) -> None:
    """Atomically replace ``path`` with ``context``; call it holding the folder lock."""
    remove_leftover_temp_files(path)
    atomic_write_bytes(path, serialize_context_body(context), b"\n")


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
        current = self.load()
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
            working = (current or CollabContext()).model_copy(deep=True)
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
