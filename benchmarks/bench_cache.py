"""Prompt caching over a notebook session: the share of input tokens read from the
cache over calls 2..10, from the responses' ``usage``.

The scenario, through the server door as JupyterLab runs it: a notebook whose
context (40 amendments, with the persona about 1,900 tokens) is above the
minimum cacheable length (1,024 tokens, the wire server's setting, as for
Claude Sonnet); ten collaborator cells run top to bottom over the
``jupyter-collab/stream`` WebSocket, each sending the turns of the cells above
it as history, with the amendments each was answered with (what the lab
extension's ``cells_above`` carry in their outputs; the broker sends at least the
last 6 and, with the Anthropic provider, drops older ones 6 at a time). The same
session continued to 24 cells, dropping old turns twice, is reported beside it.
Answers are ~120 words. Between calls 5 and 6 a process rule is appended to the
context through ``PATCH jupyter-collab/context`` (the context panel's route).

share = sum(cache_read_input_tokens) / sum(input_tokens + cache_read_input_tokens
+ cache_creation_input_tokens), over calls 2..10.

The wire server simulates the API's prompt cache as documented (an entry is
written at each ``cache_control`` breakpoint whose prefix reaches the minimum
length; a request reads the longest prefix cached at one of its breakpoints or
up to 20 blocks before one). Baseline, same run: the same ten calls as cells with
``--no-history`` (the context alone, no conversation), which shows how much of
the miss the uncached conversation accounts for.

``cache_read_share_layers``: the same session with history, the 40 amendments
split into a project layer (``.collab/context.json`` at the server root, the
first 30) and the notebook's own context (the last 10); the rule is appended to
the notebook's. Its baseline is ``cache_read_share`` of the same run: layers must
not make caching worse (the shared layers come first, in a cached block of
their own, so a change to the notebook's entries leaves them cached).
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

from .bench_stream import WSClient
from .common import Result, Settings, jupyter_server, log, median, rounded
from .wire import (
    AnthropicWireServer,
    Reply,
    anthropic_env,
    message_text,
    notebook_folder,
    small_context,
)

CALLS = 10
LONG_CALLS = 24
AMEND_AFTER = 5
CONTEXT_AMENDMENTS = 40
PROJECT_AMENDMENTS = 30  # of CONTEXT_AMENDMENTS, in the project layer (layered session)
#: The same session on larger contexts (details' cost curve); past the token budget
#: the prompt holds the amendments that fit, so the share there measures the budget too.
CURVE_AMENDMENTS = (100, 1_000, 10_000)
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
    prompt = message_text(body["messages"][-1])
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


def _write_contexts(root, layered: bool, amendments: int = CONTEXT_AMENDMENTS) -> None:
    """The notebook's context, all of it or (``layered``) its last entries with the
    others in a project layer at the server root."""
    import shutil

    from jupyter_collab.core.context_format import serialize_context
    from jupyter_collab.core.layers import project_layer_path

    context = small_context(amendments)
    project = project_layer_path(root)
    shutil.rmtree(project.parent, ignore_errors=True)
    if layered:
        shared = context.model_copy(update={"amendments": context.amendments[:PROJECT_AMENDMENTS]})
        project.parent.mkdir()
        project.write_text(serialize_context(shared))
        context = context.model_copy(update={"amendments": context.amendments[PROJECT_AMENDMENTS:]})
    (root / "nb.collab.json").write_text(serialize_context(context))


async def session(
    server,
    wire: AnthropicWireServer,
    history: bool,
    calls: int = CALLS,
    layered: bool = False,
    amendments: int = CONTEXT_AMENDMENTS,
) -> list[dict]:
    """Ten cells (or ``calls``) top to bottom (fresh cache, fresh context); the usage
    of each call."""
    wire.reset_cache()
    _write_contexts(server.root, layered, amendments)
    ws = WSClient(server.url, server.token)
    await ws.connect()
    turns: list[dict] = []
    usages = []
    try:
        for i in range(calls):
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
            usage["turns_sent"] = (len(body["messages"]) - 1) // 2
            # What no earlier request could have cached (the wire server's estimate):
            # the previous cell's answer, sent here for the first time, and this
            # call's prompt, which closes a cached prefix for the next cell.
            usage["new_turn"] = (
                (len(turns[-1]["answer"]) + 3) // 4 if history and turns else 0
            ) + ((len(message_text(body["messages"][-1])) + 3) // 4 if history else 0)
            usages.append(usage)
            # What the lab extension's cells above carry in their outputs: the prompt,
            # the answer and the amendments it was answered with.
            turns.append(
                {
                    "prompt": result["prompt"],
                    "answer": result["answer"],
                    "included_amendments": result["included_amendments"],
                }
            )
    finally:
        ws.close()
    return usages


def _last_bodies(wire: AnthropicWireServer, count: int) -> list[dict]:
    return [r.body for r in wire.message_requests()[-count:]]


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


async def _measure(settings: Settings, wire: AnthropicWireServer, server) -> list[Result]:
    runs = max(2, min(settings.runs, 3))  # deterministic: the token counts do not vary
    shares, base_shares, layered_shares = [], [], []
    usages = base_usages = layered_usages = []
    for _ in range(runs):
        usages = await session(server, wire, history=True)
        value, totals = share(usages)
        shares.append(value)
        base_usages = await session(server, wire, history=False)
        base_value, base_totals = share(base_usages)
        base_shares.append(base_value)
        layered_usages = await session(server, wire, history=True, layered=True)
        layered_shares.append(share(layered_usages)[0])
    curve = {}
    for size in CURVE_AMENDMENTS:
        sized = await session(server, wire, history=True, amendments=size)
        sized_share, sized_totals = share(sized)
        curve[str(size)] = {
            "share_calls_2_10": rounded(sized_share, 4),
            "prefix_tokens": sized[0]["cache_creation_input_tokens"],
            "totals": sized_totals,
        }
    log(
        "cache read share by amendments: "
        + ", ".join(f"{k}: {v['share_calls_2_10']:.3f}" for k, v in curve.items())
    )
    _write_contexts(server.root, layered=False)
    # The same session continued to LONG_CALLS cells: the share once old turns are
    # dropped (the ten calls above drop none with the Anthropic provider's step).
    long_usages = await session(server, wire, history=True, calls=LONG_CALLS)
    long_share, long_totals = share(long_usages)
    long_sent = [
        (len(wire_body["messages"]) - 1) // 2 for wire_body in _last_bodies(wire, LONG_CALLS)
    ]
    log(
        f"cache read share: {median(shares):.3f} (no history: {median(base_shares):.3f}; "
        f"with a project layer: {median(layered_shares):.3f}; "
        f"{LONG_CALLS} calls: {long_share:.3f})"
    )
    per_call = [
        {
            "read": u["cache_read_input_tokens"],
            "written": u["cache_creation_input_tokens"],
            "uncached": u["input_tokens"],
            "breakpoints": u["breakpoints"],
            "turns_sent": u["turns_sent"],
            "rewritten": max(0, u["cache_creation_input_tokens"] - u["new_turn"]),
        }
        for u in usages
    ]
    # Where the input of calls 2..10 that is not read from the cache goes: each
    # call's newest turn (written once; no request can read it before), what was
    # written again (a prefix changed: the appended rule, dropped turns), and the
    # uncached prompt after the last breakpoint.
    new_turns = sum(min(u["new_turn"], u["cache_creation_input_tokens"]) for u in usages[1:])
    rewritten = sum(c["rewritten"] for c in per_call[1:])
    rewrites = {i + 1: c["rewritten"] for i, c in enumerate(per_call) if i and c["rewritten"]}
    prefix = usages[0]["cache_creation_input_tokens"]
    call6 = per_call[AMEND_AFTER]
    points = usages[-1]["breakpoints"]
    notebook_only = Result(
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
            f"uncached. Not read: {new_turns} tokens are new at each call (the previous cell's "
            f"~{ANSWER_WORDS}-word answer, which no earlier request could send, and the call's "
            f"own prompt, with the amendments added during the conversation before it from "
            f"call 6 on, written for the next cell: {new_turns / totals['total']:.1%} of the "
            f"input), {rewritten} were written "
            f"again after a prefix changed (by call: "
            + (", ".join(f"{k}: {v}" for k, v in rewrites.items()) or "none")
            + f"; call 6 follows the appended rule and reads {call6['read']}), "
            f"{totals['uncached']} follow the last breakpoint. Turns sent per call: "
            f"{[c['turns_sent'] for c in per_call]}. At most "
            f"{(totals['read'] + rewritten) / totals['total']:.3f} with no rewrites at all. "
            f"Without history the share is {median(base_shares):.3f}. The same session "
            f"continued to {LONG_CALLS} cells (old turns dropped 6 at a time, turns sent: "
            f"{long_sent}): {long_share:.3f} over calls 2..{LONG_CALLS}. By context size "
            "(the same ten calls): "
            + ", ".join(f"{k} amendments {v['share_calls_2_10']:.3f}" for k, v in curve.items())
            + "."
        ),
        samples=[rounded(x, 4) for x in shares],
        details={
            "per_call": per_call,
            "totals_calls_2_10": {**totals, "new_turns": new_turns, "rewritten": rewritten},
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
            "by_amendments": curve,
            "long_session": {
                "calls": LONG_CALLS,
                "share_calls_2_n": rounded(long_share, 4),
                "totals": long_totals,
                "turns_sent": long_sent,
            },
        },
    )
    return [notebook_only, _layered_result(layered_shares, layered_usages, median(shares), runs)]


def _layered_result(shares: list[float], usages: list[dict], baseline: float, runs: int) -> Result:
    _, totals = share(usages)
    points = usages[-1]["breakpoints"]
    return Result(
        key="cache_read_share_layers",
        value=rounded(median(shares), 3),
        unit="share",
        target=">= 0.9",
        baseline={
            "value": rounded(baseline, 3),
            "unit": "share",
            "what": "cache_read_share: the same session with every amendment in the notebook",
        },
        runs=runs,
        note=(
            f"{PROJECT_AMENDMENTS} of the {CONTEXT_AMENDMENTS} amendments in a project layer, "
            f"the rest and the appended rule in the notebook's context. Breakpoints per "
            f"request: {points['system']} in the system prompt, {points['messages']} in the "
            f"conversation. Calls 2..10: {totals['read']} input tokens read from the cache, "
            f"{totals['written']} written, {totals['uncached']} uncached; call 6 (after the "
            f"rule) reads {usages[AMEND_AFTER]['cache_read_input_tokens']}."
        ),
        samples=[rounded(x, 4) for x in shares],
        details={
            "per_call": [
                {
                    "read": u["cache_read_input_tokens"],
                    "written": u["cache_creation_input_tokens"],
                    "uncached": u["input_tokens"],
                    "breakpoints": u["breakpoints"],
                }
                for u in usages
            ],
            "totals_calls_2_10": totals,
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
            return asyncio.run(_measure(settings, wire, server))
    finally:
        wire.stop()
