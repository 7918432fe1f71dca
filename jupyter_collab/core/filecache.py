"""What was read from files, reused while the files are unchanged on disk.

Both doors read the same files again and again (the server door a sidecar per
completion, the kernel door a notebook and its sidecar per cell), and parsing
and validating a large context is the expensive part. A :class:`FileCache`
entry is keyed on the files' stat signatures (:func:`core.local_files.file_signature`),
so any write on disk (by a door, the CLI, an editor) is seen by the next read.
A read is kept only when it is safe to: the files did not change while they were
read, and each changed long enough before the read that a later change will show
in its signature (:func:`core.local_files.signature_settled`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from .local_files import FileSignature, file_signature, signature_settled

V = TypeVar("V")

Signatures = tuple[FileSignature | None, ...]


class FileCache(Generic[V]):
    """An LRU of values read from files, bounded by entries and by the files' bytes.

    Values are shared between callers: never change one (copy it first).
    """

    def __init__(self, max_entries: int, max_bytes: int | None = None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock: Callable[[], float] = time.time  # when a read starts (tests move it)
        self._entries: OrderedDict[Hashable, tuple[Signatures, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def read(
        self,
        key: Hashable,
        paths: Sequence[str | Path],
        read: Callable[[], V],
        keep: Callable[[V], bool] = lambda value: True,
    ) -> V:
        """The value for ``key``, read by ``read()`` unless the files in ``paths`` are
        unchanged since it was kept. The first path must exist for a value to be
        kept; the others may be missing (a missing file is part of the signature).
        ``keep(value)`` can refuse a value that depends on more than the files."""
        started = self.clock()
        before = tuple(file_signature(p) for p in paths)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and before[0] is not None and hit[0] == before:
                self._entries.move_to_end(key)
                return hit[1]
            self._entries.pop(key, None)
        value = read()
        if (
            before[0] is not None
            and (self.max_bytes is None or _size(before) <= self.max_bytes)
            and all(s is None or signature_settled(s, started) for s in before)
            and tuple(file_signature(p) for p in paths) == before
            and keep(value)
        ):
            with self._lock:
                self._entries[key] = (before, value)
                self._evict()
        return value

    def _evict(self) -> None:
        total = sum(_size(signatures) for signatures, _ in self._entries.values())
        while self._entries and (
            len(self._entries) > self.max_entries
            or (self.max_bytes is not None and total > self.max_bytes)
        ):
            signatures, _ = self._entries.popitem(last=False)[1]
            total -= _size(signatures)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _size(signatures: Signatures) -> int:
    return sum(s[2] for s in signatures if s is not None)
