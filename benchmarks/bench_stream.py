"""The server door: time to first token, and deltas per second forwarded to a client.

A real ``jupyter server`` runs as a subprocess with the extension
(``c.CollabExtension.provider = "anthropic"``, a fake ``ANTHROPIC_API_KEY`` and
``ANTHROPIC_BASE_URL`` pointing at the wire-level Messages API server running in
this process). Clients here talk to it over the ``jupyter-collab/stream``
WebSocket and the SSE route ``POST jupyter-collab/complete``.

Baseline, in the same run: the same ``anthropic`` SDK called directly (one warm
client, as the server holds one) with the exact request body the server sent
(taken from the wire server's request log), against the same wire server.

* ``ttft_ratio_server_vs_sdk``: the wire server waits a fixed first-token latency
  before the first delta; TTFT is the time from sending the request to the first
  text delta. The notebook has a 30-amendment context, so the server's per-call
  work (load the sidecar, assemble, hash, build the output) is included.
* ``stream_chunks_per_s``: an answer of many small deltas with no delay between
  them; the rate is (deltas - 1) / (last delta - first delta) at the client, and
  the client checks it received every delta, one message each (no buffering).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from .common import (
    Result,
    Settings,
    jupyter_server,
    log,
    median,
    ratio,
    rounded,
)
from .wire import (
    FAKE_API_KEY,
    AnthropicWireServer,
    Reply,
    anthropic_env,
    notebook_folder,
    small_context,
)

FIRST_TOKEN_DELAY = 0.5  # seconds; a typical time to first token of a hosted model
TTFT_ANSWER = "The outlier is run C at 7.8 g/L; check its calibration first, then the assay."
PROMPT = "These are my four yields: 4.1, 3.9, 7.8 and 4.0 g/L. Which run is an outlier?"
SDK_KEYS = ("model", "max_tokens", "messages", "system")


def sdk_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The SDK call that sends exactly ``body`` (untyped fields go in ``extra_body``)."""
    args = {k: body[k] for k in SDK_KEYS if k in body}
    extra = {k: v for k, v in body.items() if k not in (*SDK_KEYS, "stream")}
    if extra:
        args["extra_body"] = extra
    return args


class WSClient:
    def __init__(self, url: str, token: str):
        self.url = url + "jupyter-collab/stream"
        self.token = token
        self.conn = None
        self._n = 0

    async def connect(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        request = HTTPRequest(
            "ws" + self.url[len("http") :], headers={"Authorization": f"token {self.token}"}
        )
        self.conn = await websocket_connect(request, max_message_size=64 * 1024 * 1024)

    async def complete(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one ``complete``; return timings and the delta count."""
        self._n += 1
        request_id = f"r{self._n}"
        start = time.perf_counter()
        await self.conn.write_message(json.dumps({"type": "complete", "id": request_id, **message}))
        first = last = None
        deltas = 0
        while True:
            raw = await asyncio.wait_for(self.conn.read_message(), timeout=120)
            if raw is None:
                raise RuntimeError("the WebSocket closed")
            now = time.perf_counter()
            data = json.loads(raw)
            if data.get("id") != request_id:
                continue
            kind = data["type"]
            if kind == "delta":
                deltas += 1
                first = first if first is not None else now
                last = now
            elif kind == "result":
                return {
                    "ttft": first - start,
                    "first": first,
                    "last": last,
                    "deltas": deltas,
                    "result": data["result"],
                }
            else:
                raise RuntimeError(f"stream request failed: {data}")

    async def complete_result(self, message: dict[str, Any]) -> dict[str, Any]:
        """The ``CompletionResult`` JSON of one completion."""
        return (await self.complete(message))["result"]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


async def sse_complete(client, url: str, token: str, message: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    first = last = None
    deltas = 0
    async with client.stream(
        "POST",
        url + "jupyter-collab/complete",
        json=message,
        headers={"Authorization": f"token {token}"},
        timeout=120,
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("event: delta"):
                now = time.perf_counter()
                deltas += 1
                first = first if first is not None else now
                last = now
            elif line.startswith("event: error"):
                raise RuntimeError("SSE stream failed")
    return {"ttft": first - start, "first": first, "last": last, "deltas": deltas}


async def sdk_complete(client, args: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    first = last = None
    deltas = 0
    stream = await client.messages.create(**args, stream=True)
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            now = time.perf_counter()
            deltas += 1
            first = first if first is not None else now
            last = now
    return {"ttft": first - start, "first": first, "last": last, "deltas": deltas}


def rate(sample: dict[str, Any]) -> float:
    span = sample["last"] - sample["first"]
    return (sample["deltas"] - 1) / span if span > 0 else float("inf")


async def _measure(settings: Settings, wire: AnthropicWireServer, server) -> list[Result]:
    import anthropic
    import httpx

    runs = settings.runs
    ws = WSClient(server.url, server.token)
    await ws.connect()
    http = httpx.AsyncClient()
    sdk = anthropic.AsyncAnthropic(api_key=FAKE_API_KEY, base_url=wire.url, max_retries=0)
    message = {"path": "nb.ipynb", "prompt": PROMPT}
    try:
        # -- time to first token ---------------------------------------------------
        wire.responder = lambda body: Reply.text(TTFT_ANSWER, first_token_delay=FIRST_TOKEN_DELAY)
        await ws.complete(message)  # warm-up: provider client, connection, imports
        await sse_complete(http, server.url, server.token, message)
        body = wire.message_requests()[-1].body
        args = sdk_arguments(body)
        await sdk_complete(sdk, args)
        ttft_ws, ttft_sse, ttft_sdk = [], [], []
        ttft_runs = 2 * runs  # cheap (~0.5 s each): more runs for a tighter median
        for i in range(ttft_runs):
            order = ["sdk", "ws", "sse"] if i % 2 == 0 else ["ws", "sse", "sdk"]
            for side in order:
                if side == "sdk":
                    ttft_sdk.append((await sdk_complete(sdk, args))["ttft"])
                elif side == "ws":
                    ttft_ws.append((await ws.complete(message))["ttft"])
                else:
                    ttft_sse.append(
                        (await sse_complete(http, server.url, server.token, message))["ttft"]
                    )
        sent = wire.message_requests()[-1].body
        assert sent["system"] == body["system"], "the server's request changed between calls"
        log(
            f"TTFT ms: ws {median(ttft_ws) * 1000:.1f}, sse {median(ttft_sse) * 1000:.1f}, "
            f"sdk {median(ttft_sdk) * 1000:.1f}"
        )

        # -- deltas per second ------------------------------------------------------
        chunks = 5_000 if settings.quick else 20_000
        answer = "".join(f"w{i % 10} " for i in range(chunks))
        wire.responder = lambda body: Reply.text(answer, chunks=chunks)
        await ws.complete(message)  # warm-up
        rate_ws, rate_sse, rate_sdk = [], [], []
        for i in range(runs):
            order = ["sdk", "ws", "sse"] if i % 2 == 0 else ["ws", "sse", "sdk"]
            for side in order:
                if side == "sdk":
                    sample = await sdk_complete(sdk, args)
                    rate_sdk.append(rate(sample))
                elif side == "ws":
                    sample = await ws.complete(message)
                    rate_ws.append(rate(sample))
                else:
                    sample = await sse_complete(http, server.url, server.token, message)
                    rate_sse.append(rate(sample))
                if sample["deltas"] != chunks:
                    raise RuntimeError(f"{side}: {sample['deltas']} of {chunks} deltas arrived")
        log(
            f"deltas/s: ws {median(rate_ws):.0f}, sse {median(rate_sse):.0f}, "
            f"sdk {median(rate_sdk):.0f}"
        )
    finally:
        wire.responder = None
        ws.close()
        await http.aclose()
        await sdk.close()

    ttft_runs = len(ttft_ws)
    overhead_ms = (median(ttft_ws) - median(ttft_sdk)) * 1000
    ttft = Result(
        key="ttft_ratio_server_vs_sdk",
        value=rounded(ratio(median(ttft_ws), median(ttft_sdk)), 4),
        unit="x",
        target="<= 1.05",
        baseline={
            "value": rounded(median(ttft_sdk) * 1000, 4),
            "unit": "ms",
            "what": "anthropic SDK directly, same request",
        },
        runs=ttft_runs,
        note=(
            f"First-token latency of the wire server fixed at {FIRST_TOKEN_DELAY * 1000:.0f} ms. "
            f"Median TTFT: WebSocket {median(ttft_ws) * 1000:.1f} ms, SSE "
            f"{median(ttft_sse) * 1000:.1f} ms, SDK {median(ttft_sdk) * 1000:.1f} ms: the server "
            f"door adds {overhead_ms:.1f} ms (sidecar load of a 30-amendment context, assembly, "
            f"hashing, WebSocket hop). SSE ratio "
            f"{ratio(median(ttft_sse), median(ttft_sdk)):.3f}."
        ),
        samples=[rounded(x * 1000, 4) for x in ttft_ws],
        details={
            "first_token_delay_ms": FIRST_TOKEN_DELAY * 1000,
            "ws_ms": [rounded(x * 1000, 4) for x in ttft_ws],
            "sse_ms": [rounded(x * 1000, 4) for x in ttft_sse],
            "sdk_ms": [rounded(x * 1000, 4) for x in ttft_sdk],
            "added_ms_ws": rounded(overhead_ms, 3),
            "sse_ratio": rounded(ratio(median(ttft_sse), median(ttft_sdk)), 4),
        },
    )
    stream = Result(
        key="stream_chunks_per_s",
        value=round(median(rate_ws)),
        unit="deltas/s",
        target=">= 5000",
        baseline={
            "value": round(median(rate_sdk)),
            "unit": "deltas/s",
            "what": "anthropic SDK reading the same stream directly",
            "ratio": rounded(ratio(median(rate_ws), median(rate_sdk)), 3),
        },
        runs=runs,
        note=(
            f"{chunks:,} deltas with no delay, each forwarded as its own WebSocket message "
            f"(all counted). WebSocket {median(rate_ws):,.0f}/s, SSE {median(rate_sse):,.0f}/s; "
            f"the SDK alone reads {median(rate_sdk):,.0f}/s from the same wire server "
            f"(ratio {ratio(median(rate_ws), median(rate_sdk)):.2f})."
        ),
        samples=[round(x) for x in rate_ws],
        details={
            "deltas_per_answer": chunks,
            "ws_per_s": [round(x) for x in rate_ws],
            "sse_per_s": [round(x) for x in rate_sse],
            "sdk_per_s": [round(x) for x in rate_sdk],
        },
    )
    return [ttft, stream]


def run(settings: Settings) -> list[Result]:
    wire = AnthropicWireServer().start()
    try:
        folder = notebook_folder("stream", small_context())
        with jupyter_server(
            folder,
            env=anthropic_env(wire),
            config_lines=["c.CollabExtension.provider = 'anthropic'"],
            name="stream-server",
        ) as server:
            return asyncio.run(_measure(settings, wire, server))
    finally:
        wire.stop()
