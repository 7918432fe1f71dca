"""R9: 50 concurrent streams through the server on loopback all complete, with
event-loop lag under 50 ms while they run (measured, reported).

Three processes, as in production: the wire-level model server (streaming one
delta per word, 20 ms apart), the Jupyter server under test (this test's
process and event loop), and the clients (35 WebSocket and 15 server-sent-event
completions, started 5 ms apart, all streaming at the same time). A ticker
task on the server's loop sleeps 5 ms at a time and records how late it wakes
up: that overshoot is the event-loop lag every request on the server would
see. One warm-up completion first (the SDK client is created on first use).

On a shared machine part of the overshoot is time the OS gave to other
processes. The asserted figure is the part the server caused: the overshoot,
capped by the CPU time this process used meanwhile (``time.process_time``, all
its threads: a thread of ours holding the GIL counts). Both are reported.

The Jupyter server under test lives in the pytest process, whose heap holds
every earlier test's objects (hundreds of thousands): one full collection of
that heap took 279 ms in a CI run, a pause a real server's own heap does not
have. So the heap is collected and frozen (``gc.freeze``) before measuring,
and the collector's pauses during the run are measured and reported too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import raw_fetch

REPO = Path(__file__).resolve().parents[2]
WS_STREAMS = 35
SSE_STREAMS = 15
TICK = 0.005
MAX_LAG = 0.050


@contextlib.contextmanager
def gc_pauses_recorded(pauses: list[tuple[int, float]]):
    """Freeze what the test process holds so far, and record (generation,
    seconds) for each collection until the block ends."""
    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((info["generation"], time.perf_counter() - started.pop()))

    gc.collect()
    gc.freeze()
    gc.callbacks.append(on_gc)
    try:
        yield
    finally:
        gc.callbacks.remove(on_gc)
        gc.unfreeze()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}


@pytest.fixture
def wire_process():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.wire.serve", "--port", "0", "--delta-delay", "0.02"],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=_env(),
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "wire server on" in line, line
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def collab_extension_config(wire_process):
    return {"anthropic_base_url": wire_process}


async def run_clients(token: str, base: str) -> bytes:
    """The load: a separate process streaming all completions at once; its report."""
    clients = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.reliability.load_clients",
        base,
        token,
        "--ws",
        str(WS_STREAMS),
        "--sse",
        str(SSE_STREAMS),
        "--words",
        "70",  # about 1.5 s of streaming each
        "--stagger",
        "0.005",
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=_env(),
    )
    out, _ = await asyncio.wait_for(clients.communicate(), timeout=150)
    return out


@pytest.mark.timeout(180)
async def test_r09_fifty_streams_with_low_event_loop_lag(
    jp_serverapp, http_server, jp_http_port, jp_base_url, jp_auth_header, figures
):
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    warm = await raw_fetch(
        base + "jupyter-collab/complete", "POST", json.dumps({"prompt": "warm up"}), jp_auth_header
    )
    assert warm.code == 200, warm.body

    loop = asyncio.get_running_loop()
    wall: list[float] = []  # how late the ticker woke up
    caused: list[float] = []  # the part of it this process was running (not preempted)
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            started, cpu = loop.time(), time.process_time()
            await asyncio.sleep(TICK)
            late = max(0.0, loop.time() - started - TICK)
            wall.append(late)
            caused.append(min(late, time.process_time() - cpu))

    pauses: list[tuple[int, float]] = []
    with gc_pauses_recorded(pauses):
        tick = asyncio.create_task(ticker())
        out = await run_clients(jp_serverapp.identity_provider.token, base)
        stop.set()
        await tick

    report = json.loads(out)

    streams = WS_STREAMS + SSE_STREAMS
    assert report["failures"] == [], report["failures"][:3]
    assert report["completed"] == streams, report
    assert report["max_open"] == streams and report["all_streaming_at_once"], report

    def ms(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(len(values) * q))] * 1000

    worst = ms(caused, 1.0)
    figures.add(
        "R9",
        f"{streams} streams held at once ({WS_STREAMS} WebSocket + {SSE_STREAMS} SSE, "
        f"{report['deltas']} deltas in {report['duration_s']:.1f} s), all completed; "
        f"event-loop lag caused by the server max {worst:.1f} ms, p99 {ms(caused, 0.99):.1f} ms, "
        f"median {ms(caused, 0.5):.2f} ms (limit {MAX_LAG * 1000:.0f} ms); wall-clock lag "
        f"incl. other processes on the machine max {ms(wall, 1.0):.1f} ms, p99 "
        f"{ms(wall, 0.99):.1f} ms ({len(wall)} samples); {len(pauses)} garbage collections, "
        f"longest {max((p for _, p in pauses), default=0) * 1000:.1f} ms",
    )
    assert worst < MAX_LAG * 1000, f"the server blocked its event loop for {worst:.1f} ms"
