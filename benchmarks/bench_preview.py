"""The preview fan-out: a preview of 8 probes x 2 variants (baseline and amended)
against one call, every model call with the same latency.

The broker (``Broker.preview_report``, as both doors call it) drives the real
``AnthropicProvider`` and SDK over HTTP to the wire-level server in this process.
Every call has the latency of a typical streamed answer: 0.5 s to the first
token, then 100 deltas 20 ms apart (about 2.5 s: a ~250-word answer at a hosted
model's streaming speed); structured (judge) calls answer after the same 2.5 s.

The measure uses probes whose answer the amendment does not change: 16 answers
(the judge is skipped for identical answers). The noise floor's extra baseline
sample per probe (``preview_noise_samples``, default 1) is speculative for a
Claude model (it takes no temperature): it waits for a slot no answer needs (the
16 answers fill the default 16 slots) and is cancelled once the answers turn out
identical, unsent or just sent: 16 to 24 requests, which the run checks and
reports. Variants in the
details (one run each): ``preview_concurrency = 16``; a preview where every
answer changes, so the extra samples are drawn and 8 judge calls follow (32
calls); and short calls (0.5 s + 40 deltas 12.5 ms apart, about 1 s), where
waiting for a warm-up call weighs most.

Baseline: one ``Broker.complete_text`` call of the first probe's prompt, same
latency. Each preview starts with an empty baseline cache (else a repeated
preview re-runs only the amended side). The broker's default configuration is
what the value uses.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from .common import Result, Settings, log, median, ratio, rounded
from .wire import FAKE_API_KEY, AnthropicWireServer, Reply, small_context


@dataclass(frozen=True)
class Latency:
    first_token: float
    deltas: int
    delta_delay: float

    @property
    def seconds(self) -> float:
        return self.first_token + (self.deltas - 1) * self.delta_delay


TYPICAL = Latency(first_token=0.5, deltas=100, delta_delay=0.02)
SHORT = Latency(first_token=0.5, deltas=40, delta_delay=0.0125)

PROBES = [
    "Which of my four runs is an outlier?",
    "Summarize the assay protocol in two sentences.",
    "What units should the yield table use?",
    "Draft a caption for figure 2.",
    "List three checks before re-running batch C.",
    "Explain the variance between replicates.",
    "Which citation supports the calibration method?",
    "Write a one-line status update for the team.",
]
AMENDMENT = "Report every yield in grams per litre (g/L) with one decimal."


def _last_user(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def responder(changing: bool, latency: Latency):
    """Answers that depend on the prompt only (unchanged by the amendment), or also
    on the system prompt (changed, so the judge runs)."""

    def reply(body: dict) -> Reply:
        fmt = (body.get("output_config") or {}).get("format")
        if fmt or body.get("tool_choice"):
            verdict = {"verdict": "intended", "reason": "The amended answer uses g/L."}
            if body.get("tool_choice"):
                return Reply.tool(verdict, first_token_delay=latency.seconds)
            return Reply.text(json.dumps(verdict), first_token_delay=latency.seconds)
        words = ["Answer"] * (latency.deltas - 1) + [_last_user(body)[:40]]
        if changing:
            words[0] = f"Answer[{len(json.dumps(body.get('system')))}]"
        return Reply.text(
            " ".join(words),
            chunks=latency.deltas,
            first_token_delay=latency.first_token,
            delta_delay=latency.delta_delay,
        )

    return reply


async def _measure(settings: Settings, wire: AnthropicWireServer) -> Result:
    from jupyter_collab.core.broker import Broker
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.operation_models import AmendmentDraft, CompletionInput, Probe

    runs = min(settings.runs, 3)  # sleep-dominated: the spread is small
    context = small_context()
    draft = AmendmentDraft(kind="fact", text=AMENDMENT)
    probes = [Probe(prompt=p, kind="should_not_change") for p in PROBES]
    single = CompletionInput(prompt=PROBES[0])

    def broker_for(concurrency: int | None = None) -> Broker:
        config = CollabConfig(
            provider="anthropic", anthropic_api_key=FAKE_API_KEY, anthropic_base_url=wire.url
        )
        if concurrency is not None:
            config = config.model_copy(update={"preview_concurrency": concurrency})
        return Broker(config)

    async def one_call(broker: Broker) -> float:
        start = time.perf_counter()
        await broker.complete_text(single, context)
        return time.perf_counter() - start

    request_counts: list[int] = []

    async def preview(broker: Broker, expect_calls: range) -> float:
        broker.baseline_cache.clear()
        before = len(wire.message_requests())
        start = time.perf_counter()
        report = await broker.preview_report(draft, probes, context)
        elapsed = time.perf_counter() - start
        calls = len(wire.message_requests()) - before
        if calls not in expect_calls or len(report.outcomes) != len(probes):
            raise RuntimeError(
                f"expected {expect_calls.start}-{expect_calls.stop - 1} model calls, "
                f"the preview made {calls}"
            )
        request_counts.append(calls)
        return elapsed

    async def series(
        broker: Broker,
        changing: bool,
        expect: range,
        n: int,
        latency: Latency = TYPICAL,
        warm_preview: bool = False,
    ):
        wire.responder = responder(changing, latency)
        await one_call(broker)  # warm-up: client, connection pool
        if warm_preview:
            await preview(broker, expect)  # warm-up: one connection per concurrent call
        singles, previews = [], []
        for i in range(n):
            if i % 2 == 0:
                singles.append(await one_call(broker))
                previews.append(await preview(broker, expect))
            else:
                previews.append(await preview(broker, expect))
                singles.append(await one_call(broker))
        await broker.aclose()
        return previews, singles

    default_broker = broker_for()
    concurrency = default_broker.config.preview_concurrency
    noise = default_broker.config.preview_noise_samples
    # A speculative sample may still start in the moment between one of its
    # probe's answers ending (freeing a slot) and the other: then it is sent and
    # cancelled at once. So 16 to 24 requests, the wall time unaffected.
    unchanged_calls = range(len(PROBES) * 2, len(PROBES) * (2 + noise) + 1)
    judged_calls = range(len(PROBES) * (3 + noise), len(PROBES) * (3 + noise) + 1)
    previews, singles = await series(
        default_broker, False, unchanged_calls, runs, warm_preview=True
    )
    measured_requests = list(request_counts)
    log(
        f"preview (concurrency {concurrency}): {median(previews):.2f} s, "
        f"one call {median(singles):.2f} s"
    )
    extra_runs = 1
    if concurrency != 16:
        wide_previews, wide_singles = await series(
            broker_for(16), False, unchanged_calls, extra_runs, warm_preview=True
        )
        log(f"preview (concurrency 16): {median(wide_previews):.2f} s")
    else:
        wide_previews, wide_singles = previews, singles
    judged_previews, judged_singles = await series(
        broker_for(), True, judged_calls, extra_runs, warm_preview=True
    )
    log(f"preview with judge (concurrency {concurrency}): {median(judged_previews):.2f} s")
    short_previews, short_singles = await series(
        broker_for(), False, unchanged_calls, extra_runs, SHORT, warm_preview=True
    )
    log(f"preview of short calls (concurrency {concurrency}): {median(short_previews):.2f} s")
    wire.responder = None

    value = ratio(median(previews), median(singles))
    wide = ratio(median(wide_previews), median(wide_singles))
    judged = ratio(median(judged_previews), median(judged_singles))
    short = ratio(median(short_previews), median(short_singles))
    return Result(
        key="preview_wall_ratio",
        value=rounded(value, 3),
        unit="x",
        target="<= 1.5",
        baseline={
            "value": rounded(median(singles), 3),
            "unit": "s",
            "what": "one Broker.complete_text call, same latency",
        },
        runs=runs,
        note=(
            "16 answers (8 probes x baseline/amended) plus the speculative noise-floor "
            f"sample per probe, cancelled as the answers were identical: "
            f"{min(measured_requests)}-{max(measured_requests)} requests per preview "
            f"(median {median(measured_requests):g}); each call ~{TYPICAL.seconds:.1f} s "
            f"({TYPICAL.first_token * 1000:.0f} ms to first token + {TYPICAL.deltas} "
            f"deltas). Default preview_concurrency={concurrency}: {median(previews):.2f} s vs "
            f"one call {median(singles):.2f} s. "
            + (f"With preview_concurrency=16: {wide:.2f}x. " if concurrency != 16 else "")
            + "With noise samples and a judge call per probe (answers changed, "
            f"{judged_calls.start} calls): {judged:.2f}x. "
            f"Short ~{SHORT.seconds:.0f} s calls: {short:.2f}x."
        ),
        samples=[rounded(p / s, 3) for p, s in zip(previews, singles, strict=True)],
        details={
            "call_seconds": TYPICAL.seconds,
            "preview_concurrency": concurrency,
            "preview_s": [rounded(x, 3) for x in previews],
            "single_s": [rounded(x, 3) for x in singles],
            "concurrency16_ratio": rounded(wide, 3),
            "concurrency16_preview_s": [rounded(x, 3) for x in wide_previews],
            "with_judge_ratio": rounded(judged, 3),
            "with_judge_preview_s": [rounded(x, 3) for x in judged_previews],
            "short_call_ratio": rounded(short, 3),
            "short_call_seconds": SHORT.seconds,
            "requests_per_preview": measured_requests,
        },
    )


def run(settings: Settings) -> list[Result]:
    wire = AnthropicWireServer().start()
    try:
        return [asyncio.run(_measure(settings, wire))]
    finally:
        wire.stop()
