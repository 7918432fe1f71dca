"""A notebook's context file read and written through Jupyter's ContentsManager.

The server door never touches the file system itself: the sidecar
``X.collab.json`` and the notebook are read and saved through
``contents_manager`` (awaited with ``ensure_async``, so sync and async managers
both work), which keeps the extension working with any contents backend and
inside JupyterHub, and confines every path to the server root.

Parsing, serializing and the revision rule are the functions from
``core/store.py`` that the CLI and the kernel use too, so the rules cannot
drift: a sidecar that does not parse raises :class:`ContextFileError` and is
never overwritten; a save based on an older revision raises
:class:`StaleRevisionError` and writes nothing. Writers in this process are
serialized per notebook with an :class:`asyncio.Lock` held across the read and
the write.

When the contents manager is a local one (a ``FileContentsManager``: it has
``root_dir`` and ``_get_os_path``), the sidecar is on this machine's disk where
the CLI and the kernel write it too, so the server

* also takes their lock (``flock`` on the folder, ``core/store.py``) across
  read-check-write (waiting for it in a thread, never on the event loop), so a
  tab and the CLI writing at once cannot lose an amendment;
* reads and writes the sidecar with the core's functions, in a worker thread:
  a regular file only, size-checked, parsed off the loop, and replaced
  atomically (temp file, fsync, rename). The ContentsManager's own
  ``atomic_writing`` rewrites the file in place after a backup, so a server
  killed mid-save could leave half a file; a rename never does;
* refuses (403) a notebook or sidecar whose real path (symlinks resolved) lies
  outside the server root.

Other contents managers (databases, S3, JupyterHub setups) go through the
ContentsManager API as before.

Completions and previews only read the context, once per request: for a local
sidecar they get it from a per-path cache of parsed contexts
(:meth:`ContentsContextStore.load_shared`), keyed on the file's stat signature,
so an unchanged file is not read and validated again for every completion (a
context of thousands of entries takes a large part of a second to validate), and
its rendered constitution is kept with it (``core.assembly.share_read_only``).
Any change of the file on disk (a save by this server, the CLI, a kernel or an
editor) changes its signature and is seen by the next request. Writers never
use the cache: they read the file under the lock, as before.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import unicodedata
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jupyter_core.utils import ensure_async
from tornado import web

from ..core.assembly import share_read_only
from ..core.errors import (
    ContextFileError,
    InvalidRequestError,
    NotFoundError,
    StaleRevisionError,
)
from ..core.filecache import FileCache
from ..core.models import CollabContext
from ..core.store import (
    MAX_CONTEXT_BYTES,
    acquire_folder_lock,
    next_revision,
    parse_context,
    read_context_file,
    release_folder_lock,
    serialize_context,
    sidecar_path_for,
    try_folder_lock,
    write_context_file,
)
from .errors import CollabHTTPError

NOTEBOOK_SUFFIX = ".ipynb"
MAX_PATH_LENGTH = 4096
#: How long a writer waits for another process (CLI, kernel) holding the folder lock.
LOCK_TIMEOUT = 30.0


def validate_notebook_path(path: Any, *, allow_hidden: bool = False, field: str = "path") -> str:
    """A notebook path relative to the server root, or :class:`InvalidRequestError`.

    Refuses what the ContentsManager would refuse or what could escape the
    root: absolute paths, ``..`` and ``.`` segments, empty segments, NUL and
    other control characters, backslashes, hidden segments (unless the server
    allows hidden files), percent-encoded or Unicode look-alikes of any of these
    (``%2e%2e``, ``%252f``, fullwidth dots) and anything that is not a ``.ipynb``
    file. Symbolic links out of the root are refused later, with 403, by
    :meth:`ContentsContextStore.os_path`.
    """
    if not isinstance(path, str) or not path:
        raise InvalidRequestError(f"field '{field}': a notebook path is required")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidRequestError(f"field '{field}': the path is too long")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in path):
        raise InvalidRequestError(f"field '{field}': the path contains control characters")
    if "\\" in path:
        raise InvalidRequestError(f"field '{field}': use '/' to separate folders")
    if path.startswith("/"):
        raise InvalidRequestError(
            f"field '{field}': the path must be relative to the server root, not absolute"
        )
    segments = path.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidRequestError(
                f"field '{field}': the path must not contain empty, '.' or '..' segments"
            )
        forms = _forms(segment)
        if _disguised(forms):
            raise InvalidRequestError(
                f"field '{field}': the path contains an encoded '.', '..' or folder separator"
            )
        if not allow_hidden and any(form.startswith(".") for form in forms):
            raise InvalidRequestError(f"field '{field}': hidden files and folders are not served")
    if not path.endswith(NOTEBOOK_SUFFIX) or segments[-1] == NOTEBOOK_SUFFIX:
        raise InvalidRequestError(f"field '{field}': not a notebook path (expected a .ipynb file)")
    return path


def _forms(segment: str) -> set[str]:
    """What a decoding or Unicode-normalizing layer could turn ``segment`` into:
    ``%2e%2e``, ``%252e``, ``%2f``, fullwidth full stops (U+FF0E) or solidus
    (U+FF0F) become ``..`` and ``/``."""
    forms = {segment, unicodedata.normalize("NFKC", segment)}
    for form in list(forms):
        decoded = form
        for _ in range(3):
            decoded = unquote(decoded)
            forms.add(decoded)
            forms.add(unicodedata.normalize("NFKC", decoded))
    return forms


def _disguised(forms: set[str]) -> bool:
    return any(
        form in (".", "..") or "/" in form or "\\" in form or "\x00" in form for form in forms
    )


def notebook_trusted(contents_manager: Any, notebook: Any) -> bool:
    """Whether this server trusts the notebook (its signature is in the notary's store).

    ``contents_manager.get`` has already checked the signature and marked every
    code cell ``metadata.trusted`` with the result; a notebook without code cells
    is checked against the notary directly.
    """
    cells = notebook.get("cells") or []
    code = [cell for cell in cells if cell.get("cell_type") == "code"]
    if code:
        return all((cell.get("metadata") or {}).get("trusted") is True for cell in code)
    notary = getattr(contents_manager, "notary", None)
    if notary is None:
        return False
    try:
        return bool(notary.check_signature(notebook))
    except Exception:  # a broken signature store means "not trusted", never a crash
        return False


_LOCK_WAITERS: ThreadPoolExecutor | None = None


def _lock_waiters() -> ThreadPoolExecutor:
    """Threads that wait for folder locks held by other programs (never the loop, and
    not the default executor, which file reads need meanwhile)."""
    global _LOCK_WAITERS
    if _LOCK_WAITERS is None:
        _LOCK_WAITERS = ThreadPoolExecutor(8, thread_name_prefix="jupyter-collab-lock")
    return _LOCK_WAITERS


def _release_when_acquired(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is None:
        release_folder_lock(future.result())


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

    def __init__(self, max_entries: int = 16, max_bytes: int = MAX_CONTEXT_BYTES):
        super().__init__(max_entries, max_bytes)

    def load(self, local: str, source: str) -> CollabContext | None:
        """The context in the file ``local`` (``None`` without one); blocking."""
        return self.read(
            local, [local], lambda: read_context_file(Path(local), source), keep=_shared
        )


class ContentsContextStore:
    """Async load and save of ``X.collab.json`` through a ContentsManager."""

    def __init__(self, contents_manager: Any, *, lock_timeout: float = LOCK_TIMEOUT):
        self.contents_manager = contents_manager
        self.lock_timeout = lock_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self.shared = SharedContexts()

    # -- paths -----------------------------------------------------------------

    @property
    def allow_hidden(self) -> bool:
        return bool(getattr(self.contents_manager, "allow_hidden", False))

    def check_path(self, path: Any, field: str = "path") -> str:
        return validate_notebook_path(path, allow_hidden=self.allow_hidden, field=field)

    @staticmethod
    def sidecar_for(path: str) -> str:
        return sidecar_path_for(path)

    # -- the local file system (FileContentsManager) ------------------------------

    @property
    def is_local(self) -> bool:
        cm = self.contents_manager
        return bool(getattr(cm, "root_dir", None)) and hasattr(cm, "_get_os_path")

    def os_path(self, path: str) -> str | None:
        """The real path of ``path`` (symlinks resolved) for a local contents manager,
        ``None`` for others; 403 when it lies outside the server root."""
        if not self.is_local:
            return None
        cm = self.contents_manager
        try:
            os_path = cm._get_os_path(path)
        except web.HTTPError:  # outside the root or invalid (checked before, so rare)
            message = f"{path}: not inside the server root"
            raise CollabHTTPError(403, message, "forbidden_path") from None
        root = os.path.realpath(cm.root_dir)
        real = os.path.realpath(os_path)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise CollabHTTPError(
                403,
                f"{path} leads outside the server root (a symbolic link); it is not served",
                "forbidden_path",
            )
        return real

    def check_confined(self, path: str) -> None:
        """The notebook and its sidecar stay inside the root once symlinks are resolved."""
        self.os_path(path)
        self.os_path(self.sidecar_for(path))

    @asynccontextmanager
    async def locked(self, path: str) -> AsyncIterator[None]:
        """Serialize read-modify-write of one notebook's context: in this process
        (an asyncio lock), and with other local writers (the folder's flock)."""
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            self.os_path(path)
            sidecar = self.os_path(self.sidecar_for(path))
            if sidecar is None:
                yield
                return
            fd = await self._folder_lock(os.path.dirname(sidecar), path)
            try:
                yield
            finally:
                release_folder_lock(fd)

    async def _folder_lock(self, folder: str, path: str) -> int:
        try:
            fd = try_folder_lock(folder)
            if fd is not None:
                return fd
        except FileNotFoundError:
            raise NotFoundError(f"notebook not found: {path}") from None
        # Another program holds it: wait in a thread (flock wakes waiters as soon as
        # it is released, so a tab is served as fairly as the CLI), not on the loop.
        waiting = asyncio.get_running_loop().run_in_executor(
            _lock_waiters(), acquire_folder_lock, folder
        )
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.lock_timeout)
        except BaseException as err:
            waiting.add_done_callback(_release_when_acquired)  # cancelled or timed out
            if isinstance(err, asyncio.TimeoutError):
                raise CollabHTTPError(
                    503,
                    f"the context of {path} is being written by another program (the CLI "
                    f"or a kernel) and stayed locked for {self.lock_timeout:g} s; try again",
                    "context_locked",
                ) from None
            if isinstance(err, FileNotFoundError):
                raise NotFoundError(f"notebook not found: {path}") from None
            raise

    # -- notebook --------------------------------------------------------------

    async def _exists(self, path: str) -> bool:
        try:
            return bool(await ensure_async(self.contents_manager.file_exists(path)))
        except web.HTTPError as err:
            if err.status_code == 404:
                return False
            raise

    async def require_notebook(self, path: str) -> None:
        self.check_confined(path)
        if not await self._exists(path):
            raise NotFoundError(f"notebook not found: {path}")

    async def read_notebook(self, path: str) -> Any:
        """The notebook's content (an nbformat node, trust marks on code cells)."""
        await self.require_notebook(path)
        try:
            model = await ensure_async(
                self.contents_manager.get(path, content=True, type="notebook")
            )
        except web.HTTPError as err:
            if err.status_code == 404:
                raise NotFoundError(f"notebook not found: {path}") from None
            raise
        return model["content"]

    def is_trusted(self, notebook: Any) -> bool:
        return notebook_trusted(self.contents_manager, notebook)

    # -- sidecar ---------------------------------------------------------------

    async def load(self, path: str) -> CollabContext | None:
        """The stored (accepted) context, or ``None`` when there is no sidecar yet."""
        sidecar = self.sidecar_for(path)
        local = self.os_path(sidecar)
        if local is not None:
            return await asyncio.to_thread(read_context_file, local, sidecar)
        if not await self._exists(sidecar):
            return None
        try:
            info = await ensure_async(self.contents_manager.get(sidecar, content=False))
        except web.HTTPError as err:
            if err.status_code == 404:
                return None
            raise ContextFileError(sidecar, f"cannot be read: {err.log_message or err}") from None
        size = info.get("size") if isinstance(info, dict) else None
        if isinstance(size, int) and size > MAX_CONTEXT_BYTES:
            raise ContextFileError(sidecar, f"file is {size} bytes, over the limit")
        try:
            model = await ensure_async(
                self.contents_manager.get(sidecar, content=True, type="file", format=None)
            )
        except web.HTTPError as err:
            if err.status_code == 404:
                return None
            raise ContextFileError(sidecar, f"cannot be read: {err.log_message or err}") from None
        content = model.get("content")
        if model.get("format") == "base64":
            try:
                content = base64.b64decode(content or "")
            except (binascii.Error, ValueError):
                raise ContextFileError(sidecar, "cannot be decoded") from None
        if content is None:
            raise ContextFileError(sidecar, "is not a file")
        return await asyncio.to_thread(parse_context, content, sidecar)

    async def load_shared(self, path: str) -> CollabContext | None:
        """:meth:`load` for requests that only read the context (completions,
        previews): a local sidecar is parsed once per version of the file and the
        result shared (see :class:`SharedContexts`); never change it. Other
        contents managers read it every time, as :meth:`load` does."""
        sidecar = self.sidecar_for(path)
        local = self.os_path(sidecar)
        if local is None:
            return await self.load(path)
        return await asyncio.to_thread(self.shared.load, local, sidecar)

    async def load_or_new(self, path: str) -> CollabContext:
        return await self.load(path) or CollabContext()

    async def _write(self, path: str, context: CollabContext) -> None:
        sidecar = self.sidecar_for(path)
        local = self.os_path(sidecar)
        if local is not None:
            await asyncio.to_thread(write_context_file, Path(local), context)
            return
        model = {"type": "file", "format": "text", "content": serialize_context(context)}
        await ensure_async(self.contents_manager.save(model, sidecar))

    async def save_locked(self, path: str, context: CollabContext) -> CollabContext:
        """Save under a lock the caller already holds (see :meth:`locked`)."""
        # Reading first both enforces the revision rule and refuses to replace a
        # file that does not parse (``load`` raises ContextFileError).
        current = await self.load(path)
        to_write = next_revision(current, context, self.sidecar_for(path))
        await self._write(path, to_write)
        return to_write

    async def save(self, path: str, context: CollabContext) -> CollabContext:
        """Save ``context`` (based on its ``revision``); return what was written."""
        async with self.locked(path):
            return await self.save_locked(path, context)

    async def update(
        self,
        path: str,
        change: Callable[[CollabContext], CollabContext | None],
        *,
        base_revision: int | None = None,
    ) -> CollabContext:
        """Load, apply ``change``, save: no concurrent writer's change is lost.

        With ``base_revision`` the change is refused (409) unless the stored
        context is still at that revision, so a client editing a copy it read
        earlier cannot overwrite entries it has not seen.
        """
        async with self.locked(path):
            current = await self.load(path)
            stored = current.revision if current is not None else 0
            if base_revision is not None and base_revision != stored:
                raise StaleRevisionError(
                    self.sidecar_for(path), expected=base_revision, actual=stored
                )
            working = (current or CollabContext()).model_copy(deep=True)
            changed = change(working) or working
            to_write = next_revision(current, changed, self.sidecar_for(path))
            await self._write(path, to_write)
        return to_write
