"""R9: 50 concurrent streams through the server on loopback all complete, all
streaming at the same time, and the server keeps answering other requests while
they run.

Three processes, as in production: the wire-level model server (streaming one
delta per word, 20 ms apart), the Jupyter server under test (this test's
process and event loop), and the clients (35 WebSocket and 15 server-sent-event
completions, started 5 ms apart, all streaming at the same time). Meanwhile this
process asks ``GET jupyter-collab/version`` again and again; at least one answer
must arrive while every one of the 50 streams is streaming (the clients report
that window on the same system-wide monotonic clock). One warm-up completion
first (the SDK client is created on first use).

How long such a request waits under this load is a benchmark figure
(``load_probe_p99_ms`` in ``benchmarks/bench_load.py``), not an assertion here.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability import load_clients
from tests.reliability.helpers import raw_fetch

REPO = Path(__file__).resolve().parents[2]
WS_STREAMS = 35
SSE_STREAMS = 15


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
    # 70 words: about 1.5 s of streaming each
    args = load_clients.command(
        base, token, ws=WS_STREAMS, sse=SSE_STREAMS, words=70, stagger=0.005
    )
    clients = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=_env(),
    )
    out, _ = await asyncio.wait_for(clients.communicate(), timeout=150)
    return out


@pytest.mark.timeout(180)
async def test_r09_fifty_streams_while_the_server_answers_other_requests(
    jp_serverapp, http_server, jp_http_port, jp_base_url, jp_auth_header, figures
):
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    warm = await raw_fetch(
        base + "jupyter-collab/complete", "POST", json.dumps({"prompt": "warm up"}), jp_auth_header
    )
    assert warm.code == 200, warm.body

    answered: list[float] = []  # when each probe's answer arrived (time.monotonic)
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            reply = await raw_fetch(base + "jupyter-collab/version", headers=jp_auth_header)
            assert reply.code == 200, reply.body
            answered.append(time.monotonic())

    probing = asyncio.create_task(probe())
    try:
        out = await run_clients(jp_serverapp.identity_provider.token, base)
    finally:
        stop.set()
        await probing

    report = json.loads(out)

    streams = WS_STREAMS + SSE_STREAMS
    assert report["failures"] == [], report["failures"][:3]
    assert report["completed"] == streams, report
    assert report["max_open"] == streams and report["all_streaming_at_once"], report
    window = (report["all_streaming_from"], report["all_streaming_until"])
    during = [t for t in answered if window[0] <= t <= window[1]]
    assert during, (
        "no other request was answered while all the streams were streaming "
        f"({len(answered)} answered in all)"
    )
    figures.add(
        "R9",
        f"{streams} streams held at once ({WS_STREAMS} WebSocket + {SSE_STREAMS} SSE, "
        f"{report['deltas']} deltas in {report['duration_s']:.1f} s), all completed; "
        f"{len(during)} other requests answered while all {streams} were streaming "
        "(their latency: load_probe_p99_ms in benchmarks/results.json)",
    )
