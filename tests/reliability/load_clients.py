"""R9's clients, in their own process so the server's event loop carries only the
server's work: N completions over WebSockets and M over server-sent events,
started ``--stagger`` seconds apart, all streaming at once.

    python -m tests.reliability.load_clients URL TOKEN --ws 35 --sse 15

Prints one JSON object: per-stream outcomes and the largest number of streams
that were open at the same moment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


async def ws_stream(base: str, token: str, index: int, prompt: str) -> dict[str, Any]:
    url = base.replace("http", "ws", 1) + "jupyter-collab/stream"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    started = time.monotonic()
    await ws.write_message(json.dumps({"type": "complete", "id": str(index), "prompt": prompt}))
    deltas: list[str] = []
    first = None
    result: dict[str, Any] = {"transport": "ws", "started": started}
    while True:
        raw = await ws.read_message()
        if raw is None:
            result["error"] = "socket closed"
            break
        message = json.loads(raw)
        if message["type"] == "delta":
            first = first or time.monotonic()
            deltas.append(message["text"])
        elif message["type"] == "result":
            result["ok"] = message["result"]["answer"] == "".join(deltas)
            break
        elif message["type"] == "error":
            result["error"] = message["message"]
            break
    ws.close()
    result.update(first=first, ended=time.monotonic(), deltas=len(deltas))
    return result


async def sse_stream(base: str, token: str, index: int, prompt: str) -> dict[str, Any]:
    buffer = bytearray()
    deltas: list[str] = []
    state: dict[str, Any] = {"first": None, "answer": None, "error": None}

    def on_chunk(chunk: bytes) -> None:
        buffer.extend(chunk)
        while b"\n\n" in buffer:
            block, _, rest = bytes(buffer).partition(b"\n\n")
            buffer[:] = rest
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines())
            message = json.loads(fields["data"])
            if message["type"] == "delta":
                state["first"] = state["first"] or time.monotonic()
                deltas.append(message["text"])
            elif message["type"] == "result":
                state["answer"] = message["result"]["answer"]
            elif message["type"] == "error":
                state["error"] = message["message"]

    client = AsyncHTTPClient(force_instance=True)
    started = time.monotonic()
    try:
        response = await client.fetch(
            HTTPRequest(
                base + "jupyter-collab/complete",
                method="POST",
                body=json.dumps({"prompt": prompt}),
                headers={"Authorization": f"token {token}"},
                streaming_callback=on_chunk,
                request_timeout=120,
            ),
            raise_error=False,
        )
    finally:
        client.close()
    result: dict[str, Any] = {"transport": "sse", "started": started, "deltas": len(deltas)}
    if response.code != 200 or state["error"]:
        result["error"] = state["error"] or f"HTTP {response.code}"
    else:
        result["ok"] = state["answer"] == "".join(deltas)
    result.update(first=state["first"], ended=time.monotonic())
    return result


def command(url: str, token: str, *, ws: int, sse: int, words: int, stagger: float) -> list[str]:
    """The command line that runs these clients (stdout: the JSON report)."""
    return [
        sys.executable,
        "-m",
        "tests.reliability.load_clients",
        url,
        token,
        "--ws",
        str(ws),
        "--sse",
        str(sse),
        "--words",
        str(words),
        "--stagger",
        str(stagger),
    ]


def max_open(results: list[dict[str, Any]]) -> int:
    points = [(r["started"], 1) for r in results] + [(r["ended"], -1) for r in results]
    open_now = best = 0
    for _, step in sorted(points, key=lambda p: (p[0], p[1])):
        open_now += step
        best = max(best, open_now)
    return best


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    prompt = " ".join(f"word{i}" for i in range(args.words))
    tasks = []
    for index in range(args.ws + args.sse):
        run = ws_stream if index < args.ws else sse_stream
        tasks.append(asyncio.create_task(run(args.url, args.token, index, prompt)))
        await asyncio.sleep(args.stagger)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    clean = [r for r in results if isinstance(r, dict)]
    failures = [repr(r) for r in results if not isinstance(r, dict)]
    failures += [r["error"] for r in clean if r.get("error")]
    firsts = [r["first"] for r in clean if r.get("first")]
    ends = [r["ended"] for r in clean]
    return {
        "streams": len(results),
        "completed": sum(1 for r in clean if r.get("ok")),
        "failures": failures,
        "max_open": max_open(clean),
        # every stream had its first delta before any stream finished: truly all at once
        "all_streaming_at_once": bool(firsts) and max(firsts) < min(ends),
        # that window on time.monotonic(), the system-wide clock another process can compare
        "all_streaming_from": max(firsts) if firsts else None,
        "all_streaming_until": min(ends) if ends else None,
        "deltas": sum(r.get("deltas", 0) for r in clean),
        "duration_s": round(max(ends) - min(r["started"] for r in clean), 3) if clean else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="the server's base URL, ending with /")
    parser.add_argument("token")
    parser.add_argument("--ws", type=int, default=35)
    parser.add_argument("--sse", type=int, default=15)
    parser.add_argument("--stagger", type=float, default=0.01)
    parser.add_argument("--words", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
