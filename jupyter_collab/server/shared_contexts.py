"""Parsed context files shared by the requests that only read them.

Completions and previews only read the context, once per request: for a local
sidecar they get it from a per-path cache of parsed contexts
(:meth:`~.contents_store.ContentsContextStore.load_shared`), keyed on the file's
stat signature, so an unchanged file is not read and validated again for every completion (a
context of thousands of entries takes a large part of a second to validate), and
its rendered constitution is kept with it (``core.assembly.share_read_only``).
Any change of the file on disk (a save by this server, the CLI, a kernel or an
editor) changes its signature and is seen by the next request. Writers never
use the cache: they read the file under the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..core.assembly import share_read_only
from ..core.context_format import MAX_CONTEXT_BYTES
from ..core.context_model import CollabContext
from ..core.filecache import FileCache
from ..core.store import read_context_file


def _shared(context: CollabContext | None) -> bool:
    """Keep a parsed context, shared read-only with prompt assembly."""
    if context is None:
        return False
    share_read_only(context)
    return True


class SharedContexts(FileCache[CollabContext | None]):
    """Parsed sidecars by real path, reused while the file is unchanged on disk.

    Bounded by entries and by the size of the files they came from (a parsed
    context takes about 3.5 times its file's size in memory). The contexts are
    shared read-only: never change one (copy it first).
    """

    def __init__(
        self,
        max_entries: int = 16,
        max_bytes: int = MAX_CONTEXT_BYTES,
        reader: Callable[[Path, str], CollabContext | None] = read_context_file,
    ):
        super().__init__(max_entries, max_bytes)
        # read_context_file: the whole context; read_hot_context_file: the amendments
        # without their evidence, for prompts. Either is keyed on the hot file alone:
        # the evidence file it names is never rewritten (its name is its hash).
        self.reader = reader

    def load(self, local: str, source: str) -> CollabContext | None:
        """The context in the file ``local`` (``None`` without one); blocking."""
        return self.read(local, [local], lambda: self.reader(Path(local), source), keep=_shared)
