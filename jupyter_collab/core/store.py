"""Reading and writing a notebook's context file.

The sidecar for ``X.ipynb`` is ``X.collab.json``. Parsing and the revision rule
are plain functions shared by every backend (local files here, the Jupyter
ContentsManager in the server door), so the rules cannot drift apart:

* a file that does not parse or validate raises :class:`ContextFileError`
  naming the file and the problem, and is never overwritten;
* every save bumps ``revision``; a save based on an older revision raises
  :class:`StaleRevisionError` and changes nothing;
* local writes are atomic (temp file in the same folder, fsync, rename, fsync
  of the folder), so a crash leaves the old or the new file, never half of one;
* local writers (CLI, kernel, and the server when its contents manager is a
  local one) serialize read-check-write with ``flock`` on the folder, so no
  writer's change is lost between its read and its write.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from glob import escape as glob_escape
from pathlib import Path, PurePosixPath

import orjson
from pydantic import BaseModel, ValidationError

from .context_model import SCHEMA_VERSION, CollabContext
from .errors import ContextFileError, StaleRevisionError

SIDECAR_SUFFIX = ".collab.json"
# A context of 10,000 amendments is a few MB; anything far larger is not ours.
MAX_CONTEXT_BYTES = 64 * 1024 * 1024


#: A file whose last change is more recent than this when it is read may change
#: again without changing its signature: file times advance in clock ticks (a few
#: ms locally, more on network file systems), so a second write in the same tick
#: with the same size looks unchanged. Caches keep only files older than this.
SETTLED_SECONDS = 2.0

FileSignature = tuple[int, int, int, int, int]


def file_signature(path: str | os.PathLike[str]) -> FileSignature | None:
    """(device, inode, size, mtime, ctime) of a file, or ``None`` when there is none.

    Writers replace files (a new inode) and editors rewrite them (a new mtime and
    ctime), so a changed file has a changed signature, except for a rewrite in the
    same clock tick (see :func:`signature_settled`).
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def signature_settled(signature: FileSignature | None, read_started: float) -> bool:
    """Whether a file with ``signature``, read from ``read_started`` (``time.time()``)
    on, was last changed long enough before the read that any later change shows
    in its signature; only then may what was read be reused while it is unchanged."""
    if signature is None:
        return False
    changed = max(signature[3], signature[4]) / 1e9
    return read_started - changed >= SETTLED_SECONDS


def sidecar_path_for(notebook_path: str) -> str:
    """``dir/analysis.ipynb`` -> ``dir/analysis.collab.json`` (API or OS path)."""
    if not notebook_path.endswith(".ipynb"):
        raise ValueError(f"not a notebook path (expected a .ipynb file): {notebook_path!r}")
    return notebook_path[: -len(".ipynb")] + SIDECAR_SUFFIX


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    return "; ".join(parts)


_GC_LOCK = threading.Lock()
_GC_PAUSES = 0
_GC_WAS_ENABLED = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a big context is built or dumped.

    Validating a context of thousands of entries makes hundreds of thousands of
    objects that form no cycles; with the collector on, the allocations trigger
    collections that re-scan the growing heap again and again (most of the time
    a 10,000-entry load took). When the pause ends, the objects made meanwhile
    would still be scanned by the next young collections (one full pass over
    them, about a third of a 10,000-entry load), so they are moved to the
    oldest generation at once (``gc.freeze()`` + ``gc.unfreeze()``: no scan, only
    list splicing), as their survival would do anyway; they are scanned with the
    rest of the heap in the next full collection, and freed by reference counting
    when dropped. That step is skipped when something else froze objects (a
    pre-fork server), whose frozen set must stay as it is.

    Nested and concurrent pauses (the server parses in worker threads) are
    counted: the collector is enabled again, if it was enabled before the first
    pause, when the last one ends.
    """
    global _GC_PAUSES, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                if _GC_WAS_ENABLED:
                    gc.enable()


def parse_context(data: str | bytes | dict, source: str) -> CollabContext:
    """Validate context data; raise :class:`ContextFileError` naming ``source``."""
    with gc_paused():
        return _parse_context(data, source)


def _parse_context(data: str | bytes | dict, source: str) -> CollabContext:
    if isinstance(data, (bytes, str)):
        if len(data) > MAX_CONTEXT_BYTES:
            unit = "bytes" if isinstance(data, bytes) else "characters"
            raise ContextFileError(source, f"file is {len(data)} {unit}, over the limit")
        try:
            # The common case, parsed and validated in one pass by pydantic-core,
            # straight from the bytes (no decoded copy of the file).
            return CollabContext.model_validate_json(data)
        except (ValidationError, ValueError, RecursionError):
            pass  # parse again step by step, to say exactly what is wrong
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ContextFileError(source, f"not UTF-8 text (byte {err.start})") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise ContextFileError(
                source, f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
            ) from None
        except RecursionError:
            raise ContextFileError(source, "invalid JSON: nested too deeply") from None
        except ValueError as err:  # e.g. an integer literal of more than 4300 digits
            raise ContextFileError(source, f"invalid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ContextFileError(source, f"expected a JSON object, found {type(data).__name__}")
    version = data.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        raise ContextFileError(
            source,
            f"schema_version {version!r} is not supported (this version reads "
            f"{SCHEMA_VERSION}); upgrade jupyter-collab",
        )
    try:
        return CollabContext.model_validate(data)
    except ValidationError as err:
        raise ContextFileError(source, _describe_validation_error(err)) from None
    except RecursionError:
        raise ContextFileError(source, "structure nested too deeply") from None


def context_to_jsonable(context: CollabContext) -> dict:
    with gc_paused():
        data = context.model_dump(mode="json", exclude_defaults=False)
    for amendment, entry in zip(context.amendments, data.get("amendments") or [], strict=True):
        _drop_unset(amendment, entry)
        for result, stored in zip(amendment.preview, entry.get("preview") or [], strict=True):
            _drop_unset(result, stored)
    if not data.get("removed"):
        # Tombstones only appear once something was deleted, so a file without
        # deletions stays readable by versions that predate them.
        data.pop("removed", None)
    return data


_FILE_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def _drop_unset(model: BaseModel, data: dict) -> None:
    """Leave out the fields ``model`` names in ``omit_when_unset`` while they are unset."""
    for name in getattr(model, "omit_when_unset", ()):
        if not data.get(name):
            data.pop(name, None)


def _model_fields(value: object) -> dict:
    # A model's ``__dict__`` holds exactly its fields (extra fields are forbidden).
    if isinstance(value, BaseModel):
        fields = value.__dict__
        omit = getattr(value, "omit_when_unset", ())
        if omit and not all(fields[name] for name in omit):
            return {k: v for k, v in fields.items() if k not in omit or v}
        return fields
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def serialize_context_bytes(context: CollabContext) -> bytes:
    """The file's bytes: sorted keys, two-space indent, trailing newline.

    Byte for byte the text ``json.dumps(context_to_jsonable(context), sort_keys=True,
    indent=2, ensure_ascii=False) + "\\n"`` gives, written by orjson straight from
    the models (no intermediate dict of the whole context): orjson writes enums
    by value and datetimes in RFC 3339 with ``Z`` for UTC, as pydantic's JSON
    mode does.
    """
    return _serialized(context) + b"\n"


def _serialized(context: CollabContext) -> bytes:
    """The file's bytes but the trailing newline (a 33 MB file is not copied to add it)."""
    top = dict(context.__dict__)
    if not top.get("removed"):
        top.pop("removed", None)  # see context_to_jsonable
    try:
        return orjson.dumps(top, default=_model_fields, option=_FILE_OPTIONS | orjson.OPT_UTC_Z)
    except TypeError:  # a value outside the file format's types: pydantic's own dump
        return orjson.dumps(context_to_jsonable(context), option=_FILE_OPTIONS)


def serialize_context(context: CollabContext) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline (see
    :func:`serialize_context_bytes`)."""
    return serialize_context_bytes(context).decode("utf-8")


def next_revision(
    current: CollabContext | int | None, proposed: CollabContext, source: str
) -> CollabContext:
    """Apply the revision rule: ``proposed`` must be based on the current revision
    (``current`` is the stored context, its revision, or ``None`` when there is none).

    Returns the context to write, with the revision bumped.
    """
    if isinstance(current, CollabContext):
        current = current.revision
    current_revision = current or 0
    if proposed.revision != current_revision:
        raise StaleRevisionError(source, expected=proposed.revision, actual=current_revision)
    return proposed.model_copy(update={"revision": current_revision + 1})


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Serialize writers on one machine (CLI, kernel, server) with flock on the folder."""
    fd = acquire_folder_lock(folder)
    try:
        yield
    finally:
        release_folder_lock(fd)


def acquire_folder_lock(folder: str | os.PathLike[str]) -> int:
    """Take the folder lock, waiting as long as it takes; return the descriptor
    holding it (give it to :func:`release_folder_lock`), or ``-1`` without flock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return -1
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def try_folder_lock(folder: str | os.PathLike[str]) -> int | None:
    """Take the same lock as :func:`_folder_lock` without waiting.

    Returns the descriptor holding the lock (give it to :func:`release_folder_lock`),
    ``None`` when another writer holds it, or ``-1`` where there is no flock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return -1
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_folder_lock(fd: int) -> None:
    if fd < 0:
        return
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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


def remove_leftover_temp_files(path: Path) -> None:
    """Remove temp files :func:`atomic_write_text` left for ``path`` when its writer died.

    Only call it holding the folder lock: writers hold it while their temp file
    exists, so any temp file found under the lock belongs to a dead writer.
    """
    for leftover in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def write_context_file(path: Path, context: CollabContext) -> None:
    """Atomically replace ``path`` with ``context``; call it holding the folder lock."""
    remove_leftover_temp_files(path)
    atomic_write_bytes(path, _serialized(context), b"\n")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file only."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, *chunks: bytes) -> None:
    """Write ``chunks`` to ``path`` so that readers see the old or the new file only
    (temp file in the same folder, fsync, rename, fsync of the folder)."""
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp_name, path.stat().st_mode & 0o777)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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
        with _folder_lock(self.path.parent):
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
        with _folder_lock(self.path.parent):
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


def is_sidecar_path(path: str) -> bool:
    return PurePosixPath(path).name.endswith(SIDECAR_SUFFIX)
