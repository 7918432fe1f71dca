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
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from jupyter_core.utils import ensure_async
from tornado import web

from ..core.errors import (
    ContextFileError,
    InvalidRequestError,
    NotFoundError,
    StaleRevisionError,
)
from ..core.models import CollabContext
from ..core.store import next_revision, parse_context, serialize_context, sidecar_path_for

NOTEBOOK_SUFFIX = ".ipynb"
MAX_PATH_LENGTH = 4096


def validate_notebook_path(path: Any, *, allow_hidden: bool = False, field: str = "path") -> str:
    """A notebook path relative to the server root, or :class:`InvalidRequestError`.

    Refuses what the ContentsManager would refuse or what could escape the
    root: absolute paths, ``..`` and ``.`` segments, empty segments, NUL and
    other control characters, backslashes, hidden segments (unless the server
    allows hidden files) and anything that is not a ``.ipynb`` file.
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
        if segment.startswith(".") and not allow_hidden:
            raise InvalidRequestError(f"field '{field}': hidden files and folders are not served")
    if not path.endswith(NOTEBOOK_SUFFIX) or segments[-1] == NOTEBOOK_SUFFIX:
        raise InvalidRequestError(f"field '{field}': not a notebook path (expected a .ipynb file)")
    return path


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

    def __init__(self, contents_manager: Any):
        self.contents_manager = contents_manager
        self._locks: dict[str, asyncio.Lock] = {}

    # -- paths -----------------------------------------------------------------

    @property
    def allow_hidden(self) -> bool:
        return bool(getattr(self.contents_manager, "allow_hidden", False))

    def check_path(self, path: Any, field: str = "path") -> str:
        return validate_notebook_path(path, allow_hidden=self.allow_hidden, field=field)

    @staticmethod
    def sidecar_for(path: str) -> str:
        return sidecar_path_for(path)

    @asynccontextmanager
    async def locked(self, path: str) -> AsyncIterator[None]:
        """Serialize read-modify-write of one notebook's context in this process."""
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            yield

    # -- notebook --------------------------------------------------------------

    async def _exists(self, path: str) -> bool:
        try:
            return bool(await ensure_async(self.contents_manager.file_exists(path)))
        except web.HTTPError as err:
            if err.status_code == 404:
                return False
            raise

    async def require_notebook(self, path: str) -> None:
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
        if not await self._exists(sidecar):
            return None
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
        return parse_context(content, sidecar)

    async def load_or_new(self, path: str) -> CollabContext:
        return await self.load(path) or CollabContext()

    async def _write(self, path: str, context: CollabContext) -> None:
        model = {"type": "file", "format": "text", "content": serialize_context(context)}
        await ensure_async(self.contents_manager.save(model, self.sidecar_for(path)))

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
