"""Files on the local file system: atomic writes, folder locks and file signatures.

* writes are atomic (temp file in the same folder, fsync, rename, fsync of the
  folder), so a crash leaves the old or the new file, never half of one;
* local writers (CLI, kernel, and the server when its contents manager is a
  local one) serialize read-check-write with ``flock`` on the folder, so no
  writer's change is lost between its read and its write;
* a file's signature tells a cache whether the file changed since it was read.

Nothing here knows what the files hold.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from glob import escape as glob_escape
from pathlib import Path

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


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
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
    """Take the same lock as :func:`folder_lock` without waiting.

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


def remove_leftover_temp_files(path: Path) -> None:
    """Remove temp files :func:`atomic_write_text` left for ``path`` when its writer died.

    Only call it holding the folder lock: writers hold it while their temp file
    exists, so any temp file found under the lock belongs to a dead writer.
    """
    for leftover in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


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
