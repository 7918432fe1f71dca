"""Cancelling through the server door: how soon the model's server sees the request end.

A real ``jupyter server`` runs as a subprocess with the extension, talking to the
wire-level Messages API server in this process (``ANTHROPIC_BASE_URL``, a fake
key). The answer is 400 words, one delta every 50 ms (20 s in all), so the
request can only end early because it was cancelled. A client here streams a
completion over the ``jupyter-collab/stream`` WebSocket and, once the first delta
arrives, sends ``cancel``; the time runs from sending it until the wire server
notices its client went away (its socket closed while sending).

* ``cancel_close_ms``: that time (median over runs). Baseline, in the same run and
  interleaved with it: the ``anthropic`` SDK streaming the same answer directly
  and closing its stream after the first delta (``await stream.close()``), timed
  the same way. Both doors' other cancels (closing the tab, an SSE client going
  away, a preview, an interrupted kernel) are checked, not timed, by
  ``tests/reliability/test_r11_cancel.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from .bench_stream import WSClient
from .common import Result, Settings, jupyter_server, log, median, ratio, rounded
from .wire import FAKE_API_KEY, AnthropicWireServer, Reply, anthropic_env, notebook_folder

SLOW = Reply.text(" ".join(["word"] * 400), delta_delay=0.05)  # 20 s unless closed
MESSAGE = {"path": "nb.ipynb", "prompt": "Write a long answer."}


class Disconnects:
    """When the wire server noticed a client leave (``time.monotonic``)."""

    def __init__(self, wire: AnthropicWireServer) -> None:
        self.times: list[float] = []
        self._seen = threading.Condition()
        original = wire._note_disconnect

        def note() -> None:
            with self._seen:
                self.times.append(time.monotonic())
                self._seen.notify_all()
            original()

        wire._note_disconnect = note

    async def after(self, start: float, timeout: float = 15.0) -> float:
        """Seconds from ``start`` until the wire server saw a request end after it."""

        def wait() -> float:
            with self._seen:
                found = self._seen.wait_for(
                    lambda: any(t >= start for t in self.times), timeout=timeout
                )
                if not found:
                    raise RuntimeError("the upstream request was never closed")
                return min(t for t in self.times if t >= start) - start

        return await asyncio.to_thread(wait)


async def server_cancel(ws: WSClient, disconnects: Disconnects, request_id: str) -> float:
    assert ws.conn is not None
    await ws.conn.write_message(json.dumps({"type": "complete", "id": request_id, **MESSAGE}))
    while True:  # until this request's first delta
        message = json.loads(await asyncio.wait_for(ws.conn.read_message(), timeout=60))
        if message.get("id") != request_id:
            continue
        if message["type"] == "delta":
            break
        raise RuntimeError(f"the completion did not stream: {message}")
    cancelled = time.monotonic()
    await ws.conn.write_message(json.dumps({"type": "cancel", "id": request_id}))
    delay = await disconnects.after(cancelled)
    while True:  # the acknowledgement
        message = json.loads(await asyncio.wait_for(ws.conn.read_message(), timeout=60))
        if message.get("id") == request_id and message["type"] != "delta":
            break
    if message["type"] != "cancelled":
        raise RuntimeError(f"the cancel was not acknowledged: {message}")
    return delay


async def sdk_cancel(sdk: Any, args: dict[str, Any], disconnects: Disconnects) -> float:
    stream = await sdk.messages.create(**args, stream=True)
    async for event in stream:
        if event.type == "content_block_delta":
            break
    closed = time.monotonic()
    await stream.close()
    return await disconnects.after(closed)


async def _measure(settings: Settings, wire: AnthropicWireServer, server) -> list[Result]:
    import anthropic

    disconnects = Disconnects(wire)
    wire.responder = lambda body: SLOW
    ws = WSClient(server.url, server.token)
    await ws.connect()
    sdk = anthropic.AsyncAnthropic(api_key=FAKE_API_KEY, base_url=wire.url, max_retries=0)
    try:
        await server_cancel(ws, disconnects, "warm")  # provider client, imports
        body = wire.message_requests()[-1].body
        args = {k: body[k] for k in ("model", "max_tokens", "messages", "system") if k in body}
        await sdk_cancel(sdk, args, disconnects)
        measured: list[float] = []
        based: list[float] = []
        for i in range(settings.runs):
            for side in ("sdk", "server") if i % 2 == 0 else ("server", "sdk"):
                if side == "sdk":
                    based.append(await sdk_cancel(sdk, args, disconnects))
                else:
                    measured.append(await server_cancel(ws, disconnects, f"r{i}"))
            log(f"cancel → closed ms: server {measured[-1] * 1000:.1f}, sdk {based[-1] * 1000:.1f}")
    finally:
        wire.responder = None
        ws.close()
        await sdk.close()

    return [
        Result(
            key="cancel_close_ms",
            value=rounded(median(measured) * 1000, 3),
            unit="ms",
            target="<= 100",
            baseline={
                "value": rounded(median(based) * 1000, 3),
                "unit": "ms",
                "what": "the anthropic SDK closing its own stream",
                "ratio": rounded(ratio(median(measured), median(based)), 3),
            },
            runs=settings.runs,
            note=(
                f"From the WebSocket cancel to the model's server seeing its request end "
                f"(a 20 s answer, cancelled after its first delta): median "
                f"{median(measured) * 1000:.1f} ms; the SDK closing its own stream "
                f"{median(based) * 1000:.1f} ms."
            ),
            samples=[rounded(x * 1000, 3) for x in measured],
            details={"sdk_ms": [rounded(x * 1000, 3) for x in based]},
        )
    ]


def run(settings: Settings) -> list[Result]:
    wire = AnthropicWireServer().start()
    try:
        folder = notebook_folder("cancel")
        with jupyter_server(
            folder,
            env=anthropic_env(wire),
            config_lines=["c.CollabExtension.provider = 'anthropic'"],
            name="cancel-server",
        ) as server:
            return asyncio.run(_measure(settings, wire, server))
    finally:
        wire.stop()
