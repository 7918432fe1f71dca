"""Shared helpers: timing, medians, ratios, result records, machine description,
and the real ``jupyter server`` / ``jupyter lab`` subprocess the door measures use.

Every measure is taken several times and reported as a median, next to a
baseline measured in the same run (interleaved with it where possible), so a
noisy shared machine shifts both sides alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"  # scratch space (git-ignored)
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"

# The repository root must be importable (``tests.wire`` holds the wire server).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class Settings:
    """What the command line chose."""

    runs: int = 5
    quick: bool = False
    verbose: bool = False


@dataclass
class Result:
    """One row of the table and one entry of ``results.json``."""

    key: str
    value: float | None
    unit: str
    target: str  # e.g. "<= 1.05"
    baseline: dict[str, Any] | None
    runs: int
    note: str
    samples: list[float] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        op, _, limit = self.target.partition(" ")
        bound = float(limit)
        return self.value <= bound if op == "<=" else self.value >= bound

    def record(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("key")
        data["met"] = self.met
        data["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if data["error"] is None:
            data.pop("error")
        return data


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ratio(measure: float, baseline: float) -> float:
    return measure / baseline if baseline else float("inf")


def rounded(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}") if value and abs(value) < 1 else round(value, digits)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved(
    measure: Callable[[], float], baseline: Callable[[], float], runs: int
) -> tuple[list[float], list[float]]:
    """Run ``baseline`` and ``measure`` alternately ``runs`` times each (B, M, M, B, B, M…)
    so drift on a shared machine falls on both sides; return (measure, baseline) samples."""
    measured: list[float] = []
    based: list[float] = []
    for i in range(runs):
        order = (baseline, measure) if i % 2 == 0 else (measure, baseline)
        for fn in order:
            value = fn()
            (based if fn is baseline else measured).append(value)
    return measured, based


# -- the machine ------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "memory_gb": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


# -- ports and processes ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as err:  # any failure means "not yet"
            last = err
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s (last error: {last})")


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a process this module started (by its own pid and process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@dataclass
class JupyterServer:
    url: str  # ends with "/"
    token: str
    root: Path
    process: subprocess.Popen
    log_path: Path

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: no model settings leak in from the shell."""
    env = dict(os.environ)
    # This sandbox sets PYTHONDONTWRITEBYTECODE, so every child would recompile the
    # editable package on import; a user's install caches bytecode. Behave like one.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in list(env):
        if name.startswith(("ANTHROPIC_", "JUPYTER_COLLAB_", "OPENAI_")) or name in (
            "JPY_SESSION_NAME",
        ):
            env.pop(name)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    env.update(extra or {})
    return env


@contextlib.contextmanager
def jupyter_server(
    root: Path,
    *,
    app: str = "server",
    env: dict[str, str] | None = None,
    config_lines: Sequence[str] = (),
    name: str = "server",
    timeout: float = 90.0,
) -> Iterator[JupyterServer]:
    """A real ``jupyter server`` (or ``jupyter lab``) on 127.0.0.1 with a fixed token."""
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    token = secrets.token_hex(16)
    config = OUT / f"{name}_config.py"
    config.write_text(
        "\n".join(
            [
                "c = get_config()  # noqa",
                "c.ServerApp.ip = '127.0.0.1'",
                f"c.ServerApp.port = {port}",
                "c.ServerApp.port_retries = 0",
                f"c.IdentityProvider.token = {token!r}",
                "c.ServerApp.open_browser = False",
                "c.ServerApp.allow_root = True",
                "c.ServerApp.disable_check_xsrf = False",
                f"c.ServerApp.root_dir = {str(root)!r}",
                "c.LabApp.news_url = None",
                "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'",
                *config_lines,
            ]
        )
        + "\n"
    )
    log_path = OUT / f"{name}.log"
    handle = log_path.open("w")
    child_env = clean_env(env)
    # Own runtime/data dirs: no stale workspaces or kernels from other runs.
    child_env.setdefault("JUPYTER_RUNTIME_DIR", str(OUT / f"{name}-runtime"))
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", app, f"--config={config}", "--no-browser"],
        cwd=root,
        env=child_env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = JupyterServer(f"http://127.0.0.1:{port}/", token, root, process, log_path)
    try:
        wait_for_http(server.url + "api/status", timeout, server.auth_headers)
        yield server
    except Exception:
        handle.flush()
        tail = log_path.read_text()[-3000:]
        log(f"jupyter {app} log tail:\n{tail}")
        raise
    finally:
        stop_process(process)
        handle.close()


# -- results files ------------------------------------------------------------------


def load_results() -> dict[str, Any]:
    try:
        return json.loads(RESULTS_JSON.read_text())
    except (OSError, ValueError):
        return {}


def write_results(results: dict[str, Any]) -> None:
    RESULTS_JSON.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def notebook_json(cells: list[dict]) -> str:
    """A Python 3 notebook (nbformat 4.5) of ``cells``, as its file's text."""
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1)
