"""Waiting for a folder lock held by another program (the CLI, a kernel) without
blocking the event loop.

The lock is ``core/local_files.py``'s ``flock`` on the notebook's folder. Waiting
happens in threads of their own: never the loop, and not the default executor,
which file reads need meanwhile. flock wakes waiters as soon as the lock is
released, so a browser tab is served as fairly as the CLI.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from ..core.local_files import acquire_folder_lock, release_folder_lock, try_folder_lock

_LOCK_WAITERS: ThreadPoolExecutor | None = None


def _lock_waiters() -> ThreadPoolExecutor:
    global _LOCK_WAITERS
    if _LOCK_WAITERS is None:
        _LOCK_WAITERS = ThreadPoolExecutor(8, thread_name_prefix="jupyter-collab-lock")
    return _LOCK_WAITERS


def _release_when_acquired(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is None:
        release_folder_lock(future.result())


async def wait_for_folder_lock(folder: str, timeout: float) -> int:
    """The lock's file descriptor (release it with ``release_folder_lock``).

    Raises :class:`TimeoutError` after ``timeout`` seconds and
    :class:`FileNotFoundError` when the folder does not exist. A lock acquired
    after the wait was given up (cancelled or timed out) is released at once.
    """
    fd = try_folder_lock(folder)
    if fd is not None:
        return fd
    waiting = asyncio.get_running_loop().run_in_executor(
        _lock_waiters(), acquire_folder_lock, folder
    )
    try:
        return await asyncio.wait_for(asyncio.shield(waiting), timeout)
    except BaseException as err:
        waiting.add_done_callback(_release_when_acquired)
        if isinstance(err, asyncio.TimeoutError):  # not yet the builtin on Python 3.10
            raise TimeoutError(f"{folder} stayed locked for {timeout:g} s") from None
        raise
