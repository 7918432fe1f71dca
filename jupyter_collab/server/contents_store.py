"""A notebook's context file read and written through Jupyter's ContentsManager.

The server door never touches the file system itself: the sidecar
``X.collab.json`` and the notebook are read and saved through
``contents_manager`` (awaited with ``ensure_async``, so sync and async managers
both work), which keeps the extension working with any contents backend and
inside JupyterHub, and confines every path to the server root.

Parsing, serializing and the revision rule are the functions from
``core/context_format.py`` that the CLI and the kernel use too, so the rules cannot
drift: a sidecar that does not parse raises :class:`ContextFileError` and is
never overwritten; a save based on an older revision raises
:class:`StaleRevisionError` and writes nothing. Writers in this process are
serialized per notebook with an :class:`asyncio.Lock` held across the read and
the write.

When the contents manager is a local one (a ``FileContentsManager``: it has
``root_dir`` and ``_get_os_path``), the sidecar is on this machine's disk where
the CLI and the kernel write it too, so the server

* also takes their lock (``flock`` on the folder, ``core/local_files.py``) across
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
ContentsManager API as before: they read a context split into a hot file and
evidence files (``core/context_evidence.py``) and write the whole context as one file.

Read-only requests get a parsed context from :class:`~.shared_contexts.SharedContexts`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import posixpath
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from tornado import web

from ..core.context_evidence import evidence_folder_for, merge_evidence, parse_evidence
from ..core.context_format import (
    MAX_CONTEXT_BYTES,
    next_revision,
    parse_hot_context,
    serialize_context,
    sidecar_path_for,
    whole_context,
)
from ..core.context_model import CollabContext
from ..core.errors import (
    ContextFileError,
    NotFoundError,
    StaleRevisionError,
)
from ..core.layers import context_in_effect
from ..core.local_files import release_folder_lock
from ..core.store import read_context_file, read_hot_context_file, write_context_file
from .errors import CollabHTTPError
from .folder_locks import wait_for_folder_lock
from .notebook_paths import validate_notebook_path
from .shared_contexts import SharedContexts

#: How long a writer waits for another process (CLI, kernel) holding the folder lock.
LOCK_TIMEOUT = 30.0


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


class ContentsContextStore:
    """Async load and save of ``X.collab.json`` through a ContentsManager."""

    def __init__(self, contents_manager: Any, *, lock_timeout: float = LOCK_TIMEOUT):
        self.contents_manager = contents_manager
        self.lock_timeout = lock_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self.shared = SharedContexts()
        self.prompt_contexts = SharedContexts(reader=read_hot_context_file)

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
            return await wait_for_folder_lock(folder, self.lock_timeout)
        except TimeoutError:
            raise CollabHTTPError(
                503,
                f"the context of {path} is being written by another program (the CLI "
                f"or a kernel) and stayed locked for {self.lock_timeout:g} s; try again",
                "context_locked",
            ) from None
        except FileNotFoundError:
            raise NotFoundError(f"notebook not found: {path}") from None

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
        content = await self._read_through_manager(sidecar)
        if content is None:
            return None
        hot = await asyncio.to_thread(parse_hot_context, content, sidecar)
        if hot.evidence is None:
            return whole_context(hot)
        # A context split in two (written by a local store, e.g. checked out from
        # git): its evidence files, by the names and hashes the hot file gives.
        folder = posixpath.join(
            posixpath.dirname(sidecar), evidence_folder_for(posixpath.basename(sidecar))
        )
        parts = []
        for ref in hot.evidence:
            evidence_path = posixpath.join(folder, ref.file)
            evidence_source = f"{sidecar} (evidence file {evidence_path})"
            raw = await self._read_through_manager(evidence_path, evidence_source)
            if raw is None:
                raise ContextFileError(
                    sidecar,
                    f"names the evidence file {evidence_path}, which is missing; restore "
                    "it (or the notebook's embedded copy) before changing this context",
                )
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
            parts.append(await asyncio.to_thread(parse_evidence, raw, ref, evidence_source))
        return merge_evidence(hot, parts, sidecar)

    async def _read_through_manager(
        self, api_path: str, source: str | None = None
    ) -> str | bytes | None:
        """A file's content through the ContentsManager; ``None`` when it does not exist."""
        source = source or api_path
        if not await self._exists(api_path):
            return None
        try:
            info = await ensure_async(self.contents_manager.get(api_path, content=False))
        except web.HTTPError as err:
            if err.status_code == 404:
                return None
            raise ContextFileError(source, f"cannot be read: {err.log_message or err}") from None
        size = info.get("size") if isinstance(info, dict) else None
        if isinstance(size, int) and size > MAX_CONTEXT_BYTES:
            raise ContextFileError(source, f"file is {size} bytes, over the limit")
        try:
            model = await ensure_async(
                self.contents_manager.get(api_path, content=True, type="file", format=None)
            )
        except web.HTTPError as err:
            if err.status_code == 404:
                return None
            raise ContextFileError(source, f"cannot be read: {err.log_message or err}") from None
        content = model.get("content")
        if model.get("format") == "base64":
            try:
                content = base64.b64decode(content or "")
            except (binascii.Error, ValueError):
                raise ContextFileError(source, "cannot be decoded") from None
        if content is None:
            raise ContextFileError(source, "is not a file")
        return content

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

    async def load_for_prompt(self, path: str) -> CollabContext | None:
        """:meth:`load_shared` without the evidence (provenance, preview results,
        history, checks, highlights, corrections): what completions and previews
        put in a prompt, read from the hot file alone. Shared and read-only; it
        cannot be saved. Other contents managers read the whole context."""
        sidecar = self.sidecar_for(path)
        local = self.os_path(sidecar)
        if local is None:
            return await self.load(path)
        return await asyncio.to_thread(self.prompt_contexts.load, local, sidecar)

    async def load_in_effect(self, path: str, *, for_prompt: bool = False) -> CollabContext | None:
        """What a prompt of ``path`` is assembled from: its context with the project
        and personal layers (``core/layers.py``; the project layer is looked for up to
        the server root). Read only, like :meth:`load_shared`; ``for_prompt``: the
        notebook's context without its evidence (:meth:`load_for_prompt`), all a
        prompt needs. A contents manager with no local files has no layers to find:
        the notebook's context alone."""
        context = await (self.load_for_prompt(path) if for_prompt else self.load_shared(path))
        local = self.os_path(path)
        if local is None:
            return context
        root = self.contents_manager.root_dir
        return await asyncio.to_thread(
            lambda: context_in_effect(local, context, root=os.path.realpath(root))
        )

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
            # Freshly read, not the shared copy: changed in place (see LocalContextStore.update).
            working = current or CollabContext()
            changed = change(working) or working
            to_write = next_revision(current, changed, self.sidecar_for(path))
            await self._write(path, to_write)
        return to_write
