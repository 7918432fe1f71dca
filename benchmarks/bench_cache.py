"""Prompt caching over a notebook session: the share of input tokens read from the
cache over calls 2..10, from the responses' ``usage``.

The scenario, through the server door as JupyterLab runs it: a notebook whose
context (40 amendments, with the persona about 1,900 tokens) is above the
minimum cacheable length (1,024 tokens, the wire server's setting, as for
Claude Sonnet); ten collaborator cells run top to bottom over the
``jupyter-collab/stream`` WebSocket, each sending the turns of the cells above
it as history (as the lab extension does; the broker keeps the last 6). Answers
are ~120 words. Between calls 5 and 6 a process rule is appended to the context
through ``PATCH jupyter-collab/context`` (the context panel's route).

share = sum(cache_read_input_tokens) / sum(input_tokens + cache_read_input_tokens
+ cache_creation_input_tokens), over calls 2..10.

The wire server simulates the API's prompt cache (a prefix up to the last
``cache_control`` breakpoint, at or above the minimum length, is written on
first use and read after). Baseline, same run: the same ten calls as cells with
``--no-history`` (the context alone, no conversation), which shows how much of
the miss the uncached conversation accounts for.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

from .bench_stream import WSClient
from .common import Result, Settings, jupyter_server, log, median, rounded
from .wire import AnthropicWireServer, Reply, anthropic_env, notebook_folder, small_context

CALLS = 10
AMEND_AFTER = 5
CONTEXT_AMENDMENTS = 40
ANSWER_WORDS = 120
PROMPTS = [
    "These are my four yields: {i}.1, 3.9, 7.8 and 4.0 g/L. Which run is an outlier, cell {i}?",
    "Suggest a plot that compares the replicate batches of cell {i} at a glance.",
    "What should I check in the calibration of the assay before re-running cell {i}?",
    "Write a two-sentence summary of results {i} for the lab notebook.",
    "Is a t-test appropriate for the comparison in cell {i}, or something else?",
]
NEW_RULE = "State the unit of every number you report, even when it repeats."


def answer_for(body: dict) -> Reply:
    prompt = body["messages"][-1]["content"]
    words = [f"word{(len(prompt) + i) % 97}" for i in range(ANSWER_WORDS)]
    return Reply.text(" ".join(words))


def _patch_context(server, revision: int) -> int:
    body = {
        "revision": revision,
        "operations": [{"op": "add_amendment", "kind": "process", "text": NEW_RULE}],
    }
    request = urllib.request.Request(
        server.url + "jupyter-collab/context?path=nb.ipynb",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={**server.auth_headers, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["revision"]


def _get_revision(server) -> int:
    request = urllib.request.Request(
        server.url + "jupyter-collab/context?path=nb.ipynb", headers=server.auth_headers
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["revision"]


async def session(server, wire: AnthropicWireServer, history: bool) -> list[dict]:
    """Ten cells top to bottom (fresh cache, fresh context); the usage of each call."""
    from jupyter_collab.core.store import serialize_context

    wire.reset_cache()
    (server.root / "nb.collab.json").write_text(
        serialize_context(small_context(CONTEXT_AMENDMENTS))
    )
    ws = WSClient(server.url, server.token)
    await ws.connect()
    turns: list[dict] = []
    usages = []
    try:
        for i in range(CALLS):
            if i == AMEND_AFTER:
                _patch_context(server, _get_revision(server))
            prompt = PROMPTS[i % len(PROMPTS)].format(i=i + 1)
            message = {
                "path": "nb.ipynb",
                "source": f"%%collab{'' if history else ' --no-history'}\n{prompt}",
                "history": list(turns),
                "cell_id": f"cell-{i}",
            }
            result = await ws.complete_result(message)
            body = wire.message_requests()[-1].body
            usage = dict(result["usage"])
            usage["breakpoints"] = _breakpoints(body)
            usages.append(usage)
            turns.append({"prompt": result["prompt"], "answer": result["answer"]})
    finally:
        ws.close()
    return usages


def _breakpoints(body: dict) -> dict[str, int]:
    """How many cache_control breakpoints the request put in the system prompt and
    in the messages."""

    def count(blocks) -> int:
        if not isinstance(blocks, list):
            return 0
        return sum(1 for b in blocks if isinstance(b, dict) and b.get("cache_control"))

    in_messages = sum(count(m.get("content")) for m in body.get("messages") or [])
    return {"system": count(body.get("system")), "messages": in_messages}


def share(usages: list[dict]) -> tuple[float, dict]:
    later = usages[1:]
    read = sum(u["cache_read_input_tokens"] for u in later)
    written = sum(u["cache_creation_input_tokens"] for u in later)
    plain = sum(u["input_tokens"] for u in later)
    total = read + written + plain
    return read / total, {"read": read, "written": written, "uncached": plain, "total": total}


async def _measure(settings: Settings, wire: AnthropicWireServer, server) -> Result:
    runs = max(2, min(settings.runs, 3))  # deterministic: the token counts do not vary
    shares, base_shares = [], []
    usages = base_usages = []
    for _ in range(runs):
        usages = await session(server, wire, history=True)
        value, totals = share(usages)
        shares.append(value)
        base_usages = await session(server, wire, history=False)
        base_value, base_totals = share(base_usages)
        base_shares.append(base_value)
    log(f"cache read share: {median(shares):.3f} (no history: {median(base_shares):.3f})")
    per_call = [
        {
            "read": u["cache_read_input_tokens"],
            "written": u["cache_creation_input_tokens"],
            "uncached": u["input_tokens"],
            "breakpoints": u["breakpoints"],
        }
        for u in usages
    ]
    prefix = usages[0]["cache_creation_input_tokens"]
    later = per_call[1:]
    # The calls that re-wrote the most (beyond the one new turn each call adds).
    rewrites = sorted(
        (
            i + 2
            for i, c in enumerate(later)
            if c["written"] > 2 * median([x["written"] for x in later])
        ),
    )
    call6 = per_call[AMEND_AFTER]
    points = usages[-1]["breakpoints"]
    return Result(
        key="cache_read_share",
        value=rounded(median(shares), 3),
        unit="share",
        target=">= 0.9",
        baseline={
            "value": rounded(median(base_shares), 3),
            "unit": "share",
            "what": "same ten calls with --no-history (context only)",
        },
        runs=runs,
        note=(
            f"Cached prefix after call 1 (persona + {CONTEXT_AMENDMENTS} amendments): {prefix} "
            f"tokens. Breakpoints per request: {points['system']} in the system prompt, "
            f"{points['messages']} in the conversation. Calls 2..10: {totals['read']} input "
            f"tokens read from the cache, {totals['written']} written, {totals['uncached']} "
            f"uncached. Call 6, after the appended rule, reads {call6['read']} and writes "
            f"{call6['written']}; calls that re-wrote far more than their new turn: "
            f"{', '.join(map(str, rewrites)) or 'none'} (each call also writes its newest turn, "
            f"~{ANSWER_WORDS}-word answers, before a later call can read it). Without history "
            f"the share is {median(base_shares):.3f}."
        ),
        samples=[rounded(x, 4) for x in shares],
        details={
            "per_call": per_call,
            "totals_calls_2_10": totals,
            "no_history_totals": base_totals,
            "no_history_per_call": [
                {
                    "read": u["cache_read_input_tokens"],
                    "written": u["cache_creation_input_tokens"],
                    "uncached": u["input_tokens"],
                }
                for u in base_usages
            ],
            "cache_min_tokens": wire.cache_min_tokens,
        },
    )


def run(settings: Settings) -> list[Result]:
    wire = AnthropicWireServer(cache_min_tokens=1024).start()
    wire.responder = answer_for
    try:
        folder = notebook_folder("cache", small_context(CONTEXT_AMENDMENTS))
        with jupyter_server(
            folder,
            env=anthropic_env(wire),
            config_lines=["c.CollabExtension.provider = 'anthropic'"],
            name="cache-server",
        ) as server:
            return [asyncio.run(_measure(settings, wire, server))]
    finally:
        wire.stop()
