"""The server door under load: how long a small request waits while 50 answers stream.

Three processes besides this one, as in production: the wire-level model server
(``python -m tests.wire.serve``, one delta per word, 20 ms apart), a real
``jupyter server`` with the extension, and the clients
(``python -m tests.reliability.load_clients``: 35 WebSocket and 15 server-sent-event
completions started 5 ms apart, all streaming at the same time, each checked to
arrive whole). This process only probes: ``GET jupyter-collab/version`` on a
kept-alive connection, one every 5 ms, timing each answer. A request's wait
beyond its idle time is the event-loop lag every request on the server sees.
The clients and the model server run at the lowest priority (``nice 19``): on a
two-core machine they would otherwise take the CPU from the server under test,
which in production they do not share.

* ``load_probe_p99_ms``: the 99th percentile of the probe's latency while the 50
  streams run (median over runs). Baseline, in the same run and interleaved with
  it: the same probe against the same server while it is idle. Maxima in the note.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.reliability import load_clients

from .common import OUT, REPO, Result, Settings, clean_env, jupyter_server, log, median, rounded
from .wire import FAKE_API_KEY

WS_STREAMS = 35
SSE_STREAMS = 15
DELTA_DELAY = 0.02  # seconds between two deltas of one answer
PROBE_EVERY = 0.005
IDLE_SECONDS = 2.0
NICE = ("nice", "-n", "19")


class Prober:
    """``GET jupyter-collab/version`` every ``PROBE_EVERY`` s in a thread, until stopped."""

    def __init__(self, url: str, token: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path + "jupyter-collab/version"
        self.headers = {"Authorization": f"token {token}"}
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                conn.request("GET", self.path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"probe answered {response.status}")
                self.latencies.append(time.perf_counter() - started)
                self._stop.wait(PROBE_EVERY)
        finally:
            conn.close()

    def __enter__(self) -> Prober:
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=60)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def probe_idle(url: str, token: str) -> list[float]:
    with Prober(url, token) as prober:
        time.sleep(IDLE_SECONDS)
    return prober.latencies


def probe_under_load(url: str, token: str, words: int) -> tuple[list[float], dict]:
    clients = load_clients.command(
        url, token, ws=WS_STREAMS, sse=SSE_STREAMS, words=words, stagger=0.005
    )
    with Prober(url, token) as prober:
        done = subprocess.run(
            [*NICE, *clients],
            cwd=REPO,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the load clients failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    streams = WS_STREAMS + SSE_STREAMS
    if report["failures"] or report["completed"] != streams or report["max_open"] != streams:
        raise RuntimeError(f"not every stream completed, all at once: {report}")
    return prober.latencies, report


def _wire_process() -> tuple[subprocess.Popen, str]:
    command = [*NICE, sys.executable, "-m", "tests.wire.serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--delta-delay", str(DELTA_DELAY)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=clean_env(),
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if "wire server on" not in line:
        process.kill()
        raise RuntimeError(f"the wire server did not start: {line!r}")
    return process, line.split()[-1]


def run(settings: Settings) -> list[Result]:
    words = 30 if settings.quick else 70  # about 0.6 s / 1.5 s of streaming per answer
    wire, wire_url = _wire_process()
    folder = OUT / "load"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        env = {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": wire_url}
        config = ["c.CollabExtension.provider = 'anthropic'"]
        with jupyter_server(Path(folder), env=env, config_lines=config, name="load") as server:
            probe_under_load(server.url, server.token, 5)  # warm-up: SDK client, imports
            loaded: list[list[float]] = []
            idle: list[list[float]] = []
            reports: list[dict] = []
            for i in range(settings.runs):
                for side in ("idle", "load") if i % 2 == 0 else ("load", "idle"):
                    if side == "idle":
                        idle.append(probe_idle(server.url, server.token))
                    else:
                        latencies, report = probe_under_load(server.url, server.token, words)
                        loaded.append(latencies)
                        reports.append(report)
                log(
                    f"probe p99 ms: load {quantile(loaded[-1], 0.99) * 1000:.1f}, "
                    f"idle {quantile(idle[-1], 0.99) * 1000:.1f}"
                )
    finally:
        wire.terminate()
        wire.wait(timeout=10)

    p99_load = [quantile(x, 0.99) * 1000 for x in loaded]
    p99_idle = [quantile(x, 0.99) * 1000 for x in idle]
    max_load = [max(x) * 1000 for x in loaded]
    max_idle = [max(x) * 1000 for x in idle]
    median_load = [quantile(x, 0.5) * 1000 for x in loaded]
    streams = WS_STREAMS + SSE_STREAMS
    return [
        Result(
            key="load_probe_p99_ms",
            value=rounded(median(p99_load), 3),
            unit="ms",
            target="<= 50",
            baseline={
                "value": rounded(median(p99_idle), 3),
                "unit": "ms",
                "what": "the same probe, server idle",
                "ratio": rounded(median(p99_load) / median(p99_idle), 3),
            },
            runs=settings.runs,
            note=(
                f"{streams} streams at once ({WS_STREAMS} WebSocket + {SSE_STREAMS} SSE, "
                f"{reports[0]['deltas']} deltas in {reports[0]['duration_s']:.1f} s per run, "
                f"all complete). GET version every {PROBE_EVERY * 1000:.0f} ms: p99 "
                f"{median(p99_load):.1f} ms under load vs {median(p99_idle):.1f} ms idle; "
                f"median {median(median_load):.2f} ms; worst single probe "
                f"{median(max_load):.1f} ms under load vs {median(max_idle):.1f} ms idle "
                f"(medians over runs)."
            ),
            samples=[rounded(x, 3) for x in p99_load],
            details={
                "p99_idle_ms": [rounded(x, 3) for x in p99_idle],
                "max_load_ms": [rounded(x, 3) for x in max_load],
                "max_idle_ms": [rounded(x, 3) for x in max_idle],
                "median_load_ms": [rounded(x, 3) for x in median_load],
                "probes_per_run": [len(x) for x in loaded],
                "streams": streams,
                "delta_delay_ms": DELTA_DELAY * 1000,
            },
        )
    ]
